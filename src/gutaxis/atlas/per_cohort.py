"""The analysis of one harmonised cohort: taxa, claim groups, alpha diversity and PERMANOVA.

Kept apart from :mod:`.run` (the pipeline over every cohort) and :mod:`.across_cohorts` (what is
pooled over cohorts): this is the step each cohort goes through alone, the same for all of them.
On the harmonised table of :mod:`.cohorts`:

- taxa: :func:`gutaxis.link.associate` (MaAsLin 2's LM path) with :data:`ATLAS_OPTIONS`
  (relative abundances, log2 transform, prevalence filter 10%, BH), ``group`` (case vs control)
  plus the covariates the cohort records, and a random intercept for the blocks (iMSMS
  households, HMP2 participants);
- claim groups (the Lactobacillus sensu lato sum, Bifidobacterium, pathobiont and butyrate-producer
  genera): the same call on the group sums;
- alpha diversity: Shannon (:func:`gutaxis.measure.alpha.shannon`); the covariate-adjusted
  difference by the same call (one feature, no transform), a standardised difference (the
  coefficient over the pooled within-group SD) for pooling, and a Mann-Whitney test;
- PERMANOVA (:func:`gutaxis.link.permanova`): Bray-Curtis of the filtered table, ``~ group``,
  permutations within households (iMSMS) or of whole participants (HMP2).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..link import associate, permanova
from ..measure.alpha import shannon
from ..measure.beta import beta_diversity
from . import claims as _claims
from .cohorts import Cohort

__all__ = ["ATLAS_OPTIONS", "analyse_cohort", "associate_cohort"]

#: the same filter and normalisation for every cohort (the table is already relative abundance)
ATLAS_OPTIONS = {
    "normalization": "NONE",
    "transform": "LOG",
    "min_abundance": 0.0,
    "min_prevalence": 0.1,
    "standardize": True,
    "correction": "BH",
    "max_significance": 0.25,
}


def _references(meta: pd.DataFrame, columns) -> dict:
    """Reference level of each categorical covariate with more than two levels: its commonest."""
    ref = {"group": "control"}
    for c in columns:
        col = meta[c]
        if not pd.api.types.is_numeric_dtype(col) and col.dropna().nunique() > 2:
            ref[c] = str(col.value_counts().index[0])
    return ref


def associate_cohort(
    cohort: Cohort,
    table: pd.DataFrame | None = None,
    *,
    fixed_effects=None,
    random_effects=None,
    reference=None,
    **options,
):
    """:func:`gutaxis.link.associate` on a cohort: ``group`` + its covariates, a random intercept for
    its blocks, :data:`ATLAS_OPTIONS` (any of them, and the effects, can be overridden)."""
    fixed = list(fixed_effects) if fixed_effects is not None else ["group", *cohort.covariates]
    random = list(random_effects) if random_effects is not None else ([cohort.block] if cohort.block else [])
    ref = reference if reference is not None else _references(cohort.metadata, fixed)
    opts = {**ATLAS_OPTIONS, **options}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return associate(
            cohort.table if table is None else table,
            cohort.metadata,
            fixed_effects=fixed,
            random_effects=random,
            reference=ref,
            **opts,
        )


def _case_rows(res, cohort: Cohort) -> pd.DataFrame:
    r = res.results
    rows = r[(r["metadata"] == "group") & (r["value"].astype(str) == "case")].copy()
    err = r[r["coef"].isna()][["feature", "error"]].drop_duplicates("feature")
    out = rows[["feature", "coef", "stderr", "N", "N.not.0", "pval", "qval"]].copy()
    if "taxon" in r.columns:
        out["feature"] = rows["taxon"].to_numpy()
    if len(err):
        e = err.copy()
        if "taxon" in r.columns:
            e["feature"] = r.loc[e.index, "taxon"].to_numpy()
        e = e[~e["feature"].isin(out["feature"])]
        out = pd.concat([out, e.rename(columns={"error": "error"})], ignore_index=True)
    out.insert(0, "cohort", cohort.name)
    out.insert(1, "disease", cohort.disease)
    out.insert(2, "rank", cohort.rank)
    return out


def _group_table(cohort: Cohort, claims: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    keys = pd.Index([_claims._key(c) for c in cohort.table.columns])
    cols, notes = {}, {}
    for _, c in claims[claims["measure"] == "group"].iterrows():
        members, _ = _claims.group_members(c["members"])
        hit = keys.isin(members)
        if cohort.rank != "genus":
            notes[c["claim"]] = f"{cohort.rank}-level table: genus groups cannot be resolved"
        elif not hit.any():
            notes[c["claim"]] = "none of the group's genera is in this cohort's table"
        else:
            cols[c["claim"]] = cohort.table.loc[:, hit].sum(axis=1)
            notes[c["claim"]] = "members found: " + ", ".join(sorted(map(str, cohort.table.columns[hit])))
    return pd.DataFrame(cols, index=cohort.table.index), notes


def _alpha(cohort: Cohort) -> dict:
    h = shannon(cohort.table)
    g = cohort.metadata["group"].reindex(h.index)
    cases, ctrls = h[g == "case"], h[g == "control"]
    res = associate_cohort(
        cohort, pd.DataFrame({"shannon": h}), normalization="NONE", transform="NONE", min_prevalence=0.0
    )
    row = _case_rows(res, cohort).iloc[0]
    n1, n0 = len(cases), len(ctrls)
    sd = float(np.sqrt(((n1 - 1) * cases.var() + (n0 - 1) * ctrls.var()) / (n1 + n0 - 2)))
    mw = stats.mannwhitneyu(cases, ctrls, alternative="two-sided")
    return {
        "cohort": cohort.name,
        "disease": cohort.disease,
        "rank": cohort.rank,
        "n_cases": n1,
        "n_controls": n0,
        "shannon_cases_median": float(cases.median()),
        "shannon_controls_median": float(ctrls.median()),
        "coef": float(row["coef"]),
        "stderr": float(row["stderr"]),
        "pval": float(row["pval"]),
        "N": int(row["N"]),
        "pooled_sd": sd,
        "smd": float(row["coef"]) / sd,
        "smd_se": float(row["stderr"]) / sd,
        "mannwhitney_p": float(mw.pvalue),
    }


def _permanova(cohort: Cohort, permutations: int, seed: int) -> dict:
    rel = cohort.table.loc[:, (cohort.table > 0).mean(axis=0) > ATLAS_OPTIONS["min_prevalence"]]
    rel = rel.loc[rel.sum(axis=1) > 0]
    D = beta_diversity(rel, "braycurtis", n_jobs=None)
    meta = cohort.metadata.loc[rel.index]
    kw: dict[str, Any] = {}
    if cohort.block:
        kw = {"strata": cohort.block, "permute": cohort.permute}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = permanova(D, meta, "~ group", permutations=permutations, seed=seed, **kw)
    return {
        "cohort": cohort.name,
        "disease": cohort.disease,
        "rank": cohort.rank,
        "n": len(rel),
        "taxa": int(rel.shape[1]),
        "R2": float(tab.loc["group", "R2"]),
        "F": float(tab.loc["group", "F"]),
        "p": float(tab.loc["group", "p"]),
        "permutations": permutations,
        "scheme": (f"{cohort.permute} {cohort.block}" if cohort.block else "free"),
    }


def analyse_cohort(cohort: Cohort, claims: pd.DataFrame, *, permutations: int = 999, seed: int = 2026) -> dict:
    """Associations, claim groups, alpha diversity and PERMANOVA of one harmonised cohort."""
    assoc = _case_rows(associate_cohort(cohort), cohort)
    gtab, gnotes = _group_table(cohort, claims)
    if gtab.shape[1]:
        grp = _case_rows(associate_cohort(cohort, gtab), cohort)
        prev = (gtab > 0).mean(axis=0)
        grp["prevalence"] = grp["feature"].map(prev)
    else:
        grp = pd.DataFrame(columns=["cohort", "disease", "rank", "feature", "coef", "stderr", "pval", "qval"])
    grp = grp.rename(columns={"feature": "claim"})
    grp["members"] = grp["claim"].map(gnotes)
    missing = [k for k in gnotes if k not in set(grp["claim"])]
    if missing:
        extra = pd.DataFrame(
            {
                "cohort": cohort.name,
                "disease": cohort.disease,
                "rank": cohort.rank,
                "claim": missing,
                "members": [gnotes[k] for k in missing],
            }
        )
        with warnings.catch_warnings():  # pandas' FutureWarning on all-NA columns: the result is the same
            warnings.simplefilter("ignore", FutureWarning)
            grp = pd.concat([grp, extra], ignore_index=True)
    return {
        "associations": assoc,
        "groups": grp,
        "alpha": _alpha(cohort),
        "permanova": _permanova(cohort, permutations, seed),
    }
