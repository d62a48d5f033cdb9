"""Benchmark of gutaxis.link.associate (MaAsLin2's LM path with random intercepts).

1. The HMP2 run1 call of MaAsLin2's own test (87 features x 1,595 samples, random intercepts for
   site and subject). MaAsLin2 itself cannot run on this machine: it is a Bioconductor/GitHub R
   package and neither registry can be reached here (r-base-core from Debian can be installed, but
   not MaAsLin2, lme4 or lmerTest from CRAN/Bioconductor). The comparison is therefore with a
   per-feature loop of statsmodels' MixedLM (REML; site as the group, subject as a nested variance
   component, the same model) on the same data, timed on a subset of features and scaled to 87.
2. 20,000 features x 5,000 samples with one random intercept (500 subjects), on 2 threads;
   target: under 60 s.

Run: .venv/bin/python bench/bench_associate.py [--quick]
The last lines print the ratios.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gutaxis.link import _design, _normalize  # noqa: E402
from gutaxis.link.associate import associate  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RUN1 = dict(transform="AST", fixed_effects=["diagnosis", "dysbiosisnonIBD", "dysbiosisUC", "dysbiosisCD", "antibiotics",
                                            "age"], random_effects=["site", "subject"], reference="diagnosis,nonIBD",
            standardize=False)


def bench_hmp2(n_sm: int):
    base = SHARED / "data" / "maaslin2_hmp2"
    data = pd.read_csv(base / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(base / "HMP2_metadata.tsv", sep="\t", index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = associate(data, meta, **RUN1)
        t_ours = time.perf_counter() - t0
    print(f"HMP2 run1: gutaxis {t_ours:.2f} s for {data.shape[1]} features x {data.shape[0]} samples "
          f"({res.results['qval'].notna().sum()} tests, {len(res.significant)} significant)")
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        print("statsmodels is not installed: no per-feature comparison")
        return t_ours, None
    m = meta.loc[data.index]
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
    print(f"statsmodels MixedLM loop: {t_sm:.1f} s for 87 features (timed on {n_sm}, scaled); "
          f"max relative difference of the age coefficient vs gutaxis {worst:.1e}")
    return t_ours, t_sm


def bench_large(n_features=20000, n_samples=5000, n_subjects=500, seed=0):
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), n_samples // n_subjects)
    meta = pd.DataFrame({"group": np.where(subject % 2 == 0, "case", "control"),
                         "age": rng.normal(50, 10, n_samples),
                         "subject": [f"s{s}" for s in subject]}, index=[f"S{i}" for i in range(n_samples)])
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
    print(f"{n_features} features x {n_samples} samples, (1|subject) with {n_subjects} subjects: {t:.1f} s "
          f"({res.results['qval'].notna().sum()} tests)")
    return t


def main():
    quick = "--quick" in sys.argv
    t_ours, t_sm = bench_hmp2(3 if quick else 10)
    t_large = bench_large(2000 if quick else 20000, 5000)
    print("--- ratios ---")
    print("MaAsLin2 (R): cannot run here (Bioconductor/GitHub package, registries unreachable); no ratio")
    if t_sm is not None:
        print(f"HMP2 run1: statsmodels MixedLM per-feature loop / gutaxis = {t_sm / t_ours:.1f}x")
    print(f"large: {t_large:.1f} s / 60 s target = {t_large / 60:.2f}")


if __name__ == "__main__":
    main()
