"""What the evaluations return: :class:`CVResult` (within-study cross-validation) and
:class:`CrossStudyResult` (leave-one-study-out, train x test matrix), each with tables of every
number, the scheme that produced them, provenance, and :meth:`write` (TSV + JSON + HTML).

Confidence intervals, two kinds, both labelled in every table:

- ``ci_low``/``ci_high``: percentile bootstrap (``n_bootstrap`` resamples, stratified by class;
  by group when groups were given) of the metric of the **mean prediction** (each sample's
  out-of-fold probability averaged over the repeats, SIAMCAT's evaluation). This is the interval
  to quote: it reflects sampling uncertainty.
- ``repeat_ci_low``/``repeat_ci_high``: percentiles of the metric over the repeats (each repeat's
  pooled out-of-fold predictions). This reflects only the split-to-split noise.

``fold_mean``/``fold_sd`` are the mean and SD over folds of the per-fold metric (MetAML's
figure).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._metrics import METRICS, bootstrap_ci, score_all

__all__ = ["CVResult", "CrossStudyResult", "consensus_table"]


def _provenance(inp, seconds: float, extra: dict | None = None) -> dict:
    import sklearn

    from .. import __version__

    prov = {
        "gutaxis_version": __version__,
        "scikit_learn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "pandas_version": pd.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(float(seconds), 3),
    }
    if inp is not None:
        prov.update(
            {
                "input_sha256": inp.checksum,
                "n_samples": len(inp.y),
                "n_features": int(inp.X.shape[1]),
                "n_case": int(inp.y.sum()),
                "n_control": int(len(inp.y) - inp.y.sum()),
                "classes": {"0": str(inp.classes[0]), "1": str(inp.classes[1])},
            }
        )
    if extra:
        prov.update(extra)
    return prov


def consensus_table(weights: pd.DataFrame | None, *, top: int = 20, n_models: int | None = None) -> pd.DataFrame:
    """One row per feature over all fitted models (SIAMCAT's interpretation, in numbers).

    ``weights``: long table ``repeat, fold, feature, weight`` (and ``kind``: ``coef`` or
    ``importance``). A feature is *selected* by a linear model when its weight is non-zero, by
    an importance model when it ranks among the ``top`` most important (importance > 0).
    Features that a model never saw (filtered in that fold) count as not selected, weight 0.
    ``relative_weight`` is the weight divided by the sum of absolute weights of its model.
    ``robust`` marks features selected in at least half of the models.
    """
    cols = [
        "feature",
        "n_models",
        "n_selected",
        "fraction_selected",
        "robust",
        "mean_weight",
        "median_weight",
        "sd_weight",
        "mean_relative_weight",
        "median_relative_weight",
        "fraction_positive",
    ]
    if weights is None or weights.empty:
        return pd.DataFrame(columns=cols)
    w = weights.copy()
    w["model"] = w["repeat"].astype(str) + ":" + w["fold"].astype(str)
    kind = w["kind"].iloc[0] if "kind" in w else "coef"
    total = w.groupby("model")["weight"].transform(lambda s: np.abs(s).sum())
    w["relative"] = np.where(total > 0, w["weight"] / total.where(total > 0, 1.0), 0.0)
    if kind == "importance":
        rank = w.groupby("model")["weight"].rank(ascending=False, method="first")
        w["selected"] = (rank <= top) & (w["weight"] > 0)
    else:
        w["selected"] = w["weight"] != 0
    models = int(n_models or w["model"].nunique())
    wide = (
        w.pivot_table(index="feature", columns="model", values="weight", aggfunc="first")
        .reindex(columns=sorted(w["model"].unique()))
        .fillna(0.0)
    )
    rel = (
        w.pivot_table(index="feature", columns="model", values="relative", aggfunc="first")
        .reindex(index=wide.index, columns=wide.columns)
        .fillna(0.0)
    )
    sel = w.groupby("feature")["selected"].sum().reindex(wide.index).fillna(0).astype(int)
    # models where the feature was filtered out are zeros (added as missing columns)
    missing = models - wide.shape[1]
    vals = wide.to_numpy()
    rvals = rel.to_numpy()
    if missing > 0:
        vals = np.hstack([vals, np.zeros((vals.shape[0], missing))])
        rvals = np.hstack([rvals, np.zeros((rvals.shape[0], missing))])
    nz = vals != 0
    out = pd.DataFrame(
        {
            "feature": wide.index.astype(str),
            "n_models": models,
            "n_selected": sel.to_numpy(),
            "fraction_selected": sel.to_numpy() / models,
            "mean_weight": vals.mean(axis=1),
            "median_weight": np.median(vals, axis=1),
            "sd_weight": vals.std(axis=1, ddof=1) if vals.shape[1] > 1 else np.zeros(len(vals)),
            "mean_relative_weight": rvals.mean(axis=1),
            "median_relative_weight": np.median(rvals, axis=1),
            "fraction_positive": np.where(
                nz.sum(axis=1) > 0, (vals > 0).sum(axis=1) / np.maximum(nz.sum(axis=1), 1), np.nan
            ),
        }
    )
    out["robust"] = out["fraction_selected"] >= 0.5
    out = out.sort_values(
        ["fraction_selected", "mean_relative_weight"],
        ascending=[False, False],
        key=lambda s: s.abs() if s.name == "mean_relative_weight" else s,
        kind="stable",
    )
    return out[cols].reset_index(drop=True)


def _summary(y, pred_mean, pred, folds, groups, *, n_boot, confidence, seed, loo, perms) -> pd.DataFrame:
    est = score_all(y, pred_mean)
    ci = bootstrap_ci(y, pred_mean, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
    reps = np.array([[score_all(y, pred[:, r])[m] for m in METRICS] for r in range(pred.shape[1])])
    a = (1 - confidence) / 2
    rows = []
    for k, m in enumerate(METRICS):
        rv = reps[:, k]
        row = {
            "metric": m,
            "mean_prediction": est[m],
            "ci_low": ci[m][0],
            "ci_high": ci[m][1],
            "ci_kind": f"bootstrap {int(confidence * 100)}% of the mean prediction ({n_boot} resamples"
            f"{', by group' if groups is not None else ', stratified'})",
            "repeat_mean": float(np.mean(rv)),
            "repeat_sd": float(np.std(rv, ddof=1)) if len(rv) > 1 else np.nan,
            "repeat_ci_low": float(np.quantile(rv, a)) if len(rv) > 1 else np.nan,
            "repeat_ci_high": float(np.quantile(rv, 1 - a)) if len(rv) > 1 else np.nan,
        }
        if not loo and m in folds:
            fv = folds[m].to_numpy(dtype=float)
            fv = fv[np.isfinite(fv)]
            row["fold_mean"] = float(fv.mean()) if fv.size else np.nan
            row["fold_sd"] = float(fv.std(ddof=1)) if fv.size > 1 else np.nan
        else:
            row["fold_mean"] = row["fold_sd"] = np.nan
        if perms is not None and m in perms:
            null = perms[m].to_numpy(dtype=float)
            null = null[np.isfinite(null)]
            obs = row["repeat_mean"]
            row["null_mean"] = float(null.mean()) if null.size else np.nan
            row["null_sd"] = float(null.std(ddof=1)) if null.size > 1 else np.nan
            row["p_value"] = float((1 + np.sum(null >= obs)) / (1 + null.size)) if null.size else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _scheme(params: dict, *, label: str, loo: bool, blocked: bool, n_groups: int | None) -> dict:
    if loo:
        desc = "leave-one-out" + (" (one group per fold)" if blocked else "")
    else:
        desc = f"stratified {params['n_splits']}-fold CV x {params['n_repeats']} repeat(s)"
    if blocked:
        desc += f", blocked by group ({n_groups} groups)"
    if params.get("param_grid"):
        desc += f", nested tuning ({params['inner_splits']}-fold inner CV on {params['scoring']})"
    if params.get("n_permutations"):
        desc += f", {params['n_permutations']} permuted-label control(s)"
    return {
        "kind": label,
        "description": f"{label}: {desc}",
        "n_splits": params["n_splits"],
        "n_repeats": params["n_repeats"],
        "blocked": blocked,
        "n_groups": n_groups,
        "nested": bool(params.get("param_grid")),
        "stratified": not loo,
    }


@dataclass(kw_only=True)
class _Result:
    """What both results hold besides their tables (:meth:`tables` of each), and how they are written."""

    scheme: dict
    params: dict
    provenance: dict
    classes: tuple
    notes: list[str] = field(default_factory=list)
    filtered: list[dict] = field(default_factory=list)

    #: what the output folder is called in messages
    _what = "output folder"

    def tables(self) -> dict[str, pd.DataFrame]:
        """The result's tables by file name (each result kind defines them)."""
        raise NotImplementedError

    def meta(self) -> dict:
        return {
            "scheme": self.scheme,
            "params": self.params,
            "provenance": self.provenance,
            "notes": self.notes,
            "filtered": self.filtered,
        }

    def write(
        self,
        directory: str | os.PathLike,
        *,
        report: bool = True,
        overwrite: bool = False,
        extra_tables: dict | None = None,
        extra_meta: dict | None = None,
        inputs: Iterable[str | os.PathLike | None] = (),
    ) -> dict[str, Path]:
        """Write every table (and ``extra_tables``) as TSV, ``params.json`` (scheme, parameters,
        provenance, ``extra_meta``) and, with ``report=True``, a self-contained ``report.html``;
        all or nothing (a failed write leaves the earlier folder as it was; a folder holding one
        of ``inputs`` is refused). Returns the paths."""
        from .._outputs import atomic_dir

        out = Path(directory)
        tables = {**self.tables(), **(extra_tables or {})}
        names = list(tables) + ["params.json"] + (["report.html"] if report else [])
        with atomic_dir(out, overwrite=overwrite, what=self._what, inputs=inputs) as tmp:
            for name, frame in tables.items():
                frame.to_csv(tmp / name, sep="\t", index=False, na_rep="NA", float_format="%.6g")
            meta = {**self.meta(), **(extra_meta or {})}
            (tmp / "params.json").write_text(json.dumps(meta, indent=2, default=str))
            if report:
                from ..report.classify import write_html

                write_html(self, tmp / "report.html", extra=extra_meta, extra_tables=extra_tables)
        return {name: out / name for name in names}


@dataclass
class CVResult(_Result):
    """Result of :func:`~gutaxis.classify.cross_validate`.

    Attributes
    ----------
    predictions
        Long table of out-of-fold predictions: ``sample, label, class, group, repeat, fold,
        probability`` (probability of the case class).
    mean_prediction
        Per sample: ``label`` and ``probability`` averaged over the repeats.
    folds, repeats
        Metrics per fold and per repeat (AUROC, AUPRC, balanced accuracy at 0.5).
    summary
        One row per metric: estimate of the mean prediction with its bootstrap CI, the repeat
        mean/SD/percentile interval, the fold mean/SD, and (with permutations) the null mean/SD
        and the empirical p-value.
    weights, consensus
        Per-fold model weights/importances (long) and the consensus over all models.
    permutations
        Metrics of each permuted-label run (None without permutations).
    scheme, params, provenance, notes, filtered
    """

    predictions: pd.DataFrame
    mean_prediction: pd.DataFrame
    folds: pd.DataFrame
    repeats: pd.DataFrame
    summary: pd.DataFrame
    weights: pd.DataFrame | None
    consensus: pd.DataFrame
    permutations: pd.DataFrame | None

    _what = "folder for the classification results"

    @classmethod
    def build(cls, *, inp, pred, fold_of, folds, weights, permutations, params, label, loo, blocked, seconds):
        y = inp.y
        samples = inp.samples
        class_names = [inp.classes[v] for v in y]
        n_rep = pred.shape[1]
        predictions = pd.concat(
            [
                pd.DataFrame(
                    {
                        "sample": samples,
                        "label": y,
                        "class": class_names,
                        "group": inp.groups if inp.groups is not None else "",
                        "repeat": r,
                        "fold": fold_of[:, r],
                        "probability": pred[:, r],
                    }
                )
                for r in range(n_rep)
            ],
            ignore_index=True,
        )
        mean_pred = np.nanmean(pred, axis=1)
        mp = pd.DataFrame({"sample": samples, "label": y, "class": class_names, "probability": mean_pred})
        repeats = pd.DataFrame([{"repeat": r, **score_all(y, pred[:, r])} for r in range(n_rep)])
        seed = params.get("random_state") or 0
        summary = _summary(
            y,
            mean_pred,
            pred,
            folds,
            inp.groups,
            n_boot=int(params["n_bootstrap"]),
            confidence=float(params["confidence"]),
            seed=int(seed) if not hasattr(seed, "integers") else 0,
            loo=loo,
            perms=permutations,
        )
        n_models = len(folds)
        cons = consensus_table(weights, top=int(params["consensus_top"]), n_models=n_models)
        n_groups = len(np.unique(inp.groups)) if inp.groups is not None else None
        scheme = _scheme(params, label=label, loo=loo, blocked=blocked, n_groups=n_groups)
        notes = []
        if weights is not None and "kind" in weights and (weights["kind"] == "coef").all():
            sparse = weights.groupby(["repeat", "fold"])["weight"].apply(lambda s: int((s != 0).sum()))
            if (sparse <= 1).any():
                notes.append(f"{int((sparse <= 1).sum())} model(s) kept at most one non-zero weight")
        if weights is None:
            notes.append("the model exposes no weights or importances: no consensus table")
        prov = _provenance(inp, seconds, {"estimator": params.get("estimator")})
        return cls(
            predictions=predictions,
            mean_prediction=mp,
            folds=folds,
            repeats=repeats,
            summary=summary,
            weights=weights,
            consensus=cons,
            permutations=permutations,
            scheme=scheme,
            params=params,
            provenance=prov,
            classes=tuple(inp.classes),
            notes=notes,
            filtered=list(inp.filtered),
        )

    # -- convenience -------------------------------------------------------------------------
    def metric(self, name: str = "auroc", what: str = "mean_prediction") -> float:
        """One number of :attr:`summary`, e.g. ``metric("auroc", "fold_mean")``."""
        row = self.summary.set_index("metric").loc[name]
        return float(row[what])

    @property
    def auroc(self) -> float:
        """AUROC of the mean prediction over repeats (SIAMCAT's headline figure)."""
        return self.metric("auroc")

    @property
    def p_value(self) -> float:
        """Empirical p-value of the AUROC against the permuted-label controls (NaN without them)."""
        return self.metric("auroc", "p_value") if "p_value" in self.summary else float("nan")

    def __repr__(self) -> str:
        s = self.summary.set_index("metric")
        r = s.loc["auroc"]
        txt = (
            f"CVResult({self.scheme['description']}; n={self.provenance['n_samples']} "
            f"({self.provenance['n_case']} {self.classes[1]!s}); AUROC {r['mean_prediction']:.3f} "
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        )
        if "p_value" in s.columns and np.isfinite(r.get("p_value", np.nan)):
            txt += f", permuted {r['null_mean']:.3f}, p={r['p_value']:.3g}"
        return txt + ")"

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {
            "summary.tsv": self.summary,
            "predictions.tsv": self.predictions,
            "mean_predictions.tsv": self.mean_prediction,
            "folds.tsv": self.folds,
            "repeats.tsv": self.repeats,
            "consensus.tsv": self.consensus,
        }
        if self.weights is not None:
            out["weights.tsv"] = self.weights
        if self.permutations is not None:
            out["permutations.tsv"] = self.permutations
        return out


@dataclass
class CrossStudyResult(_Result):
    """Result of :func:`~gutaxis.classify.leave_one_study_out` / :func:`~gutaxis.classify.study_matrix`.

    Attributes
    ----------
    table
        One row per evaluation: ``scheme`` (``within-study`` CV on the diagonal,
        ``cross-study`` otherwise), ``train`` study (or ``all but X``), ``test`` study, sizes,
        AUROC/AUPRC/balanced accuracy with bootstrap CIs, and a ``note`` where a figure could
        not be computed (e.g. a test study with one class).
    matrix
        AUROC as a train x test matrix (None for leave-one-study-out).
    predictions
        Long table: ``scheme, train, test, sample, label, probability``.
    """

    table: pd.DataFrame
    matrix: pd.DataFrame | None
    predictions: pd.DataFrame

    _what = "folder for the cross-study results"

    def __repr__(self) -> str:
        t = self.table
        xs = t[t["scheme"] == "cross-study"]["auroc"]
        return (
            f"CrossStudyResult({self.scheme['description']}; {len(t)} evaluation(s); mean cross-study AUROC "
            f"{np.nanmean(xs) if len(xs) else float('nan'):.3f})"
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"cross_study.tsv": self.table, "cross_study_predictions.tsv": self.predictions}
        if self.matrix is not None:
            out["auroc_matrix.tsv"] = self.matrix.reset_index()
        return out
