"""False discovery rate and power of LinDA beside MaAsLin2-style associate, on simulations from
a real cohort (as Nearing et al. 2022, doi:10.1038/s41467-022-28034-z, compare methods).

Cohort (``--cohort``): the 1000RA 16S genus read counts in ../shared/data/ra1000_16s (2,238
stool samples rarefied to 10,000 reads; default) or the iMSMS 16S ASV counts, keeping the
features present in more than ``--min-prevalence`` of the cohort's samples (default 0.1, the
prevalence filter MaAsLin2 applies by default). Each simulation draws ``--n`` samples at random
and gives half of them, at random, the label "B" (the others "A"):

- ``null``: the real counts, labels permuted: no feature differs, every discovery is false.
- ``up`` (printed ``up3`` for ``--fold 3``): ``--frac`` (10%) of the features, drawn at random, are
  ``--fold`` (3) times as abundant in B: each B sample's proportions are multiplied by 3 on those features and
  renormalised, and every sample (A and B alike) is redrawn multinomially at its own depth.
  The other 90% are unchanged in absolute terms, so calling them is a false discovery; their
  *proportions* fall in B (the compositional effect LinDA corrects). A feature absent from a
  sample stays absent, so power is limited by the zeros of real data.
- ``updown`` (``updown3``): as ``up`` with half of the planted features up and half down.

Methods, all at q < 0.05, each with its own defaults, formula ``~ group``: ``linda``
(gutaxis.linda: pseudo-count 0.5, CLR, OLS, mode bias correction whose bootstrap variance enters
the t-tests, BH), ``linda_paper`` (the same with ``bias_se=None``: the paper's tests, which take
the estimated bias as known) and ``maaslin2`` (gutaxis.associate: TSS, LOG, LM, min_prevalence
0.1, BH).

Printed per scenario and method: FDR = mean false discovery proportion (FDP = V / max(R, 1)),
P(V > 0) = fraction of simulations with any false discovery, power = mean fraction of planted
features called, each with its Monte Carlo standard error; "null p<0.05" = the fraction of the
truly null features' tests with p < 0.05 (5% for a calibrated test). Under ``null`` FDR and
P(V > 0) are the same number. The paper's tests ignore the variance of the estimated mode, which matters
with a few hundred features (compare ``linda_paper`` with ``linda``).

    .venv/bin/python bench/bench_da_fdr.py --sims 500                       # docs/validation.md, first table
    .venv/bin/python bench/bench_da_fdr.py --sims 200 --n 400 --fold 8      # its second table
    .venv/bin/python bench/bench_da_fdr.py --sims 20 --n 60                 # quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one thread per worker process

import numpy as np  # noqa: E402  (after the thread limits above, which BLAS reads on import)
import pandas as pd  # noqa: E402  (same)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
Q = 0.05
METHODS = ("linda", "linda_paper", "maaslin2")


COHORTS = {
    "ra1000": ("ra1000_16s", "ra1000_genus_counts.tsv.gz", "1000RA 16S genus read counts"),
    "imsms": ("imsms_ms_16s", "imsms_asv_counts.tsv.gz", "iMSMS 16S ASV read counts"),
}


def load_counts(cohort: str, min_prevalence: float = 0.1) -> pd.DataFrame:
    folder, name, _ = COHORTS[cohort]
    counts = pd.read_csv(SHARED / "data" / folder / name, sep="\t", index_col=0).T  # samples x features
    return counts.loc[:, (counts > 0).mean() > min_prevalence]


def simulate(counts: np.ndarray, scenario: str, n: int, fold: float, frac: float, rng: np.random.Generator):
    """(table, labels, truth mask) of one simulation."""
    rows = rng.choice(counts.shape[0], size=n, replace=False)
    X = counts[rows].astype(np.float64)
    labels = np.array(["A"] * (n // 2) + ["B"] * (n - n // 2))
    rng.shuffle(labels)
    m = X.shape[1]
    truth = np.zeros(m, dtype=bool)
    if scenario == "null":
        return X, labels, truth
    k = max(1, round(frac * m))  # frac * m is a Python float: round gives an int
    planted = rng.choice(m, size=k, replace=False)
    truth[planted] = True
    factor = np.ones(m)
    if scenario == "up":
        factor[planted] = fold
    elif scenario == "updown":
        factor[planted[: k // 2]] = fold
        factor[planted[k // 2 :]] = 1.0 / fold
    else:
        raise ValueError(scenario)
    depth = X.sum(axis=1).astype(np.int64)
    P = X / depth[:, None]
    isB = labels == "B"
    P[isB] *= factor[None, :]
    P /= P.sum(axis=1, keepdims=True)
    Y = np.vstack([rng.multinomial(d, p) for d, p in zip(depth, P, strict=True)]).astype(np.float64)
    return Y, labels, truth


def score(called: np.ndarray, truth: np.ndarray, pnull: np.ndarray) -> tuple[float, int, float, float]:
    R = int(called.sum())
    V = int((called & ~truth).sum())
    fdp = V / max(R, 1)
    power = float((called & truth).sum() / truth.sum()) if truth.any() else np.nan
    return fdp, V, power, float(np.mean(pnull < 0.05)) if len(pnull) else np.nan


def one(args):
    seed, scenario, n, fold, frac, counts, names = args
    import gutaxis

    rng = np.random.default_rng(seed)
    Y, labels, truth = simulate(counts, scenario, n, fold, frac, rng)
    ids = [f"s{i}" for i in range(len(labels))]
    table = pd.DataFrame(Y, index=ids, columns=names)
    meta = pd.DataFrame({"group": labels}, index=ids)
    out = {}
    fits = {
        "linda": lambda: gutaxis.linda(table, meta, formula="~ group", reference={"group": "A"}),
        "linda_paper": lambda: gutaxis.linda(table, meta, formula="~ group", reference={"group": "A"}, bias_se=None),
        "maaslin2": lambda: gutaxis.associate(table, meta, formula="~ group", reference={"group": "A"}),
    }
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, fit in fits.items():
            t0 = time.perf_counter()
            res = fit().results
            runs.append((method, res, time.perf_counter() - t0))
    pos = {f: j for j, f in enumerate(names)}
    for method, res, secs in runs:
        key = "taxon" if "taxon" in res.columns else "feature"
        called = np.zeros(len(names), dtype=bool)
        called[[pos[str(h)] for h in res.loc[res["qval"] < Q, key]]] = True
        tested = res.dropna(subset=["pval"])
        pnull = tested.loc[~truth[[pos[str(h)] for h in tested[key]]], "pval"].to_numpy()
        out[method] = (*score(called, truth, pnull), secs)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=200, help="simulations per scenario (default 200)")
    ap.add_argument("--n", type=int, default=200, help="samples per simulation (default 200, half in each group)")
    ap.add_argument("--fold", type=float, default=3.0, help="planted fold change (default 3)")
    ap.add_argument("--frac", type=float, default=0.10, help="fraction of features planted (default 0.10)")
    ap.add_argument(
        "--scenarios", default="null,up,updown", help="null, up, updown (printed with the fold: up3, updown3)"
    )
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--cohort", choices=sorted(COHORTS), default="ra1000")
    ap.add_argument(
        "--min-prevalence",
        type=float,
        default=0.1,
        help="keep the cohort's features present in more than this fraction of its samples (default 0.1)",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} not found: this bench needs the shared iMSMS data", file=sys.stderr)
        return 2
    counts_df = load_counts(a.cohort, a.min_prevalence)
    counts, names = counts_df.to_numpy(), [str(c) for c in counts_df.columns]
    print(
        f"{COHORTS[a.cohort][2]}: {counts.shape[0]} samples, "
        f"{counts.shape[1]} features in > {a.min_prevalence:.0%} of samples; "
        f"{a.sims} simulations per scenario of {a.n} samples ({a.n // 2} vs {a.n - a.n // 2}), q < {Q}, "
        f"planted: {a.frac:.0%} of features x{a.fold:g}; seed {a.seed}"
    )
    print(
        f"{'scenario':9} {'method':11} {'FDR (mean FDP)':>16} {'P(any false)':>14} {'power':>14} "
        f"{'null p<0.05':>11} {'mean s/fit':>10}"
    )

    def se(v):
        return v.std(ddof=1) / np.sqrt(len(v))

    ss = np.random.SeedSequence(a.seed)
    for scenario in a.scenarios.split(","):
        seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(a.sims)]
        jobs = [(s, scenario, a.n, a.fold, a.frac, counts, names) for s in seeds]
        with ProcessPoolExecutor(a.jobs) as pool:
            results = list(pool.map(one, jobs, chunksize=4))
        for method in METHODS:
            fdp = np.array([r[method][0] for r in results])
            anyv = np.array([r[method][1] > 0 for r in results], dtype=float)
            power = np.array([r[method][2] for r in results])
            pnull = np.mean([r[method][3] for r in results])
            secs = np.mean([r[method][4] for r in results])
            pw = "-" if scenario == "null" else f"{power.mean():.3f} ± {se(power):.3f}"
            label = scenario if scenario == "null" else f"{scenario}{a.fold:g}"
            print(
                f"{label:9} {method:11} {fdp.mean():>8.3f} ± {se(fdp):.3f} {anyv.mean():>6.3f} ± {se(anyv):.3f} "
                f"{pw:>14} {pnull:>11.4f} {secs:>10.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
