"""The formula of :func:`gutaxis.link.associate` (and LinDA): R's ``~ a * b + c + (1|g)`` read
into fixed-effect terms and random intercepts.

:func:`parse_formula` splits the right-hand side on top-level ``+`` (:func:`split_top`), keeps
random intercepts ``(1|g)``, and reads the fixed part with a small recursive-descent parser of R's
operators ``+ : * / ^ ( )`` and ``C(column)``. Interactions (``a:b``, ``a*b`` = ``a + b + a:b``,
``a/b`` = ``a + a:b``, ``(a + b + c)^2``, higher orders) follow R's ``terms()``: terms are sorted
by order (main effects first), as written within an order, repeats dropped; the variables of an
interaction are named in the order they first appear in the formula. :func:`_as_terms` turns
fixed effects given as names, tuples or term strings into the same terms.

Kept apart from ``_design.py``, which codes those terms as columns of the design matrix: this
module knows only the grammar, not the metadata's values; ``_design.py`` imports (and re-exports)
its names, this module never imports it. PERMANOVA reads its own, simpler grammar in
``_permanova_design.py`` (another ``parse_formula``, returning its ``Term`` objects) and shares
only :func:`split_top` with this module.
"""

from __future__ import annotations

import re

from ..errors import InputError

__all__ = ["categorical_name", "parse_formula", "split_top"]

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
