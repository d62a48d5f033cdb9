"""One matrix written in every supported format reads back to the same matrix.

The writers below build each format the way its tool does: a MetaPhlAn 4 merged table (all ranks
down to SGB ``t__`` rows, ``merge_metaphlan_tables.py`` layout), BIOM v2 (HDF5, written by
biom-format through h5py) and v1 (JSON), a QIIME 2 ``.qza`` (zip with ``<uuid>/metadata.yaml``,
``<uuid>/VERSION`` and ``<uuid>/data/feature-table.biom``) and TSV in both orientations. They are
also used by ``test_io_fuzz.py``.
"""

from __future__ import annotations

import io
import json
import uuid
import warnings
import zipfile
from pathlib import Path

import biom
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import gutaxis.io as gio
from gutaxis.io import FilteredWarning

SAMPLES = ["S1", "S2_profile", "S3", "S4_metaphlan_bugs_list"]
LINEAGES = {
    "Bacteroides uniformis": (
        "Bacteria",
        "Bacteroidetes",
        "Bacteroidia",
        "Bacteroidales",
        "Bacteroidaceae",
        "Bacteroides",
        "SGB1836",
    ),
    "Phocaeicola vulgatus": (
        "Bacteria",
        "Bacteroidetes",
        "Bacteroidia",
        "Bacteroidales",
        "Bacteroidaceae",
        "Phocaeicola",
        "SGB1814",
    ),
    "Faecalibacterium prausnitzii": (
        "Bacteria",
        "Firmicutes",
        "Clostridia",
        "Eubacteriales",
        "Oscillospiraceae",
        "Faecalibacterium",
        "SGB15316",
    ),
    "Lacticaseibacillus rhamnosus": (
        "Bacteria",
        "Firmicutes",
        "Bacilli",
        "Lactobacillales",
        "Lactobacillaceae",
        "Lacticaseibacillus",
        "SGB7144",
    ),
    "Escherichia coli": (
        "Bacteria",
        "Proteobacteria",
        "Gammaproteobacteria",
        "Enterobacterales",
        "Enterobacteriaceae",
        "Escherichia",
        "SGB10068",
    ),
    "Akkermansia muciniphila": (
        "Bacteria",
        "Verrucomicrobia",
        "Verrucomicrobiae",
        "Verrucomicrobiales",
        "Akkermansiaceae",
        "Akkermansia",
        "SGB9226",
    ),
}
TAXA = list(LINEAGES)
PREFIXES = ("k", "p", "c", "o", "f", "g")


def proportions(seed: int = 7) -> np.ndarray:
    """Samples x taxa proportions (rows sum to 1) with some zeros."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(len(TAXA), 0.7), size=len(SAMPLES))
    P[0, 3] = 0.0
    P[2, 5] = 0.0
    return P / P.sum(axis=1, keepdims=True)


def counts(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    C = rng.integers(0, 500, size=(len(SAMPLES), len(TAXA))).astype(float)
    C[:, 0] += 1
    return C


def clade_parts(taxon: str) -> list[str]:
    ranks = LINEAGES[taxon]
    parts = [f"{p}__{v}" for p, v in zip(PREFIXES, ranks[:6], strict=True)]
    return [*parts, "s__" + taxon.replace(" ", "_"), "t__" + ranks[6]]


def greengenes(taxon: str) -> list[str]:
    return clade_parts(taxon)[:7]


def metaphlan4_merged(P: np.ndarray, unclassified: np.ndarray | None = None, samples=SAMPLES) -> str:
    """``merge_metaphlan_tables.py`` output (MetaPhlAn 4) for proportions ``P`` (+ unclassified)."""
    unclassified = np.zeros(P.shape[0]) if unclassified is None else unclassified
    scale = (1 - unclassified)[:, None]
    pct = P * scale * 100
    rows: dict[str, np.ndarray] = {}
    for depth in range(1, 9):
        for j, taxon in enumerate(TAXA):
            clade = "|".join(clade_parts(taxon)[:depth])
            rows[clade] = rows.get(clade, 0) + pct[:, j]
    lines = ["#mpa_vJun23_CHOCOPhlAnSGB_202307", "\t".join(["clade_name", "clade_taxid", *samples])]
    lines.append("\t".join(["UNCLASSIFIED", "-1", *(repr(float(v)) for v in unclassified * 100)]))
    for clade, vals in rows.items():
        taxid = "|".join(str(1000 + i) for i in range(clade.count("|") + 1))
        lines.append("\t".join([clade, taxid, *(repr(float(v)) for v in vals)]))
    return "\n".join(lines) + "\n"


def metaphlan3_single(p: np.ndarray, unknown: float, sample: str = "Metaphlan_Analysis") -> str:
    """A single-sample MetaPhlAn 3 profile (percent), ``p`` one sample's proportions."""
    pct = p * (1 - unknown) * 100
    lines = [
        "#mpa_v30_CHOCOPhlAn_201901",
        "#metaphlan in.fastq -o out.txt --unknown_estimation",
        f"#SampleID\t{sample}",
        "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species",
        f"UNKNOWN\t-1\t{unknown * 100!r}\t",
    ]
    rows: dict[str, float] = {}
    for depth in range(1, 8):
        for j, taxon in enumerate(TAXA):
            if pct[j] > 0:
                clade = "|".join(clade_parts(taxon)[:depth])
                rows[clade] = rows.get(clade, 0.0) + pct[j]
    for clade, v in rows.items():
        lines.append(f"{clade}\t2|{clade.count('|')}\t{v!r}\t")
    return "\n".join(lines) + "\n"


def biom_table(M: np.ndarray, *, taxonomy: bool = True) -> biom.Table:
    md = [{"taxonomy": greengenes(t)} for t in TAXA] if taxonomy else None
    return biom.Table(M.T, TAXA, SAMPLES, observation_metadata=md, type="OTU table")


def biom_v2_bytes(M: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as handle:
        biom_table(M, **kw).to_hdf5(handle, "gutaxis tests")
    return buf.getvalue()


def biom_v1_text(M: np.ndarray, *, taxonomy: bool = True) -> str:
    """BIOM 1.0 JSON (sparse) written per the format spec with full float precision.

    (biom-format's own ``Table.to_json`` rounds floats to 6 decimals; it is tested separately.)
    """
    obs_x_samples = M.T
    doc = {
        "id": "gutaxis-test",
        "format": "Biological Observation Matrix 1.0.0",
        "format_url": "http://biom-format.org",
        "type": "OTU table",
        "generated_by": "gutaxis tests",
        "date": "2024-01-01T00:00:00",
        "matrix_type": "sparse",
        "matrix_element_type": "int" if np.all(np.round(M) == M) else "float",
        "shape": list(obs_x_samples.shape),
        "data": [[int(i), int(j), float(obs_x_samples[i, j])] for i, j in zip(*np.nonzero(obs_x_samples), strict=True)],
        "rows": [{"id": t, "metadata": {"taxonomy": greengenes(t)} if taxonomy else None} for t in TAXA],
        "columns": [{"id": s, "metadata": None} for s in SAMPLES],
    }
    return json.dumps(doc)


def qza_bytes(
    biom_payload: bytes,
    *,
    artifact_type: str = "FeatureTable[Frequency]",
    uid: str | None = None,
    members: dict[str, bytes] | None = None,
) -> bytes:
    uid = uid or str(uuid.UUID(int=12345))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{uid}/VERSION", "QIIME 2\narchive: 5\nframework: 2023.9.1\n")
        archive.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: {artifact_type}\nformat: BIOMV210DirFmt\n")
        archive.writestr(f"{uid}/data/feature-table.biom", biom_payload)
        for name, data in (members or {}).items():
            archive.writestr(name, data)
    return buf.getvalue()


def tsv_text(M: np.ndarray, orientation: str, sep: str = "\t") -> str:
    frame = pd.DataFrame(M, index=pd.Index(SAMPLES, name="sample"), columns=TAXA)
    if orientation == "samples-as-columns":
        frame = frame.T
        frame.index.name = "taxon"
    return frame.to_csv(sep=sep, float_format="%.17g")


def write_all(directory: Path, M: np.ndarray) -> dict[str, Path]:
    """``M`` (samples x taxa) in every format; MetaPhlAn gets percentages of ``M``'s rows."""
    paths = {
        "metaphlan4_merged": directory / "merged_abundance_table.txt",
        "biom_v2": directory / "table_v2.biom",
        "biom_v1": directory / "table_v1.biom",
        "qza": directory / "table.qza",
        "tsv_columns": directory / "table_cols.tsv",
        "tsv_rows": directory / "table_rows.tsv",
    }
    P = M / M.sum(axis=1, keepdims=True)
    paths["metaphlan4_merged"].write_text(metaphlan4_merged(P))
    paths["biom_v2"].write_bytes(biom_v2_bytes(M))
    paths["biom_v1"].write_text(biom_v1_text(M))
    kind = "FeatureTable[Frequency]" if np.all(np.round(M) == M) else "FeatureTable[RelativeFrequency]"
    paths["qza"].write_bytes(qza_bytes(biom_v2_bytes(M, taxonomy=False), artifact_type=kind))
    paths["tsv_columns"].write_text(tsv_text(M, "samples-as-columns"))
    paths["tsv_rows"].write_text(tsv_text(M, "samples-as-rows"))
    return paths


def dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def read_quietly(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FilteredWarning)
        return fn(*args, **kw)


READERS = {
    "metaphlan4_merged": gio.read_metaphlan,
    "biom_v2": gio.read_biom,
    "biom_v1": gio.read_biom,
    "qza": gio.read_qza,
    "tsv_columns": gio.read_table,
    "tsv_rows": gio.read_table,
}


@pytest.mark.parametrize("fmt", list(READERS))
def test_same_matrix_from_every_format(tmp_path, fmt):
    P = proportions()
    paths = write_all(tmp_path, P)
    adata = read_quietly(READERS[fmt], paths[fmt])
    assert list(adata.obs_names) == SAMPLES
    assert list(adata.var_names) == TAXA
    np.testing.assert_allclose(dense(adata.X), P, rtol=0, atol=1e-12)
    prov = adata.uns["provenance"]
    assert len(prov["sha256"]) == 64 and prov["source"] == str(paths[fmt])
    assert isinstance(prov["filtered"], list)
    # lineage by rank where the format carries one
    if fmt in ("metaphlan4_merged", "biom_v2", "biom_v1"):
        assert adata.var.loc["Faecalibacterium prausnitzii", "genus"] == "Faecalibacterium"
        assert adata.var.loc["Bacteroides uniformis", "family"] == "Bacteroidaceae"
        assert (adata.var["rank"] == "species").all()


@pytest.mark.parametrize("fmt", list(READERS))
def test_read_profile_detects_every_format(tmp_path, fmt, caplog):
    P = proportions(3)
    paths = write_all(tmp_path, P)
    with caplog.at_level("INFO", logger="gutaxis.io"):
        adata = read_quietly(gio.read_profile, paths[fmt])
    expected = {
        "metaphlan4_merged": "metaphlan",
        "biom_v2": "biom",
        "biom_v1": "biom",
        "qza": "qza",
        "tsv_columns": "table",
        "tsv_rows": "table",
    }[fmt]
    assert adata.uns["provenance"]["detected_format"] == expected
    assert any(f"reading as {expected}" in r.message for r in caplog.records)
    np.testing.assert_allclose(dense(adata.X), P, rtol=0, atol=1e-12)
    assert list(adata.obs_names) == SAMPLES and list(adata.var_names) == TAXA


@pytest.mark.parametrize("fmt", ["biom_v2", "biom_v1", "qza", "tsv_columns", "tsv_rows"])
def test_counts_are_kept_in_a_layer(tmp_path, fmt):
    C = counts()
    paths = write_all(tmp_path, C)
    adata = read_quietly(READERS[fmt], paths[fmt])
    np.testing.assert_array_equal(dense(adata.layers["counts"]), C)
    np.testing.assert_allclose(dense(adata.X), C / C.sum(axis=1, keepdims=True), rtol=0, atol=1e-12)


def test_proportions_have_no_counts_layer(tmp_path):
    paths = write_all(tmp_path, proportions())
    for fmt in ("biom_v2", "tsv_rows"):
        assert "counts" not in read_quietly(READERS[fmt], paths[fmt]).layers


def test_orientation_is_detected_and_said(tmp_path, caplog):
    P = proportions()
    paths = write_all(tmp_path, P)
    with caplog.at_level("INFO", logger="gutaxis.io"):
        rows = gio.read_table(paths["tsv_rows"])
        cols = gio.read_table(paths["tsv_columns"])
    assert rows.uns["provenance"]["orientation"] == "samples-as-rows"
    assert cols.uns["provenance"]["orientation"] == "samples-as-columns"
    assert "named like a sample column" in rows.uns["provenance"]["orientation_reason"]
    assert sum("orientation" in r.message for r in caplog.records) == 2
    np.testing.assert_allclose(rows.X, cols.X, rtol=0, atol=1e-15)


@pytest.mark.parametrize("orientation", ["samples-as-rows", "samples-as-columns"])
def test_orientation_from_taxon_like_names(tmp_path, orientation):
    P = proportions()
    path = tmp_path / "unnamed_id_column.csv"
    path.write_text(tsv_text(P, orientation, sep=",").replace("sample,", ",", 1).replace("taxon,", ",", 1))
    adata = gio.read_table(path)
    assert adata.uns["provenance"]["orientation"] == orientation
    assert "look like taxon names" in adata.uns["provenance"]["orientation_reason"]
    np.testing.assert_allclose(adata.X, P, rtol=0, atol=1e-12)


def test_orientation_from_metadata_sample_ids(tmp_path):
    # IDs that look like nothing in particular: only the metadata tells which axis holds samples
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6]], index=["x1", "x2"], columns=["a", "b", "c"])
    path = tmp_path / "opaque.tsv"
    frame.to_csv(path, sep="\t", index_label="")
    meta = pd.DataFrame({"age": [30, 40, 50]}, index=pd.Index(["a", "b", "c"], name="sample"))
    adata = read_quietly(gio.read_profile, path, metadata=meta)
    assert list(adata.obs_names) == ["a", "b", "c"]
    assert "match metadata sample IDs" in adata.uns["provenance"]["orientation_reason"]
    assert list(adata.obs["age"]) == [30, 40, 50]
    # without metadata there is no evidence: the feature-table convention is assumed, and said
    plain = gio.read_table(path)
    assert plain.uns["provenance"]["orientation"] == "samples-as-columns"
    assert plain.uns["provenance"]["orientation_reason"].startswith("no evidence")


def test_explicit_orientation_wins(tmp_path):
    P = proportions()
    paths = write_all(tmp_path, P)
    forced = gio.read_table(paths["tsv_rows"], orientation="samples-as-columns")
    assert list(forced.obs_names) == TAXA  # as asked, even though detection would say otherwise
    assert forced.uns["provenance"]["orientation_reason"] == "given"


def test_biom_format_json_writer_is_read(tmp_path):
    P = proportions()
    path = tmp_path / "by_biom_format.biom"
    path.write_text(biom_table(P).to_json("biom-format"))  # biom-format writes 6 decimals
    adata = gio.read_biom(path)
    np.testing.assert_allclose(dense(adata.X), P, rtol=0, atol=1e-5)
    assert adata.uns["provenance"]["biom_format_version"] == "1 (JSON)"
    assert adata.var.loc["Escherichia coli", "species"] == "Escherichia coli"
