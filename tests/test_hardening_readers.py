"""Hardening of the readers: the readers' cases of the reliability audit, one test per case.

``../shared/science/audit-reliability.md`` lists each case with a reproduction; the inputs are
built here the same way, in ``tmp_path``, from the files in ``../shared/data``. Cases that
crashed (segfault), hung or blew up memory run in a child process with a time limit and a cap on
its address space, so that a regression fails the test instead of killing pytest.

Then a property over every reader (MetaPhlAn, BIOM v1 JSON, BIOM v2 HDF5, .qza, CSV/TSV, h5ad):
on mutated and hostile inputs under 10 MB, no crash, no run over 10 s, no peak RSS over 500 MB,
and no exception but :class:`gutaxis.errors.InputError`. The default budget is small
(``GUTAXIS_FUZZ_EXAMPLES``, default 30 per reader; 2,000 for a long hunt).
"""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gutaxis.io as gio
from gutaxis.errors import InputError
from gutaxis.io import FilteredWarning

FUZZ_EXAMPLES = int(os.environ.get("GUTAXIS_FUZZ_EXAMPLES") or 30)

# ----------------------------------------------------------------------------- helpers

# A child process: caps its address space, resets the peak-RSS mark after the imports, runs one
# reader and prints one JSON line (outcome, message, seconds, peak RSS in MiB).
_CHILD = r"""
import json, resource, sys, time, warnings
cap = int(sys.argv[1]) << 20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import gutaxis.io as gio
from gutaxis.errors import InputError

def peak_mb():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

def run(reader, path, kwargs):
    reset_peak()
    out = {}
    start, cpu = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adata = getattr(gio, reader)(path, **kwargs)
        if hasattr(adata.X, "check_format"):
            adata.X.check_format(full_check=True)  # a reader must never hand on a corrupt sparse matrix
        X = adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X
        ok = (X.shape[0] > 0 and X.shape[1] > 0 and bool((X >= 0).all()) and bool(abs(X).max() < float("inf"))
              and adata.obs_names.is_unique and adata.var_names.is_unique)
        out.update(kind="ok" if ok else "contract", shape=list(adata.shape))
    except InputError as exc:
        out.update(kind="InputError", message=str(exc))
    except BaseException as exc:
        out.update(kind=type(exc).__name__, message=str(exc)[:1000])
    out.update(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu, peak_mb=peak_mb())
    return out

if sys.argv[2] == "--serve":
    for line in sys.stdin:
        reader, path, kwargs = json.loads(line)
        print(json.dumps(run(reader, path, kwargs)), flush=True)
else:
    print("RESULT " + json.dumps(run(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))), flush=True)
"""

_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def isolated(reader: str, path, *, timeout: float = 60, cap_mb: int = 3072, **kwargs) -> dict:
    """Run ``gio.<reader>(path, **kwargs)`` in a child process; a crash or a hang fails the test."""
    cmd = [sys.executable, "-c", _CHILD, str(cap_mb), reader, str(path), json.dumps(kwargs)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_ENV, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{reader}({Path(path).name}) ran over {timeout} s")
    if proc.returncode != 0:
        pytest.fail(
            f"{reader}({Path(path).name}) died with exit status {proc.returncode} "
            f"(negative: killed by that signal, -11 is a segfault): {proc.stderr[-500:]}"
        )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def read_quietly(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FilteredWarning)
        return fn(*args, **kw)


def metaphlan_file(shared) -> Path:
    return shared("data", "gmwi2_example", "SRR1761667_metaphlan.txt")


def s_csv(shared, tmp_path) -> Path:
    """The audit's ``s.csv``: the first 12 samples of the GMHI validation table, taxa present in them."""
    d = pd.read_csv(
        shared("data", "gmhi2020_validation", "validation_abundance.csv"), index_col=0, encoding="utf-8-sig"
    ).iloc[:, :12]
    path = tmp_path / "s.csv"
    d[(d > 0).any(axis=1)].to_csv(path)
    return path


def bad_biom(path: Path) -> Path:
    """The audit's B08 file: a 2 x 2 BIOM v2 table with index 0 of both axes set to 10**6."""
    import biom
    import h5py

    t = biom.Table(np.array([[1.0, 2], [3, 4]]), ["o1", "o2"], ["s1", "s2"])
    with h5py.File(path, "w") as h:
        t.to_hdf5(h, "x")
        for axis in ("observation", "sample"):
            h[axis + "/matrix/indices"][0] = 10**6
    return path


def qza_with(path: Path, members: dict[str, bytes | str], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


UID = "00000000-0000-0000-0000-000000003039"
META_OK = f"uuid: {UID}\ntype: FeatureTable[Frequency]\nformat: BIOMV210DirFmt\n"


def small_biom_bytes() -> bytes:
    import biom
    import h5py

    t = biom.Table(np.array([[1.0, 2, 0], [3, 4, 5]]), ["o1", "o2"], ["s1", "s2", "s3"])
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h:
        t.to_hdf5(h, "gutaxis tests")
    return buf.getvalue()


# ------------------------------------------------------------------ R01 truncated MetaPhlAn


def test_R01_full_file_is_the_independent_reference(shared):
    # the audit's figures for the complete file: richness 54, GMHI 1.31
    from gutaxis.measure.reference import health_indices

    h = health_indices(read_quietly(gio.read_profile, metaphlan_file(shared)))
    assert h["richness"].iloc[0] == 54
    assert round(float(h["GMHI"].iloc[0]), 2) == 1.31


def test_R01_truncated_metaphlan_refused(shared, tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(metaphlan_file(shared).read_bytes()[:18538])  # head -c 18538
    with pytest.raises(InputError) as err:
        read_quietly(gio.read_profile, path)
    msg = str(err.value)
    assert str(path) in msg
    assert "truncated" in msg and "species" in msg and "kingdom" in msg
    assert "27.3" in msg and "29.2" in msg  # the file's own totals: species 27.3 %, kingdoms 29.2 %
    assert err.value.hint and "MetaPhlAn" in err.value.hint


def test_R01_truncated_at_every_species_row_is_refused(shared, tmp_path):
    lines = metaphlan_file(shared).read_text().splitlines(keepends=True)
    first_species = next(i for i, x in enumerate(lines) if x.split("\t")[0].split("|")[-1].startswith("s__"))
    for cut in range(first_species + 1, len(lines), 5):  # whole rows kept, the tail of the species cut
        path = tmp_path / f"cut{cut}.txt"
        path.write_text("".join(lines[:cut]))
        with pytest.raises(InputError, match="truncated"):
            read_quietly(gio.read_metaphlan, path)


def test_R01_genuine_metaphlan2_tables_still_read(shared, tmp_path):
    # MetaPhlAn 2 genera such as g__Sutterellaceae_unclassified have no species rows: not truncation
    raw = pd.read_csv(
        shared("data", "metaml_pasolli2016", "abundance_stoolsubset.txt.bz2"),
        sep="\t",
        index_col=0,
        header=None,
        low_memory=False,
    )
    samples = raw.loc["sampleID"].iloc[:300]
    clades = raw.loc[[i for i in raw.index if str(i).startswith("k__")]].iloc[:, :300]
    merged = clades.set_axis(samples.to_numpy(), axis=1)
    path = tmp_path / "merged_mpa2.tsv"
    merged.to_csv(path, sep="\t", index_label="ID")
    adata = read_quietly(gio.read_metaphlan, path)
    species = [c for c in clades.index if c.split("|")[-1].startswith("s__")]
    assert adata.shape == (300, len(species))
    expected = clades.loc[species].astype(float).T.to_numpy()
    expected = expected / expected.sum(axis=1, keepdims=True)  # of the reads classified to a species
    np.testing.assert_allclose(np.asarray(adata.X), expected, rtol=0, atol=1e-12)


# ----------------------------------------------------- R25, R26 proportions instead of percent


def _as_proportions(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append(line)
            continue
        f = line.split("\t")
        f[2] = repr(float(f[2]) / 100)  # awk '{$3=$3/100}'
        out.append("\t".join(f))
    return "\n".join(out) + "\n"


def test_R25_metaphlan_proportions_refused(shared, tmp_path):
    path = tmp_path / "p.txt"
    path.write_text(_as_proportions(metaphlan_file(shared).read_text()))
    with pytest.raises(InputError) as err:
        read_quietly(gio.read_profile, path)
    msg = str(err.value)
    assert str(path) in msg and "proportions" in msg and "percent" in msg
    assert "100" in err.value.hint


def test_R26_one_proportion_column_of_a_merged_table_refused(shared, tmp_path):
    rows = [x.split("\t") for x in metaphlan_file(shared).read_text().splitlines() if not x.startswith("#")]
    lines = ["#mpa_v30_CHOCOPhlAn_201901", "clade_name\tNCBI_tax_id\tpercent_sample\tproportion_sample"]
    lines += [f"{r[0]}\t{r[1]}\t{r[2]}\t{float(r[2]) / 100!r}" for r in rows]
    path = tmp_path / "merged.tsv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"'proportion_sample'.*proportions") as err:
        read_quietly(gio.read_profile, path)
    assert "percent_sample" not in str(err.value)
    # the percent column alone is read, with the full file's values
    path.write_text("\n".join(line.rsplit("\t", 1)[0] for line in lines) + "\n")
    adata = read_quietly(gio.read_profile, path)
    assert adata.shape == (1, 54)


# -------------------------------------------------------------- B08, Q09 BIOM index out of range


def test_B08_biom_v2_index_out_of_range_refused(tmp_path):
    out = isolated("read_profile", bad_biom(tmp_path / "bad.biom"), timeout=60)
    assert out["kind"] == "InputError", out
    assert "bad.biom" in out["message"] and "index" in out["message"] and "1000000" in out["message"]


def test_Q09_biom_in_qza_index_out_of_range_refused(tmp_path):
    payload = bad_biom(tmp_path / "bad.biom").read_bytes()
    path = qza_with(tmp_path / "bad.qza", {f"{UID}/metadata.yaml": META_OK, f"{UID}/data/feature-table.biom": payload})
    out = isolated("read_profile", path, timeout=60)
    assert out["kind"] == "InputError", out
    assert "bad.qza" in out["message"] and "feature-table.biom" in out["message"] and "index" in out["message"]


# ------------------------------------------------------------ Q07, Q08 billion laughs in a .qza


def _laughs(levels: int) -> str:
    text = "a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    text += "".join(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 10) + "]\n" for k in range(1, levels + 1))
    return text + f"type: *a{levels}\n"


def test_Q07_billion_laughs_qza_refused(tmp_path):
    path = qza_with(tmp_path / "l.qza", {"u/metadata.yaml": _laughs(8)})
    assert path.stat().st_size < 1000
    out = isolated("read_profile", path, timeout=60, cap_mb=1536)
    assert out["kind"] == "InputError", out
    assert out["seconds"] < 2 and out["peak_mb"] < 400
    assert "alias" in out["message"]


def test_Q08_yaml_alias_error_is_short(tmp_path):
    path = qza_with(tmp_path / "l6.qza", {"u/metadata.yaml": _laughs(6)})
    out = isolated("read_profile", path, timeout=60, cap_mb=1536)
    assert out["kind"] == "InputError", out
    assert len(out["message"]) < 400  # was 7.2 MB


# ------------------------------------------------------------------- Q06 zip member bomb


def _zip_bomb(path: Path, megabytes: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("u/metadata.yaml", "type: FeatureTable[Frequency]\n")
        with z.open("u/data/feature-table.biom", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(megabytes):
                f.write(block)
    return path


def test_Q06_qza_member_bomb_refused_before_reading(tmp_path):
    path = _zip_bomb(tmp_path / "b.qza", 700)  # the audit's 0.7 MB archive of 700 MB of zeros
    assert path.stat().st_size < 1_000_000
    out = isolated("read_profile", path, timeout=60)
    assert out["kind"] == "InputError", out
    assert out["peak_mb"] < 300 and out["seconds"] < 2, out  # was 1.5 GB
    assert "feature-table.biom" in out["message"] and "MAX_" in out["message"]


def test_Q06_limits_are_module_constants(tmp_path, monkeypatch):
    from gutaxis.io import qiime2

    for name in ("MAX_MEMBER_BYTES", "MAX_TOTAL_BYTES", "MAX_COMPRESSION_RATIO", "MAX_METADATA_BYTES"):
        assert isinstance(getattr(qiime2, name), int)
    # a genuine small artifact reads; lowering the per-member limit refuses it, naming the limit
    from test_io_roundtrip import biom_v2_bytes, counts, qza_bytes

    path = tmp_path / "ok.qza"
    path.write_bytes(qza_bytes(biom_v2_bytes(counts())))
    assert gio.read_qza(path).n_obs == 4
    monkeypatch.setattr(qiime2, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(InputError, match="MAX_MEMBER_BYTES"):
        gio.read_qza(path)
    monkeypatch.undo()
    monkeypatch.setattr(qiime2, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(InputError, match="MAX_TOTAL_BYTES"):
        gio.read_qza(path)


def test_Q06_member_that_lies_about_its_size_is_bounded(tmp_path, monkeypatch):
    # the central directory says 100 bytes; decompression stops at the limit whatever it says
    from gutaxis.io import qiime2

    path = tmp_path / "liar.qza"
    path.write_bytes(_lying_zip(b"x" * 200_000))
    monkeypatch.setattr(qiime2, "MAX_MEMBER_BYTES", 50_000)
    with pytest.raises(InputError, match=r"MAX_MEMBER_BYTES|cannot be extracted"):
        gio.read_qza(path)


def _lying_zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{UID}/metadata.yaml", META_OK)
        z.writestr(f"{UID}/data/feature-table.biom", payload)
    data = bytearray(buf.getvalue())
    size = len(payload).to_bytes(4, "little")
    fake = (100).to_bytes(4, "little")
    # uncompressed-size fields: local header (offset 22) and central directory (offset 24)
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            if data[i + off : i + off + 4] == size:
                data[i + off : i + off + 4] = fake
            start = i + 4
    return bytes(data)


def test_Q06_gzip_bomb_table_refused_while_decompressing(tmp_path):
    # the same bound for compressed text tables: a row of 150 million "0," (300 MB) in a small .csv.gz
    import gzip

    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(b"SampleID,g__A\nS1,1")
        block = b",0" * (1 << 19)
        for _ in range(300):
            f.write(block)
    assert path.stat().st_size < 2_000_000
    out = isolated("read_profile", path, timeout=60)
    assert out["kind"] == "InputError", out
    assert "MAX_DECOMPRESSION_RATIO" in out["message"] and out["peak_mb"] < 400, out


def test_Q07_deeply_nested_yaml_refused_fast(tmp_path):
    # found by the property below: 5,000 nested lists took PyYAML 10-20 s
    path = qza_with(tmp_path / "deep.qza", {"u/metadata.yaml": "type: " + "[" * 5000 + "]" * 5000 + "\n"})
    out = isolated("read_profile", path, timeout=60)
    assert out["kind"] == "InputError" and "nests more than" in out["message"], out
    assert out["seconds"] < 2


def test_B08_h5ad_sparse_index_out_of_range_refused(tmp_path):
    import anndata as ad
    import h5py
    import scipy.sparse as sp

    path = tmp_path / "bad.h5ad"
    X = sp.csr_matrix(np.array([[1.0, 2], [3, 4]]))
    ad.AnnData(X=X, obs=pd.DataFrame(index=["s1", "s2"]), var=pd.DataFrame(index=["o1", "o2"])).write_h5ad(path)
    with h5py.File(path, "r+") as h:
        h["X/indices"][0] = 10**6
    out = isolated("read_profile", path, timeout=60)
    assert out["kind"] == "InputError", out
    assert "bad.h5ad" in out["message"] and "index 1000000" in out["message"]


# ------------------------------------------------------------------ W02 wide CSV


def test_W02_two_samples_by_a_million_features_is_fast(tmp_path):
    n = 10**6
    path = tmp_path / "w.csv"
    path.write_text(
        "SampleID,"
        + ",".join(f"g__G{i}" for i in range(n))
        + "\nA,"
        + ",".join(["1"] * n)
        + "\nB,"
        + ",".join(["2"] * n)
        + "\n"
    )
    out = isolated("read_profile", path, timeout=120)
    assert out["kind"] == "ok" and out["shape"] == [2, n], out
    # was 72 s and 2.9 GB to read (9 min 17 s for the whole `report`). The CPU time is the measure (7 s on
    # the project's machine); the wall time only guards against a hang, since other work on a shared
    # machine stretches it (32 s seen at a load average of 9)
    assert out["cpu_seconds"] < 20 and out["peak_mb"] < 1024 and out["seconds"] < 100, out


# ---------------------------------------------------------------- R45 wrong orientation


def test_R45_wrong_orientation_samples_named_like_taxa_refused(shared, tmp_path):
    path = s_csv(shared, tmp_path)
    with pytest.raises(InputError) as err:
        gio.read_profile(path, orientation="samples-as-rows")
    msg = str(err.value)
    assert "s__" in msg and "taxa" in msg and "samples-as-columns" in err.value.hint
    # the right orientation (given or detected) reads the 12 samples
    assert gio.read_profile(path, orientation="samples-as-columns").n_obs == 12
    assert gio.read_profile(path).n_obs == 12


# --------------------------------------------------------------------- R12 UTF-16


def test_R12_utf16_csv_is_read(shared, tmp_path):
    path = s_csv(shared, tmp_path)
    utf8 = gio.read_profile(path)
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):  # iconv -t utf-16 writes a BOM
        p16 = tmp_path / f"s16_{encoding}.csv"
        p16.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
        adata = gio.read_profile(p16)
        assert list(adata.obs_names) == list(utf8.obs_names) and list(adata.var_names) == list(utf8.var_names)
        np.testing.assert_array_equal(np.asarray(adata.X), np.asarray(utf8.X))


def test_R12_undecodable_utf16_says_so(tmp_path):
    path = tmp_path / "broken16.csv"
    path.write_bytes("SampleID,a\nx,1\n".encode("utf-16") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(InputError, match="UTF-16") as err:
        gio.read_profile(path, format="table")
    assert "UTF-8" in err.value.hint


# ----------------------------------------------------------- R09 header and rows differ


def test_R09_tab_header_comma_rows_names_the_separators(shared, tmp_path):
    src = s_csv(shared, tmp_path).read_text().splitlines()
    path = tmp_path / "r9.csv"
    path.write_text("\n".join([src[0].replace(",", "\t"), *src[1:]]) + "\n")
    with pytest.raises(InputError) as err:
        gio.read_profile(path)
    msg = str(err.value)
    assert "missing value" not in msg
    assert "tab" in msg and "comma" in msg and "line 2" in msg


def test_R09_comma_header_tab_rows(tmp_path):
    path = tmp_path / "r9b.tsv"
    path.write_text("SampleID,g__A,g__B\nS1\t1\t2\nS2\t3\t4\n")
    with pytest.raises(InputError, match=r"comma.*tab|tab.*comma"):
        gio.read_profile(path)


# ------------------------------------------------------- same cohort, shuffled samples


def test_shuffled_samples_give_identical_indices_and_percentiles(shared):
    from gutaxis.measure.reference import build_reference, health_indices, percentiles

    path = shared("data", "gmhi2020_validation", "validation_abundance.csv")
    meta = shared("data", "gmhi2020_validation", "validation_metadata.csv")
    cohort = read_quietly(gio.read_profile, path, metadata=meta)
    order = np.random.default_rng(1).permutation(cohort.n_obs)
    shuffled = cohort[order].copy()
    assert list(shuffled.obs_names) != list(cohort.obs_names)
    a, b = health_indices(cohort), health_indices(shuffled)
    pd.testing.assert_frame_equal(b.loc[a.index], a, check_exact=True)
    ref_a = build_reference(cohort, healthy=("Phenotype", "Healthy"))
    ref_b = build_reference(shuffled, healthy=("Phenotype", "Healthy"))
    assert ref_a.n_samples == ref_b.n_samples == 118
    for k in ref_a.values:
        np.testing.assert_array_equal(np.sort(ref_a.values[k]), np.sort(ref_b.values[k]))
    pa, pb = percentiles(a, ref_a), percentiles(b, ref_b)
    pd.testing.assert_frame_equal(pb.loc[pa.index], pa, check_exact=True)


# ------------------------------------------------ property: every reader, hostile inputs

FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("GUTAXIS_FUZZ_EXAMPLES") is None,
    suppress_health_check=list(HealthCheck),
)
TIME_LIMIT_S = 10.0
RSS_LIMIT_MB = 500.0
FUZZ_STATS: dict[str, dict[str, float]] = {}


class Worker:
    """One child process that reads files on request (a crash or hang is seen, not suffered)."""

    def __init__(self):
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, "3072", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_ENV,
        )

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, reader: str, path: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps([reader, str(path), {}]) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], TIME_LIMIT_S + 20)  # + start-up
        if not ready:
            self.stop()
            return {"kind": "hang", "message": f"no answer within {TIME_LIMIT_S + 20} s"}
        line = self.proc.stdout.readline()
        if not line:
            status = self.proc.wait()
            self.proc = None
            return {"kind": "crash", "message": f"the reader process died (exit status {status})"}
        return json.loads(line)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    w.start()
    yield w
    w.stop()
    if FUZZ_STATS:
        print("\nfuzz figures (reader: examples, outcomes, max seconds, max peak RSS MiB):")
        for name, s in sorted(FUZZ_STATS.items()):
            print(
                f"  {name}: {int(s['n'])} examples, {int(s['ok'])} read, {int(s['refused'])} InputError, "
                f"max {s['seconds']:.2f} s, max {s['rss']:.0f} MiB, largest input {int(s['bytes'])} bytes"
            )


def _h5ad_bytes(tmp: Path, sparse: bool) -> bytes:
    import anndata as ad
    import scipy.sparse as sp
    from test_io_roundtrip import SAMPLES, TAXA, counts

    C = counts()
    X = sp.csr_matrix(C) if sparse else C
    a = ad.AnnData(X=X, obs=pd.DataFrame(index=SAMPLES), var=pd.DataFrame(index=TAXA))
    path = tmp / f"base_{sparse}.h5ad"
    a.write_h5ad(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared):
    """Valid inputs of every format, the seeds of the mutations."""
    import biom
    from test_io_roundtrip import (
        biom_table,
        biom_v1_text,
        biom_v2_bytes,
        counts,
        metaphlan4_merged,
        proportions,
        qza_bytes,
        tsv_text,
    )

    tmp = tmp_path_factory.mktemp("corpus")
    C, P = counts(), proportions()
    table = s_csv(shared, tmp).read_bytes()
    return {
        "metaphlan": [metaphlan_file(shared).read_bytes(), metaphlan4_merged(P).encode()],
        "biom_json": [biom_v1_text(C).encode(), biom_table(C).to_json("gutaxis tests").encode()],
        "biom_hdf5": [biom_v2_bytes(C), biom_v2_bytes(P, taxonomy=False)],
        "qza": [qza_bytes(biom_v2_bytes(C, taxonomy=False))],
        "table": [table, tsv_text(C, "samples-as-columns").encode(), tsv_text(C, "samples-as-rows", sep=",").encode()],
        "h5ad": [_h5ad_bytes(tmp, True), _h5ad_bytes(tmp, False)],
        "_biom": biom,
    }


NASTY = [
    b"",
    b"\x00",
    b"\t",
    b",",
    b";",
    b"\n",
    b"\r",
    b'"',
    b"nan",
    b"NA",
    b"-1",
    b"-0.001",
    b"1e400",
    b"inf",
    b"abc",
    b"1,5",
    b"9" * 400,
    b"k__",
    b"|",
    b"s__X",
    b"#",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"&a [*a, *a]",
    b"{",
    b"}",
    b"[[[[[[[[[[[[",
    b"\xe9",
    b"UNKNOWN\t-1\t50",
    b"0" * 64,
]
SUFFIX = {
    "metaphlan": ".txt",
    "biom_json": ".biom",
    "biom_hdf5": ".biom",
    "qza": ".qza",
    "table": ".csv",
    "h5ad": ".h5ad",
}
READER = {
    "metaphlan": "read_metaphlan",
    "biom_json": "read_biom",
    "biom_hdf5": "read_biom",
    "qza": "read_qza",
    "table": "read_table",
    "h5ad": "read_h5ad",
}


def _byte_ops():
    frac = st.floats(0, 1, allow_nan=False)
    return st.one_of(
        st.tuples(st.just("truncate"), frac),
        st.tuples(st.just("set"), frac, st.integers(0, 255)),
        st.tuples(st.just("insert"), frac, st.sampled_from(NASTY)),
        st.tuples(st.just("delete"), frac, st.integers(1, 64)),
        st.tuples(st.just("repeat"), frac, st.integers(1, 256), st.integers(2, 50)),
    )


def _text_ops():
    frac = st.floats(0, 1, allow_nan=False)
    return st.one_of(
        _byte_ops(),
        st.tuples(st.just("token"), frac, st.sampled_from(NASTY)),
        st.tuples(st.just("line_dup"), frac),
        st.tuples(st.just("line_drop"), frac),
        st.tuples(
            st.just("sep_swap"),
            st.sampled_from([(b"\t", b","), (b",", b"\t"), (b"\t", b" "), (b",", b";"), (b"\n", b"\r")]),
        ),
        st.tuples(st.just("encode"), st.sampled_from(["utf-16", "utf-16-le", "latin-1", "gzip", "bz2"])),
        st.tuples(st.just("scale"), st.sampled_from([0.01, 100.0, -1.0, 1e-300, 1e300])),
    )


# the arrays a sparse reader trusts (BIOM v2, .h5ad), aimed at first; any other dataset by position
H5_TARGETS = [
    "observation/matrix/indices",
    "sample/matrix/indices",
    "observation/matrix/indptr",
    "sample/matrix/indptr",
    "observation/matrix/data",
    "sample/matrix/data",
    "observation/ids",
    "sample/ids",
    "X/indices",
    "X/indptr",
    "X/data",
    "X",
    "obs/_index",
    "var/_index",
]


def _h5_ops():
    frac = st.floats(0, 1, allow_nan=False)
    target = st.one_of(st.sampled_from(H5_TARGETS), frac)
    value = st.one_of(
        st.sampled_from([-1, 4, 6, 7, 8, 10**6, 2**31 - 1, -(2**31), 0]),
        st.integers(-10, 10**9),
        st.sampled_from([float("nan"), float("inf"), -0.5, 1e300]),
    )
    kinds = {
        "h5_set": st.tuples(st.just("h5_set"), target, frac, value),
        "h5_resize": st.tuples(st.just("h5_resize"), target, st.integers(0, 40)),
        "h5_attr": st.tuples(
            st.just("h5_attr"),
            st.sampled_from(["shape", "h5sparse_shape"]),
            st.tuples(st.integers(-2, 10**7), st.integers(-2, 10**7)),
        ),
        "h5_delete": st.tuples(st.just("h5_delete"), target),
        "bytes": _byte_ops(),
    }
    # structured changes mostly: damaged bytes tend to make an HDF5 file unreadable as a whole
    return st.sampled_from(["h5_set"] * 5 + ["h5_resize", "h5_attr", "h5_delete", "bytes"]).flatmap(kinds.get)


def _yaml_ops():
    return st.tuples(
        st.just("yaml"),
        st.sampled_from(
            [
                "type: FeatureTable[Frequency]\n" + _laughs(5).replace("type:", "x:"),
                _laughs(9),
                "type: " + "[" * 5000 + "]" * 5000 + "\n",
                "type: FeatureTable[RelativeFrequency]\nuuid: " + "u" * 100_000 + "\n",
                "type: !!python/object/apply:os.system ['true']\n",
                "type: Phylogeny[Rooted]\n",
                "- not\n- a mapping\n",
                "type: FeatureTable[Frequency]\n\x00\n",
                "type: &t FeatureTable[Frequency]\nother: *t\n",
            ]
        ),
    )


def _at(data: bytes, frac: float) -> int:
    return min(len(data), int(frac * len(data)))


def _apply_bytes(data: bytes, op) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[: _at(data, op[1])]
    if kind == "set" and data:
        i = min(len(data) - 1, _at(data, op[1]))
        return data[:i] + bytes([op[2]]) + data[i + 1 :]
    if kind == "insert":
        i = _at(data, op[1])
        return data[:i] + op[2] + data[i:]
    if kind == "delete":
        i = _at(data, op[1])
        return data[:i] + data[i + op[2] :]
    if kind == "repeat":
        i = _at(data, op[1])
        chunk = data[i : i + op[2]]
        return data[:i] + chunk * op[3] + data[i + len(chunk) :]
    return data


def _apply_text(data: bytes, op) -> bytes:
    import bz2
    import gzip
    import re

    kind = op[0]
    if kind == "token":
        spans = [m.span() for m in re.finditer(rb"-?\d+(?:\.\d+)?(?:e-?\d+)?", data)]
        if not spans:
            return data
        a, b = spans[min(len(spans) - 1, int(op[1] * len(spans)))]
        return data[:a] + op[2] + data[b:]
    if kind in ("line_dup", "line_drop"):
        lines = data.split(b"\n")
        i = min(len(lines) - 1, int(op[1] * len(lines)))
        if kind == "line_dup":
            lines.insert(i, lines[i])
        else:
            del lines[i]
        return b"\n".join(lines)
    if kind == "sep_swap":
        return data.replace(*op[1])
    if kind == "encode":
        if op[1] == "gzip":
            return gzip.compress(data)
        if op[1] == "bz2":
            return bz2.compress(data)
        return data.decode("utf-8", "replace").encode(op[1], "replace")
    if kind == "scale":

        def scale(m):
            try:
                return repr(float(m.group()) * op[1]).encode()
            except ValueError:
                return m.group()

        return re.sub(rb"(?<![\w|.])\d+\.\d+(?:e-?\d+)?(?![\w.])", scale, data)
    return _apply_bytes(data, op)


def _apply_h5(data: bytes, op) -> bytes:
    import h5py

    if not op[0].startswith("h5_"):
        return _apply_bytes(data, op)
    buf = io.BytesIO(data)
    try:
        with h5py.File(buf, "r+") as h:
            names = []
            h.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            names.sort()
            if op[0] == "h5_attr":
                target = (
                    h if "shape" in h.attrs else next((h[n] for n in ("X",) if n in h and "shape" in h[n].attrs), h)
                )
                target.attrs[op[1]] = np.array(op[2], dtype=np.int64)
            elif names:
                if isinstance(op[1], str):
                    if op[1] not in h or not isinstance(h[op[1]], h5py.Dataset):
                        return data
                    name = op[1]
                else:
                    name = names[min(len(names) - 1, int(op[1] * len(names)))]
                ds = h[name]
                if op[0] == "h5_set" and ds.ndim == 1 and ds.shape[0]:
                    i = min(ds.shape[0] - 1, int(op[2] * ds.shape[0]))
                    arr = ds[()]
                    try:
                        arr[i] = op[3]
                    except (ValueError, OverflowError, TypeError):
                        return data
                    del h[name]
                    h.create_dataset(name, data=arr)
                elif op[0] == "h5_resize" and ds.ndim == 1:
                    arr = ds[()]
                    new = np.resize(arr, op[2]) if len(arr) else arr
                    del h[name]
                    h.create_dataset(name, data=new)
                elif op[0] == "h5_delete":
                    del h[name]
    except (OSError, ValueError, TypeError, KeyError, RuntimeError):
        return data
    return buf.getvalue()


def _qza_mutate(base: bytes, ops) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(base))
    members = {n: src.read(n) for n in src.namelist()}
    zip_ops = []
    for op in ops:
        if op[0] == "yaml":
            name = next(n for n in members if n.endswith("metadata.yaml"))
            members[name] = op[1].encode()
        elif op[0].startswith("h5_"):
            name = next(n for n in members if n.endswith(".biom"))
            members[name] = _apply_h5(members[name], op)
        elif op[0] == "bomb":
            name = next(n for n in members if n.endswith(".biom"))
            members[name] = bytes(op[1] << 20)
        else:
            zip_ops.append(op)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    data = buf.getvalue()
    for op in zip_ops:
        data = _apply_bytes(data, op)
    return data


OPS = {
    "metaphlan": _text_ops(),
    "table": _text_ops(),
    "biom_json": _text_ops(),
    "biom_hdf5": _h5_ops(),
    "h5ad": _h5_ops(),
    "qza": st.sampled_from(["h5", "h5", "yaml", "bomb"]).flatmap(
        lambda k: {"h5": _h5_ops(), "yaml": _yaml_ops(), "bomb": st.tuples(st.just("bomb"), st.integers(1, 40))}[k]
    ),
}


def _mutate(fmt: str, base: bytes, ops) -> bytes:
    if fmt == "qza":
        return _qza_mutate(base, ops)
    data = base
    for op in ops:
        data = _apply_h5(data, op) if fmt in ("biom_hdf5", "h5ad") else _apply_text(data, op)
    return data


_fuzz_counter = iter(range(10**9))


@pytest.mark.parametrize("fmt", list(READER))
def test_every_reader_survives_hostile_input(fmt, corpus, worker, tmp_path_factory):
    """No crash, no run over 10 s, no peak RSS over 500 MiB, nothing but InputError escapes,
    and a file that is read meets the data contract."""
    tmp = tmp_path_factory.mktemp(f"fuzz_{fmt}")

    @FUZZ_SETTINGS
    @given(
        base=st.sampled_from(range(len(corpus[fmt]))),
        ops=st.lists(OPS[fmt], min_size=1, max_size=4),
        via_profile=st.booleans(),
    )
    def check(base, ops, via_profile):
        data = _mutate(fmt, corpus[fmt][base], ops)
        assert len(data) < 10 * 2**20
        path = tmp / f"case{next(_fuzz_counter)}{SUFFIX[fmt]}"
        path.write_bytes(data)
        reader = "read_profile" if via_profile else READER[fmt]
        out = worker.run(reader, path)
        stats = FUZZ_STATS.setdefault(fmt, {"n": 0, "ok": 0, "refused": 0, "seconds": 0.0, "rss": 0.0, "bytes": 0})
        stats["n"] += 1
        stats["ok"] += out["kind"] == "ok"
        stats["refused"] += out["kind"] == "InputError"
        stats["seconds"] = max(stats["seconds"], out.get("seconds", 0.0))
        stats["rss"] = max(stats["rss"], out.get("peak_mb", 0.0))
        stats["bytes"] = max(stats["bytes"], len(data))
        where = f"{reader}({path.name}) after {ops!r}"
        assert out["kind"] in ("ok", "InputError"), f"{where}: {out}"
        assert out["seconds"] <= TIME_LIMIT_S, f"{where}: {out['seconds']:.1f} s"
        assert out["peak_mb"] <= RSS_LIMIT_MB, f"{where}: peak RSS {out['peak_mb']:.0f} MiB"
        path.unlink()

    check()


def test_M12_reference_without_metadata_says_to_give_it(shared, tmp_path):
    """M12: `reference` with --healthy COLUMN=VALUE but no --metadata named an empty list of columns."""
    from typer.testing import CliRunner

    from gutaxis.cli import app

    r = CliRunner().invoke(
        app,
        [
            "reference",
            str(shared("data", "gmhi2020_validation", "validation_abundance.csv")),
            "--healthy",
            "Phenotype=Healthy",
            "-o",
            str(tmp_path / "ref.json"),
        ],
    )
    assert r.exit_code == 2
    assert "no sample metadata" in r.output and "--metadata" in r.output
