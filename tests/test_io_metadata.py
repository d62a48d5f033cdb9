"""Sample metadata: reading (QIIME 1/2 styles, CSV) and joining by sample ID."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_io_roundtrip import SAMPLES, proportions, tsv_text

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning


@pytest.fixture
def cohort(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(tsv_text(proportions(), "samples-as-rows"))
    return gio.read_table(path)


def test_qiime2_metadata(tmp_path):
    path = tmp_path / "sample-metadata.tsv"
    path.write_text(
        "sample-id\tbody-site\tage\n#q2:types\tcategorical\tnumeric\n# a comment\nS1\tgut\t31\nS3\tgut\tNA\n"
    )
    meta = gio.read_metadata(path)
    assert list(meta.index) == ["S1", "S3"] and meta.index.name == "sample"
    assert meta.attrs["id_column"] == "sample-id"
    assert meta["age"].iloc[0] == 31 and np.isnan(meta["age"].iloc[1])
    assert list(meta.columns) == ["body-site", "age"]


def test_qiime1_mapping_and_explicit_id_column(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("#SampleID\tBarcodeSequence\tsubject\nS1\tACGT\tp1\nS2\tTTGA\tp2\n")
    assert list(gio.read_metadata(path).index) == ["S1", "S2"]
    by_subject = gio.read_metadata(path, id_column="subject")
    assert list(by_subject.index) == ["p1", "p2"] and "SampleID" in by_subject.columns
    with pytest.raises(InputError, match=r"no column 'patient'"):
        gio.read_metadata(path, id_column="patient")


def test_r_write_table_row_names(tmp_path, shared):
    # R's write.table leaves the row-name column out of the header; read.table (and pandas with
    # index_col=0) take the first field of each row as its name
    path = tmp_path / "r.tsv"
    path.write_text('"site"\t"age"\n"S1"\t"a"\t31\n"S2"\t"b"\t40\n')
    meta = gio.read_metadata(path)
    assert list(meta.index) == ["S1", "S2"] and list(meta.columns) == ["site", "age"]
    assert meta["age"].tolist() == [31, 40]
    # MaAsLin3's example metadata is such a file
    real = shared("data", "maaslin3_hmp2", "HMP2_metadata.tsv")
    ours = gio.read_metadata(real)
    theirs = pd.read_csv(real, sep="\t", index_col=0)
    assert list(ours.index) == list(theirs.index) and list(ours.columns) == list(theirs.columns)
    assert (ours["reads"].to_numpy() == theirs["reads"].to_numpy()).all()
    # "none" is a level there (dysbiosis_state), not a missing value
    assert ours["dysbiosis_state"].value_counts().to_dict() == theirs["dysbiosis_state"].value_counts().to_dict()
    assert ours["dysbiosis_state"].notna().all()
    # a row with a field too many among rows that fit the header is still an error
    path.write_text("sample\tage\nS1\t31\nS2\t40\t7\n")
    with pytest.raises(InputError, match="line 3 has 3 fields"):
        gio.read_metadata(path)


@pytest.mark.parametrize(
    "content,message",
    [
        ("sample,age\nS1,3\nS1,4\n", "duplicate sample ID 'S1'"),
        ("sample,age\n,3\n", "empty sample ID at line 2"),
        ("", "empty"),
        ("sample,age\n", "header but no rows"),
    ],
)
def test_bad_metadata(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        gio.read_metadata(path)


def _meta(ids):
    return pd.DataFrame({"group": [f"g{i}" for i in range(len(ids))]}, index=pd.Index(ids, name="sample"))


def test_exact_join(cohort):
    out = gio.add_metadata(cohort, _meta(SAMPLES[::-1]))  # order does not matter
    assert list(out.obs_names) == SAMPLES
    assert list(out.obs["group"]) == ["g3", "g2", "g1", "g0"]
    assert out.uns["provenance"]["metadata"]["how"] == "exact"
    assert "group" not in cohort.obs  # the input is not changed


def test_metadata_ids_matching_no_sample(cohort):
    ids = [*SAMPLES, *(f"X{i}" for i in range(9))]
    with pytest.raises(InputError) as info:
        gio.add_metadata(cohort, _meta(ids), source="meta.tsv")
    text = str(info.value)
    assert text.startswith("meta.tsv: 9 metadata ID(s) match no sample: 'X0', 'X1', 'X2', 'X3', 'X4' and 4 more")
    assert "how='left'" in text
    with pytest.warns(FilteredWarning, match="9 metadata rows matching no sample"):
        out = gio.add_metadata(cohort, _meta(ids), how="left")
    entry = out.uns["provenance"]["filtered"][-1]
    assert entry["n"] == 9 and entry["ids"][0] == "X0"


def test_samples_without_metadata(cohort):
    with pytest.raises(InputError, match=r"2 sample\(s\) have no metadata: 'S3', 'S4_metaphlan_bugs_list'"):
        gio.add_metadata(cohort, _meta(SAMPLES[:2]))
    left = gio.add_metadata(cohort, _meta(SAMPLES[:2]), how="left")
    assert left.n_obs == 4 and left.obs["group"].isna().sum() == 2
    with pytest.warns(FilteredWarning, match="2 samples without metadata"):
        inner = gio.add_metadata(cohort, _meta(SAMPLES[:2]), how="inner")
    assert list(inner.obs_names) == SAMPLES[:2]
    np.testing.assert_array_equal(inner.X, cohort.X[:2])


def test_suffix_hint(cohort):
    with pytest.raises(InputError, match=r"suffix such as '_metaphlan_bugs_list'"):
        gio.add_metadata(cohort, _meta(["S1", "S2_profile", "S3", "S4"]))


def test_no_id_matches_at_all(cohort):
    with pytest.raises(InputError, match="no metadata ID matches a sample"):
        gio.add_metadata(cohort, _meta(["a", "b"]), how="left")


def test_column_clash_and_bad_how(cohort):
    meta = _meta(SAMPLES).rename(columns={"group": "unclassified_fraction"})
    cohort.obs["unclassified_fraction"] = 0.0
    with pytest.raises(InputError, match="already exist"):
        gio.add_metadata(cohort, meta)
    with pytest.raises(InputError, match="unknown how"):
        gio.add_metadata(cohort, _meta(SAMPLES), how="outer")


def test_metadata_from_path_records_checksum(cohort, tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("sample\tgroup\n" + "".join(f"{s}\tx\n" for s in SAMPLES))
    out = gio.add_metadata(cohort, path)
    assert len(out.uns["provenance"]["metadata"]["sha256"]) == 64
