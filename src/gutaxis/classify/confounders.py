"""Confounder report: how well each metadata column alone predicts the label, and re-evaluation
of the classifier within strata of a flagged column.

A microbiome classifier that scores as well as country, sequencing batch or medication alone may
have learned that instead of the disease (SIAMCAT's ``check.confounders``; Wirbel et al. 2021).
For every metadata column :func:`check_confounders` gives the AUROC of that column alone:

- numeric columns (more than 5 distinct values): the AUROC of the raw value, reported as
  ``max(AUROC, 1 - AUROC)`` with its direction; p-value: two-sided Mann-Whitney U.
- categorical columns: each sample scored by the case fraction of its level (levels with fewer
  than ``min_level_size`` samples pooled into ``(rare levels)``); p-value: chi-squared test of
  the level x class table, with Cramér's V. This AUROC is in-sample (the best a lookup of the
  level can do on these samples), so it is optimistic for columns with many small levels.

Columns whose AUROC reaches ``threshold`` (default 0.75) are flagged. Identifier-like columns
(a distinct value per sample) and constant ones are reported and skipped.
:func:`within_strata` then re-runs the cross-validation inside each level of a column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, mannwhitneyu

from ..errors import InputError
from ._inputs import MIN_PER_CLASS, _missing, binary_labels, by_id, feature_table
from ._metrics import auroc

__all__ = ["ConfounderReport", "check_confounders", "within_strata"]

_COLUMNS = [
    "column",
    "kind",
    "n",
    "n_case",
    "n_missing",
    "n_levels",
    "auroc",
    "direction",
    "cramers_v",
    "p_value",
    "flagged",
    "note",
]


@dataclass
class ConfounderReport:
    """What :func:`check_confounders` returns: ``table`` (one row per metadata column, sorted by
    AUROC), ``flagged`` (the columns with AUROC >= ``threshold``), and the parameters."""

    table: pd.DataFrame
    threshold: float
    params: dict
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        return self.table.loc[self.table["flagged"], "column"].tolist()

    def __repr__(self) -> str:
        return (
            f"ConfounderReport({len(self.table)} columns, flagged at AUROC >= {self.threshold}: "
            f"{', '.join(self.flagged) or 'none'})"
        )

    def write(self, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
        from .._outputs import atomic_file

        path = Path(path)
        with atomic_file(path, overwrite=overwrite, what="confounder table") as tmp:
            self.table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
        return path


def _labels(metadata: pd.DataFrame, y, case):
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(
            f"metadata must be a DataFrame, got {type(metadata).__name__}",
            source="metadata",
            hint="read it with gutaxis.read_metadata(path)",
        )
    meta = metadata.copy()
    meta.index = meta.index.astype(str)
    if not isinstance(y, pd.Series):
        raise InputError(
            "labels must be a Series indexed by sample ID",
            source="labels",
            hint="build them with labels_from_metadata(meta, column, case=...)",
        )
    ys = by_id(y)
    absent = ys.index[~ys.index.isin(meta.index)]
    if len(absent):
        raise InputError(
            f"{len(absent)} labelled sample(s) have no metadata row: {', '.join(map(repr, absent[:5]))}",
            source="metadata",
            hint="give metadata for every labelled sample",
        )
    yb, classes = binary_labels(ys, case=case)
    return meta.loc[ys.index], yb, classes, ys


def _one_column(name: str, col: pd.Series, y: np.ndarray, *, min_level_size: int, threshold: float) -> dict:
    miss = _missing(col)
    row: dict = {"column": name, "n_missing": int(miss.sum())}
    v, yy = col[~miss], y[~miss]
    row["n"], row["n_case"] = len(yy), int(yy.sum())
    if min(int(yy.sum()), int(len(yy) - yy.sum())) < MIN_PER_CLASS:
        return {
            **row,
            "kind": "",
            "flagged": False,
            "note": f"fewer than {MIN_PER_CLASS} samples of a class have a value: skipped",
        }
    num = pd.to_numeric(v, errors="coerce")
    numeric = bool(num.notna().all()) and num.nunique() > 5
    if numeric:
        x = num.to_numpy(dtype=float)
        a = auroc(yy, x)
        p = float(mannwhitneyu(x[yy == 1], x[yy == 0], alternative="two-sided").pvalue)
        row.update(
            {
                "kind": "numeric",
                "n_levels": int(num.nunique()),
                "auroc": max(a, 1 - a),
                "direction": "higher in case" if a >= 0.5 else "lower in case",
                "p_value": p,
            }
        )
    else:
        lev = v.astype(str).str.strip()
        if lev.nunique() == len(lev):
            return {
                **row,
                "kind": "categorical",
                "n_levels": int(lev.nunique()),
                "flagged": False,
                "note": "a distinct value per sample (an identifier?): skipped",
            }
        counts = lev.value_counts()
        rare = counts.index[counts < min_level_size]
        if len(rare) == len(counts):
            return {
                **row,
                "kind": "categorical",
                "n_levels": len(counts),
                "flagged": False,
                "note": f"every level has fewer than {min_level_size} samples (an identifier or grouping "
                "column?): skipped",
            }
        if len(rare) and len(rare) < len(counts):
            lev = lev.where(~lev.isin(rare), "(rare levels)")
        if lev.nunique() < 2:
            return {
                **row,
                "kind": "categorical",
                "n_levels": int(lev.nunique()),
                "flagged": False,
                "note": "one level only: skipped",
            }
        tab = pd.crosstab(lev.to_numpy(), yy)
        rate = (tab[1] / tab.sum(axis=1)) if 1 in tab.columns else tab.iloc[:, 0] * 0
        score = lev.map(rate).to_numpy(dtype=float)
        a = auroc(yy, score)
        chi2, p, _, _ = chi2_contingency(tab.to_numpy(), correction=False)
        k = min(tab.shape) - 1
        top = rate.idxmax()
        row.update(
            {
                "kind": "categorical",
                "n_levels": int(lev.nunique()),
                "auroc": a,
                "direction": f"cases most frequent in {top!s} ({rate.max():.0%})",
                "cramers_v": float(np.sqrt(chi2 / (len(yy) * k))) if k > 0 else np.nan,
                "p_value": float(p),
            }
        )
    row["flagged"] = bool(row["auroc"] >= threshold)
    row["note"] = ""
    return row


def check_confounders(
    metadata: pd.DataFrame,
    y: pd.Series,
    *,
    case=None,
    columns=None,
    threshold: float = 0.75,
    min_level_size: int = 5,
    exclude=(),
) -> ConfounderReport:
    """AUROC of each metadata column alone for the label; columns at or above ``threshold`` flagged.

    Parameters
    ----------
    metadata
        One row per sample (index: sample ID); every labelled sample needs a row.
    y
        Labels (Series by sample ID), as for :func:`~gutaxis.classify.cross_validate`.
    columns
        Columns to check (default: all but the label's own column and ``exclude``).
    threshold
        Flag at AUROC >= threshold (default 0.75).
    min_level_size
        Categorical levels with fewer samples are pooled.
    """
    meta, yb, classes, ys = _labels(metadata, y, case)
    skip = set(exclude) | {ys.attrs.get("column"), y.name}
    cols = list(columns) if columns is not None else [c for c in meta.columns if c not in skip]
    unknown = [c for c in cols if c not in meta.columns]
    if unknown:
        raise InputError(
            f"no column(s) {', '.join(map(repr, unknown))} in the metadata",
            source="metadata",
            hint="give existing column names",
        )
    rows = [_one_column(str(c), meta[c], yb, min_level_size=min_level_size, threshold=threshold) for c in cols]
    table = pd.DataFrame(rows).reindex(columns=_COLUMNS)
    table["flagged"] = table["flagged"].fillna(False).astype(bool)
    table = table.sort_values("auroc", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    params = {
        "threshold": threshold,
        "min_level_size": min_level_size,
        "n_samples": len(yb),
        "n_case": int(yb.sum()),
        "classes": list(classes),
        "case": case,
    }
    notes = ["AUROC of categorical columns is in-sample (case fraction of the level as score)"]
    return ConfounderReport(table=table, threshold=threshold, params=params, notes=notes)


def within_strata(
    estimator, data, y, strata: pd.Series, *, case=None, min_per_class: int = MIN_PER_CLASS, groups=None, **cv_kwargs
) -> pd.DataFrame:
    """Cross-validate ``estimator`` within each level of ``strata`` (and on all samples, first row).

    ``cv_kwargs`` go to :func:`~gutaxis.classify.cross_validate` (``n_splits``, ``n_repeats``,
    ``random_state`` ...). Levels with fewer than ``min_per_class`` samples of a class (or fewer
    than ``n_splits``) are reported with a note and not evaluated. Returns one row per stratum:
    sizes, AUROC of the mean prediction with its bootstrap CI, the fold mean, the scheme.
    """
    from .validate import cross_validate

    if not isinstance(strata, pd.Series):
        raise InputError(
            "strata must be a Series indexed by sample ID", source="strata", hint="e.g. metadata['country']"
        )
    X = feature_table(data)
    st = by_id(strata)
    ys = by_id(y) if isinstance(y, pd.Series) else pd.Series(np.asarray(y), index=X.index)
    gs = None
    if groups is not None:
        gs = by_id(groups) if isinstance(groups, pd.Series) else pd.Series(np.asarray(groups), index=X.index)
    rows = []

    def run(name, idx):
        yb, _ = binary_labels(ys.loc[idx], case=case)
        n1, n0 = int(yb.sum()), int(len(yb) - yb.sum())
        base = {"stratum": name, "n": len(idx), "n_case": n1, "n_control": n0}
        k = cv_kwargs.get("n_splits", 10)
        need = max(min_per_class, k if isinstance(k, int) else 0)
        if min(n1, n0) == 0:
            rows.append({**base, "note": "one class only in this stratum: not evaluated"})
            return
        if min(n1, n0) < need:
            rows.append({**base, "note": f"fewer than {need} samples of a class (folds: {k}): not evaluated"})
            return
        try:
            res = cross_validate(
                estimator, X.loc[idx], ys.loc[idx], case=case, groups=None if gs is None else gs.loc[idx], **cv_kwargs
            )
        except InputError as exc:
            rows.append({**base, "note": f"not evaluated: {exc.problem}"})
            return
        s = res.summary.set_index("metric")
        rows.append(
            {
                **base,
                "auroc": s.loc["auroc", "mean_prediction"],
                "ci_low": s.loc["auroc", "ci_low"],
                "ci_high": s.loc["auroc", "ci_high"],
                "fold_mean": s.loc["auroc", "fold_mean"],
                "balanced_accuracy": s.loc["balanced_accuracy", "mean_prediction"],
                "scheme": res.scheme["description"],
                "note": "",
            }
        )

    missing = [i for i in ys.index if i not in st.index]
    if missing:
        raise InputError(
            f"{len(missing)} sample(s) have no stratum: {', '.join(map(repr, missing[:5]))}",
            source="strata",
            hint="give every labelled sample a value",
        )
    run("(all samples)", ys.index)
    levels = st.loc[ys.index]
    text = levels.astype(str).to_numpy()
    for level in sorted(levels.dropna().astype(str).unique()):
        run(level, ys.index[text == level])
    return pd.DataFrame(rows)
