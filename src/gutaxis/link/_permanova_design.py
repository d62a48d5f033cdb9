"""PERMANOVA's model: the formula (:class:`Term`, :func:`parse_formula`) and the design built from it.

A one-sided formula (``"~ a * b + c"``) or a list of term strings becomes terms ordered by degree, as
R's ``terms()``; each term becomes a centred model matrix from the metadata (full indicators for
factors, row-wise products for interactions), and :func:`_build_design` finds the orthonormal basis
of what every tested term adds (sequentially for ``by="terms"``, against all other terms for
``by="margin"``), checking columns, levels and aliasing on the way.

Kept apart from the permutation engine and the public entry (:mod:`gutaxis.link.permanova`, which
re-exports :class:`Term` and :func:`parse_formula` and is the public place to import them from) and
from the whole-block permutations (``gutaxis.link._permanova_blocks``, which builds its block-level
model with :func:`_term_matrix`): what the model is does not depend on how it is tested. This module
imports neither of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.metadata import check_numeric_column, warn_case_variants
from ._design import split_top
from ._permutations import show_ids

_RANK_TOL = 1e-7  # as R's qr() default: a unit-norm column adding less than this is aliased


@dataclass(frozen=True)
class Term:
    """A model term: one variable (main effect) or several (an interaction)."""

    variables: tuple[tuple[str, bool], ...]  # (column, forced categorical via C(...))

    @property
    def label(self) -> str:
        return ":".join(f"C({c})" if forced else c for c, forced in self.variables)

    @property
    def columns(self) -> frozenset:
        return frozenset(c for c, _ in self.variables)


# ---------------------------------------------------------------------------------------------
# formula (split with ``_design.split_top``, as the association formulas)


def _variable(text: str, spec: str) -> tuple[str, bool]:
    t = text.strip()
    m = re.fullmatch(r"C\((.*)\)", t)
    forced = m is not None
    if m is not None:
        t = m.group(1).strip()
    if len(t) >= 2 and t[0] == "`" and t[-1] == "`":
        t = t[1:-1]
    elif not t or any(c in t for c in "()^-/|~`%"):
        raise InputError(
            f"cannot read the term {text.strip()!r} in {spec!r}",
            source="formula",
            hint="write terms as column names joined by + (main effects), : (interaction) or * "
            "(both), e.g. '~ diagnosis + age'; C(column) treats a numeric column as "
            "categorical; quote odd column names in backticks",
        )
    return t, forced


def parse_formula(formula_or_terms) -> list[Term]:
    """Terms of a one-sided formula (``"~ a + b + a:b"``, ``"~ a * b"``) or a list of term strings.

    Terms are ordered by degree (main effects first), then as written, like R's ``terms()``.
    """
    if isinstance(formula_or_terms, str):
        spec = formula_or_terms.strip()
        lhs, tilde, rhs = spec.partition("~")
        if tilde and lhs.strip():
            raise InputError(
                f"the formula {spec!r} has a left-hand side",
                source="formula",
                hint="PERMANOVA takes the distances as its response: write only '~ terms'",
            )
        pieces = split_top(rhs if tilde else spec, "+")
    else:
        spec = " + ".join(map(str, formula_or_terms))
        pieces = [str(t) for t in formula_or_terms]
    terms: list[Term] = []
    for piece in pieces:
        piece = piece.strip()
        if piece in ("", "1"):
            if piece == "" and len(pieces) > 1:
                raise InputError(f"empty term in {spec!r}", source="formula")
            continue
        factors = [[_variable(v, spec) for v in split_top(f, ":")] for f in split_top(piece, "*")]
        # a*b*c: every non-empty combination of the factors, lower orders first
        n = len(factors)
        combos = sorted((m for m in range(1, 2**n)), key=lambda m: (bin(m).count("1"), m))
        for mask in combos:
            vars_: list[tuple[str, bool]] = []
            for i in range(n):
                if mask >> i & 1:
                    for v in factors[i]:
                        if v not in vars_:
                            vars_.append(v)
            term = Term(tuple(vars_))
            if all(set(term.variables) != set(t.variables) for t in terms):
                terms.append(term)
    if not terms:
        raise InputError(
            f"the formula {spec!r} has no terms", source="formula", hint="e.g. '~ Phenotype' or '~ diagnosis + age'"
        )
    return sorted(terms, key=lambda t: len(t.variables))  # stable: as written within a degree


# ---------------------------------------------------------------------------------------------
# design


def _variable_matrix(meta: pd.DataFrame, column: str, forced: bool, term: Term, source: str, cache: dict) -> np.ndarray:
    key = (column, forced)
    if key in cache:
        return cache[key]
    if column not in meta.columns:
        cols = [str(c) for c in meta.columns]
        raise InputError(
            f"unknown column {column!r} in term {term.label!r}",
            source=source,
            hint=f"the metadata columns are: {show_ids(cols, 12)}",
        )
    values = meta[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(
            f"term {term.label!r}: column {column!r} is missing for {int(missing.sum())} sample(s): "
            f"{show_ids(meta.index[missing])}",
            source=source,
            hint="fill the values, or leave those samples out of both the distances and the metadata",
        )
    categorical = forced or not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values))
    if categorical and not forced:  # one word among numbers would make a numeric column a factor of every value
        check_numeric_column(values, column, source=source, categorical_hint=f"write C({column}) in the formula")
    if categorical:
        warn_case_variants(values.astype(str).unique(), column, source=source, stacklevel=5)
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.remove_unused_categories().cat.codes.to_numpy()
            levels = list(values.cat.remove_unused_categories().cat.categories)
        else:
            try:
                codes, levels = pd.factorize(values, sort=True)
            except TypeError:  # mixed types (e.g. numbers and text): compare as text
                codes, levels = pd.factorize(values.astype(str), sort=True)
            levels = list(levels)
        if len(levels) < 2:
            raise InputError(
                f"term {term.label!r}: column {column!r} has a single level ({levels[0]!r}) among the "
                f"{len(values)} samples",
                source=source,
                hint="a term needs at least two groups; drop it from the formula",
            )
        X = np.zeros((len(values), len(levels)))
        X[np.arange(len(values)), codes] = 1.0
    else:
        x = values.to_numpy(dtype=np.float64)
        if not np.isfinite(x).all():
            bad = ~np.isfinite(x)
            raise InputError(
                f"term {term.label!r}: column {column!r} is infinite for sample(s) {show_ids(meta.index[bad])}",
                source=source,
            )
        if np.ptp(x) == 0:
            raise InputError(
                f"term {term.label!r}: column {column!r} has a single value ({x[0]!r}) for all {len(x)} samples",
                source=source,
                hint="a constant term explains nothing; drop it",
            )
        X = x[:, None]
    cache[key] = X
    return X


def _term_matrix(meta: pd.DataFrame, term: Term, source: str, cache: dict) -> np.ndarray:
    """Row-wise product of the variables' codings (full indicators for factors), centred and
    scaled to unit column norm; with terms ordered by degree this spans what R's
    ``model.matrix`` spans."""
    X = None
    for column, forced in term.variables:
        V = _variable_matrix(meta, column, forced, term, source, cache)
        X = V if X is None else (X[:, :, None] * V[:, None, :]).reshape(len(V), -1)
    assert X is not None  # a term has at least one variable
    X = X - X.mean(axis=0)
    norms = np.linalg.norm(X, axis=0)
    keep = norms > 1e-12 * max(1.0, float(norms.max()))
    return X[:, keep] / norms[keep]


def _complement_basis(X: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Orthonormal basis of what the columns of ``X`` add to the span of ``Q`` (orthonormal)."""
    R = X
    if Q.shape[1]:
        R = X - Q @ (Q.T @ X)
        R -= Q @ (Q.T @ R)  # re-orthogonalise (classical Gram-Schmidt twice)
    if R.shape[1] == 0:
        return R
    U, s, _ = np.linalg.svd(R, full_matrices=False)
    return np.ascontiguousarray(U[:, s > _RANK_TOL])


@dataclass
class _Design:
    labels: list[str]  # terms tested, in table order
    bases: list[np.ndarray]  # orthonormal basis per tested term (n x df)
    rank: int  # rank of the full model (without intercept)
    full: np.ndarray | None  # basis of the full model when the tested bases do not add up to it (margins)


def _build_design(meta: pd.DataFrame, terms: list[Term], by: str, source: str) -> _Design:
    cache: dict = {}
    mats = [_term_matrix(meta, t, source, cache) for t in terms]
    n = len(meta)
    seq, Q = [], np.zeros((n, 0))
    for i, (t, X) in enumerate(zip(terms, mats, strict=True)):
        B = _complement_basis(X, Q)
        if B.shape[1] == 0:
            before = ", ".join(repr(s.label) for s in terms[:i]) or "the intercept"
            raise InputError(
                f"term {t.label!r} adds nothing to the terms before it (it is aliased with {before})",
                source=source,
                hint="drop the term or one of the terms it duplicates",
            )
        seq.append(B)
        Q = np.hstack([Q, B])
    rank = Q.shape[1]
    if n - 1 - rank < 1:
        raise InputError(
            f"the model uses {rank} degrees of freedom for {n} samples: no residual degrees of freedom are left",
            source=source,
            hint="use fewer terms (or fewer levels) than samples",
        )
    if by == "terms":
        return _Design([t.label for t in terms], seq, rank, None)
    # margin: only terms not contained in a higher-order term (vegan's drop.scope)
    labels, bases = [], []
    for i, t in enumerate(terms):
        if any(t.columns < u.columns for u in terms):
            continue
        Qo = np.zeros((n, 0))
        for j, X in enumerate(mats):
            if j != i:
                Qo = np.hstack([Qo, _complement_basis(X, Qo)])
        B = _complement_basis(mats[i], Qo)
        if B.shape[1] == 0:
            raise InputError(
                f"term {t.label!r} adds nothing once the other terms are in the model (it is aliased)",
                source=source,
                hint="drop it or the term it duplicates",
            )
        labels.append(t.label)
        bases.append(B)
    return _Design(labels, bases, rank, Q)
