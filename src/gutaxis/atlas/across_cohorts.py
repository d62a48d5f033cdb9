"""Across cohorts: random-effects meta-analysis per disease and rank, shared vs specific genera,
the MicrobiomeHD comparison and the claims table with its verdicts.

Kept apart from :mod:`.run` (the pipeline) and :mod:`.per_cohort` (one cohort's analysis): these
steps take the per-cohort tables once every cohort is done. Per disease and rank with two or more
cohorts: random-effects meta-analysis (REML, I²; :func:`gutaxis.link.meta_analysis`). Genus and
class rows are never pooled together.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..link import meta_analysis
from . import claims as _claims
from .cohorts import NotAnalysable

__all__ = ["CALL_Q", "claims_table", "microbiomehd_agreement", "shared_specific"]

#: q-value under which a taxon counts as a call (shared vs specific, MicrobiomeHD agreement)
CALL_Q = 0.05
_MHD = {"IBD": ["ibd_gevers", "ibd_morgan", "ibd_papa", "ibd_willing"], "RA": ["art_scher"]}


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
