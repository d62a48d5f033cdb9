"""How often does the personal twin fit real stool profiles? (issue 11)

For real cohorts under ``../shared/data`` (each folder's PROVENANCE.md says what it is), up to
``--n`` samples per (cohort, group) are drawn (seeded) and ``gutaxis.axis.twin(profile_row,
disease=..., n_draws=50, seed=0)`` is run on each. A sample is *fitted* when at least 1.25 % of the
candidates stay within the plausible physiological ranges: ``meta["n_plausible"] /
meta["n_candidates"] >= 0.0125`` (computed from the meta, so it works on any version of ``twin``;
the ``UserWarning`` a twin emits when it cannot be fitted is caught and counted too).

disease: ``"ra"`` for rheumatoid arthritis, ``"ms"`` for multiple sclerosis, ``"sle"`` for lupus, None
(healthy variant) for healthy people and for conditions the model has no variant of.

Cohorts (``--cohorts``), and which are held out (nothing was chosen or calibrated on them):

============  =========================================  ===========================  ========
name          data                                       profiler / rank              role
============  =========================================  ===========================  ========
gmhi2020      gmhi2020_validation (Gupta 2020)           MetaPhlAn2 species, no lineage  calibration
hmp2          maaslin2_hmp2 (HMP2 IBD, MaAsLin2 example) MetaPhlAn2 species, no lineage  calibration
metaml        metaml_pasolli2016 (MetAML stool subset)   MetaPhlAn2 full lineage      held out
ra1000        ra1000_16s (1000RA, Peking)                16S SILVA, to genus          held out
imsms         imsms_ms_16s (iMSMS, Cell 2022)            16S V4 Deblur ASVs, GG lineage  held out
gmwi2         gmwi2_example SRR1761667                   MetaPhlAn3 + UNKNOWN row     issue example (seen)
============  =========================================  ===========================  ========

sun2024 (MetaPhlAn4 at *class* level only) is not fitted: the guild map needs genus, family or
phylum, so at class level every read falls in the others guild; the script says so and prints the
guild shares such a profile gives (``--sun2024``).

Usage::

    .venv/bin/python bench/twin_fit_rates.py --n 20 --diagnose --sun2024 --json after.json
    .venv/bin/python bench/twin_fit_rates.py --n 20 --json after.json --compare before.json
    # BEFORE = the committed code, from a worktree of HEAD (keeps others' uncommitted edits out):
    git worktree add /tmp/gutaxis_head HEAD
    PYTHONPATH=/tmp/gutaxis_head/src .venv/bin/python bench/twin_fit_rates.py --json before.json
    # ablation: the new guild map with the old exact solve
    .venv/bin/python bench/twin_fit_rates.py --exact-solve --json map_only.json --compare before.json

``--diagnose`` prints, for SRR1761667 under each variant, which PLAUSIBLE_BOUNDS the candidates fail
and the median pathobiont burden (Pb/Pb_ref), dg_Pb, LPS, IL-6, L/M and Th17 they reach; ``--share-sd``
re-derives the observation model's per-guild sample-to-sample log-SD from HMP2; ``--exact-solve`` is
the ablation "new guild map, old exact solve".

Runtime: ~0.5 s per twin on the 2-core VM; ``--n 20`` (584 twins) takes ~5 min.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the checkout
FIT_SHARE = 0.0125
HELD_OUT = {"metaml", "ra1000", "imsms"}
CALIBRATION = {"gmhi2020", "hmp2"}
SEEN = {"gmwi2"}


def _pick(ids, n, seed=0):
    ids = list(ids)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    return [ids[i] for i in order[:n]]


# ----------------------------------------------------------------------------------- loaders
# each yields (cohort, group, disease, profile) with profile a samples x taxa DataFrame or AnnData


def load_gmhi2020(n):
    d = DATA / "gmhi2020_validation"
    ab = pd.read_csv(d / "validation_abundance.csv", encoding="utf-8-sig", index_col=0)
    X = ab.T  # samples x species (fractions, MetaPhlAn2 s__ names; unclassified/virus rows present)
    meta = pd.read_csv(d / "validation_metadata.csv", encoding="utf-8-sig", header=None, skiprows=1)
    meta = meta.set_index(0)
    group = meta[2].astype(str).str.replace(r"\s*\(.*\)$", "", regex=True).str.strip()
    for g in sorted(group.unique()):
        ids = [s for s in group.index[group == g] if s in X.index]
        disease = "ra" if g == "RA" else None
        label = "healthy" if g.lower().startswith("healthy") else g
        yield "gmhi2020", f"{label}" if g != "Healthy_P" else "healthy_P", disease, X.loc[_pick(ids, n)]


def load_hmp2(n):
    d = DATA / "maaslin2_hmp2"
    X = pd.read_csv(d / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(d / "HMP2_metadata.tsv", sep="\t", index_col=0)
    for g in ("nonIBD", "CD", "UC"):
        m = meta[meta["diagnosis"] == g]
        # one sample per subject (the first collection), then a seeded pick of subjects
        first = m.sort_values("collection").groupby("subject").head(1)
        ids = [s for s in first.index if s in X.index]
        label = "healthy" if g == "nonIBD" else g
        yield "hmp2", label, None, X.loc[_pick(ids, n)]


def load_metaml(n):
    m = pd.read_csv(
        DATA / "metaml_pasolli2016" / "abundance_stoolsubset.txt.bz2", sep="\t", index_col=0, header=None, dtype=str
    )
    dis = m.loc["disease"]
    subj = m.loc["subjectID"]
    rows = [i for i in m.index if "|s__" in i and "|t__" not in i]
    X = m.loc[rows].astype(float).T / 100.0  # samples x species (MetaPhlAn2 full lineages), fractions
    for g in sorted(dis.unique()):
        if g in ("-", "n_relative", "leaness", "obese", "overweight", "underweight"):
            continue  # unlabelled, relatives, BMI classes (not diseases)
        cols = [c for c in dis.index[dis == g]]
        # one sample per subject
        seen, ids = set(), []
        for c in cols:
            if subj[c] not in seen:
                seen.add(subj[c])
                ids.append(c)
        label = {"n": "healthy"}.get(g, g)
        Xg = X.loc[_pick(ids, n)]
        Xg = Xg.loc[Xg.sum(axis=1) > 0]
        yield "metaml", label, None, Xg


def load_ra1000(n):
    d = DATA / "ra1000_16s"
    counts = pd.read_csv(d / "ra1000_genus_counts.tsv.gz", sep="\t", index_col=0)
    meta = pd.read_csv(d / "ra1000_sample_metadata.tsv", sep="\t", index_col=0)
    grp = meta["Group (1=HC,2=RA)"]
    for code, label, disease in ((1, "healthy", None), (2, "RA", "ra")):
        ids = [s for s in grp.index[grp == code] if s in counts.columns]
        X = counts[_pick(ids, n)].T.astype(float)  # samples x SILVA lineages (to genus)
        yield "ra1000", label, disease, X.loc[X.sum(axis=1) > 0]


def load_imsms(n):
    import anndata as ad

    d = DATA / "imsms_ms_16s"
    counts = pd.read_csv(d / "imsms_asv_counts.tsv.gz", sep="\t", index_col=0)
    tax = pd.read_csv(d / "imsms_asv_sequences_taxonomy.tsv", sep="\t", index_col=0)["taxonomy"]
    meta = pd.read_csv(d / "imsms_map.txt", sep="\t", index_col=0, encoding="latin-1", dtype=str)
    from gutaxis.taxonomy import parse_lineage

    lin = parse_lineage(tax.reindex(counts.index).fillna("").tolist())
    lin.index = counts.index
    for g, label, disease in (("Control", "healthy", None), ("MS", "MS", "ms")):
        ids = [s for s in meta.index[meta["disease"] == g] if s in counts.columns]
        X = counts[_pick(ids, n)].T.astype(float)
        X = X.loc[X.sum(axis=1) > 0]
        keep = X.sum(axis=0) > 0
        var = lin.loc[keep.index[keep]].astype(object)
        a = ad.AnnData(
            X.loc[:, keep].to_numpy(),
            obs=pd.DataFrame(index=X.index.astype(str)),
            var=var.drop(columns=["lineage"]).where(var.drop(columns=["lineage"]).notna(), None),
        )
        a.var_names = [str(i) for i in var.index]
        yield "imsms", label, disease, a


def load_gmwi2(n):
    path = DATA / "gmwi2_example" / "SRR1761667_metaphlan.txt"
    for disease in ("ra", "ms", "sle", None):
        yield "gmwi2", f"SRR1761667 as {disease or 'healthy'}", disease, str(path)


def sun2024_note():
    from gutaxis.axis.personal import profile_guilds

    p = pd.read_csv(DATA / "sun2024_gm_common_diseases" / "mpa4_class.profile", sep="\t", index_col=0)
    X = p.iloc[:, :50].T / 100.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = profile_guilds(X)
    print(
        "\nsun2024 (MetaPhlAn4, class level only): NOT fitted. Guild shares of 50 samples (median):",
        g[["B", "L", "Pb", "Bc"]].median().round(3).to_dict(),
        "- class names reach neither genus, family nor phylum, so B and L cannot be seen; unusable for the twin.",
    )


def diagnose(path=None, diseases=("ra", "ms", "sle", None), n=2000, seed=0):
    """Which PLAUSIBLE_BOUNDS the candidates of one profile's twin fail, and what the guild fit asks
    of them: the twin's own steps (candidates, guild fit, ``personal._relax_candidates``), so that the
    read-outs of every candidate can be printed."""
    from gutaxis.axis import equations as eq
    from gutaxis.axis import personal as ps
    from gutaxis.axis.parameters import sample_parameters
    from gutaxis.axis.population import _sample_inputs

    path = path or str(DATA / "gmwi2_example" / "SRR1761667_metaphlan.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = ps.profile_guilds(path).iloc[0]
    print(
        f"\nWhy candidates fail: {Path(path).name}, guild shares "
        + ", ".join(f"{k} {g[k]:.3f}" for k in ("B", "L", "Pb", "Bc"))
        + f", diversity {g['diversity']:.1f}"
    )
    name = eq.PARAM_NAMES.index

    def med(v, m):
        return float(np.median(v[m])) if m.any() else float("nan")

    for d in diseases:
        dd = d or "healthy"
        rng = np.random.default_rng(seed)
        P = sample_parameters(n, rng)
        U = _sample_inputs(n, dd, rng)
        y0 = ps._fit_guilds(P, U, np.maximum(g[["B", "L", "Pb", "Bc"]].to_numpy(float), 1e-4), float(g["diversity"]))
        y, r, ok, plaus, fails = ps._relax_candidates(P, U, y0, dd, rng)
        pb = y[eq.S_PB] / P[name("Pb_ref")]
        print(
            f"  {dd:8s} plausible {int(plaus.sum()):4d} of {n} (converged {int(ok.sum())}); failing bounds among "
            f"converged: " + ", ".join(f"{k} {v}" for k, v in sorted(fails.items(), key=lambda kv: -kv[1]) if v)
        )
        print(
            f"           median over converged (plausible): Pb/Pb_ref {med(pb, ok):.1f} ({med(pb, plaus):.1f}), "
            f"dg_Pb {med(P[name('dg_Pb')], ok):.1f} ({med(P[name('dg_Pb')], plaus):.1f}), "
            f"LPS fold {med(r['lps'], ok):.1f} ({med(r['lps'], plaus):.1f}), IL-6 {med(r['il6'], ok):.1f} "
            f"({med(r['il6'], plaus):.1f}) pg/mL, L/M {med(r['lm'], ok):.3f} ({med(r['lm'], plaus):.3f}), "
            f"Th17 {med(r['Th17'], ok):.1f} ({med(r['Th17'], plaus):.1f}) %"
        )


def share_sd_from_hmp2():
    """Re-derive ``personal.SHARE_TEMPORAL_LOG_SD`` from HMP2 (a calibration cohort): the pooled
    within-subject variance of the centred log-ratio (clr) guild shares of non-IBD subjects with >= 3
    samples, solved for independent per-guild log factors (Var clr_i = s_i^2 / 2 + sum_j s_j^2 / 16)."""
    from gutaxis.axis.personal import GUILDS, profile_guilds

    d = DATA / "maaslin2_hmp2"
    X = pd.read_csv(d / "HMP2_taxonomy.tsv", sep="\t", index_col=0)
    meta = pd.read_csv(d / "HMP2_metadata.tsv", sep="\t", index_col=0)
    X = X.loc[X.sum(axis=1) > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = profile_guilds(X)
    S = np.maximum(g[list(GUILDS)].to_numpy(), 1e-4)
    S = S / S.sum(axis=1, keepdims=True)
    clr = np.log(S) - np.log(S).mean(axis=1, keepdims=True)
    df = pd.DataFrame(clr, index=g.index, columns=list(GUILDS)).join(meta[["subject", "diagnosis"]])
    df = df[df["diagnosis"] == "nonIBD"]
    n = df.groupby("subject")["B"].transform("size")
    df = df[n >= 3]
    dev = df[list(GUILDS)] - df.groupby("subject")[list(GUILDS)].transform("mean")
    v = (dev**2).sum() / (len(df) - df["subject"].nunique())
    total = 4.0 * v.sum() / 3.0
    sd = np.sqrt(2.0 * (v - total / 16.0))
    print(
        f"\nHMP2 non-IBD: {df['subject'].nunique()} subjects, {len(df)} samples; per-guild within-subject log-SD "
        + ", ".join(f"{k} {sd[k]:.2f}" for k in GUILDS)
        + " (personal.SHARE_TEMPORAL_LOG_SD)"
    )


LOADERS = {
    "gmhi2020": load_gmhi2020,
    "hmp2": load_hmp2,
    "metaml": load_metaml,
    "ra1000": load_ra1000,
    "imsms": load_imsms,
    "gmwi2": load_gmwi2,
}


# ------------------------------------------------------------------------------------- fitting


def _rows(profile):
    if isinstance(profile, str):
        yield Path(profile).stem, profile
        return
    for i in range(profile.shape[0]):
        if hasattr(profile, "obs_names"):  # AnnData
            yield str(profile.obs_names[i]), profile[i : i + 1]
        else:
            yield str(profile.index[i]), profile.iloc[[i]]


def fit_one(profile, disease):
    from gutaxis.axis import twin

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tw = twin(profile, disease=disease, n_draws=50, seed=0)
    warned = any(
        issubclass(w.category, UserWarning) and ("plausible" in str(w.message) or "fitted" in str(w.message))
        for w in caught
    )
    share = tw.meta["n_plausible"] / tw.meta["n_candidates"]
    prof = tw.observed.get("profile", {})
    return {
        "share": share,
        "fitted": bool(share >= FIT_SHARE),
        "warned": warned,
        **{k: prof.get(k) for k in ("B", "L", "Pb", "Bc", "diversity")},
    }


def role(cohort):
    return "held-out" if cohort in HELD_OUT else ("seen" if cohort in SEEN else "calibration")


def run(cohorts, n):
    rows = []
    for c in cohorts:
        for cohort, group, disease, prof in LOADERS[c](n):
            for sid, p in _rows(prof):
                try:
                    r = fit_one(p, disease)
                except Exception as e:
                    r = {"share": 0.0, "fitted": False, "warned": False, "error": f"{type(e).__name__}: {e}"}
                rows.append(
                    {
                        "cohort": cohort,
                        "group": group,
                        "disease": disease or "healthy",
                        "sample": sid,
                        "role": role(cohort),
                        **r,
                    }
                )
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, label: str) -> dict:
    out = {}
    g = df.groupby(["role", "cohort", "group", "disease"], sort=False)
    out["groups"] = g.agg(
        n=("fitted", "size"), fitted=("fitted", "mean"), median_share=("share", "median"), Pb=("Pb", "median")
    ).reset_index()
    out["cohort"] = df.groupby(["role", "cohort"], sort=False)["fitted"].agg(["size", "mean"]).reset_index()
    out["disease"] = df.groupby(["disease"], sort=False)["fitted"].agg(["size", "mean"]).reset_index()
    out["role"] = df.groupby(["role"], sort=False)["fitted"].agg(["size", "mean"]).reset_index()
    return out


def _pct(x):
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:5.1f} %"


def report(after: pd.DataFrame, before: pd.DataFrame | None):
    key = ["cohort", "group", "disease"]
    ga = (
        after.groupby(key, sort=False)
        .agg(
            role=("role", "first"),
            n=("fitted", "size"),
            after=("fitted", "mean"),
            Pb=("Pb", "median"),
            diversity=("diversity", "median"),
        )
        .reset_index()
    )
    if before is not None:
        gb = before.groupby(key, sort=False).agg(before=("fitted", "mean")).reset_index()
        ga = ga.merge(gb, on=key, how="left")
    else:
        ga["before"] = np.nan
    pd.set_option("display.width", 200)
    print("\nPer (cohort, group): share of samples with a fitted twin (>= 1.25 % plausible candidates)")
    print(
        f"{'role':12s} {'cohort':9s} {'group':28s} {'disease':8s} {'n':>3s} "
        f"{'before':>8s} {'after':>8s} {'Pb med':>7s} {'div med':>7s}"
    )
    for _, r in ga.iterrows():
        print(
            f"{r['role']:12s} {r['cohort']:9s} {r['group']!s:28.28s} {r['disease']:8s} {r['n']:3d} "
            f"{_pct(r['before']):>8s} "
            f"{_pct(r['after']):>8s} {r['Pb'] if r['Pb'] is not None else float('nan'):7.3f} {r['diversity']:7.1f}"
        )

    def block(by, title):
        a = after.groupby(by, sort=False)["fitted"].agg(["size", "mean"])
        print(f"\n{title}")
        for k, r in a.iterrows():
            b = before[before[by] == k]["fitted"].mean() if before is not None and by in before else np.nan
            print(f"  {k!s:12s} n={int(r['size']):4d}  before {_pct(b):>8s}  after {_pct(r['mean']):>8s}")

    block("cohort", "Per cohort")
    block("disease", "Per disease variant")
    block("role", "Calibration vs held-out cohorts")
    errs = after[after.get("error", pd.Series(dtype=object)).notna()] if "error" in after else after.iloc[:0]
    if len(errs):
        print(f"\n{len(errs)} profiles raised an error (counted as not fitted):")
        print(errs[["cohort", "group", "sample", "error"]].head(10).to_string())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="samples per (cohort, group) (default 20)")
    ap.add_argument("--cohorts", default=",".join(LOADERS), help="comma-separated subset of " + ",".join(LOADERS))
    ap.add_argument("--json", help="write the per-sample results here")
    ap.add_argument("--compare", help="per-sample results of an earlier run (BEFORE) to print side by side")
    ap.add_argument("--sun2024", action="store_true", help="print why sun2024 is not fitted")
    ap.add_argument(
        "--share-sd",
        action="store_true",
        help="re-derive the per-guild sample-to-sample log-SD of the observation model from HMP2",
    )
    ap.add_argument(
        "--diagnose",
        action="store_true",
        help="print, for SRR1761667 under each variant, which plausibility bounds the candidates fail",
    )
    ap.add_argument(
        "--exact-solve",
        action="store_true",
        help="ablation: the guild map of this version, but each candidate's steady state set exactly to "
        "the measured shares (SHARE_LOG_SD = 0), as before issue 11",
    )
    a = ap.parse_args(argv)
    import gutaxis

    if a.exact_solve:
        from gutaxis.axis import personal

        personal.SHARE_LOG_SD = (0.0, 0.0, 0.0, 0.0)
        print("ablation: exact solve (SHARE_LOG_SD = 0)")

    print(f"gutaxis from {Path(gutaxis.__file__).parent}")
    if a.share_sd:
        share_sd_from_hmp2()
    if a.diagnose:
        diagnose()
    t0 = time.perf_counter()
    df = run([c for c in a.cohorts.split(",") if c], a.n)
    dt = time.perf_counter() - t0
    if a.json:
        df.to_json(a.json, orient="records", indent=0)
    before = pd.read_json(a.compare, orient="records") if a.compare else None
    if before is not None:
        before["disease"] = before["disease"].fillna("healthy")
    if len(df):
        report(df, before)
    if a.sun2024:
        sun2024_note()
    print(f"\n{len(df)} twins in {dt:.0f} s ({dt / max(len(df), 1):.2f} s each)")


if __name__ == "__main__":
    sys.exit(main())
