"""Feature filtering, normalisation and transforms as MaAsLin2 applies them.

Mallick H, Rahnavard A, McIver LJ, et al. Multivariable association discovery in population-scale
meta-omics studies. PLoS Comput Biol 2021;17:e1009442. doi:10.1371/journal.pcbi.1009442

Order of operations (MaAsLin2 1.15, ``R/Maaslin2.R`` and ``R/utility_scripts.R``): the
abundance/prevalence/variance filters run on the table *as given* (before normalisation), then
the kept features are normalised per sample, then transformed per feature.
"""

from __future__ import annotations

import keyword
import re

import numpy as np

__all__ = ["NORMALIZATIONS", "TRANSFORMS", "filter_features", "make_names", "normalize", "transform"]

NORMALIZATIONS = ("TSS", "CLR", "NONE")
TRANSFORMS = ("LOG", "LOGIT", "AST", "NONE")

_R_RESERVED = {
    "if",
    "else",
    "repeat",
    "while",
    "function",
    "for",
    "next",
    "break",
    "TRUE",
    "FALSE",
    "NULL",
    "Inf",
    "NaN",
    "NA",
    "NA_integer_",
    "NA_real_",
    "NA_character_",
    "in",
}


def make_names(names, unique: bool = True) -> list[str]:
    """R's ``make.names``: invalid characters become ``.``, an ``X`` is prefixed where needed.

    With ``unique`` duplicates get ``.1``, ``.2`` ... as R's ``make.unique`` (what
    ``data.frame(check.names=TRUE)`` does when MaAsLin2 reads a table).
    """
    out = []
    for name in names:
        s = "NA" if name is None else str(name)
        s = re.sub(r"[^0-9A-Za-z._]", ".", s)
        if not s or not (s[0].isalpha() or (s[0] == "." and not (len(s) > 1 and s[1].isdigit()))):
            s = "X" + s
        if s in _R_RESERVED or (keyword.iskeyword(s) and s in _R_RESERVED):
            s = s + "."
        out.append(s)
    if unique:
        seen: dict[str, int] = {}
        taken = set(out)
        res = []
        for s in out:
            if s in seen:
                k = seen[s]
                while True:
                    k += 1
                    cand = f"{s}.{k}"
                    if cand not in taken:
                        break
                seen[s] = k
                taken.add(cand)
                res.append(cand)
            else:
                seen[s] = 0
                res.append(s)
        out = res
    return out


def filter_features(X: np.ndarray, *, min_abundance: float, min_prevalence: float, min_variance: float):
    """MaAsLin2's ``do_prevalence_abundance_filtering`` on the input table (samples x features).

    A feature is kept when more than ``n_samples * min_prevalence`` samples exceed
    ``min_abundance`` (missing values count as 0) and its standard deviation exceeds
    ``min_variance``. For relative abundances (every sample sums to <= 1.01) a
    ``min_abundance`` above 1 is read as a percentage; for counts a ``min_abundance`` below 1
    that is below every non-zero value is read as a proportion of the sample total.

    Returns
    -------
    keep : bool array (n_features,)
    reasons : list of str ("" for kept features)
    """
    n, m = X.shape
    Z = np.where(np.isnan(X), 0.0, X)
    min_samples = n * min_prevalence
    thr = float(min_abundance)
    use_prop = False
    abund_note = f"> {min_abundance:g}"
    if np.all(Z.sum(axis=1) <= 1.01):
        if thr > 1:
            thr = thr / 100.0
            abund_note = f"> {thr:g} (min_abundance read as a percentage)"
    else:
        nz = Z[Z != 0]
        if thr < 1 and nz.size and np.all(nz > thr) and thr != 0:
            use_prop = True
            abund_note = f"> {thr:g} of the sample total (min_abundance read as a proportion)"
    if use_prop:
        tot = Z.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            P = np.where(tot > 0, Z / tot, 0.0)
        count = (thr < P).sum(axis=0)
    else:
        count = (thr < Z).sum(axis=0)
    keep_prev = count > min_samples
    sd = np.nanstd(X, axis=0, ddof=1) if n > 1 else np.zeros(m)
    keep_var = sd > min_variance
    keep = keep_prev & keep_var
    reasons = []
    for j in range(m):
        if not keep_prev[j]:
            reasons.append(
                f"filtered: present ({abund_note}) in {int(count[j])} of {n} samples; "
                f"min_prevalence {min_prevalence:g} needs more than {min_samples:g}"
            )
        elif not keep_var[j]:
            reasons.append(f"filtered: standard deviation {sd[j]:.3g} not above min_variance {min_variance:g}")
        else:
            reasons.append("")
    return keep, reasons


def r_row_sums(X: np.ndarray, block_bytes: float = 64e6) -> np.ndarray:
    """Row sums as R's ``rowSums(x, na.rm = TRUE)`` and ``sum`` compute them: left to right in
    extended precision (``long double``), rounded once. Matching R bit for bit matters downstream:
    lme4's optimiser path on a flat REML surface changes with the last bit of the data."""
    n, m = X.shape
    out = np.empty(n)
    step = max(1, int(block_bytes // (16 * max(m, 1))))
    for start in range(0, n, step):
        block = X[start : start + step].astype(np.longdouble)
        block[np.isnan(block)] = 0.0
        out[start : start + step] = np.cumsum(block, axis=1)[:, -1] if m else 0.0
    return out


def normalize(X: np.ndarray, method: str) -> np.ndarray:
    """Per-sample normalisation: ``TSS`` (divide by the sample total), ``CLR`` (MaAsLin2's
    ``chemometrics::clr(x + 1)``), ``NONE``."""
    if method == "TSS":
        tot = r_row_sums(X)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return X / tot
    if method == "CLR":
        L = np.log(X + 1.0)
        return L - np.nanmean(L, axis=1, keepdims=True)
    if method == "NONE":
        return X.copy()
    raise ValueError(method)


def transform(X: np.ndarray, method: str) -> np.ndarray:
    """Per-feature transforms of MaAsLin2.

    ``LOG``: ``log2(x)`` with zeros replaced by half the smallest positive value *of that feature*
    (MaAsLin2 applies ``LOG`` column by column with ``apply(features, 2, LOG)``);
    ``AST``: ``sign(x) * asin(sqrt(|x|))`` (no division by 100);
    ``LOGIT``: ``log(x / (1 - x))`` (values read as percentages when any exceeds 1, as
    ``car::logit``), non-finite results set to 0; ``NONE``.
    """
    if method == "NONE":
        return X.copy()
    if method == "AST":
        with np.errstate(invalid="ignore"):
            return np.sign(X) * np.arcsin(np.sqrt(np.abs(X)))
    if method == "LOG":
        pos = np.where(X > 0, X, np.inf)
        half = np.min(pos, axis=0) / 2.0
        Y = np.where(X == 0, half[None, :], X)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log2(Y)
    if method == "LOGIT":
        P = X / 100.0 if np.nanmax(X) > 1 else X
        with np.errstate(invalid="ignore", divide="ignore"):
            Y = np.log(P / (1.0 - P))
        Y[~np.isfinite(Y)] = 0.0
        return Y
    raise ValueError(method)
