"""Benchmark of gutaxis.link.associate (MaAsLin2's LM path with random intercepts).

1. The HMP2 run1 call of MaAsLin2's own test (87 features x 1,595 samples, random intercepts for
   site and subject), against two peers on the same files in the same run:
   a. MaAsLin2's LM path in R: MaAsLin2 itself is a Bioconductor/GitHub package that cannot be
      installed here, but Debian ships the R, lme4 and lmerTest of MaAsLin2's reference outputs
      (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3). ``bench/r/maaslin2_lm_path.R`` does what MaAsLin2
      does for this call (filter on the table as given, TSS, AST, reference level, one
      ``lmerTest::lmer(expr ~ fixed + (1|site) + (1|subject), REML = TRUE)`` per feature in a loop
      as MaAsLin2's ``R/fit.R``, Satterthwaite p from ``coef(summary(fit))``, BH q) and is run
      through ``Rscript``. Its time is measured inside R with ``proc.time`` from the data frames
      read to the sorted result table (preprocessing, fits, BH; R start-up, package loading and
      file reading excluded), which is what ``associate()`` does from two DataFrames; the total
      wall time of the ``Rscript`` process is printed too. The R coefficients, standard errors and
      p/q-values are compared with gutaxis's row by row, and with MaAsLin2's own expected output
      (``expected_results_run1.tsv``) to show that the R script is MaAsLin2's computation.
      Without ``Rscript``/lme4/lmerTest the script prints how to install them and skips this peer.
   b. A per-feature loop of statsmodels' MixedLM (REML; site as the group, subject as a nested
      variance component, the same model), timed on a subset of features and scaled to 87.
   gutaxis is timed cold (first call in the process) and warm (best of 3), with the 2 BLAS threads
   this script sets and, in a child process, with 1 thread; R (reference BLAS, lme4) runs on one
   thread, and the headline ratio is one thread against one thread. (The mixed-model solver
   limits itself to one BLAS thread for its small batched factorisations; the design and
   preprocessing steps still use the threads this script sets.)
2. 20,000 features x 5,000 samples with one random intercept (500 subjects), on 2 threads;
   target: under 60 s.

Run: .venv/bin/python bench/bench_associate.py [--quick] [--no-r] [--r-repeats N]
The last lines print the ratios.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.link import _design, _normalize
from gutaxis.link.associate import associate

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
R_SCRIPT = Path(__file__).resolve().parent / "r" / "maaslin2_lm_path.R"
R_INSTALL = (
    "apt-get update && apt-get install -y --no-install-recommends r-base-core r-cran-lme4 r-cran-lmertest "
    "(Debian bookworm: R 4.2.2, lme4 1.1-31, lmerTest 3.1-3)"
)
KEY = ["feature", "metadata", "value"]
RUN1 = dict(
    transform="AST",
    fixed_effects=["diagnosis", "dysbiosisnonIBD", "dysbiosisUC", "dysbiosisCD", "antibiotics", "age"],
    random_effects=["site", "subject"],
    reference="diagnosis,nonIBD",
    standardize=False,
)


def bench_hmp2():
    base = SHARED / "data" / "maaslin2_hmp2"
    data = pd.read_csv(base / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(base / "HMP2_metadata.tsv", sep="\t", index_col=0)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            t0 = time.perf_counter()
            res = associate(data, meta, **RUN1)
            times.append(time.perf_counter() - t0)
    t_cold, t_ours = times[0], min(times[1:])
    if "--hmp2-child" in sys.argv:
        print("CHILD_TIMES " + " ".join(f"{t:.6f}" for t in times))
        return res, t_ours, t_cold
    print(
        f"HMP2 run1: gutaxis with {os.environ['OPENBLAS_NUM_THREADS']} BLAS threads: {t_ours:.2f} s warm "
        f"(best of 3: {', '.join(f'{t:.2f}' for t in times[1:])}), "
        f"{t_cold:.2f} s cold (first call), for {data.shape[1]} features x {data.shape[0]} samples "
        f"({res.results['qval'].notna().sum()} tests, {len(res.significant)} significant)"
    )
    return res, t_ours, t_cold


def hmp2_one_thread() -> tuple[float, float]:
    """gutaxis on HMP2 run1 in a child process with one BLAS/OpenMP thread (R is single-threaded):
    (best warm, cold) seconds."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--hmp2-child"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("CHILD_TIMES ")][-1]
    times = [float(x) for x in line.split()[1:]]
    print(
        f"HMP2 run1: gutaxis with 1 BLAS thread (child process): {min(times[1:]):.2f} s warm (best of 3: "
        f"{', '.join(f'{t:.2f}' for t in times[1:])}), {times[0]:.2f} s cold"
    )
    return min(times[1:]), times[0]


def r_available() -> str | None:
    """None when Rscript, lme4 and lmerTest are usable, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    code = (
        'ok <- sapply(c("lme4", "lmerTest"), requireNamespace, quietly = TRUE); '
        "if (!all(ok)) cat(names(ok)[!ok]); quit(status = if (all(ok)) 0 else 1)"
    )
    chk = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    if chk.returncode != 0:
        return f"the R package(s) {chk.stdout.strip() or 'lme4/lmerTest'} are not installed"
    return None


def run_r(out_tsv: Path) -> dict:
    base = SHARED / "data" / "maaslin2_hmp2"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            "Rscript",
            str(R_SCRIPT),
            str(base / "HMP2_taxonomy.tsv"),
            str(base / "HMP2_metadata.tsv"),
            str(out_tsv),
            "AST",
            "TSS",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"Rscript maaslin2_lm_path.R failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = {"wall_s": wall}
    for line in proc.stdout.splitlines():
        key, _, val = line.partition(" ")
        if key.startswith("TIME_"):
            out[key] = float(val)
        elif key in ("VERSIONS", "FEATURES"):
            out[key] = val
    return out


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.abs(b)


def bench_r(res, repeats: int):
    """MaAsLin2's LM path in R on the same files; returns the best in-R analysis time or None."""
    why = r_available()
    if why is not None:
        print(f"MaAsLin2's LM path in R: skipped - {why}.")
        print(f"  To compare with R, install it as root: {R_INSTALL}")
        return None
    runs = []
    with tempfile.TemporaryDirectory(prefix="gutaxis_bench_r_") as tmp:
        for i in range(repeats):
            runs.append(run_r(Path(tmp) / f"r{i}.tsv"))
        rtab = pd.read_csv(Path(tmp) / "r0.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
    best = min(runs, key=lambda r: r["TIME_ANALYSIS"])
    r_times = [r["TIME_ANALYSIS"] for r in runs]
    print(
        f"MaAsLin2's LM path in R ({runs[0].get('VERSIONS', '?')}; {runs[0].get('FEATURES', '')}): "
        f"{best['TIME_ANALYSIS']:.2f} s in R (best of {repeats}: "
        f"{', '.join(f'{t:.2f}' for t in r_times)}) "
        f"= preprocessing {best['TIME_PREPROCESS']:.2f} s + {rtab.feature.nunique()} lmer fits "
        f"{best['TIME_FIT']:.2f} s + BH/sort {best['TIME_BH_SORT']:.2f} s; "
        f"Rscript wall time {best['wall_s']:.2f} s (package load {best['TIME_LOAD_PACKAGES']:.2f} s, "
        f"read {best['TIME_READ']:.2f} s)"
    )

    # the same rows, R vs gutaxis
    rtab["value"] = rtab["value"].astype(str)
    ours = res.results.copy()
    ours["value"] = ours["value"].astype(str)
    m = rtab.merge(ours, on=KEY, how="inner", suffixes=("_R", ""))
    print(
        f"  R vs gutaxis on the same {len(m)} (feature, metadata, value) rows "
        f"(R {len(rtab)} rows, gutaxis {len(ours)}):"
    )
    for col in ("coef", "stderr", "pval", "qval"):
        rel = _rel(m[col], m[col + "_R"])
        k = int(np.nanargmax(rel))
        print(
            f"    {col:6s}: max relative difference {np.nanmax(rel):.2e} "
            f"({m.feature.iloc[k]} / {m.metadata.iloc[k]} {m.value.iloc[k]}: R {m[col + '_R'].iloc[k]:.6g}, "
            f"gutaxis {m[col].iloc[k]:.6g}); median {np.nanmedian(rel):.1e}; rows above 1e-4: {int((rel > 1e-4).sum())}"
        )
    z = np.abs(m["coef"] - m["coef_R"]) / m["stderr_R"]
    print(f"    |coef difference| / R's stderr: max {z.max():.2e}")
    same_order = list(map(tuple, rtab[KEY].head(50).to_numpy())) == list(map(tuple, ours[KEY].head(50).to_numpy()))
    sig_r = set(map(tuple, rtab.loc[rtab.qval <= 0.25, KEY].to_numpy()))
    sig_o = set(map(tuple, ours.loc[ours.qval <= 0.25, KEY].to_numpy()))
    print(
        f"    first 50 rows in the same order: {same_order}; significant (q <= 0.25): R {len(sig_r)}, "
        f"gutaxis {len(sig_o)}, in both {len(sig_r & sig_o)}"
    )
    # the R script against MaAsLin2's own expected output (it is MaAsLin2's computation)
    exp = pd.read_csv(SHARED / "data" / "maaslin2_hmp2" / "expected_results_run1.tsv", sep="\t")
    exp["value"] = exp["value"].astype(str)
    e = exp.merge(rtab, on=KEY, how="left", suffixes=("", "_R"))
    print(
        f"  R script vs MaAsLin2's expected_results_run1.tsv ({len(exp)} rows, {int(e.coef_R.notna().sum())} found): "
        f"max relative difference coef {np.nanmax(_rel(e.coef_R, e.coef)):.1e}, "
        f"stderr {np.nanmax(_rel(e.stderr_R, e.stderr)):.1e}, qval {np.nanmax(_rel(e.qval_R, e.qval)):.1e}"
    )
    return best


def bench_statsmodels(res, n_sm: int):
    base = SHARED / "data" / "maaslin2_hmp2"
    data = pd.read_csv(base / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(base / "HMP2_metadata.tsv", sep="\t", index_col=0)
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        print("statsmodels is not installed: no per-feature comparison")
        return None
    m = meta.loc[data.index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = _design.build_design(m, RUN1["fixed_effects"], RUN1["random_effects"], {"diagnosis": "nonIBD"}, False)
    Y = _normalize.transform(_normalize.normalize(data.to_numpy(float), "TSS"), "AST")
    frame = m[design.rows].copy()
    frame["diagnosis"] = pd.Categorical(frame["diagnosis"], categories=design.levels["diagnosis"])
    names = _normalize.make_names(data.columns)
    formula = "y ~ diagnosis + dysbiosisnonIBD + dysbiosisUC + dysbiosisCD + antibiotics + age"
    t0 = time.perf_counter()
    worst = 0.0
    for j in range(n_sm):
        frame["y"] = Y[design.rows, j]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = smf.mixedlm(formula, frame, groups="site", vc_formula={"subject": "0 + C(subject)"}).fit(reml=True)
        ours = res.results[res.results.feature == names[j]].set_index(["metadata", "value"])["coef"]
        worst = max(worst, abs(fit.params["age"] - ours[("age", "age")]) / abs(ours[("age", "age")]))
    t_sm = (time.perf_counter() - t0) / n_sm * data.shape[1]
    print(
        f"statsmodels MixedLM loop: {t_sm:.1f} s for 87 features (timed on {n_sm}, scaled); "
        f"max relative difference of the age coefficient vs gutaxis {worst:.1e}"
    )
    return t_sm


def bench_large(n_features=20000, n_samples=5000, n_subjects=500, seed=0):
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), n_samples // n_subjects)
    meta = pd.DataFrame(
        {
            "group": np.where(subject % 2 == 0, "case", "control"),
            "age": rng.normal(50, 10, n_samples),
            "subject": [f"s{s}" for s in subject],
        },
        index=[f"S{i}" for i in range(n_samples)],
    )
    data = np.exp(rng.normal(-8, 1.5, (n_samples, n_features)).astype(np.float64))
    data *= np.exp(rng.normal(0, 0.7, (n_subjects, n_features)))[subject]
    data[rng.random((n_samples, n_features)) < 0.3] = 0.0
    frame = pd.DataFrame(data, index=meta.index, columns=[f"f{j}" for j in range(n_features)])
    del data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = associate(frame, meta, formula="~ group + age + (1|subject)")
        t = time.perf_counter() - t0
    print(
        f"{n_features} features x {n_samples} samples, (1|subject) with {n_subjects} subjects: {t:.1f} s "
        f"({res.results['qval'].notna().sum()} tests)"
    )
    return t


def load() -> str:
    try:
        return (
            "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min) on {os.cpu_count()} cores"
        )
    except OSError:  # pragma: no cover
        return "load average unknown"


def main():
    quick = "--quick" in sys.argv
    no_r = "--no-r" in sys.argv
    r_repeats = int(sys.argv[sys.argv.index("--r-repeats") + 1]) if "--r-repeats" in sys.argv else 2
    if "--hmp2-child" in sys.argv:
        bench_hmp2()
        return
    print(f"[{load()}] start")
    res, t_ours, _t_cold = bench_hmp2()
    t_one, t_one_cold = hmp2_one_thread()
    r_best = None if no_r else bench_r(res, 1 if quick else r_repeats)
    if no_r:
        print("MaAsLin2's LM path in R: skipped (--no-r)")
    t_sm = bench_statsmodels(res, 3 if quick else 10)
    print(f"[{load()}] after the HMP2 timings")
    t_large = bench_large(2000 if quick else 20000, 5000)
    print(f"[{load()}] end")
    print("--- ratios ---")
    if t_sm is not None:
        print(f"HMP2 run1: statsmodels MixedLM per-feature loop / gutaxis = {t_sm / t_ours:.1f}x")
    print(f"large: {t_large:.1f} s / 60 s target = {t_large / 60:.2f}")
    if r_best is not None:
        r_an = r_best["TIME_ANALYSIS"]
        print(
            f"HMP2 run1, in-R analysis time ({r_an:.2f} s) / gutaxis with 2 BLAS threads ({t_ours:.2f} s warm) = "
            f"{r_an / t_ours:.1f}x; / gutaxis 1 thread cold ({t_one_cold:.2f} s) = {r_an / t_one_cold:.1f}x; "
            f"Rscript wall time incl. start-up ({r_best['wall_s']:.2f} s) / gutaxis 1 thread warm = "
            f"{r_best['wall_s'] / t_one:.1f}x"
        )
        print(
            f"gutaxis vs MaAsLin2's LM path in R (lme4 1.1-31 + lmerTest 3.1-3): "
            f"{r_an / t_one:.1f}x (in-R analysis {r_an:.2f} s, single-threaded / gutaxis {t_one:.2f} s warm, "
            f"1 BLAS thread; target >= 50x)"
        )
    else:
        print(
            "gutaxis vs MaAsLin2's LM path in R (lme4 1.1-31 + lmerTest 3.1-3): not measured - R comparison skipped "
            f"(install: {R_INSTALL})"
        )


if __name__ == "__main__":
    main()
