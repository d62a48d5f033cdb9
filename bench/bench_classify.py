"""gutaxis.classify: published-protocol parity figures and speed against plain scikit-learn.

Run from the repository root (reads ``../shared/data``)::

    .venv/bin/python bench/bench_classify.py                  # every part (an hour or more on 2 busy cores)
    .venv/bin/python bench/bench_classify.py --only ra1000    # one part (repeatable): ra1000 metaml siamcat
                                                              #   autoimmune confounders noise index ibd rfspeed
    .venv/bin/python bench/bench_classify.py --quick          # fewer repeats/trees, minutes
    .venv/bin/python bench/bench_classify.py --out results/   # also write every figure as JSON there

Parts
-----
``ra1000``
    10 x 10 stratified CV of LASSO (SIAMCAT's lambda rule) and RF (500 trees) on 1000RA
    (2,238 samples; genera at >= 10% prevalence of the training fold: about 210), timed, and the
    same protocol written plainly in scikit-learn (a loop over ``RepeatedStratifiedKFold``;
    LASSO: ``LogisticRegression(l1, liblinear)`` over the same 100-lambda path with warm starts
    and the same selection rule; RF: ``RandomForestClassifier``), timed on the same folds. The
    ratio is plain time / gutaxis time. With ``--quick`` 10 x 1.
``metaml``
    MetAML parity (Pasolli 2016): RF 500 trees, sqrt features, stratified 10-fold x 10 repeats on
    the six data sets; AUROC as the mean over folds (MetAML's figure), against the notes'
    reference (our earlier 5-run figures) and the published ones.
``siamcat``
    SIAMCAT parity on Zeller CRC: LASSO (abundance filter 0.001, log.std, lambda rule), 10 x 10;
    RF 500 trees 10 x 10; mean-prediction AUROC (SIAMCAT's figure).
``autoimmune``
    1000RA RF (within-study, CI), iMSMS MS vs household controls (genus, household-blocked,
    ``mixed_groups``), Sun 2024 SLE/RA/AS at class level (within-study; AS cross-study both ways).
``confounders``
    Confounder report of MetAML IBD (country flagged?) and the Spain-only re-evaluation.
``index``
    A cross-study healthy-vs-disease index (L1 logistic on species presence, as GMWI2) trained
    leave-one-study-out over MetAML's studies and the GMHI validation studies (MetaPhlAn2
    species), and its balanced accuracy on the GMHI paper's 679 validation samples beside GMHI's.
``ibd``
    IBD within-study (HMP2 IBD vs nonIBD blocked by subject, its confounders and per-site figures;
    MLRepo Gevers ileum/rectum and Sokol at genus level) and cross-study (train x test matrix and
    leave-one-study-out over HMP2, MetaHIT, Nielsen, Gevers ileum/rectum and Sokol at genus level,
    RF and LASSO; the three shotgun cohorts at species level beside the notes' §2E).
``rfspeed``
    Where the RF time goes on one 1000RA training fold: the gutaxis pipeline vs plain
    scikit-learn, float32 input, trees in parallel, and two protocol changes (labelled so).
``noise``
    Leak check on pure noise (100 x 5,000): AUC-based selection of 50 features inside the
    pipeline (nested tuning of k) vs before the CV, and 50 permuted-label controls.

The last lines printed are the ratios of the ``ra1000`` part.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gutaxis.classify import (
    check_confounders,
    cross_validate,
    make_classifier,
    study_matrix,
    within_strata,
)
from gutaxis.classify._refdata import METAML_DATASETS, load_metaml, load_siamcat_zeller

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

#: MetAML RF AUROC: ours (notes §2A, 5 runs, fold mean) and published (Pasolli 2016 Fig 2, per the notes)
METAML_REF = {
    "cirrhosis": (0.944, 0.945),
    "colorectal": (0.872, 0.805),
    "ibd": (0.883, 0.890),
    "obesity": (0.660, 0.655),
    "t2d": (0.744, 0.744),
    "wt2d": (0.758, 0.762),
}
RESULTS: dict = {}
JOBS = 1  # --jobs: cross_validate n_jobs in the ibd part


def log(msg: str) -> None:
    print(msg, flush=True)


def ra1000_table(prevalence_column_filter: bool = True):
    c = pd.read_csv(SHARED / "ra1000_16s" / "ra1000_genus_counts.tsv.gz", sep="\t", index_col=0)
    meta = pd.read_csv(SHARED / "ra1000_16s" / "ra1000_sample_metadata.tsv", sep="\t", index_col=0)
    rel = (c / c.sum(axis=0)).T
    rel = rel.loc[:, rel.columns.str.contains("g__")]
    meta.index = meta.index.astype(str)
    rel.index = rel.index.astype(str)
    y = (meta.loc[rel.index, "Group (1=HC,2=RA)"] == 2).astype(int)
    return rel, y, meta.loc[rel.index]


# ----------------------------------------------------------------------------------------------
# plain scikit-learn protocol (the reference of the speed ratio)
# ----------------------------------------------------------------------------------------------
def _plain_lasso_fold(Xtr, ytr, Xte):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    keep = (Xtr > 0).mean(axis=0) > 0.1
    Ltr, Lte = np.log10(Xtr[:, keep] + 1e-6), np.log10(Xte[:, keep] + 1e-6)
    sd = Ltr.std(axis=0, ddof=1)
    q = np.quantile(sd, 0.1)
    m = Ltr.mean(axis=0)
    Ltr, Lte = (Ltr - m) / (sd + q), (Lte - m) / (sd + q)
    sc = StandardScaler().fit(Ltr)
    Str, Ste = sc.transform(Ltr), sc.transform(Lte)
    n = len(ytr)
    lam_max = np.abs(Str.T @ (ytr - ytr.mean())).max() / n
    ratio = 0.01 if n < Str.shape[1] else 1e-4
    lambdas = lam_max * ratio ** (np.arange(100) / 99)
    clf = (
        LogisticRegression(
            solver="liblinear", l1_ratio=1.0, warm_start=True, tol=1e-6, max_iter=1000, intercept_scaling=100.0
        )
        if _new_sklearn()
        else LogisticRegression(
            penalty="l1", solver="liblinear", warm_start=True, tol=1e-6, max_iter=1000, intercept_scaling=100.0
        )
    )
    best, best_acc = None, -1.0
    for lam in lambdas:
        clf.set_params(C=1.0 / (n * lam))
        clf.fit(Str, ytr)
        if (clf.coef_ != 0).sum() < 5:
            continue
        acc = clf.score(Str, ytr)
        if acc > best_acc:
            best_acc, best = acc, (clf.coef_.copy(), clf.intercept_.copy())
    coef, b0 = best
    return 1 / (1 + np.exp(-(Ste @ coef[0] + b0[0])))


def _new_sklearn() -> bool:
    import sklearn

    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    return (major, minor) >= (1, 8)


def _plain_rf_fold(Xtr, ytr, Xte, seed):
    from sklearn.ensemble import RandomForestClassifier

    keep = (Xtr > 0).mean(axis=0) > 0.1
    rf = RandomForestClassifier(n_estimators=500, max_features="sqrt", random_state=seed, n_jobs=1)
    rf.fit(Xtr[:, keep], ytr)
    return rf.predict_proba(Xte[:, keep])[:, 1]


def plain_protocol(kind: str, X: np.ndarray, y: np.ndarray, n_repeats: int, seed: int = 0):
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import RepeatedStratifiedKFold

    pred = np.zeros((len(y), n_repeats))
    cv = RepeatedStratifiedKFold(n_splits=10, n_repeats=n_repeats, random_state=seed)
    for k, (tr, te) in enumerate(cv.split(X, y)):
        r = k // 10
        if kind == "lasso":
            pred[te, r] = _plain_lasso_fold(X[tr], y[tr], X[te])
        else:
            pred[te, r] = _plain_rf_fold(X[tr], y[tr], X[te], seed + k)
    return roc_auc_score(y, pred.mean(axis=1))


def part_ra1000(quick: bool):
    X, y, _ = ra1000_table()
    reps = 1 if quick else 10
    log(
        f"== ra1000: {X.shape[0]} samples x {X.shape[1]} genera (10% prevalence inside each training fold), "
        f"10 x {reps}, load {os.getloadavg()[0]:.1f}"
    )
    out = {}
    for kind in ("lasso", "rf"):
        est = make_classifier(kind, filter=("prevalence", 0.1), normalization="log.std")
        t = time.time()
        res = cross_validate(est, X, y, n_splits=10, n_repeats=reps, random_state=0, n_bootstrap=200)
        t_ours = time.time() - t
        t = time.time()
        auc_plain = plain_protocol(kind, X.to_numpy(), y.to_numpy(), reps, seed=0)
        t_plain = time.time() - t
        out[kind] = {
            "gutaxis_s": t_ours,
            "plain_sklearn_s": t_plain,
            "ratio": t_plain / t_ours,
            "auroc_gutaxis": res.auroc,
            "ci": [res.metric("auroc", "ci_low"), res.metric("auroc", "ci_high")],
            "auroc_plain": auc_plain,
            "scheme": res.scheme["description"],
        }
        log(
            f"ra1000 {kind}: gutaxis {t_ours:.1f} s (AUROC {res.auroc:.3f} [{out[kind]['ci'][0]:.3f}, "
            f"{out[kind]['ci'][1]:.3f}]), plain scikit-learn {t_plain:.1f} s (AUROC {auc_plain:.3f})"
        )
    RESULTS["ra1000"] = out
    return out


def part_metaml(quick: bool):
    path = SHARED / "metaml_pasolli2016" / "abundance_stoolsubset.txt.bz2"
    reps, trees = (3, 200) if quick else (10, 500)
    out = {}
    log(f"== metaml: RF {trees} trees, stratified 10-fold x {reps}, AUROC = mean over folds")
    for name in METAML_DATASETS:
        X, y, _ = load_metaml(path, name)
        est = make_classifier("rf", filter=None, normalization="pass", n_estimators=trees, n_jobs=1)
        t = time.time()
        res = cross_validate(est, X, y, n_splits=10, n_repeats=reps, random_state=0, n_bootstrap=200)
        fm, fsd = res.metric("auroc", "fold_mean"), res.metric("auroc", "fold_sd")
        ours, pub = METAML_REF[name]
        out[name] = {
            "n": len(y),
            "cases": int(y.sum()),
            "fold_mean": fm,
            "fold_sd": fsd,
            "mean_prediction": res.auroc,
            "reference": ours,
            "published": pub,
            "diff_reference": fm - ours,
            "diff_published": fm - pub,
            "seconds": time.time() - t,
        }
        log(
            f"metaml {name:10s} n={len(y):3d} ({int(y.sum())} cases): fold-mean AUROC {fm:.3f} +- {fsd:.3f} "
            f"(pooled mean prediction {res.auroc:.3f}); reference {ours:.3f} (diff {fm - ours:+.3f}), published "
            f"{pub:.3f} (diff {fm - pub:+.3f}); {time.time() - t:.0f} s"
        )
    RESULTS["metaml"] = out
    return out


def part_siamcat(quick: bool):
    X, y, _ = load_siamcat_zeller(SHARED / "siamcat_extdata")
    reps = 3 if quick else 10
    out = {}
    log(f"== siamcat: Zeller CRC, {X.shape[0]} samples, 10 x {reps}, mean-prediction AUROC")
    for kind, kw in (
        ("lasso", {}),
        ("lasso_log.unit", {"normalization": {"method": "log.unit", "n_p": 2, "norm_margin": 1}}),
        ("lasso_siamcat-code", {"lambda_rule": "siamcat-code"}),
        ("rf", {"n_estimators": 500}),
    ):
        model = kind.split("_")[0]
        est = make_classifier(model, **kw)
        t = time.time()
        res = cross_validate(est, X, y, n_splits=10, n_repeats=reps, random_state=0)
        out[kind] = {
            "auroc": res.auroc,
            "ci": [res.metric("auroc", "ci_low"), res.metric("auroc", "ci_high")],
            "repeat_mean": res.metric("auroc", "repeat_mean"),
            "fold_mean": res.metric("auroc", "fold_mean"),
            "seconds": time.time() - t,
        }
        log(
            f"siamcat {kind}: mean-prediction AUROC {res.auroc:.3f} "
            f"[{out[kind]['ci'][0]:.3f}, {out[kind]['ci'][1]:.3f}] "
            f"(repeat mean {out[kind]['repeat_mean']:.3f}); {time.time() - t:.0f} s"
        )
    RESULTS["siamcat"] = out
    return out


def imsms_genus():
    counts = pd.read_csv(SHARED / "imsms_ms_16s" / "imsms_asv_counts.tsv.gz", sep="\t", index_col=0)
    tax = pd.read_csv(SHARED / "imsms_ms_16s" / "imsms_asv_sequences_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(SHARED / "imsms_ms_16s" / "imsms_map.txt", sep="\t", index_col=0, encoding="latin-1")
    taxon = tax.loc[counts.index, "taxonomy"].astype(str)
    genus = taxon.str.extract(r"(g__[^;]*)")[0].fillna("g__")
    family = taxon.str.extract(r"(f__[^;]*)")[0].fillna("f__")
    key = np.where(genus.str.len() > 3, family + ";" + genus, family + ";g__unclassified")
    g = counts.groupby(key).sum().T
    rel = g.div(g.sum(axis=1), axis=0)
    meta.index = meta.index.astype(str)
    rel.index = rel.index.astype(str)
    common = rel.index.intersection(meta.index)
    return rel.loc[common], meta.loc[common]


def sun2024():
    prof = pd.read_csv(SHARED / "sun2024_gm_common_diseases" / "mpa4_class.profile", sep="\t", index_col=0)
    grp = pd.read_csv(SHARED / "sun2024_gm_common_diseases" / "sample.group", sep="\t")
    return prof, grp


def part_autoimmune(quick: bool):
    reps = 3 if quick else 10
    trees = 200 if quick else 500
    out = {}
    log(f"== autoimmune: RF {trees} trees, stratified 10-fold x {reps} (within-study unless said)")
    X, y, meta = ra1000_table()
    res = cross_validate(
        make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1),
        X,
        y,
        n_splits=10,
        n_repeats=reps,
        random_state=0,
    )
    out["ra1000_rf"] = {
        "auroc": res.auroc,
        "ci": [res.metric("auroc", "ci_low"), res.metric("auroc", "ci_high")],
        "scheme": res.scheme["description"],
    }
    log(
        f"1000RA RA vs HC, genus RF: AUROC {res.auroc:.3f} "
        f"[{out['ra1000_rf']['ci'][0]:.3f}, {out['ra1000_rf']['ci'][1]:.3f}]"
        f" ({res.scheme['description']})"
    )
    rel, meta = imsms_genus()
    y = (meta["disease"] == "MS").astype(int)
    res = cross_validate(
        make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1),
        rel,
        y,
        groups=meta["household"].astype(str),
        mixed_groups=True,
        n_splits=10,
        n_repeats=reps,
        random_state=0,
    )
    out["imsms_rf_household_blocked"] = {
        "auroc": res.auroc,
        "ci": [res.metric("auroc", "ci_low"), res.metric("auroc", "ci_high")],
        "n": len(y),
        "scheme": res.scheme["description"],
    }
    log(
        f"iMSMS MS vs household controls, genus RF: AUROC {res.auroc:.3f} "
        f"[{res.metric('auroc', 'ci_low'):.3f}, {res.metric('auroc', 'ci_high'):.3f}] ({res.scheme['description']})"
    )
    prof, grp = sun2024()
    out["sun2024"] = _sun2024(prof, grp, reps, trees)
    RESULTS["autoimmune"] = out
    return out


SUN_STUDIES = {"ChenB_2020.SLE": 0.876, "ZhangX_2015.RA": 0.724, "HuangR_2020.AS": 0.921, "ZhouC_2020.AS": 0.830}


def _sun2024(prof, grp, reps, trees):
    """Within-study RF at class level (the only level held) for the immune studies, against the
    published species-level figures (Fig 2d), and the two AS cohorts across each other."""
    X = prof.T
    X = X.div(X.sum(axis=1).where(X.sum(axis=1) > 0, 1), axis=0)
    X.index = X.index.astype(str)
    grp = grp.set_index("Sample")
    grp.index = grp.index.astype(str)
    out = {}
    for project, published in SUN_STUDIES.items():
        sub = grp[(grp["Project"] == project) & grp.index.isin(X.index)]
        y = (sub["Group"] == "Disease").astype(int)
        r = cross_validate(
            make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1),
            X.loc[y.index],
            y,
            n_splits=10,
            n_repeats=reps,
            random_state=0,
            n_bootstrap=500,
        )
        out[project] = {
            "n": len(y),
            "cases": int(y.sum()),
            "auroc": r.auroc,
            "ci": [r.metric("auroc", "ci_low"), r.metric("auroc", "ci_high")],
            "published_species_level": published,
        }
        log(
            f"sun2024 {project} (n={len(y)}, {int(y.sum())} cases): class-level RF AUROC {r.auroc:.3f} "
            f"[{r.metric('auroc', 'ci_low'):.3f}, {r.metric('auroc', 'ci_high'):.3f}] (within-study); published "
            f"species-level {published:.3f}"
        )
    sub = grp[grp["Project"].isin(["HuangR_2020.AS", "ZhouC_2020.AS"]) & grp.index.isin(X.index)]
    y = (sub["Group"] == "Disease").astype(int)
    m = study_matrix(
        make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1),
        X.loc[y.index],
        y,
        sub["Project"],
        n_splits=10,
        n_repeats=reps,
        random_state=0,
        n_bootstrap=500,
    )
    out["AS_matrix"] = m.matrix.round(3).to_dict()
    log("sun2024 AS train x test AUROC (class level; diagonal within-study):\n" + m.matrix.round(3).to_string())
    return out


def part_confounders(quick: bool):
    path = SHARED / "metaml_pasolli2016" / "abundance_stoolsubset.txt.bz2"
    X, y, meta = load_metaml(path, "ibd")
    cols = [c for c in ("country", "gender", "age", "bmi") if c in meta.columns]
    rep = check_confounders(meta, y, columns=cols)
    log("== confounders: MetAML IBD (metahit)")
    log(rep.table[["column", "kind", "n", "auroc", "direction", "p_value", "flagged"]].to_string(index=False))
    strata = within_strata(
        make_classifier("rf", filter=None, normalization="pass", n_estimators=200 if quick else 500, n_jobs=1),
        X,
        y,
        meta["country"],
        n_splits=5,
        n_repeats=3 if quick else 10,
        random_state=0,
    )
    log(strata[["stratum", "n", "n_case", "n_control", "auroc", "ci_low", "ci_high", "note"]].to_string(index=False))
    RESULTS["confounders"] = {"table": rep.table.to_dict(orient="records"), "strata": strata.to_dict(orient="records")}


def part_noise(quick: bool):
    """Five noise tables (two with --quick): nested CV with AUC selection inside (k tuned over
    10/50/200 by a 3-fold inner CV), 5-fold x 2; 50 permuted-label controls on the first table;
    and the leak (selection on all samples before the CV) on the first table."""
    from sklearn.linear_model import LogisticRegression

    from gutaxis.classify import AssociationSelector

    aucs, out = [], {}
    for seed in range(2 if quick else 5):
        rng = np.random.default_rng(seed)
        X = pd.DataFrame(
            rng.lognormal(size=(100, 5000)),
            index=[f"s{i:03d}" for i in range(100)],
            columns=[f"f{j:04d}" for j in range(5000)],
        )
        y = pd.Series(rng.permutation(np.r_[np.ones(50, int), np.zeros(50, int)]), index=X.index)
        est = make_classifier(LogisticRegression(C=1.0, max_iter=2000), filter=None, normalization="log.std", select=50)
        nested = cross_validate(
            est,
            X,
            y,
            n_splits=5,
            n_repeats=2,
            param_grid={"select__k": [10, 50, 200]},
            inner_splits=3,
            n_permutations=(10 if quick else 50) if seed == 0 else 0,
            random_state=seed,
            n_bootstrap=200,
        )
        aucs.append(nested.auroc)
        line = (
            f"noise table {seed}: nested CV AUROC {nested.auroc:.3f} [{nested.metric('auroc', 'ci_low'):.3f}, "
            f"{nested.metric('auroc', 'ci_high'):.3f}]"
        )
        if seed == 0:
            out["permuted_mean"] = nested.metric("auroc", "null_mean")
            out["permuted_sd"] = nested.metric("auroc", "null_sd")
            out["p_value"] = nested.p_value
            line += (
                f"; permuted labels {out['permuted_mean']:.3f} +- {out['permuted_sd']:.3f} (p = {nested.p_value:.3g})"
            )
            sel = AssociationSelector(50).fit(np.log10(X.to_numpy() + 1e-6), y.to_numpy())
            leaky = cross_validate(
                make_classifier(LogisticRegression(C=1.0, max_iter=2000), filter=None, normalization="log.std"),
                X.loc[:, sel.support_],
                y,
                n_splits=5,
                n_repeats=2,
                random_state=0,
            )
            out["selection_outside_cv_auroc"] = leaky.auroc
            line += f"; selection before CV (leaky) {leaky.auroc:.3f}"
        log(line)
    out["nested_auroc"] = aucs
    out["nested_auroc_mean"] = float(np.mean(aucs))
    log(f"== noise 100 x 5000: nested CV AUROC mean over {len(aucs)} tables {np.mean(aucs):.3f} (target <= 0.60)")
    RESULTS["noise"] = out


METAML_HEALTHY = {"n", "leaness"}
METAML_UNHEALTHY = {
    "t2d",
    "ibd_ulcerative_colitis",
    "ibd_crohn_disease",
    "cirrhosis",
    "cancer",
    "small_adenoma",
    "large_adenoma",
}


def health_index_data():
    """MetAML's stool subset (one sample per subject; healthy = n/leaness, non-healthy = the
    diseases above; obesity, overweight, IGT, relatives and the E. coli outbreak left out) and the
    GMHI validation set (the paper's 679 samples), both MetaPhlAn2 species as fractions, with their
    studies; species named 'unclassified' or viruses dropped (as GMHI does)."""
    from gutaxis.classify._refdata import metaml_table

    meta, ab = metaml_table(SHARED / "metaml_pasolli2016" / "abundance_stoolsubset.txt.bz2")
    keep = meta["disease"].isin(METAML_HEALTHY | METAML_UNHEALTHY) & ~meta["subjectID"].duplicated()
    keep &= ~meta["dataset_name"].str.startswith("Loman")
    meta, ab = meta.loc[keep], ab.loc[keep] / 100.0
    ab.index = "metaml:" + ab.index
    y1 = pd.Series(meta["disease"].isin(METAML_HEALTHY).astype(int).to_numpy(), index=ab.index)
    s1 = pd.Series(("MetAML " + meta["dataset_name"]).to_numpy(), index=ab.index)
    v = pd.read_csv(SHARED / "gmhi2020_validation" / "validation_abundance.csv", index_col=0, encoding="utf-8-sig").T
    vm = pd.read_csv(SHARED / "gmhi2020_validation" / "validation_metadata.csv", encoding="utf-8-sig")
    vm = vm[~vm.iloc[:, 1].astype(str).str.contains(":OB|:OW|:UW")].set_index("Sample_Ids")
    v = v.loc[vm.index]
    y2 = pd.Series((vm["Phenotype"] == "Healthy").astype(int).to_numpy(), index=v.index)
    s2 = pd.Series(("GMHI " + vm.iloc[:, 3].astype(str)).to_numpy(), index=v.index)
    X = pd.concat([ab, v], axis=0).fillna(0.0)
    X = X.loc[:, ~X.columns.str.contains("unclassified|virus", case=False)]
    return X, pd.concat([y1, y2]), pd.concat([s1, s2]), v


def part_index(quick: bool):
    """Item 5 of issue 14, reduced to the data held at one profiler (MetaPhlAn2 species): a
    healthy-vs-disease index trained leave-one-study-out over MetAML's and the GMHI validation
    studies, beside GMHI on the same held-out samples. Four model variants, all reported: L1
    logistic (cv.glmnet lambda.min) on presence > 1e-5 (as GMWI2) and > 1e-4, on log.std
    abundances, and RF (300 trees); species present in > 5% of the training samples."""
    from gutaxis.classify import PenalizedLogisticRegression, leave_one_study_out
    from gutaxis.classify._metrics import balanced_accuracy
    from gutaxis.measure.gmhi import gmhi

    X, y, study, v = health_index_data()
    log(
        f"== index: {len(y)} samples ({int(y.sum())} healthy) x {X.shape[1]} species, {study.nunique()} studies "
        f"(MetAML {int(study.str.startswith('MetAML').sum())}, "
        f"GMHI validation {int(study.str.startswith('GMHI').sum())})"
    )
    g = gmhi(v)

    def lasso():
        return PenalizedLogisticRegression(1.0, lambda_rule="cv", n_lambda=50 if quick else 100)

    variants = {
        "L1 logistic, presence > 1e-5 (GMWI2-like)": make_classifier(
            lasso(), filter=("prevalence", 0.05), normalization={"method": "presence", "detection": 1e-5}
        ),
        "L1 logistic, presence > 1e-4": make_classifier(
            lasso(), filter=("prevalence", 0.05), normalization={"method": "presence", "detection": 1e-4}
        ),
        "L1 logistic, log.std": make_classifier(lasso(), filter=("prevalence", 0.05), normalization="log.std"),
        "RF 300 trees": make_classifier("rf", filter=("prevalence", 0.05), n_estimators=300, n_jobs=1),
    }
    out = {}
    gmhi_rows = None
    for name, est in variants.items():
        t = time.time()
        loso = leave_one_study_out(est, X, y, study, random_state=0, n_bootstrap=200)
        pred = loso.predictions.set_index("sample")
        gm = pred.index.isin(v.index)
        lab = pred.loc[gm, "label"]
        ba_index = balanced_accuracy(lab.to_numpy(), pred.loc[gm, "probability"].to_numpy())
        ba_metaml = balanced_accuracy(pred.loc[~gm, "label"].to_numpy(), pred.loc[~gm, "probability"].to_numpy())
        gv = g.loc[lab.index]
        # GMHI's rule: > 0 healthy, < 0 non-healthy, 0 neither (an error both ways)
        ba_gmhi = float(
            (((gv > 0) & (lab == 1)).sum() / (lab == 1).sum() + ((gv < 0) & (lab == 0)).sum() / (lab == 0).sum()) / 2
        )
        rows = []
        for st, sub in loso.predictions.groupby("test"):
            r = {
                "study": st,
                "n": len(sub),
                "healthy": int(sub["label"].sum()),
                "index_accuracy": float(((sub["probability"] > 0.5) == (sub["label"] == 1)).mean()),
            }
            if st.startswith("GMHI"):
                gg = g.loc[sub["sample"]].to_numpy()
                r["gmhi_accuracy"] = float(np.mean(np.where(sub["label"].to_numpy() == 1, gg > 0, gg < 0)))
            rows.append(r)
        gmhi_rows = gmhi_rows or rows
        out[name] = {
            "balanced_accuracy_679": ba_index,
            "balanced_accuracy_metaml_heldout": ba_metaml,
            "per_study": rows,
        }
        log(
            f"index [{name}] cross-study (leave-one-study-out): balanced accuracy on the GMHI paper's 679 validation "
            f"samples {ba_index:.3f} (GMHI on the same samples {ba_gmhi:.3f}; published 0.737); on the MetAML "
            f"held-out studies {ba_metaml:.3f}; {time.time() - t:.0f} s"
        )
    log(pd.DataFrame(gmhi_rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    RESULTS["index"] = {"variants": out, "balanced_accuracy_gmhi_679": ba_gmhi}


# ----------------------------------------------------------------------------------------------
# IBD: within-study figures (HMP2, MLRepo Gevers/Sokol) and the cross-study matrix
# ----------------------------------------------------------------------------------------------
#: notes §2E (RF, 86 shared MetaPhlAn2 species, HMP2 first visit per subject): train -> test AUROC
NOTES_2E = {
    ("metahit", "metahit"): 0.865,
    ("nielsen", "nielsen"): 0.929,
    ("hmp2", "hmp2"): 0.600,
    ("metahit", "nielsen"): 0.912,
    ("nielsen", "metahit"): 0.928,
}
NOTES_2E_LOSO = {"metahit": 0.932, "nielsen": 0.828, "hmp2": 0.690}


def _ci(res) -> str:
    return f"{res.auroc:.3f} [{res.metric('auroc', 'ci_low'):.3f}, {res.metric('auroc', 'ci_high'):.3f}]"


def ibd_cohorts(level: str = "genus") -> dict:
    """The IBD cohorts as ``name -> (table, labels, metadata, description)``; ``level="genus"``
    sums every cohort to genus (gutaxis.taxonomy.collapse), ``"species"`` keeps the three
    shotgun (MetaPhlAn2) cohorts at species. HMP2 is its first sample per subject (130)."""
    from gutaxis.classify._refdata import (
        first_per_subject,
        load_hmp2,
        load_mlrepo_ibd,
        load_nielsen_ibd,
        to_genus,
    )

    path = SHARED / "metaml_pasolli2016" / "abundance_stoolsubset.txt.bz2"
    X, y, meta = load_hmp2(SHARED / "maaslin2_hmp2")
    first = first_per_subject(meta)
    out = {"hmp2": (X.loc[first], y.loc[first], meta.loc[first], "HMP2 IBD vs nonIBD, stool, shotgun MetaPhlAn2, US")}
    X, y, meta = load_metaml(path, "ibd")
    out["metahit"] = (X / 100.0, y, meta, "MetaHIT (Qin 2010) IBD vs controls, stool, shotgun MetaPhlAn2, ES/DK")
    X, y, meta = load_nielsen_ibd(path)
    out["nielsen"] = (X / 100.0, y, meta, "Nielsen 2014 IBD vs controls, stool, shotgun MetaPhlAn2, ES/DK")
    if level == "species":
        return out
    for task, desc in (
        ("gevers_ileum", "Gevers RISK CD vs non-IBD, ileal biopsy, 16S Greengenes, North America (paediatric)"),
        ("gevers_rectum", "Gevers RISK CD vs non-IBD, rectal biopsy, 16S Greengenes, North America (paediatric)"),
        ("sokol", "Sokol CD+UC vs healthy, stool, 16S Greengenes, adults"),
    ):
        X, y, meta = load_mlrepo_ibd(SHARED / "mlrepo_ibd_gevers_sokol", task)
        out[task] = (X, y, meta, desc)
    return {k: (to_genus(X), y, m, d) for k, (X, y, m, d) in out.items()}


def _pooled(cohorts: dict):
    """One table over the cohorts (union of features, absent = 0), sample IDs prefixed by cohort."""
    Xs, ys, ss = [], [], []
    for name, (X, y, _, _) in cohorts.items():
        ids = name + ":" + X.index.astype(str)
        Xs.append(X.set_axis(ids, axis=0))
        ys.append(pd.Series(y.to_numpy(), index=ids))
        ss.append(pd.Series(name, index=ids))
    return pd.concat(Xs, axis=0).fillna(0.0), pd.concat(ys), pd.concat(ss)


def ibd_within(quick: bool) -> dict:
    """Within-study IBD figures: HMP2 blocked by subject (and the unblocked leak, the first
    visit per subject, LASSO), confounders and re-evaluation within site; MLRepo Gevers/Sokol."""
    from gutaxis.classify._refdata import (
        first_per_subject,
        load_hmp2,
        load_mlrepo_ibd,
        to_genus,
    )

    reps, trees = (1, 50) if quick else (10, 500)
    out = {}

    def rf():
        return make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1)

    def lasso():
        return make_classifier("lasso", filter=("prevalence", 0.1), normalization="log.std")

    X, y, meta = load_hmp2(SHARED / "maaslin2_hmp2")
    subj = meta["subject"].astype(str)
    log(
        f"== ibd within-study: HMP2 (MaAsLin2 example), label IBD (CD+UC) = 1 vs nonIBD = 0; {len(y)} samples "
        f"({int(y.sum())} IBD) of {subj.nunique()} subjects ({subj[y == 1].nunique()} IBD), 87 MetaPhlAn2 species"
    )
    rows = []
    for name, est, kw in (
        ("RF, blocked by subject", rf(), {"groups": subj}),
        ("LASSO, blocked by subject", lasso(), {"groups": subj}),
        ("RF, NOT blocked (samples of a subject on both sides: the leak)", rf(), {"n_repeats": 1}),
    ):
        t = time.time()
        kw = {"n_splits": 10, "n_repeats": reps, "random_state": 0, "n_bootstrap": 500, "n_jobs": JOBS, **kw}
        res = cross_validate(est, X, y, **kw)
        rows.append(
            {
                "cohort": "HMP2 all samples",
                "model": name,
                "n": len(y),
                "cases": int(y.sum()),
                "auroc": res.auroc,
                "ci_low": res.metric("auroc", "ci_low"),
                "ci_high": res.metric("auroc", "ci_high"),
                "scheme": res.scheme["description"],
                "seconds": round(time.time() - t),
            }
        )
        log(f"HMP2 {name}: AUROC {_ci(res)} ({res.scheme['description']}; {time.time() - t:.0f} s)")
    first = first_per_subject(meta)
    res = cross_validate(
        rf(), X.loc[first], y.loc[first], n_splits=10, n_repeats=reps, random_state=0, n_bootstrap=500, n_jobs=JOBS
    )
    rows.append(
        {
            "cohort": "HMP2 first sample per subject",
            "model": "RF",
            "n": len(first),
            "cases": int(y.loc[first].sum()),
            "auroc": res.auroc,
            "ci_low": res.metric("auroc", "ci_low"),
            "ci_high": res.metric("auroc", "ci_high"),
            "scheme": res.scheme["description"],
        }
    )
    log(
        f"HMP2 first sample per subject ({len(first)}), RF: AUROC {_ci(res)} "
        f"({res.scheme['description']}; notes §2E 0.600)"
    )
    # confounders: one row per subject (its first sample) so that no subject counts many times
    rep = check_confounders(meta.loc[first], y.loc[first], columns=["site", "age", "antibiotics"])
    log("HMP2 confounders (first sample per subject; column alone -> IBD):")
    log(rep.table[["column", "kind", "n", "auroc", "direction", "p_value", "flagged"]].to_string(index=False))
    strata = within_strata(
        rf(), X, y, meta["site"], groups=subj, n_splits=5, n_repeats=reps, random_state=0, n_bootstrap=500, n_jobs=JOBS
    )
    log(f"HMP2 RF within site (stratified 5-fold x {reps}, blocked by subject):")
    log(strata[["stratum", "n", "n_case", "n_control", "auroc", "ci_low", "ci_high", "note"]].to_string(index=False))
    out["hmp2"] = {
        "rows": rows,
        "confounders": rep.table.to_dict(orient="records"),
        "within_site": strata.to_dict(orient="records"),
    }

    log(
        f"== ibd within-study: MLRepo (16S Greengenes, genus), stratified 10-fold x {reps} (one sample per "
        f"person per task, per MLRepo; no subject IDs to block by)"
    )
    for task in ("gevers_ileum", "gevers_rectum", "sokol", "sokol_cd", "sokol_uc"):
        Xt, yt, mt = load_mlrepo_ibd(SHARED / "mlrepo_ibd_gevers_sokol", task)
        G = to_genus(Xt)
        for model, est in (("RF", rf()), ("LASSO", lasso())):
            res = cross_validate(est, G, yt, n_splits=10, n_repeats=reps, random_state=0, n_bootstrap=500, n_jobs=JOBS)
            rows.append(
                {
                    "cohort": f"MLRepo {task}",
                    "model": model,
                    "n": len(yt),
                    "cases": int(yt.sum()),
                    "auroc": res.auroc,
                    "ci_low": res.metric("auroc", "ci_low"),
                    "ci_high": res.metric("auroc", "ci_high"),
                    "scheme": res.scheme["description"],
                }
            )
            log(f"MLRepo {task} (n={len(yt)}, {int(yt.sum())} cases, {G.shape[1]} genera), {model}: AUROC {_ci(res)}")
        rep = check_confounders(mt[["depth"]], yt)
        r = rep.table.iloc[0]
        out.setdefault("mlrepo_depth", {})[task] = {"auroc": float(r["auroc"]), "flagged": bool(r["flagged"])}
        log(
            f"MLRepo {task} confounder: read depth alone AUROC {r['auroc']:.3f} ({r['direction']}), flagged "
            f"{bool(r['flagged'])} (the only metadata MLRepo's tasks carry)"
        )
    out["table"] = rows
    log("\nIBD within-study (AUROC of the mean prediction, bootstrap 95% CI):")
    log(
        pd.DataFrame(rows)[["cohort", "model", "n", "cases", "auroc", "ci_low", "ci_high"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"
        )
    )
    return out


def ibd_cross(quick: bool) -> dict:
    """Cross-study IBD: train x test matrix and leave-one-study-out at genus level over six
    cohorts (RF and LASSO), the frozen-normalisation check through fit/predict, and the three
    shotgun cohorts at species level beside the notes' §2E figures."""
    from sklearn.metrics import roc_auc_score

    from gutaxis.classify import fit, leave_one_study_out

    reps, trees = (1, 50) if quick else (10, 500)
    out = {}
    models = {
        "RF": lambda: make_classifier("rf", filter=("prevalence", 0.1), n_estimators=trees, n_jobs=1),
        "LASSO": lambda: make_classifier("lasso", filter=("prevalence", 0.1), normalization="log.std"),
    }
    for level in ("genus", "species"):
        cohorts = ibd_cohorts(level)
        X, y, study = _pooled(cohorts)
        shared = set.intersection(*(set(c[0].columns[(c[0] > 0).any(axis=0)]) for c in cohorts.values()))
        if level == "species":  # as §2E: the species every shotgun cohort reports
            X = X[sorted(shared)]
        log(
            f"== ibd cross-study at {level} level: {len(cohorts)} cohorts, {X.shape[1]} {level} names in the union, "
            f"{len(shared)} present in every cohort"
        )
        for name, (Xc, yc, _, desc) in cohorts.items():
            log(
                f"  {name}: n={len(yc)} ({int(yc.sum())} cases), "
                f"{int((Xc > 0).any(axis=0).sum())} {level} names; {desc}"
            )
        for model, make in models.items():
            if level == "species" and model == "LASSO":
                continue
            t = time.time()
            m = study_matrix(
                make(), X, y, study, n_splits=10, n_repeats=reps, random_state=0, n_bootstrap=500, n_jobs=JOBS
            )
            loso = leave_one_study_out(make(), X, y, study, random_state=0, n_bootstrap=500)
            key = f"{level}_{model}"
            lo = loso.table.set_index("test")
            out[key] = {
                "matrix": m.matrix.to_dict(),
                "loso": lo["auroc"].to_dict(),
                "table": m.table.to_dict(orient="records"),
                "seconds": round(time.time() - t),
            }
            log(
                f"\nIBD train x test AUROC, {level} level, {model} (rows: training cohort; diagonal within-study, "
                f"stratified 10-fold x {reps}, AUROC of the mean prediction; off-diagonal cross-study, trained on all "
                f"of the row cohort, frozen preprocessing applied to the column cohort); {time.time() - t:.0f} s"
            )
            log(m.matrix.round(3).to_string())
            log(f"leave-one-study-out ({model}; cross-study, trained on the other {len(cohorts) - 1} cohorts pooled):")
            log(
                lo[["n_test", "n_test_case", "auroc", "auroc_ci_low", "auroc_ci_high"]].to_string(
                    float_format=lambda v: f"{v:.3f}"
                )
            )
            mat = m.matrix
            off = mat.where(~np.eye(len(mat), dtype=bool))
            log(
                "mean AUROC as a test cohort (off-diagonal): "
                + ", ".join(f"{c} {off[c].mean():.3f}" for c in off.columns)
            )
            if level == "species":
                log(
                    "beside notes §2E (RF, 86 shared species, log10): "
                    + "; ".join(f"{a}->{b} {mat.loc[a, b]:.3f} (notes {v:.3f})" for (a, b), v in NOTES_2E.items())
                    + "; LOSO "
                    + "; ".join(f"{k} {lo.loc[k, 'auroc']:.3f} (notes {v:.3f})" for k, v in NOTES_2E_LOSO.items())
                )
        if level == "genus":
            # the same off-diagonal cells through fit() on the training cohort's own table and
            # predict() on the test cohort's own table: missing features filled, extra reported
            rows = []
            for a, (Xa, ya, _, _) in cohorts.items():
                tc = fit(models["LASSO"](), Xa, ya, random_state=0)
                for b, (Xb, yb, _, _) in cohorts.items():
                    if a == b:
                        continue
                    pr = tc.predict(Xb)
                    auc = roc_auc_score(yb.loc[pr.probability.index], pr.probability)
                    rows.append(
                        {
                            "train": a,
                            "test": b,
                            "missing_filled": len(pr.missing_features),
                            "extra_ignored": len(pr.extra_features),
                            "auroc_predict": auc,
                            "auroc_matrix": out["genus_LASSO"]["matrix"][b][a],
                        }
                    )
            chk = pd.DataFrame(rows)
            dev = float((chk["auroc_predict"] - chk["auroc_matrix"]).abs().max())
            out["predict_check"] = {"rows": rows, "max_abs_diff": dev}
            log(
                "\nfit/predict on each cohort's own genus table (LASSO): model genera absent from the test cohort "
                "(filled with 0) and test genera unknown to the model (ignored):"
            )
            log(chk.pivot(index="train", columns="test", values="missing_filled").to_string())
            log(chk.pivot(index="train", columns="test", values="extra_ignored").to_string())
            log(
                f"max |AUROC via predict - matrix cell| = {dev:.2e} (the matrix's pooled table zero-fills the same way)"
            )
    RESULTS["ibd_cross"] = out
    return out


def part_ibd(quick: bool):
    RESULTS["ibd"] = {"within": ibd_within(quick)}
    ibd_cross(quick)


def part_rfspeed(quick: bool):
    """Where the RF time goes on 1000RA: one training fold (fold 0 of a stratified 10-fold split,
    about 2,000 samples x 210 genera), one 500-tree forest per variant, interleaved, 3 rounds
    (1 with --quick); wall and CPU seconds, and the fold's test AUROC. Variants that change the
    protocol (bootstrap size, leaf size) are labelled so and are not used anywhere else."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y, _ = ra1000_table()
    Xn, yn = X.to_numpy(), y.to_numpy()
    tr, te = next(StratifiedKFold(10, shuffle=True, random_state=0).split(Xn, yn))
    keep = (Xn[tr] > 0).mean(axis=0) > 0.1
    a64, b64 = Xn[tr][:, keep], Xn[te][:, keep]

    def rf(**kw):
        return RandomForestClassifier(500, max_features="sqrt", random_state=1, **{"n_jobs": 1, **kw})

    variants = {
        "gutaxis pipeline (prevalence filter, log.std, RF), float64": (
            lambda: make_classifier("rf", filter=("prevalence", 0.1), n_estimators=500, n_jobs=1, random_state=1),
            X.iloc[tr],
            X.iloc[te],
        ),
        "plain RF, float64 input": (rf, a64, b64),
        "plain RF, float32 input": (rf, a64.astype(np.float32), b64.astype(np.float32)),
        "plain RF, n_jobs=2 (trees in parallel)": (lambda: rf(n_jobs=2), a64, b64),
        "PROTOCOL CHANGE: max_samples=0.5": (lambda: rf(max_samples=0.5), a64, b64),
        "PROTOCOL CHANGE: min_samples_leaf=5": (lambda: rf(min_samples_leaf=5), a64, b64),
    }
    wall = {k: [] for k in variants}
    cpu = {k: [] for k in variants}
    auc = {}
    log(f"== rfspeed: 1000RA fold 0, train {a64.shape}, one 500-tree forest per variant, load {os.getloadavg()[0]:.1f}")
    for _ in range(1 if quick else 3):
        for name, (make, xa, xb) in variants.items():
            est = make()
            t, c = time.perf_counter(), time.process_time()
            est.fit(xa, yn[tr])
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            auc[name] = roc_auc_score(yn[te], est.predict_proba(xb)[:, 1])
    out = {}
    for name in variants:
        out[name] = {"wall_s": float(np.median(wall[name])), "cpu_s": float(np.median(cpu[name])), "auroc": auc[name]}
        log(
            f"{name:60s} wall {out[name]['wall_s']:5.2f} s, CPU {out[name]['cpu_s']:5.2f} s (medians); "
            f"fold-0 AUROC {auc[name]:.3f}"
        )
    base = out["plain RF, float64 input"]["cpu_s"]
    log(
        f"10 x 10 = 100 forests: about {100 * base:.0f} s of CPU on one core, "
        f"{50 * base:.0f} s at best on 2 idle cores "
        f"(load {os.getloadavg()[0]:.1f})"
    )
    RESULTS["rfspeed"] = out


PARTS = {
    "noise": part_noise,
    "index": part_index,
    "siamcat": part_siamcat,
    "confounders": part_confounders,
    "metaml": part_metaml,
    "autoimmune": part_autoimmune,
    "ra1000": part_ra1000,
    "ibd": part_ibd,
    "rfspeed": part_rfspeed,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=list(PARTS), help="run only this part (repeatable)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats and trees")
    ap.add_argument(
        "--jobs", type=int, default=1, help="folds fitted in parallel (part ibd only; figures do not change)"
    )
    ap.add_argument("--out", type=Path, help="folder for results.json")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    global JOBS
    JOBS = args.jobs
    parts = args.only or list(PARTS)
    t0 = time.time()
    for name in parts:
        PARTS[name](args.quick)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"results_{'_'.join(parts)}.json").write_text(json.dumps(RESULTS, indent=2, default=float))
    log(f"total {time.time() - t0:.0f} s, load average {os.getloadavg()[0]:.1f} (2 shared cores)")
    if "ra1000" in RESULTS:
        for kind, r in RESULTS["ra1000"].items():
            log(
                f"ratio ra1000 {kind} 10x{'1' if args.quick else '10'}: "
                f"plain scikit-learn {r['plain_sklearn_s']:.1f} s "
                f"/ gutaxis {r['gutaxis_s']:.1f} s = {r['ratio']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
