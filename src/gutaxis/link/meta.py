"""Random-effects meta-analysis across studies, for many features at once, and forest plots.

Model (as metafor's ``rma``, Viechtbauer 2010, J Stat Softw 36(3), doi:10.18637/jss.v036.i03):
``y_i = mu + u_i + e_i`` with ``u_i ~ N(0, tau^2)`` and ``e_i ~ N(0, v_i)``, ``v_i = se_i^2`` known.

- Fixed-effect weights ``w_i = 1/v_i``; Cochran's ``Q = sum w_i (y_i - y_FE)^2`` on ``k - 1``
  degrees of freedom.
- ``tau^2``: DerSimonian & Laird (1986, doi:10.1016/0197-2456(86)90046-2),
  ``max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w))``; or REML by Fisher scoring as metafor
  (Viechtbauer 2005, doi:10.3102/10769986030003261): ``tau^2 += (y'PPy - tr P) / tr(PP)`` with
  ``P = W - W 1 (1'W1)^-1 1'W``, ``W = diag(1/(v_i + tau^2))``, steps halved to keep
  ``tau^2 >= 0``, started at the DerSimonian-Laird value, until the change is below 1e-10
  (metafor: 1e-5) or 100 iterations.
- ``mu = sum w*_i y_i / sum w*_i`` with ``w*_i = 1/(v_i + tau^2)``, ``SE = 1/sqrt(sum w*_i)``,
  Wald z, two-sided p and CI. ``I^2 = tau^2 / (tau^2 + s^2)`` and ``H^2 = (tau^2 + s^2) / s^2``
  with the typical within-study variance ``s^2 = (k-1) sum w / ((sum w)^2 - sum w^2)``
  (Higgins & Thompson 2002, doi:10.1002/sim.1186, as metafor). REML also gives
  ``SE(tau^2) = sqrt(2 / tr(PP))``.

Every feature is a row of a features x studies matrix (NaN where a study has no estimate); all
features are solved together with array operations (no loop over features). BH q-values over
features are added (Benjamini & Hochberg 1995, doi:10.1111/j.2517-6161.1995.tb02031.x).

A feature needs estimates from ``min_studies`` studies (default 2) to be pooled: one seen in
fewer has no pooled estimate, p or q, is left out of the BH correction, and is listed in
:attr:`MetaResult.single_study` with the reason (a single study's coefficient is not a
meta-analysis, and its p-value would dilute the correction of the features that are).

The studies' effects can be given as matrices, or read from ``gutaxis associate`` outputs
(folders, ``all_results.tsv`` files or ``AssociationResult`` objects, one per study; pooled per
feature, metadata and value: :mod:`gutaxis.link.meta_associate`).

:func:`per_study_associations` computes an effect per feature in every study (a standardised
mean difference of transformed abundance, cases vs controls, or the difference in means, the
coefficient of a linear model on the case indicator) and pools it, as the cross-study
meta-analyses of Duvallet et al. 2017 (Nat Commun 8:1784, doi:10.1038/s41467-017-01973-8) and
Wirbel et al. 2021 (Genome Biol 22:93, doi:10.1186/s13059-021-02306-1). Its code is in
``gutaxis.link._meta_per_study``, and that of :func:`read_effects` (effects from a long TSV/CSV
file) in ``gutaxis.link._meta_effects_file``; both are imported here, as before.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from .._stats import p_adjust
from ..errors import InputError
from ._meta_effects_file import read_effects
from ._meta_per_study import per_study_associations
from .associate import AssociationResult
from .meta_forest import forest_plot, safe_filename  # noqa: F401  (re-exported: gutaxis.link.meta's names)

__all__ = ["MetaResult", "forest_plot", "meta_analysis", "per_study_associations", "read_effects"]

#: One ``gutaxis associate`` output: its folder, its ``all_results.tsv``, or the AssociationResult.
AssociateOutput: TypeAlias = str | os.PathLike[str] | AssociationResult

_REML_THRESHOLD = 1e-10
_REML_MAXITER = 100


@dataclass
class MetaResult:
    """Result of :func:`meta_analysis` / :func:`per_study_associations`.

    Attributes
    ----------
    table
        One row per feature: ``k`` (studies with an estimate), ``estimate``, ``se``, ``z``, ``p``,
        ``ci_low``, ``ci_high``, ``tau2``, ``tau2_se`` (REML), ``I2`` (%), ``H2``, ``Q``, ``Q_df``,
        ``Q_p``, ``q`` (BH over features), ``iterations``, ``converged``, ``note``.
    effects, std_errors
        The per-study inputs (features x studies; NaN where missing).
    weights
        Random-effects weights in percent (features x studies).
    studies
        Per-study sample counts when computed by :func:`per_study_associations`.
    min_studies
        Fewest studies with an estimate for a feature to be pooled.
    inputs
        What the studies' effects were read from (one record per study, for associate outputs).
    """

    table: pd.DataFrame
    effects: pd.DataFrame
    std_errors: pd.DataFrame
    weights: pd.DataFrame
    method: str
    level: float = 95.0
    studies: pd.DataFrame | None = None
    params: dict = field(default_factory=dict)
    min_studies: int = 2
    inputs: list = field(default_factory=list)

    @property
    def pooled(self) -> pd.DataFrame:
        """The rows of :attr:`table` with a pooled estimate (``k >= min_studies``)."""
        return self.table[self.table["k"] >= self.min_studies]

    @property
    def single_study(self) -> pd.DataFrame:
        """Features seen in fewer than ``min_studies`` studies (one study, with the default 2): not
        pooled. Columns ``k``, ``studies`` (their names), ``effect`` and ``se`` (of the one study,
        where ``k == 1``) and ``reason``."""
        few = self.table.index[self.table["k"] < self.min_studies]
        eff, se = self.effects.loc[few], self.std_errors.loc[few]
        k = self.table.loc[few, "k"].astype(int)
        one = (k == 1).to_numpy()
        out = pd.DataFrame(
            {
                "k": k,
                "studies": [", ".join(map(str, row.index[row.notna()])) for _, row in eff.iterrows()],
                "effect": np.where(one, eff.sum(axis=1, min_count=1).to_numpy(), np.nan),
                "se": np.where(one, se.sum(axis=1, min_count=1).to_numpy(), np.nan),
                "reason": [
                    f"in {n} stud{'y' if n == 1 else 'ies'}; pooling needs at least {self.min_studies}" for n in k
                ],
            },
            index=few,
        )
        return out

    def __repr__(self) -> str:
        return (
            f"MetaResult(method={self.method!r}, features={len(self.table)} ({len(self.pooled)} pooled, "
            f"{len(self.table) - len(self.pooled)} in fewer than {self.min_studies} studies), "
            f"studies={self.effects.shape[1]}, significant (q < 0.05)={int((self.table['q'] < 0.05).sum())})"
        )


def _as_matrix(values, name: str, study_labels, feature_labels=None) -> pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        frame = values.astype(np.float64)
    elif isinstance(values, pd.Series):
        frame = values.astype(np.float64).to_frame().T
        frame.index = [values.name if values.name is not None else "effect"]
    else:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise InputError(
                f"{name} must be a vector (one feature) or a features x studies matrix, got {arr.ndim} dimensions",
                source="meta_analysis",
            )
        frame = pd.DataFrame(arr)
        frame.index = (
            feature_labels
            if feature_labels is not None
            else (["effect"] if len(arr) == 1 else [f"feature_{i + 1}" for i in range(len(arr))])
        )
        frame.columns = [f"study_{j + 1}" for j in range(arr.shape[1])]
    if study_labels is not None:
        labels = list(study_labels)
        if len(labels) != frame.shape[1]:
            raise InputError(f"{len(labels)} study labels for {frame.shape[1]} studies", source="meta_analysis")
        frame.columns = labels
    if not isinstance(frame.index, pd.MultiIndex):
        frame.index = pd.Index(frame.index, name="feature")
    frame.columns = pd.Index(frame.columns, name="study")
    return frame


def _pooled(y: np.ndarray, v: np.ndarray, mask: np.ndarray, tau2: np.ndarray):
    """Random-effects weights, estimate and variance for given tau^2 (rows = features)."""
    ws = np.where(mask, 1.0 / (v + tau2[:, None]), 0.0)
    sw = ws.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(mask, ws * y, 0.0).sum(axis=1) / sw
    return ws, sw, mu


def meta_analysis(
    effects: npt.ArrayLike
    | pd.DataFrame
    | pd.Series
    | dict[str, AssociateOutput]
    | Sequence[AssociateOutput]
    | AssociateOutput,
    std_errors: npt.ArrayLike | pd.DataFrame | pd.Series | None = None,
    *,
    method: str = "REML",
    study_labels: Sequence[str] | None = None,
    level: float = 95.0,
    min_studies: int = 2,
    value_map: Mapping[str, str] | None = None,
    metadata_map: Mapping[str, str] | None = None,
) -> MetaResult:
    """Random-effects meta-analysis (metafor ``rma(yi, sei=..., method=...)``) of many features.

    Parameters
    ----------
    effects
        Effect sizes: a vector (one feature, one value per study), or a features x studies
        matrix/DataFrame with NaN where a study has no estimate. Or, without ``std_errors``,
        ``gutaxis associate`` outputs: ``{study name: output}`` or a list of outputs (named
        after their folders), each an output folder, its ``all_results.tsv`` or an
        ``AssociationResult``; their ``coef`` and ``stderr`` are pooled per (feature,
        metadata, value) (``gutaxis.link.meta_associate.associate_effects``).
    std_errors
        Their standard errors, same shape (> 0 where an effect is given); ``None`` for
        associate outputs.
    method
        ``"REML"`` (default, as metafor) or ``"DL"`` (DerSimonian-Laird).
    study_labels
        Names of the studies (columns), when ``effects`` is not a DataFrame.
    level
        Confidence level of the intervals, in percent.
    min_studies
        Fewest studies with an estimate for a feature to be pooled (default 2). Features in
        fewer get NaN estimate, p and q (they are not in the BH correction), a ``note``, and
        are listed in ``.single_study``. With ``min_studies=1`` a feature of one study gets
        that study's estimate (``tau2 = 0``, no heterogeneity statistics).
    value_map, metadata_map
        For associate outputs: renames of metadata values / columns applied to every study
        before pooling, where studies name the same level differently (``{"Healthy": "no"}``).

    Returns
    -------
    MetaResult
        ``.table`` has one row per feature (see ``MetaResult``); ``.pooled`` the rows
        pooled, ``.single_study`` the others; ``.inputs`` what associate outputs were read.

    Examples
    --------
    One taxon in two studies, effects 0.2 and 0.4 with standard errors 0.1. By hand (DerSimonian-Laird):
    Q = 2 on 1 df, tau^2 = (Q - 1) / (200 - 100) = 0.01, equal weights, so the pooled effect is 0.3 with
    standard error sqrt(1 / (2 / 0.02)) = 0.1, and I^2 = (Q - 1) / Q = 50 %.

    >>> import pandas as pd
    >>> from gutaxis import meta_analysis
    >>> effects = pd.DataFrame({"A": [0.2], "B": [0.4]}, index=["Faecalibacterium"])
    >>> ses = pd.DataFrame({"A": [0.1], "B": [0.1]}, index=["Faecalibacterium"])
    >>> res = meta_analysis(effects, ses, method="DL")
    >>> res.pooled.loc["Faecalibacterium", ["k", "estimate", "se", "tau2", "I2"]].astype(float).round(4).tolist()
    [2.0, 0.3, 0.1, 0.01, 50.0]
    """
    if isinstance(min_studies, bool) or not isinstance(min_studies, (int, np.integer)) or min_studies < 1:
        raise InputError(
            f"min_studies={min_studies!r} must be a whole number >= 1",
            source="meta_analysis",
            hint="the default 2 pools features seen in at least two studies",
        )
    min_studies = int(min_studies)
    inputs: list = []
    if std_errors is None:
        from .meta_associate import associate_effects, is_associate_output

        items = (
            list(effects.values())
            if isinstance(effects, dict)
            else (
                [effects]
                if isinstance(effects, (str, Path)) or not hasattr(effects, "__iter__")
                else list(cast(Iterable[Any], effects))  # iterable: checked just above
            )
        )
        if not items or not all(is_associate_output(x) for x in items):
            raise InputError(
                "std_errors is missing",
                source="meta_analysis",
                hint="give std_errors with effect sizes, or associate outputs (folders, all_results.tsv "
                "files or AssociationResult objects) as {study name: output}",
            )
        effects, std_errors, inputs = associate_effects(effects, value_map=value_map, metadata_map=metadata_map)
    elif value_map or metadata_map:
        raise InputError("value_map and metadata_map apply to associate outputs only", source="meta_analysis")
    method = str(method).upper()
    if method not in ("REML", "DL"):
        raise InputError(f"method={method!r} is not one of 'REML', 'DL'", source="meta_analysis")
    if not 0 < level < 100:
        raise InputError(f"level={level!r} must be a percentage between 0 and 100", source="meta_analysis")
    Y = _as_matrix(effects, "effects", study_labels)
    S = _as_matrix(std_errors, "std_errors", study_labels, feature_labels=list(Y.index))
    if Y.shape != S.shape:
        raise InputError(
            f"effects are {Y.shape[0]} x {Y.shape[1]} but std_errors {S.shape[0]} x {S.shape[1]}",
            source="meta_analysis",
            hint="give one standard error per effect",
        )
    if isinstance(std_errors, pd.DataFrame) and isinstance(effects, pd.DataFrame):
        S = S.reindex(index=Y.index, columns=Y.columns)
    y, se = Y.to_numpy(), S.to_numpy()
    mask = np.isfinite(y) & np.isfinite(se)
    bad = mask & ~(se > 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"standard error {se[i, j]!r} of feature {Y.index[i]!r} in study {Y.columns[j]!r} is not > 0",
            source="meta_analysis",
            hint="standard errors must be positive",
        )
    v = np.where(mask, se**2, 1.0)
    y0 = np.where(mask, y, 0.0)
    k = mask.sum(axis=1)

    # fixed effect, Q and DerSimonian-Laird
    w = np.where(mask, 1.0 / v, 0.0)
    sw, sw2 = w.sum(axis=1), (w**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        y_fe = (w * y0).sum(axis=1) / sw
        Q = np.where(k > 0, (w * (y0 - y_fe[:, None]) ** 2 * mask).sum(axis=1), np.nan)
        c = sw - sw2 / sw
        tau2_dl = np.where(k > 1, np.maximum(0.0, (Q - (k - 1)) / c), 0.0)
    tau2_dl = np.nan_to_num(tau2_dl, nan=0.0)
    iterations = np.zeros(len(y), dtype=int)
    converged = np.ones(len(y), dtype=bool)
    tau2 = tau2_dl.copy()
    tau2_se = np.full(len(y), np.nan)
    if method == "REML":
        active = k > 1
        with np.errstate(invalid="ignore", divide="ignore"):  # rows with k <= 1 are inactive
            for it in range(1, _REML_MAXITER + 1):
                if not active.any():
                    break
                ws, sws, mu = _pooled(y0, v, mask, tau2)
                r = np.where(mask, y0 - mu[:, None], 0.0)
                Py = ws * r  # P y = W (y - mu)
                yPPy = (Py**2).sum(axis=1)
                trP = sws - (ws**2).sum(axis=1) / sws
                # tr(PP) = sum w^2 - 2 sum w^3 / sum w + (sum w^2)^2 / (sum w)^2
                sw2s, sw3s = (ws**2).sum(axis=1), (ws**3).sum(axis=1)
                trPP = sw2s - 2.0 * sw3s / sws + sw2s**2 / sws**2
                adj = (yPPy - trP) / trPP
                new = tau2 + adj
                for _ in range(60):  # step halving keeps tau^2 >= 0 (metafor)
                    neg = active & (new < 0)
                    if not neg.any():
                        break
                    adj = np.where(neg, adj / 2.0, adj)
                    new = tau2 + adj
                change = np.abs(new - tau2)
                tau2 = np.where(active, new, tau2)
                iterations[active] = it
                active = active & (change >= _REML_THRESHOLD)
        converged = ~active | (k <= 1)
        tau2 = np.where(k > 1, np.maximum(tau2, 0.0), 0.0)
        ws, sws, _ = _pooled(y0, v, mask, tau2)
        sw2s, sw3s = (ws**2).sum(axis=1), (ws**3).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            trPP = sw2s - 2.0 * sw3s / sws + sw2s**2 / sws**2
            tau2_se = np.where(k > 1, np.sqrt(2.0 / trPP), np.nan)
        if (~converged).any():
            warnings.warn(
                f"REML did not converge in {_REML_MAXITER} iterations for {int((~converged).sum())} "
                f"feature(s), e.g. {Y.index[np.flatnonzero(~converged)[0]]!r} (see the 'converged' "
                "column)",
                RuntimeWarning,
                stacklevel=2,
            )
    ws, sws, mu = _pooled(y0, v, mask, tau2)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_mu = 1.0 / np.sqrt(sws)
        z = mu / se_mu
        s2 = (k - 1) * sw / (sw**2 - sw2)
        I2 = np.where(k > 1, 100.0 * tau2 / (tau2 + s2), np.nan)
        H2 = np.where(k > 1, (tau2 + s2) / s2, np.nan)
        weights = 100.0 * ws / sws[:, None]
    p = 2.0 * stats.norm.sf(np.abs(z))
    crit = stats.norm.ppf(0.5 + level / 200.0)
    Q_df = np.maximum(k - 1, 0)
    Q_p = np.where(k > 1, stats.chi2.sf(Q, np.maximum(Q_df, 1)), np.nan)
    few = k < min_studies
    note = np.where(
        k == 0,
        "no study has an estimate",
        np.where(
            few,
            np.where(k == 1, "one study", k.astype(str) + " studies") + f": not pooled (min_studies {min_studies})",
            np.where(k == 1, "one study: no heterogeneity estimate", ""),
        ),
    )
    pooled = (k > 0) & ~few
    est = np.where(pooled, mu, np.nan)
    se_out = np.where(pooled, se_mu, np.nan)
    tau2_se = np.where(pooled, tau2_se, np.nan)
    I2, H2, Q, Q_p = (np.where(pooled, a, np.nan) for a in (I2, H2, Q, Q_p))
    table = pd.DataFrame(
        {
            "k": k,
            "estimate": est,
            "se": se_out,
            "z": np.where(pooled, z, np.nan),
            "p": np.where(pooled, p, np.nan),
            "ci_low": est - crit * se_out,
            "ci_high": est + crit * se_out,
            "tau2": np.where(pooled, tau2, np.nan),
            "tau2_se": tau2_se,
            "I2": I2,
            "H2": H2,
            "Q": np.where(k > 1, Q, np.nan),
            "Q_df": Q_df,
            "Q_p": Q_p,
            "iterations": iterations,
            "converged": converged,
            "note": note,
        },
        index=Y.index,
    )
    table.insert(table.columns.get_loc("p") + 1, "q", p_adjust(table["p"].to_numpy(), "BH"))
    table.attrs["params"] = {
        "method": method,
        "level": level,
        "model": "random effects (metafor rma)",
        "min_studies": min_studies,
    }
    if inputs:
        table.attrs["params"].update(
            {"input": "associate outputs", "value_map": dict(value_map or {}), "metadata_map": dict(metadata_map or {})}
        )
    W = pd.DataFrame(np.where(mask & pooled[:, None], weights, np.nan), index=Y.index, columns=Y.columns)
    Y = Y.where(mask)
    S = S.where(mask)
    return MetaResult(
        table=table,
        effects=Y,
        std_errors=S,
        weights=W,
        method=method,
        level=level,
        params=table.attrs["params"],
        min_studies=min_studies,
        inputs=inputs,
    )
