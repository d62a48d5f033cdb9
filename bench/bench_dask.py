"""Scale-out on Dask (issue 17): the single-process path against LocalClusters of 1 and 2 workers.

    .venv/bin/python bench/bench_dask.py                       # small sizes: a few minutes on 2 cores
    .venv/bin/python bench/bench_dask.py --features 1000000 --samples 2000 --single-features 100000 \\
        --bc-samples 100000 --patients 1000000                 # the issue's sizes (a cluster's worth)

Three workloads, each on the same synthetic data in every configuration:

* ``associate``: ``--features`` x ``--samples`` abundances with a random intercept (subjects of 4
  samples; REML as lme4), on 1 and 2 workers; the single-process path on ``--single-features``
  features (default: the same), its time scaled linearly to ``--features`` when smaller;
* ``braycurtis``: ``--bc-samples`` samples into a chunked Zarr array (workers write row blocks),
  against the single-process ``out=*.npy`` path (both bounded: one row block in memory at a time);
* ``simulate``: ``--patients`` virtual patients x ``--days`` days (recording the last day);
* ``lazy`` (only with ``--only lazy``): the associate workload as float32 counts written block by
  block into a Zarr store (deleted afterwards) and read lazily by the workers (an AnnData over
  ``da.from_zarr``); the single path reads the first ``--single-features`` into memory.

Every configuration runs in fresh processes (a fresh LocalCluster; the single path in a spawned
child), so each peak RSS (``VmHWM``) is that run's own: the single process's, and each
worker's. Results are checked equal to the single path where both are run on the same data. The
ratios (single / cluster, and the scaling from 1 to 2 workers) are printed last.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: reset by exec, unlike ru_maxrss, which a spawned process
    inherits from the process it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS)
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------------------
# workloads (deterministic data from a seed; built before the clock starts)


def cohort(features: int, samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = samples - samples % 4
    subject = np.arange(n) // 4
    meta = pd.DataFrame(
        {"diagnosis": np.tile(["case", "control"], n // 2), "age": rng.normal(50, 10, n), "subject": subject},
        index=[f"s{i:06d}" for i in range(n)],
    )
    # log-normal abundances with a per-subject random intercept and a diagnosis effect on 5% of features
    base = rng.normal(0, 1, features)
    logx = base + 0.5 * rng.standard_normal((n // 4, features))[subject] + rng.standard_normal((n, features))
    logx[meta["diagnosis"].to_numpy() == "case", : max(1, features // 20)] += 0.5
    X = pd.DataFrame(np.exp(logx), index=meta.index, columns=[f"f{j:07d}" for j in range(features)])
    return X, meta


ASSOC = dict(fixed_effects=["diagnosis", "age"], random_effects=["subject"], reference="diagnosis,control")


def run_associate(features, samples, client=None):
    from gutaxis.link.associate import associate

    X, meta = cohort(features, samples)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(X, meta, client=client, **ASSOC)
    return time.perf_counter() - t0, res.results


COUNTS_BLOCK = 4096  # features per generated block and per Zarr chunk


def counts_block(b: int, samples: int, seed: int = 0) -> np.ndarray:
    """Block ``b`` of the lazy workload's counts (float32 integers, ``samples x COUNTS_BLOCK``): the
    log-normal model of :func:`cohort`, each block from its own seed, so any prefix of features is
    the same table whatever its size."""
    rng = np.random.default_rng([seed, b])
    n = samples - samples % 4
    logx = rng.normal(0, 1, COUNTS_BLOCK) + rng.standard_normal((n // 4, COUNTS_BLOCK)).repeat(4, axis=0) * 0.5
    logx += rng.standard_normal((n, COUNTS_BLOCK))
    if b == 0:
        logx[0::2, : COUNTS_BLOCK // 20] += 0.5  # a diagnosis effect ("case" samples) on 5% of block 0
    return np.floor(np.exp(logx + 2.0)).astype(np.float32)


def write_counts(path, features: int, samples: int) -> float:
    """The lazy workload's table, written block by block into a Zarr store (one block in memory)."""
    import zarr

    n = samples - samples % 4
    z = zarr.open_array(str(path), mode="w", shape=(n, features), chunks=(n, COUNTS_BLOCK), dtype="f4")
    t0 = time.perf_counter()
    for b in range(-(-features // COUNTS_BLOCK)):
        lo = b * COUNTS_BLOCK
        z[:, lo : min(features, lo + COUNTS_BLOCK)] = counts_block(b, samples)[:, : features - lo]
    return time.perf_counter() - t0


def run_lazy(features, samples, path, client=None):
    """``associate`` on the Zarr table: lazily (a Dask array read by the workers) with a client, the
    first ``features`` columns read into memory without one."""
    import anndata as ad
    import dask.array as da

    from gutaxis.link.associate import associate

    n = samples - samples % 4
    meta = cohort(4, samples)[1]
    X = da.from_zarr(str(path))[:, :features]
    if client is None:
        X = X.compute()
    adata = ad.AnnData(X=X, obs=meta, var=pd.DataFrame(index=[f"f{j:07d}" for j in range(features)]))
    assert adata.n_obs == n
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = associate(adata, client=client, **ASSOC)
    return time.perf_counter() - t0, res.results


def table(samples, features, seed=1):
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    X = sp.random(samples, features, density=0.1, random_state=rng, format="csr", data_rvs=rng.random)
    return pd.DataFrame.sparse.from_spmatrix(X, index=[f"s{i:06d}" for i in range(samples)])


def run_braycurtis(samples, features, path, client=None):
    from gutaxis.measure.beta import bray_curtis

    X = table(samples, features)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few empty samples in the random table
        D = bray_curtis(X, out=path, client=client, dtype=np.float32)
    wall = time.perf_counter() - t0
    n = D.shape[0]
    # rows from the first, a middle and the last block to compare
    rows = np.vstack([np.asarray(D[:32, :]), np.asarray(D[n // 2 : n // 2 + 32, :]), np.asarray(D[n - 32 :, :])])
    return wall, rows


def run_simulate(patients, days, client=None):
    from gutaxis import axis

    pop = axis.plausible_patients(patients, "healthy", seed=7)
    s = axis.Schedule.baseline(days).set(fermented=6.0)
    t0 = time.perf_counter()
    tr = axis.simulate(pop.params, pop.states, pop.inputs, s, record="end", client=client)
    return time.perf_counter() - t0, tr.states[-1]


WORKLOADS = {"associate": run_associate, "lazy": run_lazy, "braycurtis": run_braycurtis, "simulate": run_simulate}


# --------------------------------------------------------------------------------------------------
# configurations


def _warm(name):
    """Compile and import outside the clock (numba kernels compile on first use in each process)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in ("associate", "lazy"):
            run_associate(40, 40)
        elif name == "braycurtis":
            from gutaxis.measure.beta import bray_curtis

            bray_curtis(table(40, 20))
        else:
            run_simulate(4, 3)


def _child(name, args):
    _warm(name)
    wall, out = WORKLOADS[name](*args)
    return wall, _peak_mb(), out


def single(name, *args):
    """The single-process path in a fresh spawned process: (wall s, peak MB, output)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_child, name, args).result()


def on_cluster(name, workers, *args, memory_limit="auto"):
    """The cluster path on a fresh LocalCluster of ``workers`` single-threaded processes:
    (wall s, [peak MB per worker], output)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm, name)
        wall, out = WORKLOADS[name](*args, client=client)
        peaks = sorted(client.run(_peak_mb).values())
    return wall, peaks, out


def _same(a, b) -> str:
    if isinstance(a, pd.DataFrame):
        return "equal" if a.equals(b) else f"DIFFERENT (max |d coef| {np.nanmax(np.abs(a['coef'] - b['coef'])):.1e})"
    return "equal" if np.array_equal(a, b, equal_nan=True) else "DIFFERENT"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=int, default=20_000, help="associate: features on the cluster")
    ap.add_argument("--single-features", type=int, default=None, help="associate: features on one process")
    ap.add_argument("--samples", type=int, default=400, help="associate: samples")
    ap.add_argument("--bc-samples", type=int, default=8_000, help="braycurtis: samples")
    ap.add_argument("--bc-features", type=int, default=500, help="braycurtis: taxa (10%% non-zero)")
    ap.add_argument("--patients", type=int, default=20_000, help="simulate: virtual patients")
    ap.add_argument("--days", type=int, default=365, help="simulate: days")
    ap.add_argument("--workers", default="1,2", help="cluster sizes to run, e.g. 1,2")
    ap.add_argument("--memory-limit", default="auto", help="per worker, e.g. 2GiB (Dask pauses/spills above it)")
    ap.add_argument(
        "--only", default="associate,braycurtis,simulate", help="workloads to run (and lazy: associate from Zarr)"
    )
    ap.add_argument("--zarr-dir", default=None, help="folder for the .zarr / .npy outputs (default: a temporary one)")
    a = ap.parse_args(argv)
    workers = [int(w) for w in a.workers.split(",")]
    only = a.only.split(",")
    tmp = Path(a.zarr_dir or tempfile.mkdtemp(prefix="bench_dask_"))
    tmp.mkdir(parents=True, exist_ok=True)
    lines, ratios = [], []

    def report(name, label, wall, peaks, check=""):
        peaks = peaks if isinstance(peaks, list) else [peaks]
        mem = ", ".join(f"{p:.0f}" for p in peaks)
        line = f"{name:<11} {label:<34} {wall:9.2f} s   peak MB {mem} {check}"
        lines.append(line)
        print(line, flush=True)

    try:
        if "associate" in only:
            sf = a.single_features or a.features
            t1, m1, r1 = single("associate", sf, a.samples)
            scaled = t1 * a.features / sf
            label = f"single, {sf:,} x {a.samples}"
            report(
                "associate", label + (f" (x{a.features / sf:g}: {scaled:.1f} s)" if sf != a.features else ""), t1, m1
            )
            walls = {}
            for w in workers:
                wall, peaks, res = on_cluster("associate", w, a.features, a.samples, memory_limit=a.memory_limit)
                walls[w] = wall
                check = f"[{_same(res, r1)} to single]" if sf == a.features else ""
                report("associate", f"{w} worker(s), {a.features:,} x {a.samples}", wall, peaks, check)
            for w, wall in walls.items():
                ratios.append(f"associate  single / {w} worker(s): {scaled / wall:.2f}x")
            if 1 in walls and 2 in walls:
                ratios.append(f"associate  scaling 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
        if "lazy" in only:
            # the table generated block by block into Zarr (float32 counts), read lazily by the workers
            sf = a.single_features or a.features
            store = tmp / "counts.zarr"
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                gen = pool.submit(write_counts, store, a.features, a.samples).result()
            print(f"lazy        wrote {a.features:,} x {a.samples} float32 counts to Zarr in {gen:.1f} s", flush=True)
            t1, m1, r1 = single("lazy", sf, a.samples, store)
            scaled = t1 * a.features / sf
            label = f"single, {sf:,} x {a.samples} in memory"
            report("lazy", label + (f" (x{a.features / sf:g}: {scaled:.1f} s)" if sf != a.features else ""), t1, m1)
            walls = {}
            for w in workers:
                wall, peaks, res = on_cluster("lazy", w, a.features, a.samples, store, memory_limit=a.memory_limit)
                walls[w] = wall
                check = f"[{_same(res, r1)} to single]" if sf == a.features else ""
                report("lazy", f"{w} worker(s), {a.features:,} x {a.samples} Zarr", wall, peaks, check)
            shutil.rmtree(store, ignore_errors=True)
            for w, wall in walls.items():
                ratios.append(f"lazy       single (scaled) / {w} worker(s): {scaled / wall:.2f}x")
            if 1 in walls and 2 in walls:
                ratios.append(f"lazy       scaling 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
        if "braycurtis" in only:
            t1, m1, r1 = single("braycurtis", a.bc_samples, a.bc_features, tmp / "single.npy")
            (tmp / "single.npy").unlink(missing_ok=True)  # 40 GB at 100,000 samples: one output on disk at a time
            report("braycurtis", f"single, {a.bc_samples:,} samples -> .npy", t1, m1)
            walls = {}
            for w in workers:
                path = tmp / f"w{w}.zarr"
                wall, peaks, rows = on_cluster(
                    "braycurtis", w, a.bc_samples, a.bc_features, path, memory_limit=a.memory_limit
                )
                walls[w] = wall
                report("braycurtis", f"{w} worker(s), -> .zarr", wall, peaks, f"[{_same(rows, r1)} to single]")
                shutil.rmtree(path, ignore_errors=True)
            for w, wall in walls.items():
                ratios.append(f"braycurtis single / {w} worker(s): {t1 / wall:.2f}x")
            if 1 in walls and 2 in walls:
                ratios.append(f"braycurtis scaling 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
        if "simulate" in only:
            t1, m1, r1 = single("simulate", a.patients, a.days)
            report("simulate", f"single, {a.patients:,} x {a.days} d", t1, m1)
            walls = {}
            for w in workers:
                wall, peaks, last = on_cluster("simulate", w, a.patients, a.days, memory_limit=a.memory_limit)
                walls[w] = wall
                report("simulate", f"{w} worker(s)", wall, peaks, f"[{_same(last, r1)} to single]")
            for w, wall in walls.items():
                ratios.append(f"simulate   single / {w} worker(s): {t1 / wall:.2f}x")
            if 1 in walls and 2 in walls:
                ratios.append(f"simulate   scaling 1 -> 2 workers: {walls[1] / walls[2]:.2f}x")
    finally:
        if not a.zarr_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nratios (single-process time / cluster time; > 1: the cluster is faster)")
    for r in ratios:
        print("  " + r)


if __name__ == "__main__":
    main()
