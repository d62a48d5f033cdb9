"""Design matrices for :func:`gutaxis.link.associate`: reference levels, standardisation,
random-intercept groupings, and checks that name the terms at fault.

The formula (``~ a * b + (1|g)``) is read into terms by ``gutaxis.link._associate_formula``;
this module codes those terms as columns from the metadata's values. The formula's names
(:func:`parse_formula`, :func:`split_top`, :func:`categorical_name`) are re-exported here, so
``gutaxis.link._design`` still offers everything it did before the split.

The coding follows R's ``model.matrix`` with treatment contrasts, as MaAsLin2/3 get it from
``lm``/``lmer``: an intercept, then each fixed term in order; a numeric variable is one column
named after it, a categorical variable one column per non-reference level named
``<variable><level>``. Without a ``reference`` the levels are sorted (R's ``factor``); with one,
the reference comes first and the other levels follow in order of first appearance (MaAsLin2's
``factor(x, levels = c(ref, other_levels))``).

Interactions (``a:b``, ``a*b`` = ``a + b + a:b``, ``a/b`` = ``a + a:b``, ``(a + b + c)^2``,
higher orders) follow R's ``terms()`` and ``model.matrix``:

* terms are sorted by order (main effects first), as written within an order, repeats dropped;
  the variables of an interaction are named in the order they first appear in the formula;
* an interaction column is the product of its variables' columns (numeric values, after
  standardisation, times 0/1 level indicators), the first variable varying fastest, named
  ``a<level>:b<level>`` (``diagnosisCD:age``, ``age:reads``, ``diagnosisCD:antibioticsYes``);
* a categorical variable in a term is coded by treatment contrasts (reference left out) when the
  term without it is the intercept or is contained in an earlier term, and by one indicator per
  level otherwise (R's rule: ``~ age + age:diagnosis`` gives one slope per non-reference level
  added to ``age``; ``~ age:diagnosis`` one slope per level).

The ``(metadata, value)`` of an interaction column are what MaAsLin3 (``R/fit.R``) derives from
the coefficient name: ``metadata`` the variable the name starts with, ``value`` the rest of the
name without its leading ``:`` (``diagnosisCD:age`` -> ``diagnosis``, ``CD:age``;
``age:reads`` -> ``age``, ``reads``).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.metadata import MetadataWarning
from ._associate_formula import (  # noqa: F401  (re-exported: gutaxis.link._design's names)
    _as_terms,
    _forced_column,
    _needs_quote,
    _split_plus,
    categorical_name,
    parse_formula,
    split_top,
)

__all__ = ["Design", "RandomEffectWarning", "TwoValuedWarning", "build_design", "categorical_name", "parse_formula"]


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
    fixed: list[str] = field(default_factory=list)  # term labels: "diagnosis", "age", "diagnosis:age"
    random: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)  # categorical variable -> levels (reference first)
    # per column, the (variable, level) pairs whose product it is (level None: a numeric variable);
    # () for the intercept
    parts: list[tuple[tuple[str, str | None], ...]] = field(default_factory=list)
    codes: dict = field(default_factory=dict)  # categorical variable -> level index per modelled sample

    @property
    def interactions(self) -> dict[str, dict]:
        """Interaction columns: ``{name: {"metadata", "value", "parts"}}`` (JSON-ready)."""
        return {
            c: {"metadata": t[0], "value": t[1], "parts": [list(p) for p in parts]}
            for c, t, parts in zip(self.columns, self.terms, self.parts, strict=True)
            if len(parts) > 1
        }


def _as_levels(column: pd.Series) -> pd.Series:
    """A column's values as level names (``2.0`` -> ``"2"``); missing values stay missing."""

    def name(x):
        if isinstance(x, (float, np.floating)) and float(x).is_integer():
            return str(int(x))
        return str(x)

    return column.map(lambda x: x if pd.isna(x) else name(x)).astype(object)


class TwoValuedWarning(MetadataWarning):
    """A numeric metadata column with two values, modelled as continuous (a code such as 1 = HC, 2 = RA?)."""


def _warn_two_valued(column: pd.Series, name: str, source: str) -> None:
    """Warn that a numeric column with exactly two values is modelled as continuous."""
    if not _is_numeric(column):
        return
    values = np.unique(column.dropna().to_numpy(dtype=float))
    if values.size != 2:
        return
    quoted = f"`{name}`" if _needs_quote(name) else name
    warnings.warn(
        f"{source}: column {name!r} holds only two numbers ({values[0]:g} and {values[1]:g}) and is "
        "treated as continuous (one slope, on the standardized scale unless standardize is off); if it "
        f"codes groups, write C({quoted}) among the fixed effects (--fixed) or in the formula to make it "
        f"categorical (its coefficient is then group {values[1]:g} against group {values[0]:g})",
        TwoValuedWarning,
        stacklevel=4,
    )


def _r_sort(levels) -> list:
    # R's sort() of character data in an English locale: case-insensitive first, lower case first on ties
    return sorted(levels, key=lambda s: (str(s).casefold(), str(s).swapcase()))


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _contrasted(term: tuple[str, ...], v: str, earlier: list[tuple[str, ...]]) -> bool:
    """R's ``TermCode``: is ``v`` coded by contrasts in ``term`` (else by one indicator per level)?
    Yes when the term without ``v`` is empty (the intercept) or is contained in an earlier term."""
    rest = set(term) - {v}
    return not rest or any(rest <= set(t) for t in earlier)


def build_design(
    meta: pd.DataFrame,
    fixed: list,
    random: list[str],
    reference: dict[str, str] | None,
    standardize: bool,
    *,
    source: str = "metadata",
) -> Design:
    """Build the fixed-effect matrix and the random-intercept groupings.

    ``meta`` is indexed by sample, in the order of the abundance table. ``fixed``: variable
    names, interaction tuples (as :func:`parse_formula` returns them) or term strings
    (``"diagnosis:age"``, ``"diagnosis*age"``).
    """
    reference = dict(reference or {})
    terms = _as_terms(fixed, meta.columns)
    variables = list(dict.fromkeys(v for t in terms for v in t))
    forced = {v: _forced_column(v, meta.columns) for v in variables if v not in meta.columns}
    forced = {v: c for v, c in forced.items() if c is not None}
    if forced:  # C(column): the column's values as levels (1 and 2, not one slope)
        meta = meta.assign(**{v: _as_levels(meta[c]) for v, c in forced.items()})
    missing = [v for v in dict.fromkeys([*variables, *random]) if v not in meta.columns]
    if missing:
        raise InputError(
            f"variable(s) {', '.join(map(repr, missing))} not in the metadata "
            f"(columns: {', '.join(map(str, meta.columns[:12]))}{' ...' if meta.shape[1] > 12 else ''})",
            source=source,
            hint="check the spelling of fixed/random effects or the formula",
        )
    if not terms:
        raise InputError("no fixed effects", source=source, hint="name at least one metadata column as a fixed effect")
    dup = [t[0] for t in terms if len(t) == 1 and t[0] in random]
    if dup:
        terms = [t for t in terms if not (len(t) == 1 and t[0] in random)]  # MaAsLin2: setdiff(fixed, random)
        if not terms:
            raise InputError(
                f"{', '.join(dup)} are random effects, leaving no fixed effect",
                source=source,
                hint="name a fixed effect that is not a random effect",
            )
        variables = list(dict.fromkeys(v for t in terms for v in t))
    labels = [":".join(t) for t in terms]
    unknown_ref = [v for v in reference if v not in variables]
    if unknown_ref:
        raise InputError(
            f"reference given for {', '.join(map(repr, unknown_ref))}, which is not a fixed effect",
            source=source,
            hint=f"fixed effects are: {', '.join(labels)}",
        )
    used = meta[list(dict.fromkeys([*variables, *random]))].copy()
    notes: list[str] = []
    from ..io.metadata import check_numeric_column, warn_case_variants

    for v in variables:  # one word among numbers would make a numeric column a factor of every value
        if v not in forced:
            check_numeric_column(
                used[v], v, source=source, categorical_hint="give its values names that are not numbers (e.g. 'group1')"
            )
    for v in variables:
        _warn_two_valued(used[v], v, source)
    # standardise continuous metadata over all samples (as MaAsLin2/3's scale() before the fit);
    # interaction columns are products of the standardised variables (model.matrix on the scaled frame)
    if standardize:
        for v in variables:
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
        msg = (
            f"{n_drop} sample(s) with missing values in {', '.join(bad)} are left out of every model "
            f"(e.g. {', '.join(map(str, ids))})"
        )
        notes.append(msg)
        from ..io import FilteredWarning

        warnings.warn(f"{source}: {msg}", FilteredWarning, stacklevel=3)
    if complete.sum() == 0:
        raise InputError(
            "no sample has values for every model variable", source=source, hint="check the metadata for missing values"
        )
    sub = used[complete]
    # each variable once: its values (numeric) or its levels and per-sample level index (categorical)
    numeric_of, levels_of, codes_of = {}, {}, {}
    for v in variables:
        col = sub[v]
        if _is_numeric(col):
            x = col.to_numpy(dtype=float)
            if np.unique(x).size < 2:
                raise InputError(
                    f"variable {v!r} has a single value ({x[0]:g}) in the {len(x)} samples modelled",
                    source=source,
                    hint=f"remove {v!r} from the model",
                )
            numeric_of[v] = x
            continue
        vals = col.astype(str) if not pd.api.types.is_bool_dtype(col) else col.map({True: "TRUE", False: "FALSE"})
        seen = list(dict.fromkeys(vals.tolist()))
        warn_case_variants(seen, v, source=source, stacklevel=3)
        if len(seen) < 2:
            raise InputError(
                f"variable {v!r} has a single level ({seen[0]!r}) in the {len(vals)} samples modelled",
                source=source,
                hint=f"remove {v!r} from the model",
            )
        if v in reference:
            ref = str(reference[v])
            if ref not in seen:
                raise InputError(
                    f"reference level {ref!r} is not a level of {v!r} (levels: {', '.join(_r_sort(seen))})",
                    source=source,
                    hint=f"pass reference={{{v!r}: one of those levels}}",
                )
            levels = [ref] + [s for s in seen if s != ref]
        else:
            real = [s for s in seen if s != "UNK"]
            if len(real) > 2:
                raise InputError(
                    f"variable {v!r} has {len(seen)} levels ({', '.join(_r_sort(seen))}) and no reference level",
                    source=source,
                    hint=f"pass reference={{{v!r}: <level>}} (CLI: --reference {v},<level>)",
                )
            levels = _r_sort(seen)
        levels_of[v] = levels
        index = {lev: k for k, lev in enumerate(levels)}
        codes_of[v] = np.array([index[s] for s in vals.tolist()], dtype=np.int64)
    n = int(complete.sum())
    parts_out: list[tuple[tuple[str, str | None], ...]] = [()]
    cols, terms_out, blocks = ["(Intercept)"], [("(Intercept)", "")], [np.ones(n)]
    for k, term in enumerate(terms):
        factors = []  # per variable: [(name part, (variable, level|None), values)]
        for v in term:
            if v in numeric_of:
                factors.append([(v, (v, None), numeric_of[v])])
            else:
                levels = levels_of[v]
                use = levels[1:] if _contrasted(term, v, terms[:k]) else levels
                factors.append(
                    [(f"{v}{lev}", (v, lev), (codes_of[v] == levels.index(lev)).astype(float)) for lev in use]
                )
        # R's column order: the first variable varies fastest
        for combo in itertools.product(*reversed(factors)):
            combo = combo[::-1]
            name = ":".join(c[0] for c in combo)
            x = np.prod([c[2] for c in combo], axis=0) if len(combo) > 1 else combo[0][2]
            if len(term) == 1:
                v, lev = combo[0][1]
                meta_val = (v, v if lev is None else lev)
            else:  # MaAsLin3: the variable the name starts with, and the rest without its leading ':'
                rest = name[len(term[0]) :]
                meta_val = (term[0], rest[1:] if rest.startswith(":") else rest)
            cols.append(name)
            terms_out.append(meta_val)
            parts_out.append(tuple(c[1] for c in combo))
            blocks.append(np.asarray(x, dtype=float))
    X = np.column_stack(blocks)
    _check_empty_cells(X, cols, parts_out, source)
    _check_rank(X, cols, terms_out, source, interactions=any(len(t) > 1 for t in terms))
    groups = []
    for g in random:
        vals = sub[g].astype(str).to_numpy()
        levs, codes = np.unique(vals, return_inverse=True)
        warn_case_variants(levs, g, source=source, stacklevel=3)
        counts = np.bincount(codes)
        if len(levs) >= n:
            raise InputError(
                f"random effect {g!r} has as many groups ({len(levs)}) as samples ({n})",
                source=source,
                hint=f"a random intercept needs repeated samples per group; drop {g!r}",
            )
        if len(levs) < 2:
            raise InputError(f"random effect {g!r} has a single group", source=source, hint=f"drop {g!r}")
        single = levs[counts < 2]
        if len(single):
            warnings.warn(
                f"random effect {g!r}: {len(single)} of {len(levs)} group(s) have a single sample "
                f"(e.g. {', '.join(map(str, single[:5]))}); their variance is poorly estimated",
                RandomEffectWarning,
                stacklevel=3,
            )
        if len(levs) < 3:
            warnings.warn(
                f"random effect {g!r} has only {len(levs)} groups; its variance is poorly estimated "
                f"(consider a fixed effect)",
                RandomEffectWarning,
                stacklevel=3,
            )
        groups.append((g, codes.astype(np.int64), [str(x) for x in levs]))
    return Design(
        X=X,
        columns=cols,
        terms=terms_out,
        rows=complete,
        groups=groups,
        notes=notes,
        fixed=labels,
        random=list(random),
        levels=levels_of,
        parts=parts_out,
        codes=codes_of,
    )


def _check_empty_cells(X: np.ndarray, cols: list[str], parts, source: str) -> None:
    """An interaction column that is zero in every sample modelled: name the empty cell."""
    for j, p in enumerate(parts):
        if len(p) < 2 or np.any(X[:, j] != 0):
            continue
        cats = [f"{v} = {lev}" for v, lev in p if lev is not None]
        nums = [v for v, lev in p if lev is None]
        if cats:
            what = f"no sample modelled has {' and '.join(cats)}"
            if nums:
                what += f" with {' x '.join(nums)} non-zero"
        else:
            what = f"the product {' x '.join(nums)} is zero in every sample modelled"
        raise InputError(
            f"the design is singular: the interaction column {cols[j]} is all zero ({what}: an empty cell)",
            source=source,
            hint="drop the interaction, merge levels, or model the samples of that cell",
        )


def _check_rank(X: np.ndarray, cols: list[str], terms, source: str, *, interactions: bool = False) -> None:
    from scipy.linalg import qr

    n, p = X.shape
    if n <= p:
        raise InputError(
            f"{n} samples cannot support {p} coefficients ({', '.join(cols)})",
            source=source,
            hint="use fewer fixed effects or more samples",
        )
    scale = np.sqrt((X**2).sum(axis=0))
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
            with_ = [cols[k] for k, c in zip(kept, coef, strict=True) if abs(c) > 1e-8]
            details.append(f"{cols[j]} = combination of {', '.join(with_) or 'nothing (all zero)'}")
        hint = "remove one of the confounded variables or merge levels"
        if interactions:
            hint += (
                "; an interaction without its main effects ('a:b' alone) codes every level and is "
                "aliased with the intercept: write 'a*b'"
            )
        raise InputError(
            f"the design is singular: {', '.join(dropped)} cannot be separated from other terms ({'; '.join(details)})",
            source=source,
            hint=hint,
        )
