"""Diversity benchmarks: gutaxis against scikit-bio (alpha) and scipy (Bray-Curtis), same matrices.

Run from the repository root::

    .venv/bin/python bench/bench_diversity.py            # the targets (several minutes)
    .venv/bin/python bench/bench_diversity.py --quick    # small sizes, seconds
    .venv/bin/python bench/bench_diversity.py --only alpha    # one part (alpha, gmhi, bray, memmap)

Synthetic tables mimic shotgun species profiles: each sample holds a random 50-150 of the
species (chosen with lognormal species-popularity weights, so common species co-occur often),
with lognormal abundances. Counts are integers (1 + floor(lognormal)); relative abundances are
counts / sample total. Every timing includes gutaxis's input validation. The last lines printed
are the ratios.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def make_counts(n: int, m: int, seed: int, kmin: int = 50, kmax: int = 150, chunk: int = 5000) -> sp.csr_matrix:
    """Sparse integer counts, n samples x m species, kmin..kmax species present per sample."""
    rng = np.random.default_rng(seed)
    logw = rng.normal(0.0, 1.0, m)  # species popularity (log weights)
    kmax = min(kmax, m)
    kmin = min(kmin, kmax)
    k = rng.integers(kmin, kmax + 1, n)
    rows, cols = [], []
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        keys = logw + rng.gumbel(size=(r1 - r0, m))  # Gumbel top-k = weighted sampling w/o replacement
        order = np.argsort(-keys, axis=1)[:, :kmax]
        kk = k[r0:r1]
        mask = np.arange(kmax)[None, :] < kk[:, None]
        rows.append(np.repeat(np.arange(r0, r1), kk))
        cols.append(order[mask])
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    vals = 1.0 + np.floor(rng.lognormal(1.0, 1.8, rows.size))
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, m))
    X.sort_indices()
    return X


def proportions(C: sp.csr_matrix) -> sp.csr_matrix:
    s = np.asarray(C.sum(axis=1)).ravel()
    P = C.copy()
    P.data = P.data / np.repeat(s, np.diff(P.indptr))
    return P


def species_names(m: int) -> list[str]:
    """GMHI's health-prevalent/-scarce species first (when ../shared is present), then synthetic."""
    names: list[str] = []
    d = SHARED / "data" / "gmhi2020_validation"
    for f in ("MH_species.txt", "MN_species.txt"):
        if (d / f).exists():
            for line in (d / f).read_text(encoding="utf-8-sig").split():
                line = line.strip().strip(",\"'")
                if line.startswith("s__"):
                    names.append(line[3:].replace("_", " "))
    names = list(dict.fromkeys(names))[:m]
    names += [f"Synthetica species{i}" for i in range(m - len(names))]
    return names


def timed(fn, *args, repeat: int = 1, **kwargs):
    best, out = np.inf, None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def warm_up():
    """Compile (or load the cached) numba kernels once, outside the timings."""
    from gutaxis.measure.alpha import alpha_diversity
    from gutaxis.measure.beta import beta_blocks, beta_diversity

    C = make_counts(50, 40, 0, 5, 20)
    df = pd.DataFrame(C.toarray())
    alpha_diversity(df)
    import anndata as ad

    alpha_diversity(ad.AnnData(C.astype(np.float64)))
    beta_diversity(df)
    beta_diversity(df, "jaccard")
    for _ in beta_blocks(df, "braycurtis", 7):
        pass


# --------------------------------------------------------------------------- alpha


def bench_alpha(n: int, m: int, seed: int) -> dict:
    import anndata as ad
    from skbio.diversity import alpha_diversity as sk_alpha
    from skbio.diversity.alpha import chao1 as sk_chao1

    from gutaxis.measure.alpha import alpha_diversity

    C = make_counts(n, m, seed)
    dense = C.toarray()
    obs, var = [f"S{i}" for i in range(n)], [f"T{j}" for j in range(m)]
    df = pd.DataFrame(dense, index=obs, columns=var)  # a view of the same array
    adata = ad.AnnData(C, obs=pd.DataFrame(index=obs), var=pd.DataFrame(index=var))  # same values, CSR
    t_sk, sk = timed(sk_alpha, "shannon", dense, validate=False, repeat=2)
    t_df, gx = timed(alpha_diversity, df, ("shannon",), repeat=3)
    t_df_all, allm = timed(alpha_diversity, df, repeat=3)
    t_sp, gxs = timed(alpha_diversity, adata, ("shannon",), repeat=3)
    t_sp_all, _ = timed(alpha_diversity, adata, repeat=3)
    diff = float(
        max(
            np.max(np.abs(gx["shannon"].to_numpy() - sk.to_numpy())),
            np.max(np.abs(gxs["shannon"].to_numpy() - sk.to_numpy())),
        )
    )
    sub = np.random.default_rng(1).choice(n, 200, replace=False)
    dchao = max(abs(sk_chao1(dense[i].astype(np.int64)) - allm["chao1"].iloc[i]) for i in sub)
    print(
        f"[alpha {n} x {m}, integer counts] "
        f"scikit-bio alpha_diversity('shannon', ndarray, validate=False): {t_sk:.3f} s"
    )
    print(f"[alpha {n} x {m}] gutaxis, dense DataFrame: shannon {t_df:.3f} s; all 6 indices {t_df_all:.3f} s")
    print(f"[alpha {n} x {m}] gutaxis, CSR AnnData:     shannon {t_sp:.3f} s; all 6 indices {t_sp_all:.3f} s")
    print(f"[alpha] max |shannon gutaxis - scikit-bio| = {diff:.2e}; chao1 vs scikit-bio (200 samples) {dchao:.2e}")
    return {"t_sk": t_sk, "t_df": t_df, "t_df_all": t_df_all, "t_sp": t_sp, "t_sp_all": t_sp_all}


def bench_gmhi_alpha(n: int, m: int, seed: int) -> dict:
    import anndata as ad

    from gutaxis.measure.alpha import alpha_diversity

    C = make_counts(n, m, seed)
    P = proportions(C)
    names = species_names(m)
    var = pd.DataFrame(
        {"species": names, "taxon": names, "rank": "species"},
        index=pd.Index(names, name="taxon"),
    )
    adata = ad.AnnData(X=P, obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]), var=var, layers={"counts": C})
    t_alpha, res = timed(alpha_diversity, adata, repeat=2)
    assert "chao1" in res.columns
    try:
        from gutaxis.measure.gmhi import gmhi
    except Exception as exc:  # another engineer's module; may be absent
        gmhi = None
        print(f"[gmhi] gutaxis.measure.gmhi absent ({type(exc).__name__}: {exc}); timing alpha alone")
    t_gmhi = None
    if gmhi is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gmhi(adata)  # warm-up (numba / package data)
                t_gmhi, _ = timed(gmhi, adata, repeat=2)
        except Exception as exc:
            print(f"[gmhi] gmhi(adata) failed ({type(exc).__name__}: {exc}); timing alpha alone")
    print(f"[gmhi+alpha {n} x {m}, AnnData CSR X + layers['counts']] all 6 alpha indices: {t_alpha:.3f} s")
    if t_gmhi is not None:
        print(f"[gmhi+alpha {n} x {m}] gmhi: {t_gmhi:.3f} s; together {t_alpha + t_gmhi:.3f} s")
    return {"t_alpha": t_alpha, "t_gmhi": t_gmhi}


# --------------------------------------------------------------------------- beta


def bench_bray(n: int, m: int, seed: int, skip_scipy: bool) -> dict:
    from scipy.spatial.distance import pdist, squareform

    from gutaxis.measure.beta import bray_curtis

    P = proportions(make_counts(n, m, seed)).toarray()
    df = pd.DataFrame(P, index=[f"S{i}" for i in range(n)], columns=[f"T{j}" for j in range(m)])
    density = np.count_nonzero(P) / P.size
    t_gx, D = timed(bray_curtis, df, repeat=2)
    print(f"[bray-curtis {n} x {m}, proportions, {100 * (1 - density):.1f}% zeros] gutaxis: {t_gx:.3f} s")
    t_sp = None
    if not skip_scipy:
        t_sp, cond = timed(pdist, P, "braycurtis")
        ref = squareform(cond)
        diff = float(np.max(np.abs(ref - D.to_numpy())))
        print(f"[bray-curtis {n} x {m}] scipy pdist: {t_sp:.3f} s; max |diff| = {diff:.2e}")
        del ref, cond
    return {"t_gx": t_gx, "t_sp": t_sp}


def _current_rss() -> float:
    """Resident set size now, GiB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _memmap_child(n: int, m: int, seed: int, path: str, dtype: str, block_size: int | None) -> None:
    """Run in a fresh process so that its peak RSS is the 50,000-sample run alone."""
    from scipy.spatial.distance import cdist

    from gutaxis.measure.beta import beta_diversity

    P = proportions(make_counts(n, m, seed))
    obs = [f"S{i}" for i in range(n)]
    import anndata as ad

    adata = ad.AnnData(X=P, obs=pd.DataFrame(index=obs), var=pd.DataFrame(index=[f"T{j}" for j in range(m)]))
    warm_up()
    gc.collect()
    rss_now = _current_rss()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    peak = [rss_now]
    done = threading.Event()

    def sample():  # the process's resident memory during the call, every 20 ms
        while not done.wait(0.02):
            peak[0] = max(peak[0], _current_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    c0 = time.process_time()
    D = beta_diversity(adata, "braycurtis", out=path, dtype=dtype, block_size=block_size)
    t = time.perf_counter() - t0
    cpu = time.process_time() - c0
    done.set()
    sampler.join()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows = np.random.default_rng(2).choice(n, 4, replace=False)
    ref = cdist(P[rows].toarray(), P.toarray(), "braycurtis")
    tol = 1e-6 if dtype == "float32" else 1e-12
    diff = float(np.max(np.abs(np.asarray(D[rows], dtype=np.float64) - ref)))
    size = os.path.getsize(path) / 2**30
    print(
        f"[bray-curtis {n} x {m} -> {dtype} .npy memmap ({size:.1f} GiB)] gutaxis: {t:.1f} s (CPU {cpu:.1f} s); "
        f"peak RSS (getrusage) {rss1:.2f} GiB, {rss0:.2f} GiB before the call; RSS during the call "
        f"{rss_now:.2f} -> peak {peak[0]:.2f} GiB; 4 rows vs scipy cdist max |diff| = {diff:.1e} (tol {tol:g})"
    )
    print(f"RESULT {t:.6f} {rss1:.6f} {peak[0]:.6f}")


def bench_memmap(n: int, m: int, seed: int, out_dir: str | None, dtype: str, block_size: int | None, keep: bool):
    d = out_dir or tempfile.gettempdir()
    path = os.path.join(d, f"gutaxis_bench_bc_{n}.npy")
    cmd = [sys.executable, __file__, "--_memmap-child", str(n), str(m), str(seed), path, dtype, str(block_size or 0)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        if not keep and os.path.exists(path):
            os.remove(path)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stdout.write(proc.stderr)
        raise SystemExit(f"memmap child failed ({proc.returncode})")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")][-1].split()
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return {"t": float(line[1]), "rss": float(line[2]), "rss_call": float(line[3]), "child_rss": child_rss}


PARTS = ("alpha", "gmhi", "bray", "memmap")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument("--species", type=int, default=1000)
    p.add_argument("--alpha-samples", type=int, default=50_000)
    p.add_argument("--gmhi-samples", type=int, default=100_000)
    p.add_argument("--bray-samples", type=int, default=10_000)
    p.add_argument("--memmap-samples", type=int, default=50_000, help="0 to skip")
    p.add_argument("--memmap-dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--block-size", type=int, default=None)
    p.add_argument("--out-dir", default=None, help="where the memmap .npy goes (default: temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the memmap .npy file")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        metavar="PART",
        help=f"run only this part ({', '.join(PARTS)}); may be repeated",
    )
    p.add_argument("--_memmap-child", nargs=6, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._memmap_child:
        n, m, seed, path, dtype, bs = a._memmap_child
        _memmap_child(int(n), int(m), int(seed), path, dtype, int(bs) or None)
        return
    if a.quick:
        a.alpha_samples, a.gmhi_samples, a.bray_samples, a.memmap_samples = 5000, 10000, 2000, 5000
    import numba

    print(f"numba threads: {numba.get_num_threads()}; cpus: {os.cpu_count()}; load average {os.getloadavg()}")
    parts = set(a.only or PARTS)
    warm_up()
    mm = al = gm = bc = None
    if a.memmap_samples and "memmap" in parts:
        # first, while this process is small: a child's getrusage peak starts from its parent's RSS
        mm = bench_memmap(a.memmap_samples, a.species, a.seed + 3, a.out_dir, a.memmap_dtype, a.block_size, a.keep)
    if "alpha" in parts:
        al = bench_alpha(a.alpha_samples, a.species, a.seed)
    if "gmhi" in parts:
        gm = bench_gmhi_alpha(a.gmhi_samples, a.species, a.seed + 1)
    if "bray" in parts:
        bc = bench_bray(a.bray_samples, a.species, a.seed + 2, skip_scipy=False)
    print(f"load average at the end {os.getloadavg()} (other processes on the machine slow both tools)")

    print("---- ratios ----")
    if al is not None:
        print(
            f"alpha shannon, {a.alpha_samples} x {a.species}: scikit-bio {al['t_sk']:.3f} s / gutaxis dense DataFrame "
            f"{al['t_df']:.3f} s = {al['t_sk'] / al['t_df']:.1f}x (all 6 indices: {al['t_sk'] / al['t_df_all']:.1f}x); "
            f"/ gutaxis CSR AnnData {al['t_sp']:.3f} s = {al['t_sk'] / al['t_sp']:.1f}x "
            f"(all 6: {al['t_sk'] / al['t_sp_all']:.1f}x)"
        )
    if gm is not None:
        tot = gm["t_alpha"] + (gm["t_gmhi"] or 0.0)
        what = "gmhi + all alpha" if gm["t_gmhi"] is not None else "all alpha (gmhi absent)"
        print(f"{what}, {a.gmhi_samples} x {a.species}: {tot:.3f} s (target < 5 s)")
    if bc is not None:
        print(
            f"bray-curtis, {a.bray_samples} x {a.species}: scipy pdist {bc['t_sp']:.3f} s / gutaxis {bc['t_gx']:.3f} s "
            f"= {bc['t_sp'] / bc['t_gx']:.1f}x"
        )
    if mm is not None and bc is not None:
        proj = bc["t_sp"] * (a.memmap_samples / a.bray_samples) ** 2
        print(
            f"bray-curtis, {a.memmap_samples} x {a.species} to .npy ({a.memmap_dtype}): gutaxis {mm['t']:.1f} s, "
            f"peak RSS {mm['rss']:.2f} GiB (getrusage; {mm['rss_call']:.2f} GiB sampled during the call); "
            f"scipy pdist projected {proj:.0f} s (n^2 from {a.bray_samples}), "
            f"{a.memmap_samples * (a.memmap_samples - 1) / 2 * 8 / 2**30:.1f} GiB condensed + "
            f"{a.memmap_samples**2 * 8 / 2**30:.1f} GiB square float64 = {proj / mm['t']:.1f}x"
        )
    elif mm is not None:
        print(
            f"bray-curtis, {a.memmap_samples} x {a.species} to .npy ({a.memmap_dtype}): gutaxis {mm['t']:.1f} s, "
            f"peak RSS {mm['rss']:.2f} GiB (scipy not run: add --only bray for the projection)"
        )


if __name__ == "__main__":
    main()
