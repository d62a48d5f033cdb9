"""Property-based tests: malformed input raises InputError and nothing else.

Random bytes, truncated files, corrupted cells (NaN, negative, text, infinite), duplicate IDs,
empty tables, zero-sum samples and wrong zip contents are fed to every reader. Where the damage
guarantees a bad table (a corrupted cell, a duplicate, a zero-sum sample...), an InputError is
required; where it may leave a valid file (random bytes, truncation at a row boundary), the
reader must either raise InputError or return a cohort that meets the data contract.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_io_roundtrip import (
    biom_v1_text,
    biom_v2_bytes,
    counts,
    metaphlan3_single,
    metaphlan4_merged,
    proportions,
    qza_bytes,
    tsv_text,
)

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning

# 60 examples per property keeps the module at a few seconds; set GUTAXIS_FUZZ_EXAMPLES=2000 for a
# longer, randomised hunt (the default run is derandomised so CI is reproducible).
_EXAMPLES = os.environ.get("GUTAXIS_FUZZ_EXAMPLES")
SETTINGS = settings(
    max_examples=int(_EXAMPLES or 60),
    deadline=None,
    derandomize=_EXAMPLES is None,
    suppress_health_check=[HealthCheck.too_slow],
)

P = proportions()
C = counts()
TEXT_BASES = {
    "metaphlan_merged": (metaphlan4_merged(P), ".txt"),
    "metaphlan_single": (metaphlan3_single(P[0], 0.3), ".txt"),
    "tsv_columns": (tsv_text(C, "samples-as-columns"), ".tsv"),
    "csv_rows": (tsv_text(C, "samples-as-rows", sep=","), ".csv"),
}
BINARY_BASES = {
    "biom_v1": (biom_v1_text(C).encode(), ".biom"),
    "biom_v2": (biom_v2_bytes(C), ".biom"),
    "qza": (qza_bytes(biom_v2_bytes(C, taxonomy=False)), ".qza"),
}
READER_OF = {
    "metaphlan_merged": gio.read_metaphlan,
    "metaphlan_single": gio.read_metaphlan,
    "tsv_columns": gio.read_table,
    "csv_rows": gio.read_table,
    "biom_v1": gio.read_biom,
    "biom_v2": gio.read_biom,
    "qza": gio.read_qza,
}
ALL_READERS = [
    gio.read_profile,
    gio.read_metaphlan,
    gio.read_biom,
    gio.read_qza,
    gio.read_table,
    gio.read_h5ad,
    gio.read_metadata,
]
BAD_TOKENS = [
    "nan",
    "NaN",
    "",
    "NA",
    "-1",
    "-0.001",
    "abc",
    "1e999",
    "inf",
    "-inf",
    "1..2",
    "0x10",
    "null",
    "12%",
    "n/a",
]
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(workdir, data: bytes | str, suffix: str):
    path = workdir / f"case{next(_counter)}{suffix}"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _check_contract(adata) -> None:
    X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    assert X.shape[0] > 0 and X.shape[1] > 0
    assert np.all(np.isfinite(X)) and np.all(X >= 0)
    assert adata.obs_names.is_unique and adata.var_names.is_unique
    prov = adata.uns["provenance"]
    for key in ("gutaxis_version", "reader", "source", "sha256", "params", "filtered"):
        assert key in prov


def _outcome(reader, path, *, must_fail: bool) -> None:
    """Call ``reader``; InputError is fine, any other exception fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FilteredWarning)
            result = reader(path)
    except InputError as err:
        assert str(path) in str(err) or err.source is not None
        return
    assert not must_fail, f"{reader.__name__} accepted a bad file: {path.read_bytes()[:300]!r}"
    if reader is gio.read_metadata:
        assert len(result.index) and result.index.is_unique
    else:
        _check_contract(result)


# ------------------------------------------------------------------ anything may happen


@SETTINGS
@given(
    data=st.binary(max_size=1500),
    suffix=st.sampled_from([".txt", ".tsv", ".csv", ".biom", ".qza", ".h5ad"]),
    reader=st.sampled_from(ALL_READERS),
)
def test_random_bytes(workdir, data, suffix, reader):
    _outcome(reader, _write(workdir, data, suffix), must_fail=False)


@SETTINGS
@given(
    text=st.text(alphabet=st.sampled_from(list("\t,;\n#|_-.0123456789eEkpsgUNKOWabc ")), max_size=400),
    reader=st.sampled_from([gio.read_profile, gio.read_metaphlan, gio.read_table, gio.read_metadata]),
)
def test_random_table_like_text(workdir, text, reader):
    _outcome(reader, _write(workdir, text, ".tsv"), must_fail=False)


@SETTINGS
@given(
    name=st.sampled_from(list(TEXT_BASES) + list(BINARY_BASES)), cut=st.floats(0.0, 0.999), via_profile=st.booleans()
)
def test_truncated_files(workdir, name, cut, via_profile):
    data, suffix = TEXT_BASES.get(name) or BINARY_BASES[name]
    raw = data.encode() if isinstance(data, str) else data
    path = _write(workdir, raw[: int(len(raw) * cut)], suffix)
    _outcome(gio.read_profile if via_profile else READER_OF[name], path, must_fail=False)


@SETTINGS
@given(
    name=st.sampled_from(list(BINARY_BASES)),
    positions=st.lists(st.floats(0.0, 0.999), min_size=1, max_size=8),
    value=st.integers(0, 255),
)
def test_corrupted_binary_files(workdir, name, positions, value):
    data = bytearray(BINARY_BASES[name][0])
    for pos in positions:
        data[int(pos * len(data))] = value
    _outcome(READER_OF[name], _write(workdir, bytes(data), BINARY_BASES[name][1]), must_fail=False)


# ------------------------------------------------------------------ must be refused


def _value_cells(name: str, lines: list[str]) -> list[tuple[int, int]]:
    """(line index, field index) of every abundance cell of a text base."""
    sep = "," if name == "csv_rows" else "\t"
    cells = []
    header_seen = False
    for i, line in enumerate(lines):
        if not line or line.startswith("#"):
            continue
        fields = line.split(sep)
        if not header_seen and name in ("metaphlan_merged", "tsv_columns", "csv_rows"):
            header_seen = True
            continue
        if name == "metaphlan_merged":
            cells += [(i, j) for j in range(2, len(fields))]
        elif name == "metaphlan_single":
            cells.append((i, 2))
        else:
            cells += [(i, j) for j in range(1, len(fields))]
    return cells


@SETTINGS
@given(
    name=st.sampled_from(list(TEXT_BASES)),
    pick=st.integers(0, 10_000),
    token=st.sampled_from(BAD_TOKENS),
    via_profile=st.booleans(),
)
def test_corrupted_cells_are_refused(workdir, name, pick, token, via_profile):
    text, suffix = TEXT_BASES[name]
    lines = text.split("\n")
    cells = _value_cells(name, lines)
    i, j = cells[pick % len(cells)]
    sep = "," if name == "csv_rows" else "\t"
    fields = lines[i].split(sep)
    fields[j] = token
    lines[i] = sep.join(fields)
    path = _write(workdir, "\n".join(lines), suffix)
    _outcome(gio.read_profile if via_profile else READER_OF[name], path, must_fail=True)


@SETTINGS
@given(pick=st.integers(0, 10_000), bad=st.sampled_from([float("nan"), -1.0, "abc", None, float("inf"), [1, 2]]))
def test_corrupted_biom_json_cells_are_refused(workdir, pick, bad):
    doc = json.loads(BINARY_BASES["biom_v1"][0])
    doc["data"][pick % len(doc["data"])][2] = bad
    _outcome(gio.read_biom, _write(workdir, json.dumps(doc), ".biom"), must_fail=True)


@SETTINGS
@given(name=st.sampled_from(list(TEXT_BASES)), axis=st.sampled_from(["row", "column"]), pick=st.integers(0, 10_000))
def test_duplicate_ids_are_refused(workdir, name, axis, pick):
    text, suffix = TEXT_BASES[name]
    sep = "," if name == "csv_rows" else "\t"
    lines = text.rstrip("\n").split("\n")
    data_rows = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
    has_header = name != "metaphlan_single"
    header, rows = (data_rows[0], data_rows[1:]) if has_header else (None, data_rows)
    if axis == "column" and header is not None:
        fields = lines[header].split(sep)
        first = 2 if name == "metaphlan_merged" else 1
        if len(fields) - first < 2:
            return
        k = first + 1 + pick % (len(fields) - first - 1)
        fields[k] = fields[k - 1]
        lines[header] = sep.join(fields)
    else:
        src, dst = rows[pick % len(rows)], rows[(pick // 7 + 1 + pick) % len(rows)]
        if src == dst:
            dst = rows[(rows.index(src) + 1) % len(rows)]
        fields = lines[dst].split(sep)
        fields[0] = lines[src].split(sep)[0]
        lines[dst] = sep.join(fields)
    _outcome(READER_OF[name], _write(workdir, "\n".join(lines) + "\n", suffix), must_fail=True)


EMPTY_CASES = [
    ("", ".tsv"),
    ("\n\n  \n", ".txt"),
    ("taxon\tS1\tS2\n", ".tsv"),
    ("#only a comment\n#another\n", ".txt"),
    (
        "#mpa_v30_CHOCOPhlAn_201901\n#SampleID\tMetaphlan_Analysis\n"
        "#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species\n",
        ".txt",
    ),
    ("clade_name\tNCBI_tax_id\tS1\n", ".txt"),
    ("taxon\n", ".tsv"),
    ("{}", ".biom"),
    ("[]", ".biom"),
]


@pytest.mark.parametrize("reader", ALL_READERS)
@pytest.mark.parametrize("content,suffix", EMPTY_CASES)
def test_empty_tables_are_refused(workdir, reader, content, suffix):
    _outcome(reader, _write(workdir, content, suffix), must_fail=True)


def test_empty_biom_and_zip_are_refused(workdir):
    _outcome(gio.read_biom, _write(workdir, _empty_biom_v2(), ".biom"), must_fail=True)
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    for reader in (gio.read_qza, gio.read_profile):
        _outcome(reader, _write(workdir, buf.getvalue(), ".qza"), must_fail=True)


def _empty_biom_v2() -> bytes:
    import biom
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as handle:
        biom.Table(np.zeros((0, 0)), [], []).to_hdf5(handle, "empty")
    return buf.getvalue()


@SETTINGS
@given(
    name=st.sampled_from(["metaphlan_merged", "tsv_columns", "csv_rows", "biom_v1", "biom_v2", "qza"]),
    sample=st.integers(0, 3),
)
def test_zero_sum_samples_are_refused(workdir, name, sample):
    if name == "metaphlan_merged":
        unclassified = np.zeros(P.shape[0])
        P0 = P.copy()
        P0[sample] = 0.0
        unclassified[sample] = 1.0
        path = _write(workdir, metaphlan4_merged(P0, unclassified), ".txt")
    else:
        C0 = C.copy()
        C0[sample] = 0.0
        if name == "tsv_columns":
            path = _write(workdir, tsv_text(C0, "samples-as-columns"), ".tsv")
        elif name == "csv_rows":
            path = _write(workdir, tsv_text(C0, "samples-as-rows", sep=","), ".csv")
        elif name == "biom_v1":
            path = _write(workdir, biom_v1_text(C0), ".biom")
        elif name == "biom_v2":
            path = _write(workdir, biom_v2_bytes(C0), ".biom")
        else:
            path = _write(workdir, qza_bytes(biom_v2_bytes(C0, taxonomy=False)), ".qza")
    _outcome(READER_OF[name], path, must_fail=True)
    _outcome(gio.read_profile, path, must_fail=True)


_member_names = st.text(alphabet=st.sampled_from(list("abc123/._-")), min_size=1, max_size=30)


@st.composite
def wrong_zips(draw) -> bytes:
    kind = draw(st.sampled_from(["random_members", "other_type", "bad_yaml", "no_table", "bad_table", "two_roots"]))
    uid = "0f9e2c1a-1111-2222-3333-444455556666"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        if kind == "random_members":
            for name in draw(
                st.lists(_member_names.filter(lambda n: not n.endswith("metadata.yaml")), max_size=4, unique=True)
            ):
                archive.writestr(name, draw(st.binary(max_size=50)))
        elif kind == "other_type":
            kind_name = draw(
                st.sampled_from(
                    [
                        "FeatureData[Taxonomy]",
                        "Phylogeny[Rooted]",
                        "SampleData[PairedEndSequencesWithQuality]",
                        "FeatureTable[PresenceAbsence]",
                        "DistanceMatrix",
                    ]
                )
            )
            archive.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: {kind_name}\nformat: X\n")
            archive.writestr(f"{uid}/data/feature-table.biom", biom_v2_bytes(C))
        elif kind == "bad_yaml":
            archive.writestr(
                f"{uid}/metadata.yaml",
                draw(st.sampled_from(["[unclosed", "just text", "- a\n- b", "type: [", "\x00\x01", "uuid: 1"])),
            )
        elif kind == "no_table":
            archive.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: FeatureTable[Frequency]\nformat: X\n")
        elif kind == "bad_table":
            archive.writestr(f"{uid}/metadata.yaml", f"uuid: {uid}\ntype: FeatureTable[Frequency]\nformat: X\n")
            archive.writestr(f"{uid}/data/feature-table.biom", draw(st.binary(max_size=200)))
        else:
            for root in (uid, uid[::-1]):
                archive.writestr(f"{root}/metadata.yaml", f"uuid: {root}\ntype: FeatureTable[Frequency]\n")
    return buf.getvalue()


@SETTINGS
@given(data=wrong_zips(), via_profile=st.booleans())
def test_wrong_zip_contents_are_refused(workdir, data, via_profile):
    _outcome(gio.read_profile if via_profile else gio.read_qza, _write(workdir, data, ".qza"), must_fail=True)


def test_other_artifact_type_is_named(workdir):
    path = _write(workdir, qza_bytes(biom_v2_bytes(C), artifact_type="FeatureData[Taxonomy]"), ".qza")
    with pytest.raises(InputError, match=r"FeatureData\[Taxonomy\]"):
        gio.read_qza(path)
