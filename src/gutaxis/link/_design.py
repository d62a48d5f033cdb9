"""Design matrices for :func:`gutaxis.link.associate`: formula parsing, reference levels,
standardisation, random-intercept groupings, and checks that name the terms at fault.

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
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io.metadata import MetadataWarning

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


_RANDOM = re.compile(r"^\(\s*1\s*\|\s*([^()|]+?)\s*\)$")
_HINT = (
    "use main effects, interactions (a:b, a*b) and random intercepts '(1|group)'; make transformed "
    "variables a metadata column first"
)


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and backticks (parts as written, unstripped)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, tick = 0, False
    for ch in text:
        if ch == "`":
            tick = not tick
        elif not tick and ch == "(":
            depth += 1
        elif not tick and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not tick:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _split_plus(text: str) -> list[str]:
    return [p.strip() for p in split_top(text, "+") if p.strip()]


# ----------------------------------------------------------------------------------------------
# fixed-effect terms: a small parser of R's formula operators + : * / ^ ( )

_TOKEN = re.compile(r"\s*(?:(`[^`]*`)|([A-Za-z_.][\w.]*)|(\d+)|([-+:*/^()]))")


def _tokenize(text: str, where: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(
                f"formula term {where!r} is not supported (cannot read {text[pos:].strip()!r})",
                source="formula",
                hint=_HINT,
            )
        tick, name, num, op = m.groups()
        if tick is not None:
            out.append(("name", tick[1:-1]))
        elif name is not None:
            out.append(("name", name))
        elif num is not None:
            out.append(("num", num))
        else:
            out.append(("op", op))
        pos = m.end()
    return out


class _TermParser:
    """Recursive descent over R's formula grammar for fixed effects.

    ``expr := prod ('+' prod)*``; ``prod := inter (('*' | '/') inter)*``;
    ``inter := power (':' power)*``; ``power := atom ('^' int)?``; ``atom := name | '(' expr ')'``.
    Each rule returns a list of terms (frozensets of variable names), in R's expansion order.
    """

    def __init__(self, tokens, where) -> None:
        self.t, self.i, self.where = tokens, 0, where
        self.order: list[str] = []  # variables in order of first appearance

    def _fail(self, what):
        raise InputError(f"formula term {self.where!r} is not supported ({what})", source="formula", hint=_HINT)

    def _peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def parse(self):
        terms = self.expr()
        if self.i != len(self.t):
            self._fail(f"unexpected {self._peek()[1]!r}")
        return terms

    @staticmethod
    def _add(a, b):
        return a + [t for t in b if t not in a]

    @staticmethod
    def _cross(a, b):
        out = []
        for s in a:
            for t in b:
                u = s | t
                if u not in out:
                    out.append(u)
        return out

    def expr(self):
        terms = self.prod()
        while self._peek() == ("op", "+"):
            self.i += 1
            terms = self._add(terms, self.prod())
        if self._peek() == ("op", "-"):
            self._fail("'-' to remove a term")
        return terms

    def prod(self):
        terms = self.inter()
        while self._peek() in (("op", "*"), ("op", "/")):
            op = self._peek()[1]
            self.i += 1
            right = self.inter()
            if op == "*":
                terms = self._add(self._add(terms, right), self._cross(terms, right))
            else:  # a/b = a + (all variables of a):b
                whole = [frozenset().union(*terms)]
                terms = self._add(terms, self._cross(whole, right))
        return terms

    def inter(self):
        terms = self.power()
        while self._peek() == ("op", ":"):
            self.i += 1
            terms = self._cross(terms, self.power())
        return terms

    def power(self):
        terms = self.atom()
        if self._peek() == ("op", "^"):
            self.i += 1
            kind, val = self._peek()
            if kind != "num" or int(val) < 1:
                self._fail("'^' needs a positive whole number")
            self.i += 1
            base = terms
            for _ in range(int(val) - 1):
                terms = self._add(self._add(terms, base), self._cross(terms, base))
        return terms

    def atom(self):
        kind, val = self._peek()
        if kind == "name":
            self.i += 1
            if self._peek() == ("op", "(") and val == "C":  # C(x): x as categorical, as in R and permanova
                inner = self.t[self.i + 1] if self.i + 1 < len(self.t) else (None, None)
                close = self.t[self.i + 2] if self.i + 2 < len(self.t) else (None, None)
                if inner[0] != "name" or close != ("op", ")"):
                    self._fail("C() takes one column name, e.g. C(group) or C(`Group (1=HC,2=RA)`)")
                self.i += 3
                val = categorical_name(inner[1])
            elif self._peek() == ("op", "("):
                self._fail(f"function {val}() in a formula")
            if val not in self.order:
                self.order.append(val)
            return [frozenset([val])]
        if (kind, val) == ("op", "("):
            self.i += 1
            terms = self.expr()
            if self._peek() != ("op", ")"):
                self._fail("unbalanced parentheses")
            self.i += 1
            return terms
        self._fail(f"unexpected {val!r}" if val is not None else "incomplete term")


def _fixed_terms(text: str) -> list[tuple[str, ...]]:
    """R's ``attr(terms(~ text), "term.labels")`` as tuples of variables: repeats dropped, sorted
    by order (stable), variables in order of first appearance in ``text``."""
    parser = _TermParser(_tokenize(text, text.strip()), text.strip())
    sets = parser.parse()
    rank = {v: k for k, v in enumerate(parser.order)}
    sets = sorted(sets, key=len)  # stable: as expanded within an order
    return [tuple(sorted(s, key=rank.__getitem__)) for s in sets]


def parse_formula(formula: str) -> tuple[list, list[str]]:
    """``"~ a * b + c + (1|g)"`` -> ``(["a", "b", "c", ("a", "b")], ["g"])``.

    Fixed terms come back in R's order (main effects first): a main effect as the variable name,
    an interaction as a tuple of variable names. Random intercepts ``(1|g)`` are understood;
    random slopes, transformations and term removal raise :class:`InputError` naming the term.
    """
    text = str(formula).strip()
    if "~" not in text:
        raise InputError(
            f"formula {formula!r} has no '~'", source="formula", hint="write it as '~ diagnosis + age + (1|subject)'"
        )
    rhs = text.split("~", 1)[1].strip()
    if not rhs:
        raise InputError(
            f"formula {formula!r} has no terms", source="formula", hint="write it as '~ diagnosis + age + (1|subject)'"
        )
    pieces, random = [], []
    for term in _split_plus(rhs):
        m = _RANDOM.match(term)
        if m:
            random.append(m.group(1).strip().strip("`"))
        elif term in ("1", "0", "-1"):
            if term != "1":
                raise InputError(
                    f"term {term!r}: models without an intercept are not supported",
                    source="formula",
                    hint="drop the term",
                )
        elif "|" in term:
            raise InputError(
                f"formula term {term!r} is not supported", source="formula", hint="random intercepts only: '(1|group)'"
            )
        else:
            pieces.append(term)
    if not pieces:
        return [], random
    fixed = _fixed_terms(" + ".join(pieces))
    return [t[0] if len(t) == 1 else t for t in fixed], random


def _needs_quote(name: str) -> bool:
    return not re.fullmatch(r"[A-Za-z_.][\w.]*", name)


_CATEGORICAL = re.compile(r"^C\((.*)\)$", re.DOTALL)


def categorical_name(column: str) -> str:
    """The variable name of ``C(column)``: the column modelled as categorical."""
    return f"C({column})"


def _forced_column(name: str, columns) -> str | None:
    """The column of a ``C(column)`` variable (backticks allowed), or None."""
    m = _CATEGORICAL.match(str(name).strip())
    if not m:
        return None
    inner = m.group(1).strip()
    if len(inner) >= 2 and inner[0] == inner[-1] == "`":
        inner = inner[1:-1]
    return inner if inner in set(map(str, columns)) else None


def _as_terms(fixed, columns) -> list[tuple[str, ...]]:
    """Fixed effects as given (variable names, tuples, or term strings such as ``"a:b"``,
    ``"a*b"``, ``"C(group)"``) -> the model's terms."""
    cols = set(map(str, columns))
    entries = [e if isinstance(e, (tuple, list)) else str(e) for e in fixed]
    # C(column) of an existing column, however odd its name: a variable, not a formula to parse
    entries = [
        categorical_name(forced)
        if isinstance(e, str) and e not in cols and (forced := _forced_column(e, cols)) is not None
        else e
        for e in entries
    ]
    cols |= {e for e in entries if isinstance(e, str) and _forced_column(e, columns) is not None}
    if any(isinstance(e, str) and e not in cols and re.search(r"[:*/^()]", e) for e in entries):
        # term strings: read the whole list as one formula, as R reads '~ e1 + e2 + ...'
        text = " + ".join(
            e
            if isinstance(e, str) and e not in cols
            else ":".join(f"`{v}`" if _needs_quote(v) else v for v in ((e,) if isinstance(e, str) else e))
            for e in entries
        )
        return _fixed_terms(text)
    terms: list[tuple[str, ...]] = []
    for e in entries:
        t = (e,) if isinstance(e, str) else tuple(dict.fromkeys(map(str, e)))
        if all(set(t) != set(s) for s in terms):
            terms.append(t)
    return sorted(terms, key=len)


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
