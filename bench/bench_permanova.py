"""PERMANOVA benchmark: gutaxis against scikit-bio on the same distance matrix, in one run.

Run from the repository root::

    .venv/bin/python bench/bench_permanova.py            # 5,000 samples, 999 permutations
    .venv/bin/python bench/bench_permanova.py --quick    # 1,000 samples, seconds

A synthetic shotgun-like table (sparse: each sample holds a random 50-150 of 1,500 species, with
lognormal species popularity and lognormal abundances; two groups whose species weights differ
slightly) gives a Bray-Curtis matrix (``gutaxis.beta_diversity``). Both tools get that same
matrix and the same two-group label and run 999 permutations; only the PERMANOVA call is timed
(for scikit-bio the ``DistanceMatrix`` is built before the clock starts, without validation;
gutaxis's time includes its input checks and the Gower centring). The F statistics are checked
to agree. scikit-bio is timed with its default engine (one run: it takes tens of seconds) and,
for information, with ``engine="numba"``; both tools are warmed up on a small matrix first
(numba JIT, BLAS threads) and the fast calls are timed as the best of two runs.

Second peer: vegan's ``adonis2`` in R (``bench/r/adonis2.R``), run through ``Rscript`` on the same
matrix, written to a temporary little-endian float64 file that R reads with ``readBin``; the same
group labels go to a text file. Only the ``adonis2(d ~ group, permutations = 999)`` call is timed,
inside R with ``proc.time`` (R start-up, package loading, reading the file and ``as.dist`` are
printed separately), one run. F and R^2 are checked against gutaxis's. R, vegan and the BLAS are
Debian's (``apt-get install -y --no-install-recommends r-base-core r-cran-vegan``: R 4.2.2,
vegan 2.6-4, reference BLAS); without them the script says so and skips the R comparison. At
5,000 samples the R call takes about a quarter of an hour on 2 cores (``--no-r`` skips it).

Whole-block permutations (``--blocks``, on by default): the samples of each group are cut into
"subjects" of 4 (in sample order), so the group is constant within subjects, and
``permanova(..., strata="subject", permute="whole")`` is timed (best of 2) beside vegan's
``adonis2`` with ``how(plots = Plots(strata = subject, type = "free"), within = Within(type =
"none"))`` on the same matrix (one run); F must agree and both p are printed.

The machine's load average is printed along. The last lines printed are the ratios; the very
last one is the ratio against scikit-bio's default call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def make_table(n: int, m: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse relative abundances (n x m) and a 0/1 group label with a small group effect."""
    rng = np.random.default_rng(seed)
    group = (np.arange(n) % 2).astype(int)
    rng.shuffle(group)
    logw = rng.normal(0.0, 1.0, m)
    shift = rng.normal(0.0, 0.3, m)  # group 1 favours other species a little
    k = rng.integers(50, 151, n)
    rows, cols = [], []
    for r0 in range(0, n, 2000):
        r1 = min(n, r0 + 2000)
        w = logw[None, :] + shift[None, :] * group[r0:r1, None]
        keys = w + rng.gumbel(size=(r1 - r0, m))
        order = np.argsort(-keys, axis=1)[:, :150]
        kk = k[r0:r1]
        mask = np.arange(150)[None, :] < kk[:, None]
        rows.append(np.repeat(np.arange(r0, r1), kk))
        cols.append(order[mask])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    vals = rng.lognormal(1.0, 1.8, rows.size)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, m))
    X = sp.diags(1.0 / np.asarray(X.sum(axis=1)).ravel()) @ X
    return X.tocsr(), group


def load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} cores"
    except OSError:  # pragma: no cover
        return "load average unknown"


R_SCRIPT = REPO / "bench" / "r" / "adonis2.R"
R_INSTALL = (
    "apt-get update && apt-get install -y --no-install-recommends r-base-core r-cran-vegan "
    "(Debian bookworm: R 4.2.2, vegan 2.6-4)"
)


def r_available() -> str | None:
    """None when Rscript and vegan are usable, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    ok = subprocess.run(
        ["Rscript", "-e", 'quit(status = if (requireNamespace("vegan", quietly = TRUE)) 0 else 1)'],
        capture_output=True,
        text=True,
    )
    if ok.returncode != 0:
        return "the R package vegan is not installed"
    return None


def run_adonis2(D: np.ndarray, labels: np.ndarray, perms: int, seed: int = 1, plots: np.ndarray | None = None) -> dict:
    """vegan::adonis2 on D (square) and labels via Rscript; returns F, R2, P, times (s). ``plots``:
    one block label per sample, whole blocks permuted (how(plots = Plots(...)))."""
    n = D.shape[0]
    with tempfile.TemporaryDirectory(prefix="gutaxis_bench_adonis2_") as tmp:
        mpath, lpath, ppath = Path(tmp) / "D.f64", Path(tmp) / "labels.txt", Path(tmp) / "plots.txt"
        t0 = time.perf_counter()
        np.ascontiguousarray(D, dtype="<f8").tofile(mpath)
        lpath.write_text("\n".join(map(str, labels)) + "\n")
        extra = []
        if plots is not None:
            ppath.write_text("\n".join(map(str, plots)) + "\n")
            extra = [str(ppath)]
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["Rscript", str(R_SCRIPT), str(mpath), str(n), str(lpath), str(perms), str(seed), *extra],
            capture_output=True,
            text=True,
        )
        t_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"Rscript adonis2.R failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = {"write_s": t_write, "wall_s": t_wall}
    for line in proc.stdout.splitlines():
        key, _, val = line.partition(" ")
        if key == "VERSIONS":
            out["versions"] = val
        elif key in ("F", "R2", "P") or key.startswith("TIME_"):
            out[key] = float(val)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 samples instead of 5,000")
    ap.add_argument("--n", type=int, default=None, help="number of samples")
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--no-r", action="store_true", help="skip vegan::adonis2 in R (about 15 minutes at 5,000)")
    ap.add_argument("--no-blocks", action="store_true", help="skip the whole-block (subject) permutations")
    args = ap.parse_args()
    n = args.n or (1000 if args.quick else 5000)
    perms = args.permutations

    from skbio import DistanceMatrix
    from skbio.stats.distance import permanova as skbio_permanova

    import gutaxis
    from gutaxis.link.permanova import permanova

    X, group = make_table(n, 1500, seed=0)
    ids = [f"S{i:05d}" for i in range(n)]
    table = pd.DataFrame.sparse.from_spmatrix(X, index=ids, columns=[f"sp{j}" for j in range(X.shape[1])])
    t0 = time.perf_counter()
    D = gutaxis.beta_diversity(table, "braycurtis")
    print(
        f"Bray-Curtis of {n} samples x {X.shape[1]} species (gutaxis.beta_diversity): {time.perf_counter() - t0:.2f} s"
    )
    labels = np.where(group == 1, "case", "control")
    meta = pd.DataFrame({"group": labels}, index=ids)
    dm = DistanceMatrix(D.to_numpy(), ids=ids, validate=False)

    def best_of(k, fn):
        best, out = np.inf, None
        for _ in range(k):
            t0 = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t0)
        return best, out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # warm-ups on a small matrix: numba JIT of scikit-bio's kernels, BLAS threads of gutaxis
        small = DistanceMatrix(D.to_numpy()[:200, :200], ids=ids[:200])
        skbio_permanova(small, labels[:200], permutations=9, engine="numba")
        permanova(D.iloc[:200, :200], meta.iloc[:200], "~ group", permutations=9, seed=0)

        print(f"[{load()}] before timing")
        t_ours, ours = best_of(2, lambda: permanova(D, meta, "~ group", permutations=perms, seed=1))
        print(
            f"gutaxis.permanova   {perms} permutations: {t_ours:8.2f} s (best of 2)   "
            f"F = {ours['F'].iloc[0]:.10f} p = {ours['p'].iloc[0]:.4f}"
        )
        t_nb, ref_nb = best_of(2, lambda: skbio_permanova(dm, labels, permutations=perms, seed=1, engine="numba"))
        print(
            f"skbio permanova (engine='numba'): {t_nb:8.2f} s (best of 2)   F = {ref_nb['test statistic']:.10f} "
            f"p = {ref_nb['p-value']:.4f}"
        )
        print(f"[{load()}] before the skbio default call")
        t_ref, ref = best_of(1, lambda: skbio_permanova(dm, labels, permutations=perms, seed=1))
    print(
        f"skbio permanova (default engine): {t_ref:8.2f} s (one run)    F = {ref['test statistic']:.10f} "
        f"p = {ref['p-value']:.4f}"
    )
    dF = abs(ours["F"].iloc[0] - ref["test statistic"])
    print(f"|F(gutaxis) - F(skbio)| = {dF:.2e}")
    if dF > 1e-8 * max(1.0, abs(ref["test statistic"])):
        raise SystemExit("F statistics disagree")

    r_res, r_why = None, ("--no-r given" if args.no_r else r_available())
    if r_why is None:
        print(f"[{load()}] before vegan::adonis2 in R")
        r_res = run_adonis2(D.to_numpy(), labels, perms, seed=1)
        print(
            f"vegan adonis2 ({r_res.get('versions', '?')}), {perms} permutations: {r_res['TIME_ADONIS2']:8.2f} s "
            f"(one run, adonis2 call timed in R)   F = {r_res['F']:.10f} p = {r_res['P']:.4f}"
        )
        print(
            f"  R wall time {r_res['wall_s']:.2f} s in all: package load {r_res['TIME_LOAD_PACKAGES']:.2f} s, "
            f"readBin {r_res['TIME_READ']:.2f} s, as.dist {r_res['TIME_AS_DIST']:.2f} s; "
            f"writing the matrix for R {r_res['write_s']:.2f} s"
        )
        dF_r = abs(ours["F"].iloc[0] - r_res["F"])
        dR2_r = abs(ours["R2"].iloc[0] - r_res["R2"])
        print(f"|F(gutaxis) - F(vegan)| = {dF_r:.2e}   |R2(gutaxis) - R2(vegan)| = {dR2_r:.2e}")
        if dF_r > 1e-8 * max(1.0, abs(r_res["F"])):
            raise SystemExit("F statistics of gutaxis and vegan disagree")
    else:
        print(f"vegan adonis2 (R): skipped - {r_why}.")
        if not args.no_r:
            print(f"  To compare with R, install it as root: {R_INSTALL}")
    blk = None
    if not args.no_blocks:
        # subjects of 4 samples cut within each group (sample order): the group is subject-level
        rank = pd.Series(np.arange(n)).groupby(group).cumcount().to_numpy()
        subject = np.array([f"{g}_{r // 4:05d}" for g, r in zip(group, rank, strict=True)], dtype=object)
        sizes = pd.Series(subject).value_counts()
        meta_b = meta.assign(subject=subject)
        print(
            f"[{load()}] before whole-block permutations ({len(sizes)} subjects of {sizes.min()} to "
            f"{sizes.max()} samples)"
        )
        t_blk, ours_blk = best_of(
            2, lambda: permanova(D, meta_b, "~ group", strata="subject", permute="whole", permutations=perms, seed=1)
        )
        print(
            f"gutaxis.permanova whole subjects, {perms} permutations: {t_blk:8.2f} s (best of 2)   "
            f"F = {ours_blk['F'].iloc[0]:.10f} p = {ours_blk['p'].iloc[0]:.4f}"
        )
        blk = {"t": t_blk, "subjects": len(sizes), "r": None, "why": None}
        if r_why is not None:
            blk["why"] = r_why
        elif sizes.min() != sizes.max():
            blk["why"] = "subjects of unequal size (vegan's permute refuses whole-plot permutations)"
        else:
            print(f"[{load()}] before vegan::adonis2 with how(plots = Plots(strata = subject))")
            r_blk = run_adonis2(D.to_numpy(), labels, perms, seed=1, plots=subject)
            print(
                f"vegan adonis2 whole subjects, {perms} permutations: {r_blk['TIME_ADONIS2']:8.2f} s (one run, "
                f"adonis2 call timed in R)   F = {r_blk['F']:.10f} p = {r_blk['P']:.4f}"
            )
            dF_b = abs(ours_blk["F"].iloc[0] - r_blk["F"])
            print(f"|F(gutaxis) - F(vegan)| whole subjects = {dF_b:.2e}")
            if dF_b > 1e-8 * max(1.0, abs(r_blk["F"])):
                raise SystemExit("F statistics of gutaxis and vegan (whole subjects) disagree")
            blk["r"] = r_blk
    print(f"[{load()}] after timing")
    print(f"ratio vs skbio engine='numba': {t_nb / t_ours:.1f}x")
    if blk is not None and blk["r"] is not None:
        print(
            f"ratio vs vegan::adonis2 with whole-subject permutations (how(plots = Plots(...))), {n} samples in "
            f"{blk['subjects']} subjects, {perms} permutations: {blk['r']['TIME_ADONIS2'] / blk['t']:.1f}x"
        )
    elif blk is not None:
        print(f"ratio vs vegan::adonis2 with whole-subject permutations: not measured ({blk['why']})")
    if r_res is not None:
        print(
            f"ratio vs vegan::adonis2 in R ({r_res.get('versions', '?')}), {n} samples, {perms} permutations: "
            f"{r_res['TIME_ADONIS2'] / t_ours:.1f}x"
        )
    else:
        print(f"ratio vs vegan::adonis2 in R: not measured ({r_why})")
    print(
        f"ratio vs skbio.stats.distance.permanova (default), {n} samples, {perms} permutations: "
        f"{t_ref / t_ours:.1f}x (target >= 20x)"
    )


if __name__ == "__main__":
    main()
