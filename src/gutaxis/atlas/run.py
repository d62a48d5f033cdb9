"""The atlas pipeline: every cohort through the same steps, then meta-analysis, shared vs specific
taxa, the MicrobiomeHD comparison and the claims table.

Per cohort (:func:`analyse_cohort`), on the harmonised table of :mod:`.cohorts`:

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

Per disease and rank with two or more cohorts: random-effects meta-analysis (REML, I²;
:func:`gutaxis.link.meta_analysis`). Genus and class rows are never pooled together.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._typing import ClientLike, PathLike
from ..link import associate, meta_analysis, permanova
from ..measure.alpha import shannon
from ..measure.beta import beta_diversity
from . import claims as _claims
from .cohorts import COHORTS, Cohort, CohortSpec, NotAnalysable, load_cohort

__all__ = ["ATLAS_OPTIONS", "CALL_Q", "AtlasResult", "analyse_cohort", "associate_cohort", "run_atlas"]

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
#: q-value under which a taxon counts as a call (shared vs specific, MicrobiomeHD agreement)
CALL_Q = 0.05
#: columns of the per-cohort tables when no cohort could be analysed
_EMPTY = {
    "associations": ["cohort", "disease", "rank", "feature", "coef", "stderr", "N", "N.not.0", "pval", "qval"],
    "groups": ["cohort", "disease", "rank", "claim", "coef", "stderr", "N", "pval", "qval", "members"],
    "alpha": ["cohort", "disease", "rank", "smd", "smd_se", "pval", "N"],
    "permanova": ["cohort", "disease", "rank", "R2", "p"],
}
_MHD = {"IBD": ["ibd_gevers", "ibd_morgan", "ibd_papa", "ibd_willing"], "RA": ["art_scher"]}


@dataclass
class AtlasResult:
    cohorts: pd.DataFrame  # one row per cohort: status, reason, n, covariates, alpha, PERMANOVA, licence
    associations: pd.DataFrame  # per cohort x taxon (group = case coefficient)
    groups: pd.DataFrame  # per cohort x claim group
    alpha: pd.DataFrame  # per cohort
    permanova: pd.DataFrame  # per cohort
    meta: pd.DataFrame  # per disease x rank x taxon
    claims: pd.DataFrame  # the claims table
    claim_evidence: pd.DataFrame  # per claim x cohort (the forest plots)
    shared: pd.DataFrame  # genus x disease calls, shared vs specific
    microbiomehd: pd.DataFrame  # agreement per disease
    timings: pd.DataFrame
    params: dict = field(default_factory=dict)


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


# --------------------------------------------------------------------------- across cohorts


def _meta(frame: pd.DataFrame, key: str, est: str, se: str, extra_index=("disease", "rank")) -> pd.DataFrame:
    """Random-effects meta-analysis of ``est``/``se`` per (disease, rank, key) over cohorts."""
    out = []
    frame = frame[np.isfinite(frame[est].astype(float)) & (frame[se].astype(float) > 0)]
    for (disease, rank), sub in frame.groupby(list(extra_index)):
        Y = sub.pivot_table(index=key, columns="cohort", values=est, aggfunc="first")
        S = sub.pivot_table(index=key, columns="cohort", values=se, aggfunc="first").reindex_like(Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = meta_analysis(Y, S, method="REML", min_studies=1)  # one cohort: its own estimate, said as k=1
        t = m.table.reset_index().rename(columns={"feature": key})
        t.insert(0, "disease", disease)
        t.insert(1, "rank", rank)
        t["cohorts"] = [", ".join(Y.columns[np.isfinite(Y.loc[f].to_numpy())]) for f in Y.index]
        out.append(t)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _calls(meta: pd.DataFrame) -> pd.DataFrame:
    """Genus-level calls per disease: pooled (or single-cohort) q < CALL_Q, with the direction."""
    g = meta[(meta["rank"] == "genus")].copy()
    g["call"] = np.where(g["q"] < CALL_Q, np.sign(g["estimate"]), 0.0)
    return g


def shared_specific(meta: pd.DataFrame) -> pd.DataFrame:
    """Genera called in the same direction in several diseases (non-specific, as Duvallet et al.
    2017) vs in one disease only."""
    g = _calls(meta)
    g = g[g["call"] != 0]
    rows = []
    for genus, sub in g.groupby("feature"):
        up = sorted(sub.loc[sub.call > 0, "disease"])
        down = sorted(sub.loc[sub.call < 0, "disease"])
        kind = ("shared" if max(len(up), len(down)) >= 2 else "specific") if not (up and down) else "conflicting"
        rows.append(
            {
                "genus": genus,
                "higher_in": ", ".join(up),
                "lower_in": ", ".join(down),
                "n_diseases": len(up) + len(down),
                "class": kind,
            }
        )
    cols = ["genus", "higher_in", "lower_in", "n_diseases", "class"]
    return pd.DataFrame(rows, columns=cols).sort_values(["n_diseases", "genus"], ascending=[False, True])


def microbiomehd_agreement(meta: pd.DataFrame, data_dir) -> pd.DataFrame:
    """Share of genera called both here and in MicrobiomeHD (q < 0.05 in its datasets of the same
    disease, all in one direction) whose direction agrees."""
    from .cohorts import _file

    try:
        q = pd.read_csv(
            _file(data_dir, "microbiomehd_results", "file-S1.qvalues.txt", "MicrobiomeHD"), sep="\t", index_col=0
        )
    except NotAnalysable as exc:
        return pd.DataFrame([{"disease": d, "note": str(exc)} for d in _MHD])
    genus = q.index.to_series().str.extract(r"g__([^;]*)$")[0].fillna("")
    calls = _calls(meta)
    rows = []
    for disease, cols in _MHD.items():
        sub = q[[c for c in cols if c in q.columns]]
        sig = sub.where(sub.abs() < CALL_Q)
        sign = np.sign(sig)
        pos, neg = (sign > 0).any(axis=1), (sign < 0).any(axis=1)
        mhd = pd.Series(np.where(pos & ~neg, 1.0, np.where(neg & ~pos, -1.0, 0.0)), index=genus.to_numpy())
        mhd = mhd[(mhd != 0) & (mhd.index != "")]
        mhd = mhd.groupby(lambda s: _claims._key(s)).first()
        ours = calls[(calls.disease == disease) & (calls.call != 0)]
        ours = pd.Series(ours["call"].to_numpy(), index=[_claims._key(f) for f in ours["feature"]])
        both = ours.index.intersection(mhd.index)
        agree = int((ours[both] == mhd[both]).sum())
        # secondary: direction of every genus MicrobiomeHD tested (any q), against our calls
        anyq = np.sign(sub).mean(axis=1)
        anyq = pd.Series(np.sign(anyq.to_numpy()), index=genus.to_numpy())
        anyq = anyq[(anyq != 0) & (anyq.index != "")].groupby(lambda s: _claims._key(s)).first()
        both_any = ours.index.intersection(anyq.index)
        agree_any = int((ours[both_any] == anyq[both_any]).sum())
        rows.append(
            {
                "disease": disease,
                "microbiomehd_datasets": ", ".join(sub.columns),
                "genera_called_here": len(ours),
                "genera_called_microbiomehd": len(mhd),
                "called_in_both": len(both),
                "agree": agree,
                "share_agree": agree / len(both) if len(both) else np.nan,
                "agreeing": ", ".join(sorted(b for b in both if ours[b] == mhd[b])),
                "disagreeing": ", ".join(sorted(b for b in both if ours[b] != mhd[b])),
                "called_here_tested_there": len(both_any),
                "share_agree_any_q": agree_any / len(both_any) if len(both_any) else np.nan,
                "note": ("" if len(both) else "no genus called in both (q < 0.05 here and there)")
                + (
                    "; the secondary share compares our calls with the sign of MicrobiomeHD's effect "
                    "whatever its q (mean sign over its datasets)"
                ),
            }
        )
    return pd.DataFrame(rows)


def claims_table(
    claims: pd.DataFrame, alpha: pd.DataFrame, groups: pd.DataFrame, diseases: list[str], ranks_by_disease: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per claim x disease x rank with the pooled effect and the verdict (:func:`claims.verdict`)."""
    rows, evidence = [], []
    for _, c in claims.iterrows():
        wanted = diseases if c["diseases"] == "all" else [d for d in c["diseases"].split(",")]
        for disease in wanted:
            held = ranks_by_disease.get(disease) or []
            # genus groups exist only at genus rank; diversity at every rank held (never pooled across ranks)
            ranks = (held or ["genus"]) if c["measure"] == "shannon" else ["genus"]
            for rank in ranks:
                if c["measure"] == "shannon":
                    ev = alpha[(alpha.disease == disease) & (alpha["rank"] == rank)]
                    ev = pd.DataFrame(
                        {
                            "cohort": ev["cohort"],
                            "estimate": ev["smd"].astype(float),
                            "se": ev["smd_se"].astype(float),
                            "p": ev["pval"],
                            "n": ev["N"],
                            "note": "",
                        }
                    )
                    why = f"no {rank}-level cohort of {disease}"
                else:
                    ev = groups[(groups.disease == disease) & (groups["rank"] == rank) & (groups.claim == c["claim"])]
                    notes = "; ".join(
                        f"{r['cohort']}: "
                        + " ".join(
                            str(r.get(k)) for k in ("error", "members") if isinstance(r.get(k), str) and r.get(k)
                        )
                        for _, r in ev.iterrows()
                        if pd.isna(r["coef"])
                    )
                    ev = pd.DataFrame(
                        {
                            "cohort": ev["cohort"],
                            "estimate": ev["coef"].astype(float),
                            "se": ev["stderr"].astype(float),
                            "p": ev["pval"].astype(float),
                            "n": ev["N"],
                            "note": ev["members"],
                        }
                    )
                    why = notes or (
                        f"no {rank}-level cohort of {disease}"
                        + (f" (held only at {', '.join(held)} rank)" if held else " in the data we hold")
                    )
                est_, se_ = (pd.to_numeric(ev[c], errors="coerce") for c in ("estimate", "se"))
                ok = ev[np.isfinite(est_.astype(float)) & (se_.astype(float) > 0)]
                k = len(ok)
                if k:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        m = meta_analysis(
                            ok["estimate"].to_numpy(),
                            ok["se"].to_numpy(),
                            study_labels=list(ok["cohort"]),
                            min_studies=1,
                        ).table.iloc[0]
                    est, lo, hi, i2, p = m["estimate"], m["ci_low"], m["ci_high"], m["I2"], m["p"]
                else:
                    est = lo = hi = i2 = p = np.nan
                v = _claims.verdict(
                    ok["estimate"], ok["se"], ok["p"], est, lo, hi, i2, c["direction"], untestable_reason=why
                )
                observed = "" if not np.isfinite(est) else ("lower" if est < 0 else "higher")
                rows.append(
                    {
                        "claim": c["claim"],
                        "statement": c["statement"],
                        "disease": disease,
                        "rank": rank,
                        "claimed": c["direction"],
                        "observed": observed,
                        "effect": est,
                        "ci_low": lo,
                        "ci_high": hi,
                        "p": p,
                        "I2": i2,
                        "cohorts": k,
                        "samples": int(pd.to_numeric(ok["n"], errors="coerce").sum()) if k else 0,
                        "effect_scale": "SMD of Shannon" if c["measure"] == "shannon" else "log2 fold (LM)",
                        "verdict": v.verdict,
                        "reason": v.reason,
                        "basis": ("single cohort" if k == 1 else (f"{k} cohorts" if k else ""))
                        + (f"; {rank}-level" if k else ""),
                    }
                )
                for r in ok.itertuples():
                    evidence.append(
                        {
                            "claim": c["claim"],
                            "disease": disease,
                            "rank": rank,
                            "cohort": r.cohort,
                            "estimate": r.estimate,
                            "se": r.se,
                            "p": r.p,
                            "n": r.n,
                        }
                    )
    return pd.DataFrame(rows), pd.DataFrame(evidence)


def _cohort(spec: CohortSpec, data_dir, claims: pd.DataFrame, permutations: int, seed: int):
    """One cohort's row of the cohort table, its analysis (``None`` when not analysed) and its wall
    time: one task of :func:`run_atlas` (on the cluster, one per cohort)."""
    from .cohorts import provenance_summary

    t0 = time.perf_counter()
    out = None
    prov = provenance_summary(data_dir, spec.dataset)
    row = {
        "cohort": spec.name,
        "disease": spec.disease,
        "dataset": spec.dataset,
        "status": "analysed",
        "reason": "",
        "citation": spec.citation,
        "licence": prov.get("licence", ""),
        "source": prov.get("source", ""),
        "dataset_title": prov.get("title", ""),
    }
    try:
        cohort = load_cohort(spec, data_dir)
        out = analyse_cohort(cohort, claims, permutations=permutations, seed=seed)
        row.update(
            rank=cohort.rank,
            n_cases=cohort.n_cases,
            n_controls=cohort.n_controls,
            taxa=cohort.table.shape[1],
            covariates=", ".join(cohort.covariates) or "none",
            block=cohort.block or "",
            design=cohort.design,
            caveats="; ".join(cohort.caveats),
        )
    except NotAnalysable as exc:
        row.update(status="not analysed", reason=str(exc))
    return row, out, time.perf_counter() - t0


def run_atlas(
    data_dir: PathLike | None = None,
    *,
    cohorts: list[str] | None = None,
    permutations: int = 999,
    seed: int = 2026,
    progress: Callable[[str, float | None], None] | None = None,
    client: ClientLike | None = None,
) -> AtlasResult:
    """Run the whole atlas. ``data_dir``: folder holding the dataset folders (``None``: the
    dataset registry); ``cohorts``: names of ``COHORTS`` to run (default all);
    ``progress(stage, None)`` is called when a stage starts and ``progress(stage, seconds)`` when it
    ends, with its wall time (the same times are in ``timings``). ``client`` (a
    :class:`dask.distributed.Client`): each cohort is one task on the cluster (the workers read
    ``data_dir``, so it must be on a file system they share); the results are the same."""
    if client is not None:
        from ..scale import check_client

        client = check_client(client, "atlas")
    specs: list[CohortSpec] = list(COHORTS)
    if cohorts:
        names = {s.name for s in specs}
        unknown = [c for c in cohorts if c not in names]
        if unknown:
            from ..errors import InputError

            raise InputError(
                f"unknown cohort {unknown[0]!r}", source="atlas", hint="one of: " + "; ".join(sorted(names))
            )
        specs = [s for s in specs if s.name in set(cohorts)]
    claims = _claims.load_claims()
    timings, rows = [], []
    parts: dict[str, list] = {"associations": [], "groups": [], "alpha": [], "permanova": []}
    if client is not None:  # cohorts as tasks on the cluster; the tables are assembled here, in cohort order
        from ..scale.blocks import run_tasks

        done = run_tasks(
            client,
            _cohort,
            [(spec, data_dir, claims, permutations, seed) for spec in specs],
            name="gutaxis-atlas",
            progress=(lambda k, n: progress(f"cohorts {k}/{n}", None)) if progress else None,
        )
    else:
        done = []
        for spec in specs:
            if progress:
                progress(f"cohort {spec.name}", None)
            done.append(_cohort(spec, data_dir, claims, permutations, seed))
            if progress:
                progress(f"cohort {spec.name}", done[-1][2])
    for spec, (row, out, dt) in zip(specs, done, strict=True):
        if out is not None:
            for k, frames in parts.items():
                frames.append(out[k] if isinstance(out[k], pd.DataFrame) else pd.DataFrame([out[k]]))
        row["seconds"] = dt
        rows.append(row)
        timings.append({"stage": f"cohort {spec.name}", "seconds": dt})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        cat = {k: (pd.concat(v, ignore_index=True) if v else pd.DataFrame(columns=_EMPTY[k])) for k, v in parts.items()}
    coh = pd.DataFrame(rows).reindex(
        columns=list(
            dict.fromkeys(
                [*rows[0].keys(), "rank", "n_cases", "n_controls", "taxa", "covariates", "block", "design", "caveats"]
            )
        )
    )
    if len(cat["permanova"]):
        coh = coh.merge(
            cat["permanova"][["cohort", "R2", "p"]].rename(columns={"R2": "permanova_R2", "p": "permanova_p"}),
            on="cohort",
            how="left",
        )
        coh = coh.merge(
            cat["alpha"][["cohort", "coef", "pval", "mannwhitney_p"]].rename(
                columns={"coef": "shannon_diff", "pval": "shannon_p"}
            ),
            on="cohort",
            how="left",
        )

    if progress:
        progress("meta-analysis", None)
    t0 = time.perf_counter()
    assoc = cat["associations"]
    meta = _meta(assoc, "feature", "coef", "stderr") if len(assoc) else pd.DataFrame()
    dt = time.perf_counter() - t0
    timings.append({"stage": "meta-analysis", "seconds": dt})
    if progress:
        progress("meta-analysis", dt)

    if progress:
        progress("shared/specific, MicrobiomeHD, claims", None)
    t0 = time.perf_counter()
    shared = shared_specific(meta) if len(meta) else pd.DataFrame()
    mhd = microbiomehd_agreement(meta, data_dir) if len(meta) else pd.DataFrame()
    analysed = coh[coh.status == "analysed"]
    diseases = list(dict.fromkeys(coh["disease"]))
    ranks = {d: sorted(set(analysed.loc[analysed.disease == d, "rank"]), key=lambda r: r != "genus") for d in diseases}
    ctab, evidence = claims_table(claims, cat["alpha"], cat["groups"], diseases, ranks)
    dt = time.perf_counter() - t0
    timings.append({"stage": "shared/specific, MicrobiomeHD, claims", "seconds": dt})
    if progress:
        progress("shared/specific, MicrobiomeHD, claims", dt)
    params = {
        "options": ATLAS_OPTIONS,
        "call_q": CALL_Q,
        "permutations": permutations,
        "seed": seed,
        "verdict_alpha": _claims.ALPHA,
        "verdict_i2_high": _claims.I2_HIGH,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    return AtlasResult(
        cohorts=coh,
        associations=assoc,
        groups=cat["groups"],
        alpha=cat["alpha"],
        permanova=cat["permanova"],
        meta=meta,
        claims=ctab,
        claim_evidence=evidence,
        shared=shared,
        microbiomehd=mhd,
        timings=pd.DataFrame(timings),
        params=params,
    )
