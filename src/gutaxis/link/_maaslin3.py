"""MaAsLin3's two-part model for every feature at once: abundance (LM on the log of the non-zero
values) and prevalence (augmented logistic regression on presence), median comparison against
compositionality, per-model and joint q-values.

Nickols WA, Kuntz T, Shen J, et al. MaAsLin 3: refining and extending generalized multivariable
linear models for meta-omic association discovery. Nat Methods 2026 (bioRxiv 2024,
doi:10.1101/2024.12.13.628459). Behaviour follows biobakery/maaslin3 (``R/maaslin3.R``,
``R/fit.R``, ``R/utility_scripts.R``), read, not translated line by line:

* normalisation, filters and transform of the table (in MaAsLin3's order), the batched least
  squares of the abundance model and the median comparison are the building blocks in
  :mod:`._maaslin3_steps` (described there); this module fits the two models with them;
* abundance model: ordinary least squares on the non-zero values of each feature (one batched
  QR over features of the design with the absent samples' rows zeroed; R's ``lm`` pivoting of
  aliased columns is reproduced in a per-feature fallback); with random intercepts REML as
  ``lmerTest::lmer`` (:mod:`._mixed`, grouped by missing-value pattern);
* prevalence model: logistic regression on presence with MaAsLin3's augmentation
  (:mod:`._logistic`, Newton steps in lockstep over features); with a random intercept the
  Laplace-approximation logistic mixed model as ``lme4::glmer(family = binomial)`` on MaAsLin3's
  augmented data (:mod:`._glmm`), lme4's convergence warnings as the ``error``;
* q-values: one Benjamini-Hochberg over the abundance and prevalence p-values together
  (``qval_individual``); ``pval_joint = 1 - (1 - min(p_abundance, p_prevalence))^2`` (the
  Beta(1, 2) CDF of the smaller p; the other model's p alone when one model failed),
  ``qval_joint`` BH over features x coefficients;
* flags as MaAsLin3's ``error`` column: failed or degenerate fits, likely misfits of rare or
  near-ubiquitous features, prevalence associations possibly induced by a stronger abundance
  association (``warn_prevalence``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._stats import p_adjust
from ._maaslin3_steps import _aliased_columns, filter3, masked_ols, median_comparison, normalize3, transform3

__all__ = ["NORMALIZATIONS", "RESULT_COLUMNS", "TRANSFORMS", "fit_maaslin3", "report_view", "significant"]

NORMALIZATIONS = ("TSS", "CLR", "NONE")
TRANSFORMS = ("LOG", "PLOG", "NONE")
#: Columns of MaAsLin3's ``all_results.tsv`` (then ``taxon``: the feature ID as given).
RESULT_COLUMNS = [
    "feature",
    "metadata",
    "value",
    "name",
    "coef",
    "null_hypothesis",
    "stderr",
    "pval_individual",
    "qval_individual",
    "pval_joint",
    "qval_joint",
    "error",
    "model",
    "N",
    "N_not_zero",
]

ERR_SAME_LINEAR = "All linear values are the same"
ERR_SAME_LOGISTIC = "All logistic values are the same"
ERR_BASELINE = "No data points have the baseline factor level"
ERR_CONTRASTS = "contrasts can be applied only to factors with 2 or more levels"
ERR_NA_P = "Fitting error (NA p-value returned from fitting procedure)"
ERR_MEDIAN = "P-value became NA in median comparison, try rerunning without the median comparison"
ERR_NOCONV = "glm.fit: algorithm did not converge"
ERR_BOUNDARY = "glm.fit: fitted probabilities numerically 0 or 1 occurred"
ERR_RARE = (
    "A large coefficient (>15 in absolute value) or small p-value (< 10^-10) was obtained from a feature "
    "present in <5% of samples. Check this is intended."
)
ERR_COMMON = (
    "A large coefficient (>15 in absolute value) or small p-value (< 10^-10) was obtained from a feature "
    "present in >95% of samples. Check this is intended."
)
ERR_INDUCED = "Prevalence association possibly induced by stronger abundance association"
ERR_NLEV1 = "grouping factors must have > 1 sampled level"
ERR_NLEVN = "number of levels of each grouping factor must be < number of observations (problems: {})"
ERR_SCALE = "Some predictor variables are on very different scales: consider rescaling"
ERR_NOCONV_MIXED = "Model failed to converge"
WARN_SMALL_RE = (
    "<4 average observations per random effect group often inflates coefficients and deflates "
    "p-values: consider setting small_random_effects=TRUE and see tutorial"
)


# ----------------------------------------------------------------------------------------------
# the whole procedure


def _bh(p):
    return p_adjust(p, "BH")


def _scale_warning(X) -> bool:
    """lme4's ``checkScaleX``: a non-0/1 column whose sd (or ratio to another's) passes 1e3."""
    cont = ~np.all((X == 0) | (X == 1), axis=0)
    if not cont.any() or X.shape[0] < 2:
        return False
    sd = X[:, cont].std(axis=0, ddof=1)
    with np.errstate(divide="ignore"):
        logsd = np.abs(np.log(sd))
    return bool((logsd > np.log(1e3)).any() or (np.ptp(np.log(sd)) > np.log(1e3) if sd.size > 1 else False))


def _lmer_checks(design, present_rows, err):
    """The errors ``lmer`` raises (``lFormula``) or warns about before fitting, per feature.

    After MaAsLin3's own checks (``err`` already set) and before the contrasts error of the fixed
    part: each grouping factor needs more than one level among the feature's non-zero samples
    and fewer levels than those samples (``checkNlevels``); badly scaled continuous covariates on
    those rows give lme4's ``checkScaleX`` warning, which MaAsLin3 records as the error (the fit
    still stands).
    """
    err = err.copy()
    nobs = present_rows.sum(axis=0)
    for f in range(present_rows.shape[1]):
        if err[f] is not None and err[f] != ERR_CONTRASTS:
            continue
        rows = present_rows[:, f]
        nlev = [np.unique(codes[rows]).size for _, codes, _ in design.groups]
        if min(nlev) < 2:
            err[f] = ERR_NLEV1
        elif any(k >= nobs[f] for k in nlev):
            err[f] = ERR_NLEVN.format(", ".join(g[0] for g, k in zip(design.groups, nlev, strict=True) if k >= nobs[f]))
        elif err[f] is None and _scale_warning(design.X[rows]):
            err[f] = ERR_SCALE
    return err


def _abundance(design, A, present_rows, reml_optimizer="lme4"):
    """Fit the abundance model; returns coef, se, pval, df (F, p) and per-feature errors (F,).

    With random intercepts: REML as ``lmerTest::lmer`` (:func:`._mixed.lmm_all`; Satterthwaite
    df), all full-rank features in one call; a feature whose non-zero samples leave the design
    rank deficient is fitted alone on the columns lme4 keeps (the dropped ones are NA, as lme4's
    ``check.rankX = "message+drop.cols"``).
    """
    X = design.X
    F = A.shape[1]
    p = X.shape[1]
    err = np.full(F, None, dtype=object)
    if design.groups:
        from ._mixed import lmm_all

        coef = np.full((F, p), np.nan)
        se = np.full((F, p), np.nan)
        pval = np.full((F, p), np.nan)
        df = np.full((F, p), np.nan)
        nobs = present_rows.sum(axis=0)
        nlev = np.array([[np.unique(c[present_rows[:, f]]).size for _, c, _ in design.groups] for f in range(F)])
        fit = (nobs > p + 1) & (nlev.min(axis=1) >= 2) & (nlev.max(axis=1) < nobs)
        # rank on each feature's rows: one batched QR (as masked_ols)
        full = np.zeros(F, bool)
        idx = np.flatnonzero(fit)
        step = int(max(1, 2e8 // (8.0 * X.size)))
        for start in range(0, idx.size, step):
            sl = idx[start : start + step]
            M = present_rows[:, sl].T
            Rr = np.linalg.qr(M[:, :, None] * X[None], mode="r")
            dR = np.abs(np.diagonal(Rr, axis1=1, axis2=2))
            colnorm = np.sqrt(M.astype(float) @ (X**2))
            full[sl] = ~(dR <= 1e-7 * colnorm).any(axis=1)
        codes = [g[1] for g in design.groups]
        conv = np.ones(F, bool)
        ok = np.flatnonzero(fit & full)
        if ok.size:
            c, s, pv, d, info = lmm_all(
                X, np.where(present_rows[:, ok], A[:, ok], np.nan), codes, optimizer=reml_optimizer
            )
            coef[ok], se[ok], pval[ok], df[ok], conv[ok] = c, s, pv, d, info["converged"]
        # rank-deficient on the feature's rows: the kept columns only (few features; one call each)
        for f in np.flatnonzero(fit & ~full):
            rows = present_rows[:, f]
            kept = [j for j in range(p) if j not in _aliased_columns(X[rows])]
            c, s, pv, d, info = lmm_all(
                X[:, kept], np.where(rows, A[:, f], np.nan)[:, None], codes, optimizer=reml_optimizer
            )
            coef[f, kept], se[f, kept], pval[f, kept], df[f, kept] = c[0], s[0], pv[0], d[0]
            conv[f] = info["converged"][0]
        err[fit & ~conv] = ERR_NOCONV_MIXED
    else:
        coef, se, pval, d1, _aliased = masked_ols(X, A)
        df = np.repeat(d1[:, None], p, axis=1)
    return coef, se, pval, df, err


def _prevalence_mixed(design, prev, w):
    """Prevalence model with a random intercept: ``glmer(binomial)`` on MaAsLin3's augmented data.

    MaAsLin3 (``R/fit.R``) stacks every sample three times (observed, present, absent; the
    pseudo-rows weighted ``p / (2n)``, grouping kept) and fits ``lme4::glmer`` with optimizers
    ``nloptwrap``, ``nlminbwrap``, ``bobyqa`` in turn until one gives no warning, then
    ``Nelder_Mead``, whose last warning becomes the ``error`` (the estimates are kept). Here the
    Laplace optimum is found to rounding (:func:`._glmm.glmm_all`), so the warnings that remain
    are those of the optimum itself: lme4's ``checkConv`` on its gradient and Hessian (e.g. a
    singular Hessian where a level separates presence), and ``checkScaleX`` on the design.
    """
    from ._glmm import glmm_all

    coef, se, pval, info = glmm_all(design.X, prev, [g[1] for g in design.groups], augment_weight=w)
    F = prev.shape[1]
    err = np.full(F, None, dtype=object)
    scale = _scale_warning(design.X)  # glFormula's check (the stacked copies leave the sds as they are, to 1e-3)
    for f in range(F):
        msgs = ([ERR_SCALE] if scale else []) + [m.replace("\n", "") for m in info["messages"][f]]
        if not info["converged"][f] and not info["messages"][f]:
            msgs.append(ERR_NOCONV_MIXED)
        err[f] = msgs[-1] if msgs else None  # MaAsLin3 keeps the last warning
    return coef, se, pval, err, info


def _feature_errors(design, A_all_samples, present_rows):
    """Per-feature errors that void the whole abundance model (MaAsLin3's checks before fitting)."""
    F = A_all_samples.shape[1]
    err = np.full(F, None, dtype=object)
    # R: length(unique(expr)) < 2, NA counting as a value
    nan_any = np.isnan(A_all_samples).any(axis=0)
    with np.errstate(invalid="ignore"):
        lo, hi = (
            np.nanmin(np.where(np.isnan(A_all_samples), np.inf, A_all_samples), axis=0),
            np.nanmax(np.where(np.isnan(A_all_samples), -np.inf, A_all_samples), axis=0),
        )
    has = np.isfinite(lo)
    n_unique = np.where(has, np.where(lo == hi, 1, 2), 0) + nan_any
    err[n_unique < 2] = ERR_SAME_LINEAR
    # a categorical fixed effect whose reference level has no non-zero sample (R checks a factor
    # whose name starts a coefficient name; level codes per sample, so interactions do not count)
    for var in design.levels:
        if any(c[: len(var)] == var for c in design.columns[1:]):
            none = ~(present_rows & (design.codes[var] == 0)[:, None]).any(axis=0)
            err[none & (err == None)] = ERR_BASELINE  # noqa: E711
    # lm drops unused factor levels (model.frame(drop.unused.levels = TRUE)): a categorical
    # variable left with one level among the feature's non-zero samples fails the whole fit
    for var, levels in design.levels.items():
        n_lev = sum(
            (present_rows & (design.codes[var] == k)[:, None]).any(axis=0).astype(int) for k in range(len(levels))
        )
        err[(n_lev < 2) & (err == None)] = ERR_CONTRASTS  # noqa: E711
    return err


def _abundance_model(design, Y_all, A, P, reml_optimizer="lme4"):
    """The abundance model with MaAsLin3's checks: coef, se, pval, df and errors, all (F, p).

    ``Y_all``: transformed values of all samples (NaN = zero), ``A``: the modelled rows, ``P``:
    their presence. Errors found before fitting void the feature; warnings of the mixed model
    (lme4's scale and convergence warnings) are recorded as MaAsLin3 does, estimates kept.
    """
    F = A.shape[1]
    p = design.X.shape[1]
    feat_err = _feature_errors(design, Y_all, P)
    if design.groups:
        feat_err = _lmer_checks(design, P, feat_err)
    ok = (feat_err == None) | (feat_err == ERR_SCALE)  # noqa: E711
    coef = np.full((F, p), np.nan)
    se = np.full((F, p), np.nan)
    pval = np.full((F, p), np.nan)
    df = np.full((F, p), np.nan)
    err = np.repeat(feat_err[:, None], p, axis=1)
    if ok.any():
        A_fit = np.where(P[:, ok], A[:, ok], np.nan)
        c, s, pv, d, fit_err = _abundance(design, A_fit, P[:, ok], reml_optimizer)
        coef[ok], se[ok], pval[ok], df[ok] = c, s, pv, d
        later = fit_err != None  # noqa: E711  (a convergence warning comes after the scale warning)
        e = feat_err[ok].copy()
        e[later] = fit_err[later]
        err[ok] = e[:, None]
    err[(err == None) & np.isnan(pval)] = ERR_NA_P  # noqa: E711
    return coef, se, pval, df, err


def fit_maaslin3(
    X_raw,
    samples,
    taxa,
    features,
    design,
    *,
    normalization="TSS",
    transform="LOG",
    min_abundance=0.0,
    min_prevalence=0.0,
    max_prevalence=1.0,
    min_variance=0.0,
    max_significance=0.1,
    augment=True,
    median_comparison_abundance=True,
    median_comparison_prevalence=False,
    warn_prevalence=True,
    seed=1,
    reml_optimizer="lme4",
):
    """Run MaAsLin3 on ``X_raw`` (samples x features) with the built ``design``.

    Returns ``results`` (DataFrame, MaAsLin3 columns + ``taxon``), ``data_norm`` (normalised
    values of the kept features, NaN = zero), ``filtered`` (list of dicts), ``notes``.
    """
    norm, tr = normalization, transform
    N = X_raw.shape[0]
    Xn_all = normalize3(X_raw, norm)
    keep, reasons = filter3(
        Xn_all,
        min_abundance=min_abundance,
        min_prevalence=min_prevalence,
        max_prevalence=max_prevalence,
        min_variance=min_variance,
    )
    kept = np.flatnonzero(keep)
    Xk = Xn_all[:, kept]
    present_all = ~np.isnan(Xk)
    Yt = transform3(Xk, tr)
    rows = design.rows
    X = design.X
    _n, p = X.shape
    Fk = kept.size
    A = Yt[rows]
    P = present_all[rows]
    notes, filtered = [], []
    n_not0 = present_all.sum(axis=0)

    # ---------------- abundance model
    coef_a, se_a, p_a, df_a, err_a = _abundance_model(design, Yt, A, P, reml_optimizer)
    raw_p_a = p_a.copy()

    # ---------------- prevalence model
    prev = P.astype(float)
    err_p = np.full((Fk, p), None, dtype=object)
    same = present_all.all(axis=0) | (~present_all).all(axis=0)
    from ._logistic import logistic_all

    w = (p - 1) / (2.0 * N) if augment else 0.0
    coef_p = np.full((Fk, p), np.nan)
    se_p = np.full((Fk, p), np.nan)
    p_p = np.full((Fk, p), np.nan)
    fitp = ~same
    if fitp.any() and design.groups:
        c, s, pv, fe, _ = _prevalence_mixed(design, prev[:, fitp], w)
        coef_p[fitp], se_p[fitp], p_p[fitp] = c, s, pv
        err_p[fitp] = fe[:, None]
    elif fitp.any():
        c, s, pv, info = logistic_all(X, prev[:, fitp], augment_weight=w)
        coef_p[fitp], se_p[fitp], p_p[fitp] = c, s, pv
        fe = np.full(int(fitp.sum()), None, dtype=object)
        fe[~info["converged"]] = ERR_NOCONV
        fe[info["boundary"]] = ERR_BOUNDARY  # R keeps the last warning glm.fit gave
        err_p[fitp] = fe[:, None]
    err_p[same] = ERR_SAME_LOGISTIC
    err_p[(err_p == None) & np.isnan(p_p)] = ERR_NA_P  # noqa: E711
    # likely misfits of rare or near-ubiquitous features (MaAsLin3's checks)
    big = (np.abs(np.nan_to_num(coef_p)) > 15) | (np.nan_to_num(p_p, nan=1.0) < 1e-10)
    rare = ((n_not0 < 50) & (n_not0 / N < 0.05))[:, None] & big & (err_p == None)  # noqa: E711
    err_p[rare] = ERR_RARE
    common = ((N - n_not0 < 50) & (n_not0 / N > 0.95))[:, None] & big & (err_p == None)  # noqa: E711
    err_p[common] = ERR_COMMON

    # ---------------- median comparison (abundance; prevalence optional)
    # Seeded draws, independent of the order of the rows and columns of the table: the samples
    # come in ID order (associate sorts them, which fixes the order of the terms, each taking its
    # draws in turn) and each term's draws are made over the features in name order.
    rng = np.random.default_rng(seed)
    names = np.asarray([str(features[j]) for j in kept], dtype=object)
    null_a = np.zeros((Fk, p))
    null_p = np.zeros((Fk, p))
    if median_comparison_abundance:
        null_a[:] = np.nan
        for j in range(1, p):
            elig = err_a[:, j] == None  # noqa: E711
            pn, med = median_comparison(coef_a[:, j], se_a[:, j], p_a[:, j], df_a[:, j], elig, rng, key=names)
            became = elig & np.isnan(pn) & ~np.isnan(p_a[:, j])
            err_a[became, j] = ERR_MEDIAN
            p_a[elig, j] = pn[elig]
            null_a[elig, j] = med
    if median_comparison_prevalence:
        null_p[:] = np.nan
        for j in range(1, p):
            elig = err_p[:, j] == None  # noqa: E711
            pn, med = median_comparison(coef_p[:, j], se_p[:, j], p_p[:, j], np.full(Fk, np.inf), elig, rng, key=names)
            became = elig & np.isnan(pn) & ~np.isnan(p_p[:, j])
            err_p[became, j] = ERR_MEDIAN
            p_p[elig, j] = pn[elig]
            null_p[elig, j] = med

    # ---------------- q-values over both models together
    sl = slice(1, p)
    pa_q = np.where(err_a[:, sl] == None, p_a[:, sl], np.nan)  # noqa: E711
    pp_q = np.where(err_p[:, sl] == None, p_p[:, sl], np.nan)  # noqa: E711
    q = _bh(np.concatenate([pa_q.ravel(), pp_q.ravel()]))
    q_a = q[: pa_q.size].reshape(pa_q.shape)
    q_p = q[pa_q.size :].reshape(pp_q.shape)

    # ---------------- warn_prevalence: abundance refit as TSS + LOG without median comparison
    if warn_prevalence:
        if norm == "TSS" and tr == "LOG":
            p_new, coef_new, err_new = raw_p_a[:, sl], coef_a[:, sl], err_a[:, sl].copy()
            err_new[err_new == ERR_MEDIAN] = None
        else:
            Yt2 = np.log2(normalize3(X_raw, "TSS")[:, kept])
            At = Yt2[rows]
            c, _, pv, _, e2 = _abundance_model(design, Yt2, At, ~np.isnan(At), reml_optimizer)
            coef_new, p_new, err_new = c[:, sl], pv[:, sl], e2[:, sl]
        qn = _bh(np.concatenate([np.where(err_new == None, p_new, np.nan).ravel(), pp_q.ravel()]))  # noqa: E711
        q_new = qn[: p_new.size].reshape(p_new.shape)
        cp = coef_p[:, sl]
        flag = (
            ~np.isnan(cp)
            & ~np.isnan(coef_new)
            & ~np.isnan(p_p[:, sl])
            & ~np.isnan(p_new)
            & (err_p[:, sl] == None)  # noqa: E711 (elementwise on an object array)
            & (err_new == None)  # noqa: E711
            & (q_new < max_significance)
            & (np.sign(cp) == np.sign(coef_new))
            & (np.abs(coef_new) > np.abs(cp))
        )
        ep = err_p[:, sl]
        ep[flag] = ERR_INDUCED
        err_p[:, sl] = ep

    # ---------------- joint p and q
    lin = p_a[:, sl]
    log = p_p[:, sl]
    lin_bad = np.isnan(lin) | (err_a[:, sl] != None)  # noqa: E711
    log_bad = np.isnan(log) | (err_p[:, sl] != None)  # noqa: E711
    mn = np.fmin(lin, log)
    joint = mn * (2.0 - mn)  # = 1 - (1 - mn)^2 = pbeta(mn, 1, 2), without cancellation for small mn
    joint = np.where(lin_bad, log, joint)
    joint = np.where(log_bad, lin, joint)
    joint = np.where(lin_bad & log_bad, np.nan, joint)
    q_joint = _bh(joint.ravel()).reshape(joint.shape)

    # ---------------- small random-effect groups
    if design.groups:
        for _name, codes, _ in design.groups:
            if np.bincount(codes).mean() < 4:
                ep = err_p[:, sl]
                ep[ep == None] = WARN_SMALL_RE  # noqa: E711
                err_p[:, sl] = ep

    # ---------------- assemble
    recs = []
    for i, j in enumerate(kept):
        for c in range(1, p):
            var, val = design.terms[c]
            k = c - 1
            recs.append(
                (
                    features[j],
                    var,
                    val,
                    design.columns[c],
                    coef_a[i, c],
                    null_a[i, c],
                    se_a[i, c],
                    p_a[i, c],
                    q_a[i, k],
                    joint[i, k],
                    q_joint[i, k],
                    err_a[i, c],
                    "abundance",
                    N,
                    int(n_not0[i]),
                    taxa[j],
                )
            )
            recs.append(
                (
                    features[j],
                    var,
                    val,
                    design.columns[c],
                    coef_p[i, c],
                    null_p[i, c],
                    se_p[i, c],
                    p_p[i, c],
                    q_p[i, k],
                    joint[i, k],
                    q_joint[i, k],
                    err_p[i, c],
                    "prevalence",
                    N,
                    int(n_not0[i]),
                    taxa[j],
                )
            )
    n_present_raw = (np.nan_to_num(X_raw) > 0).sum(axis=0)
    for j in np.flatnonzero(~keep):
        recs.append(
            (
                features[j],
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                np.nan,
                reasons[j],
                np.nan,
                N,
                int(n_present_raw[j]),
                taxa[j],
            )
        )
    res = pd.DataFrame.from_records(recs, columns=[*RESULT_COLUMNS, "taxon"])
    res["error"] = res["error"].astype(object).where(res["error"].notna(), None)
    # MaAsLin3's order: by qval_individual (missing last), then rows with errors at the end
    is_err = res["error"].notna() & (res["error"] != WARN_SMALL_RE)
    q_key = res["qval_individual"].fillna(np.inf)
    order = np.lexsort((np.where(res["model"] == "prevalence", 1, 0), q_key.to_numpy(), is_err.to_numpy()))
    res = res.iloc[order].reset_index(drop=True)
    if (~keep).any():
        filtered.append(
            {
                "what": "features",
                "reason": "MaAsLin3 abundance/prevalence/variance filters (on the normalised table)",
                "n": int((~keep).sum()),
                "ids": [taxa[j] for j in np.flatnonzero(~keep)],
            }
        )
    data_norm = pd.DataFrame(np.nan_to_num(Xk, nan=0.0), index=samples, columns=[features[j] for j in kept])
    return res, data_norm, filtered, notes


def significant(results: pd.DataFrame, max_significance: float) -> pd.DataFrame:
    """MaAsLin3's ``significant_results.tsv``: joint q <= threshold, or individual q <= threshold
    for a row without an error (the small-random-effect-groups warning does not count)."""
    r = results
    ok = r["error"].isna() | (r["error"] == WARN_SMALL_RE)
    sel = (r["qval_joint"] <= max_significance) | ((r["qval_individual"] <= max_significance) & ok)
    return r[sel.fillna(False)].reset_index(drop=True)


def report_view(result):
    """What ``gutaxis.report.associate.write_associate_report`` shows of a MaAsLin3 result: the LM
    result's column names (``qval``/``pval`` are the individual ones, ``N.not.0``), the table's
    columns (``columns``) and the values each model saw (``outcome(row)``: the transformed non-zero
    values for an abundance row, presence 0/1 for a prevalence row, with the axis label)."""
    from types import SimpleNamespace

    def conv(frame):
        f = frame.copy()
        f["qval"] = f["qval_individual"]
        f["pval"] = f["pval_individual"]
        f["N.not.0"] = f["N_not_zero"]
        f["error"] = f["error"].fillna("").astype(str)
        return f

    params = result.params
    data = result.data  # normalised, zeros as 0
    norm, tr = params.get("normalization", "TSS"), params.get("transform", "LOG")
    label = {"TSS": "rel. abundance", "CLR": "CLR abundance"}.get(norm, "abundance")
    label = {"LOG": f"log2({label})", "PLOG": f"log2({label})"}.get(tr, label)

    def outcome(row):
        x = data[row["feature"]].to_numpy(dtype=float)
        present = x != 0
        if row.get("model") == "prevalence":
            return present.astype(float), "present", "presence"
        y = transform3(np.where(present, x, np.nan)[:, None], tr)[:, 0]
        return y, label, "abundance"

    columns = [
        ("feature", "Feature", False),
        ("metadata", "Metadata", False),
        ("value", "Value", False),
        ("model", "Model", False),
        ("coef", "coef", True),
        ("stderr", "stderr", True),
        ("N", "N", True),
        ("N_not_zero", "N not 0", True),
        ("pval_individual", "p", True),
        ("qval_individual", "q", True),
        ("qval_joint", "q joint", True),
        ("error", "error / warning", False),
    ]
    return SimpleNamespace(
        params=params,
        notes=result.notes,
        filtered=result.filtered,
        results=conv(result.results),
        significant=conv(result.significant),
        data=data,
        metadata=result.metadata,
        outcome=outcome,
        columns=columns,
    )
