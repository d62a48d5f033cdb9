"""The recommendation rules of the personal plan: ``gutaxis/data/recommendations.tsv``, validated on load.

Each rule has a population (condition tags), a trigger over the person's scores
(:func:`evaluate_trigger`, three-valued: a missing score leaves the rule *not evaluated*), an
evidence grade (:data:`GRADES`), a citation with a DOI/PMID/ISBN/URL, contraindications
(``flag:withhold`` or ``flag:caution``) and the change it makes to the simulated inputs.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pandas as pd

from .._data import package_table
from ..errors import InputError
from .person import CONDITIONS, FLAGS

__all__ = ["GRADES", "evaluate_trigger", "recommendations"]

GRADES = {
    "A": "meta-analysis of randomised trials, or a large randomised trial with a clinical outcome",
    "B": "a single randomised trial, or consistent large cohort studies",
    "C": "small trials, biomarker outcomes or mixed results",
    "G": "guideline or consensus statement",
}
_REC_COLUMNS = (
    "id",
    "kind",
    "title",
    "text",
    "population",
    "condition_tags",
    "trigger",
    "target",
    "effect_summary",
    "grade",
    "citation",
    "contraindications",
    "contraindication_reason",
    "contraindication_citation",
    "simulated_change",
    "discuss",
)
_CITE_RE = re.compile(r"(doi:\s*10\.\d{4,9}/\S+|PMID:?\s*\d{6,9}|ISBN[\s:]*[\d\- X]{10,17}|https?://\S+)", re.I)


# --------------------------------------------------------------------------- the rules
@lru_cache(maxsize=1)
def _rules() -> pd.DataFrame:
    df = package_table("recommendations.tsv", comment="#", dtype=str, keep_default_na=False)
    _validate_rules(df, "gutaxis/data/recommendations.tsv")
    return df


def _validate_rules(df: pd.DataFrame, src: str) -> None:
    missing = [c for c in _REC_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", source=src)
    for r in df.itertuples(index=False):
        where = f"rule {r.id!r}"
        if r.kind not in ("suggestion", "limit"):
            raise InputError(f"{where}: kind {r.kind!r} is not suggestion/limit", source=src)
        if r.grade not in GRADES:
            raise InputError(f"{where}: evidence grade {r.grade!r} is not one of A, B, C, G", source=src)
        if not _CITE_RE.search(r.citation or ""):
            raise InputError(f"{where}: the citation has no DOI, PMID, ISBN or URL", source=src)
        if not r.discuss.strip():
            raise InputError(f"{where}: no 'discuss with your clinician' framing", source=src)
        for tag in _split(r.condition_tags):
            if tag != "any" and tag not in CONDITIONS:
                raise InputError(f"{where}: unknown condition tag {tag!r}", source=src)
        for flag, action in _contraindications(r.contraindications):
            if flag not in FLAGS or action not in ("withhold", "caution"):
                raise InputError(f"{where}: contraindication {flag}:{action} is not valid", source=src)
        evaluate_trigger(r.trigger, {}, strict=True)  # syntax only
        for ch in _split(r.simulated_change):
            _parse_change(ch)


def recommendations() -> pd.DataFrame:
    """The recommendation rules (package data), one row per rule, validated on load."""
    return _rules().copy()


def _split(text: str) -> list[str]:
    return [p.strip() for p in str(text or "").split(";") if p.strip()]


def _contraindications(text: str) -> list[tuple[str, str]]:
    out = []
    for part in _split(text):
        flag, _, action = part.partition(":")
        out.append((flag.strip(), action.strip() or "withhold"))
    return out


# --------------------------------------------------------------------------- trigger expressions
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|(<=|>=|==|!=|<|>)|(\()|(\))|([A-Za-z_][A-Za-z0-9_]*))")


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise InputError(f"trigger {expr!r}: cannot read {expr[pos:]!r}", source="recommendations.tsv")
        num, op, lp, rp, name = m.groups()
        if num:
            out.append(("num", num))
        elif op:
            out.append(("op", op))
        elif lp:
            out.append(("(", lp))
        elif rp:
            out.append((")", rp))
        elif name.lower() in ("and", "or"):
            out.append((name.lower(), name))
        else:
            out.append(("name", name))
        pos = m.end()
    return out


def evaluate_trigger(expr: str, scores: dict, *, strict: bool = False):
    """Evaluate a trigger such as ``"fiber_g_per_day < fiber_target_g or GMHI < 0"``.

    Returns ``(value, used, missing)``: ``value`` True/False, or None when a score it needs is
    missing (three-valued logic: ``False and None`` is False, ``True or None`` is True);
    ``used`` the scores read; ``missing`` those without a value. ``"always"`` is True.
    """
    expr = str(expr or "").strip()
    if expr in ("", "always"):
        return True, [], []
    toks = _tokens(expr)
    pos = [0]
    used: list[str] = []
    missing: list[str] = []

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else (None, None)

    def take(kind=None):
        t = peek()
        if t[0] is None or (kind and t[0] != kind):
            raise InputError(
                f"trigger {expr!r}: expected {kind or 'more'} at token {pos[0] + 1}", source="recommendations.tsv"
            )
        pos[0] += 1
        return t

    def operand():
        kind, v = take()
        if kind == "num":
            return float(v)
        if kind == "name":
            if v not in used:
                used.append(v)
            x = scores.get(v)
            try:
                x = None if x is None else float(x)
            except (TypeError, ValueError):
                x = None
            if x is None or not math.isfinite(x):
                if v not in missing:
                    missing.append(v)
                return None
            return x
        raise InputError(f"trigger {expr!r}: expected a score or a number", source="recommendations.tsv")

    def comparison():
        if peek()[0] == "(":
            take("(")
            v = disjunction()
            take(")")
            return v
        a = operand()
        _, op = take("op")
        b = operand()
        if a is None or b is None:
            return None
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]

    def conjunction():
        vals = [comparison()]
        while peek()[0] == "and":
            take("and")
            vals.append(comparison())
        if any(v is False for v in vals):
            return False
        return None if any(v is None for v in vals) else True

    def disjunction():
        vals = [conjunction()]
        while peek()[0] == "or":
            take("or")
            vals.append(conjunction())
        if any(v is True for v in vals):
            return True
        return None if any(v is None for v in vals) else False

    value = disjunction()
    if pos[0] != len(toks):
        raise InputError(f"trigger {expr!r}: unexpected {toks[pos[0]][1]!r}", source="recommendations.tsv")
    if strict:
        return None, used, missing
    return value, used, missing


def _parse_change(text: str) -> tuple[str, str, str]:
    m = re.fullmatch(
        r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(max|min|mul|set)\s*:\s*([A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?)\s*", text
    )
    if not m:
        raise InputError(
            f"simulated_change {text!r} is not 'score=max|min|mul|set:value'", source="recommendations.tsv"
        )
    return m.group(1), m.group(2), m.group(3)
