"""Design matrices for :func:`gutaxis.link.associate`: formula parsing, reference levels,
standardisation, random-intercept groupings, and checks that name the terms at fault.

The coding follows R's ``model.matrix`` with treatment contrasts, as MaAsLin2 gets it from
``lm``/``lmer``: an intercept, then each fixed term in order; a numeric variable is one column
named after it, a categorical variable one column per non-reference level named
``<variable><level>``. Without a ``reference`` the levels are sorted (R's ``factor``); with one,
the reference comes first and the other levels follow in order of first appearance (MaAsLin2's
``factor(x, levels = c(ref, other_levels))``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["Design", "parse_formula", "build_design", "RandomEffectWarning"]


class RandomEffectWarning(UserWarning):
    """A random-effect grouping with too few samples per group or too few groups."""


@dataclass
class Design:
    X: np.ndarray  # rows = samples used (complete cases), columns = intercept + fixed effects
    columns: list[str]  # R-style coefficient names
    terms: list[tuple[str, str]]  # (metadata, value) per column; ("(Intercept)", "") first
    rows: np.ndarray  # bool mask over the input samples: used in the fit
    groups: list[tuple[str, np.ndarray, list[str]]] = field(default_factory=list)  # (name, codes, levels)
    notes: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    random: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)  # categorical variable -> levels (reference first)


_RANDOM = re.compile(r"^\(\s*1\s*\|\s*([^()|]+?)\s*\)$")


def _split_plus(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "+" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def parse_formula(formula: str) -> tuple[list[str], list[str]]:
    """``"~ a + b + (1|g) + (1|h)"`` -> ``(["a", "b"], ["g", "h"])``.

    Main effects and random intercepts are understood; anything else (interactions, random
    slopes, transformations) raises :class:`InputError` naming the term.
    """
    text = str(formula).strip()
    if "~" not in text:
        raise InputError(f"formula {formula!r} has no '~'", source="formula",
                         hint="write it as '~ diagnosis + age + (1|subject)'")
    rhs = text.split("~", 1)[1].strip()
    if not rhs:
        raise InputError(f"formula {formula!r} has no terms", source="formula",
                         hint="write it as '~ diagnosis + age + (1|subject)'")
    fixed, random = [], []
    for term in _split_plus(rhs):
        m = _RANDOM.match(term)
        if m:
            random.append(m.group(1).strip())
        elif term in ("1", "0", "-1"):
            if term != "1":
                raise InputError(f"term {term!r}: models without an intercept are not supported", source="formula",
                                 hint="drop the term")
        elif re.fullmatch(r"[A-Za-z_.][\w.]*|`[^`]+`", term):
            fixed.append(term.strip("`"))
        else:
            raise InputError(f"formula term {term!r} is not supported", source="formula",
                             hint="use main effects and random intercepts '(1|group)'; make interaction "
                                  "or transformed variables a metadata column first")
    return fixed, random


def _r_sort(levels) -> list:
    # R's sort() of character data in an English locale: case-insensitive first, lower case first on ties
    return sorted(levels, key=lambda s: (str(s).casefold(), str(s).swapcase()))


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def build_design(meta: pd.DataFrame, fixed: list[str], random: list[str], reference: dict[str, str] | None,
                 standardize: bool, *, source: str = "metadata") -> Design:
    """Build the fixed-effect matrix and the random-intercept groupings.

    ``meta`` is indexed by sample, in the order of the abundance table.
    """
    reference = dict(reference or {})
    missing = [v for v in [*fixed, *random] if v not in meta.columns]
    if missing:
        raise InputError(f"variable(s) {', '.join(map(repr, missing))} not in the metadata "
                         f"(columns: {', '.join(map(str, meta.columns[:12]))}{' ...' if meta.shape[1] > 12 else ''})",
                         source=source, hint="check the spelling of fixed/random effects or the formula")
    if not fixed:
        raise InputError("no fixed effects", source=source, hint="name at least one metadata column as a fixed effect")
    dup = [v for v in fixed if v in random]
    if dup:
        fixed = [v for v in fixed if v not in random]  # MaAsLin2: setdiff(fixed, random)
        if not fixed:
            raise InputError(f"{', '.join(dup)} are random effects, leaving no fixed effect", source=source,
                             hint="name a fixed effect that is not a random effect")
    unknown_ref = [v for v in reference if v not in fixed]
    if unknown_ref:
        raise InputError(f"reference given for {', '.join(map(repr, unknown_ref))}, which is not a fixed effect",
                         source=source, hint=f"fixed effects are: {', '.join(fixed)}")
    used = meta[list(dict.fromkeys([*fixed, *random]))].copy()
    notes: list[str] = []
    # standardise continuous metadata over all samples (as MaAsLin2's scale() before the fit)
    if standardize:
        for v in fixed:
            if _is_numeric(used[v]):
                col = used[v].astype(float)
                sd = col.std(ddof=1)
                if np.isfinite(sd) and sd > 0:
                    used[v] = (col - col.mean()) / sd
    complete = used.notna().all(axis=1).to_numpy()
    n_drop = int((~complete).sum())
    if n_drop:
        bad = [v for v in used.columns if used[v].isna().any()]
        ids = list(meta.index[~complete][:5])
        notes.append(f"{n_drop} sample(s) with missing values in {', '.join(bad)} are left out of every model "
                     f"(e.g. {', '.join(map(str, ids))})")
    if complete.sum() == 0:
        raise InputError("no sample has values for every model variable", source=source,
                         hint="check the metadata for missing values")
    sub = used[complete]
    cols, terms, blocks, levels_of = ["(Intercept)"], [("(Intercept)", "")], [np.ones(len(sub))], {}
    for v in fixed:
        col = sub[v]
        if _is_numeric(col):
            x = col.to_numpy(dtype=float)
            if np.unique(x).size < 2:
                raise InputError(f"variable {v!r} has a single value ({x[0]:g}) in the {len(x)} samples modelled",
                                 source=source, hint=f"remove {v!r} from the model")
            cols.append(v)
            terms.append((v, v))
            blocks.append(x)
            continue
        vals = col.astype(str) if not pd.api.types.is_bool_dtype(col) else col.map({True: "TRUE", False: "FALSE"})
        seen = list(dict.fromkeys(vals.tolist()))
        if len(seen) < 2:
            raise InputError(f"variable {v!r} has a single level ({seen[0]!r}) in the {len(vals)} samples modelled",
                             source=source, hint=f"remove {v!r} from the model")
        if v in reference:
            ref = str(reference[v])
            if ref not in seen:
                raise InputError(f"reference level {ref!r} is not a level of {v!r} (levels: {', '.join(_r_sort(seen))})",
                                 source=source, hint=f"pass reference={{{v!r}: one of those levels}}")
            levels = [ref] + [s for s in seen if s != ref]
        else:
            real = [s for s in seen if s != "UNK"]
            if len(real) > 2:
                raise InputError(f"variable {v!r} has {len(seen)} levels ({', '.join(_r_sort(seen))}) and no reference "
                                 "level", source=source,
                                 hint=f"pass reference={{{v!r}: <level>}} (CLI: --reference {v},<level>)")
            levels = _r_sort(seen)
        levels_of[v] = levels
        arr = vals.to_numpy()
        for lev in levels[1:]:
            cols.append(f"{v}{lev}")
            terms.append((v, lev))
            blocks.append((arr == lev).astype(float))
    X = np.column_stack(blocks)
    _check_rank(X, cols, terms, source)
    groups = []
    n = X.shape[0]
    for g in random:
        vals = sub[g].astype(str).to_numpy()
        levs, codes = np.unique(vals, return_inverse=True)
        counts = np.bincount(codes)
        if len(levs) >= n:
            raise InputError(f"random effect {g!r} has as many groups ({len(levs)}) as samples ({n})", source=source,
                             hint=f"a random intercept needs repeated samples per group; drop {g!r}")
        if len(levs) < 2:
            raise InputError(f"random effect {g!r} has a single group", source=source, hint=f"drop {g!r}")
        single = levs[counts < 2]
        if len(single):
            warnings.warn(f"random effect {g!r}: {len(single)} of {len(levs)} group(s) have a single sample "
                          f"(e.g. {', '.join(map(str, single[:5]))}); their variance is poorly estimated",
                          RandomEffectWarning, stacklevel=3)
        if len(levs) < 3:
            warnings.warn(f"random effect {g!r} has only {len(levs)} groups; its variance is poorly estimated "
                          f"(consider a fixed effect)", RandomEffectWarning, stacklevel=3)
        groups.append((g, codes.astype(np.int64), [str(x) for x in levs]))
    return Design(X=X, columns=cols, terms=terms, rows=complete, groups=groups, notes=notes, fixed=list(fixed),
                  random=list(random), levels=levels_of)


def _check_rank(X: np.ndarray, cols: list[str], terms, source: str) -> None:
    from scipy.linalg import qr

    n, p = X.shape
    if n <= p:
        raise InputError(f"{n} samples cannot support {p} coefficients ({', '.join(cols)})", source=source,
                         hint="use fewer fixed effects or more samples")
    scale = np.sqrt((X ** 2).sum(axis=0))
    scale[scale == 0] = 1.0
    _, R, piv = qr(X / scale, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    tol = d[0] * max(n, p) * np.finfo(float).eps * 10
    rank = int((d > tol).sum())
    if rank < p:
        dropped = [cols[j] for j in piv[rank:]]
        # what each dependent column is a combination of
        kept = piv[:rank]
        details = []
        for j in piv[rank:]:
            coef, *_ = np.linalg.lstsq(X[:, kept], X[:, j], rcond=None)
            with_ = [cols[k] for k, c in zip(kept, coef) if abs(c) > 1e-8]
            details.append(f"{cols[j]} = combination of {', '.join(with_) or 'nothing (all zero)'}")
        raise InputError(f"the design is singular: {', '.join(dropped)} cannot be separated from other terms "
                         f"({'; '.join(details)})", source=source,
                         hint="remove one of the confounded variables or merge levels")
