"""LinDA: linear models for differential abundance of compositional data, beside MaAsLin.

Zhou H, He K, Chen J, Zhang X. LinDA: linear models for differential abundance analysis of
microbiome compositional data. Genome Biology 2022;23:95. doi:10.1186/s13059-022-02655-5

Implemented here from the paper's description (fixed-effects model):

1. **Zeros.** Counts (every value a whole number): when the table has a zero, ``pseudocount``
   (default 0.5, the paper's) is added to every count. Other values (proportions): zeros are
   replaced by half the smallest positive value of the table.
2. **CLR.** ``W_ij = log2 Y_ij - mean_k log2 Y_ik``: the centred log-ratio of each sample
   (base 2, so that coefficients are log2 fold changes).
3. **OLS per feature** of ``W_j`` on the design (intercept + fixed effects, coded as
   :func:`gutaxis.associate` codes them, R's ``model.matrix``): estimates ``a_j``, standard
   errors ``se_j`` and residual degrees of freedom ``n - p``.
4. **Bias correction.** Under compositionality every feature's CLR coefficient is shifted by
   the same unknown amount; when fewer than half of the features differ, that shift is the
   mode of the ``a_j``. It is estimated, per coefficient, as the maximum of a Gaussian kernel
   density estimate of the ``a_j`` (bandwidth by Silverman's rule, R's ``bw.nrd0``; the density
   is evaluated exactly on a 512-point grid over the range +- 3 bandwidths, as R's ``density``
   spans it, then on a finer grid around the best point). The corrected estimate is
   ``a_j - mode``.
5. **Tests.** ``t_j = (a_j - mode) / se_j`` against Student's t with ``n - p`` degrees of freedom
   (the paper shows the mode's own error vanishes as the number of features grows); p-values
   are corrected by Benjamini-Hochberg for each coefficient separately (as the paper does per
   covariate).

One addition, on by default (``bias_se="bootstrap"``; ``bias_se=None`` gives the paper's tests):
with a few hundred features the mode's error is not negligible, and it is shared by every
test, so discoveries come together. gutaxis estimates its variance ``v`` by redoing steps 3-4
on ``n_boot`` bootstrap resamples of the samples and tests with ``se_j' = sqrt(se_j^2 + v)``.
On null simulations from real 1000RA genus counts (217 genera, 200 samples, labels permuted;
``bench/bench_da_fdr.py``) the paper's tests made a false discovery in 8.6% +- 1.3% of 500
simulations at q < 0.05 (5.5% of null tests at p < 0.05), above the nominal 5%; with the
bootstrap term 5.0% +- 1.0% (4.5%), as MaAsLin2-style ``associate`` on the same simulations
(4.8% +- 1.0%). With 10% of the genera planted 3x up, the FDR (mean false discovery
proportion) was 5.2% +- 0.9% (paper's tests 7.9%, ``associate`` 7.8%). Strong one-sided
changes in sparse counts break the single-bias assumption: with 10% of the genera 8x up in 400
samples, LinDA's FDR was 21% (``associate``: 46%); see docs/validation.md.

Not implemented: the paper's mixed-effects extension (random effects are refused), its
adaptive zero imputation for designs where sequencing depth is associated with the variable of
interest, and the winsorisation that the authors' R package applies by default (``winsor_quantile``
gives it: per feature, proportions above that quantile across samples are capped there and
turned back into counts by the sample's depth).

The false discovery rate of this implementation on null and planted-effect simulations from a
real cohort, beside MaAsLin2-style :func:`gutaxis.associate`, is measured by
``bench/bench_da_fdr.py``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from .._stats import p_adjust
from .._typing import AbundanceData, MetadataLike, PathLike
from .._validation import _is_anndata, abundance_matrix
from ..errors import InputError
from . import _design
from ._lm import ols_all
from .associate import AssociationResult

__all__ = ["kde_mode", "linda"]


def kde_mode(x: np.ndarray, n_grid: int = 512) -> float:
    """Mode of a Gaussian kernel density estimate of ``x`` (bandwidth: Silverman's rule of thumb,
    R's ``bw.nrd0``). NaN values are ignored."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.nan
    if x.size == 1:
        return float(x[0])
    sd = x.std(ddof=1)
    iqr = np.subtract(*np.percentile(x, [75, 25]))
    lo = min(sd, iqr / 1.34)
    if not lo > 0:
        lo = sd if sd > 0 else (abs(x[0]) if x[0] != 0 else 1.0)
    bw = 0.9 * lo * x.size**-0.2

    def density(g):
        z = (g[:, None] - x[None, :]) / bw
        return np.exp(-0.5 * z * z).sum(axis=1)

    grid = np.linspace(x.min() - 3 * bw, x.max() + 3 * bw, n_grid)
    best = grid[int(np.argmax(density(grid)))]
    step = grid[1] - grid[0]
    fine = np.linspace(best - step, best + step, 201)
    return float(fine[int(np.argmax(density(fine)))])


def _bootstrap_mode_var(Xd: np.ndarray, W: np.ndarray, n_boot: int, seed) -> np.ndarray:
    """Variance of each coefficient's bias estimate (the mode) over ``n_boot`` bootstrap
    resamples of the samples (the whole fit redone on each); index 0 (intercept) is NaN."""
    rng = np.random.default_rng(seed)
    n, p = Xd.shape
    modes = np.full((n_boot, p), np.nan)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        Xb = Xd[idx]
        XtX = Xb.T @ Xb
        if np.linalg.matrix_rank(XtX) < p:
            continue  # a resample without some level: skip it
        coef = np.linalg.solve(XtX, Xb.T @ W[idx])  # p x features (normal equations: p is small)
        for c in range(1, p):
            modes[b, c] = kde_mode(coef[c])
    ok = np.isfinite(modes[:, 1:]).all(axis=1) if p > 1 else np.ones(n_boot, bool)
    if ok.sum() < max(10, n_boot // 2):
        raise InputError(
            f"only {int(ok.sum())} of {n_boot} bootstrap resamples could fit the design",
            source="metadata",
            hint="a level with very few samples: merge rare levels, or bias_se=None (the paper's tests)",
        )
    return np.var(modes[ok], axis=0, ddof=1)


def _inputs(data, metadata, layer, match: str):
    if isinstance(data, (str, os.PathLike)):
        from ..io import read_profile

        data = read_profile(data)  # the package's one reader; metadata joined below
    if _is_anndata(data) and layer is None and "counts" in data.layers:
        layer = "counts"  # LinDA models read counts where the AnnData has them
    if isinstance(metadata, (str, os.PathLike)):
        from ..io import read_metadata

        metadata = read_metadata(metadata)
    if metadata is None:
        if _is_anndata(data):
            metadata = data.obs
        else:
            raise InputError(
                "no metadata: pass metadata= (a DataFrame or a path) or an AnnData with obs columns",
                source="metadata",
                hint="read it with gutaxis.read_metadata(path)",
            )
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(f"metadata must be a DataFrame or a path, got {type(metadata).__name__}", source="metadata")
    X, samples, features = abundance_matrix(data, layer=layer, name="data")
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    samples = pd.Index([str(s) for s in samples])
    meta = metadata.copy()
    meta.index = pd.Index([str(i) for i in meta.index])
    if meta.index.has_duplicates:
        raise InputError(
            f"duplicate sample ID {meta.index[meta.index.duplicated()][0]!r} in the metadata",
            source="metadata",
            hint="keep one row per sample",
        )
    missing = samples[~samples.isin(meta.index)]
    notes = []
    if len(missing):
        if match != "intersection" or len(missing) == len(samples):
            raise InputError(
                f"{len(missing)} sample(s) of the table have no metadata row: "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}",
                source="metadata",
                hint="add their rows, or model only the samples in both with match='intersection' "
                "(CLI: --intersection)",
            )
        notes.append(f"{len(missing)} sample(s) without metadata left out: {', '.join(missing[:10])}")
    keep = samples.isin(meta.index)
    return X[keep], samples[keep], pd.Index([str(f) for f in features]), meta.loc[samples[keep]], notes, layer


def _zeros(Y: np.ndarray, pseudocount: float) -> tuple[np.ndarray, dict]:
    counts = bool(np.all(np.floor(Y) == Y))
    if not (Y == 0).any():
        return Y, {"data_type": "counts" if counts else "proportions", "zero_handling": "none (no zeros)"}
    if counts:
        return Y + pseudocount, {"data_type": "counts", "zero_handling": f"pseudo-count {pseudocount:g} added"}
    half = 0.5 * Y[Y > 0].min()
    return np.where(Y == 0, half, Y), {
        "data_type": "proportions",
        "zero_handling": f"zeros replaced by half the smallest positive value ({half:g})",
    }


def _winsorize(Y: np.ndarray, q: float) -> np.ndarray:
    depth = Y.sum(axis=1, keepdims=True)
    P = np.divide(Y, depth, out=np.zeros_like(Y), where=depth > 0)
    cap = np.quantile(P, q, axis=0)
    P = np.minimum(P, cap[None, :])
    return np.round(P * depth) if np.all(np.floor(Y) == Y) else P * depth


def linda(
    data: AbundanceData | PathLike,
    metadata: MetadataLike | None = None,
    *,
    formula: str | None = None,
    fixed_effects: str | Sequence[str | Sequence[str]] | None = None,
    reference: str | dict[str, Any] | None = None,
    pseudocount: float = 0.5,
    min_prevalence: float = 0.0,
    winsor_quantile: float | None = None,
    standardize: bool = False,
    max_significance: float = 0.05,
    bias_se: str | None = "bootstrap",
    n_boot: int = 100,
    seed: int | None = 0,
    layer: str | None = None,
    match: str = "exact",
) -> AssociationResult:
    """Differential abundance by LinDA (Zhou et al. 2022): CLR, OLS per feature, bias correction
    by the mode of the coefficients, t-tests, BH (see the module notes).

    Parameters
    ----------
    data
        AnnData, samples x features DataFrame of counts (or proportions), or a profile path
        (read by :func:`gutaxis.read_profile`).
    metadata
        DataFrame indexed by sample ID or a path; defaults to ``data.obs`` for an AnnData.
    formula, fixed_effects, reference
        The fixed effects, as :func:`gutaxis.associate` takes them (``"~ diagnosis + age"``;
        interactions; ``C(column)``). Random effects are not supported.
    pseudocount
        Added to every count when the table holds a zero (default 0.5, the paper's).
    min_prevalence
        Keep features present (> 0) in more than this fraction of the modelled samples
        (default 0: every feature seen at least once).
    winsor_quantile
        Cap each feature's proportions at this quantile across samples first (the authors' R
        package uses 0.97 by default); None (default): no winsorisation.
    standardize
        z-score continuous fixed effects (default False: coefficients per unit).
    max_significance
        q-value threshold of ``.significant`` (default 0.05).
    bias_se
        ``"bootstrap"`` (default): add the variance of the bias estimate, from ``n_boot``
        bootstrap resamples of the samples (seeded by ``seed``), to each feature's squared
        standard error before the t-test (a gutaxis addition, see the module notes); ``None``:
        the paper's tests, which treat the estimated bias as known.
    n_boot, seed
        Bootstrap resamples (default 100) and their seed (default 0: the same result every run).
    layer
        AnnData layer; default ``"counts"`` where the AnnData has it (as :func:`gutaxis.read_profile`
        stores the read counts of a count table), else ``X``.
    match
        ``"exact"`` (every sample needs metadata) or ``"intersection"``.

    Returns
    -------
    AssociationResult whose ``results`` have MaAsLin2's columns (``coef``: the bias-corrected
    log2 fold change; ``stderr``; ``pval``; ``qval``: BH within each coefficient) plus ``bias``
    (the mode subtracted), ``stat`` and ``df``; ``params["model"] == "LinDA"``.
    """
    if match not in ("exact", "intersection"):
        raise InputError(f"match must be 'exact' or 'intersection', got {match!r}", source="match")
    try:
        pc = float(pseudocount)
    except (TypeError, ValueError):
        pc = -1.0
    if not (np.isfinite(pc) and pc > 0):
        raise InputError(
            f"pseudocount must be a positive number, got {pseudocount!r}",
            source="pseudocount",
            hint="the paper's 0.5 is the default",
        )
    if not 0.0 <= float(min_prevalence) < 1.0:
        raise InputError(f"min_prevalence must be in [0, 1), got {min_prevalence!r}", source="min_prevalence")
    if winsor_quantile is not None and not 0.5 < float(winsor_quantile) <= 1.0:
        raise InputError(
            f"winsor_quantile must be in (0.5, 1], got {winsor_quantile!r}",
            source="winsor_quantile",
            hint="e.g. 0.97 (the authors' R package default), or None for none",
        )
    if bias_se not in (None, "bootstrap"):
        raise InputError(f"bias_se must be 'bootstrap' or None, got {bias_se!r}", source="bias_se")
    if bias_se is not None and int(n_boot) < 20:
        raise InputError(f"n_boot must be >= 20, got {n_boot!r}", source="n_boot", hint="e.g. 100 (default)")
    if not 0.0 < float(max_significance) <= 1.0:
        raise InputError(f"max_significance must be in (0, 1], got {max_significance!r}", source="max_significance")

    X, samples, taxa, meta, notes, layer = _inputs(data, metadata, layer, match)
    if formula is not None:
        if fixed_effects is not None:
            raise InputError("give either formula= or fixed_effects=, not both", source="formula")
        fixed, random = _design.parse_formula(formula)
    else:
        if isinstance(fixed_effects, str):
            fixed_effects = [s.strip() for s in _design.split_top(fixed_effects, ",") if s.strip()]
        fixed, random = list(fixed_effects or [c for c in meta.columns]), []
    if random:
        raise InputError(
            f"random effects ({', '.join(random)}) are not supported by gutaxis's LinDA (fixed effects only)",
            source="formula",
            hint="use gutaxis.associate (MaAsLin2's mixed models) for repeated measures, or drop the (1|...) term",
        )
    if isinstance(reference, str):
        reference = dict(p.split(",", 1) for p in reference.split(";") if p.strip())
    design = _design.build_design(meta, fixed, [], reference, bool(standardize), source="metadata")
    notes.extend(design.notes)
    rows = design.rows
    Xr = X[rows]
    n = Xr.shape[0]
    prevalence = (Xr > 0).mean(axis=0)
    keep = prevalence > float(min_prevalence)
    if keep.sum() < 2:
        raise InputError(
            f"only {int(keep.sum())} feature(s) present in more than {min_prevalence:g} of the {n} modelled samples",
            source="data",
            hint="LinDA needs many features (the bias is their coefficients' mode): lower "
            "min_prevalence or give a larger table",
        )
    if keep.sum() < 20:
        warnings.warn(
            f"LinDA with {int(keep.sum())} features: the mode of their coefficients (the compositional "
            "bias) is poorly estimated from so few",
            UserWarning,
            stacklevel=2,
        )
    Y = Xr[:, keep]
    empty = np.flatnonzero(Y.sum(axis=1) <= 0)
    if len(empty):
        ids = [samples[rows][i] for i in empty[:10]]
        raise InputError(
            f"{len(empty)} sample(s) have no reads in the kept features: {', '.join(ids)}",
            source="data",
            hint="remove the empty samples",
        )
    if winsor_quantile is not None:
        Y = _winsorize(Y, float(winsor_quantile))
    Y, zero_info = _zeros(Y, pc)
    W = np.log2(Y)
    W -= W.mean(axis=1, keepdims=True)
    coef, se, _, df = ols_all(design.X, W)
    p = design.X.shape[1]
    if not np.isfinite(df).any():
        raise InputError(
            f"{n} samples cannot fit {p} coefficients",
            source="metadata",
            hint="use fewer fixed effects or more samples",
        )
    mode_var = _bootstrap_mode_var(design.X, W, int(n_boot), seed) if bias_se else np.zeros(p)
    kept = np.flatnonzero(keep)
    n_not0 = (Xr > 0).sum(axis=0)
    frames = []
    biases = {}
    for c in range(1, p):
        var, val = design.terms[c]
        bias = kde_mode(coef[:, c])
        biases[design.columns[c]] = bias
        est = coef[:, c] - bias
        se_c = np.sqrt(se[:, c] ** 2 + mode_var[c])
        with np.errstate(invalid="ignore", divide="ignore"):
            t = est / se_c
        pval = 2.0 * stats.t.sf(np.abs(t), df)
        frames.append(
            pd.DataFrame(
                {
                    "feature": [taxa[j] for j in kept],
                    "metadata": var,
                    "value": val,
                    "coef": est,
                    "stderr": se_c,
                    "N": n,
                    "N.not.0": n_not0[kept],
                    "pval": pval,
                    "qval": p_adjust(pval, "BH"),
                    "bias": bias,
                    "bias_se": np.sqrt(mode_var[c]),
                    "stat": t,
                    "df": df,
                    "error": "",
                    "warning": "",
                    "taxon": [taxa[j] for j in kept],
                }
            )
        )
    res = pd.concat(frames, ignore_index=True)
    dropped = np.flatnonzero(~keep)
    if len(dropped):
        res = pd.concat(
            [
                res,
                pd.DataFrame(
                    {
                        "feature": [taxa[j] for j in dropped],
                        "metadata": np.nan,
                        "value": np.nan,
                        "coef": np.nan,
                        "stderr": np.nan,
                        "N": n,
                        "N.not.0": n_not0[dropped],
                        "pval": np.nan,
                        "qval": np.nan,
                        "bias": np.nan,
                        "bias_se": np.nan,
                        "stat": np.nan,
                        "df": np.nan,
                        "error": f"present in {min_prevalence:g} or fewer of the samples (min_prevalence)",
                        "warning": "",
                        "taxon": [taxa[j] for j in dropped],
                    }
                ),
            ],
            ignore_index=True,
        )
        notes.append(f"{len(dropped)} feature(s) below min_prevalence {min_prevalence:g} left out")
    order = np.argsort(np.where(np.isnan(res["qval"]), np.inf, res["qval"]), kind="stable")
    res = res.iloc[order].reset_index(drop=True)
    params = {
        "model": "LinDA",
        "formula": formula,
        "fixed_effects": design.fixed,
        "reference": dict(reference or {}),
        "pseudocount": pc,
        "min_prevalence": float(min_prevalence),
        "winsor_quantile": winsor_quantile,
        "standardize": bool(standardize),
        "max_significance": float(max_significance),
        "correction": "BH",
        "correction_scope": "per coefficient",
        "match": match,
        "layer": layer,
        "n_samples": int(n),
        "n_features": len(taxa),
        "n_features_modelled": int(keep.sum()),
        "bias": biases,
        "bias_se": {design.columns[c]: float(np.sqrt(mode_var[c])) for c in range(1, p)},
        "bias_se_method": bias_se,
        "n_boot": int(n_boot) if bias_se else None,
        "seed": seed,
        "citation": "Zhou et al. 2022, Genome Biology 23:95, doi:10.1186/s13059-022-02655-5",
        **zero_info,
    }
    try:
        from .. import __version__

        params["gutaxis_version"] = __version__
    except Exception:
        pass
    data_norm = pd.DataFrame(W, index=samples[rows], columns=[taxa[j] for j in kept])
    return AssociationResult(
        results=res, params=params, notes=notes, filtered=[], data=data_norm, metadata=meta.loc[samples[rows]]
    )
