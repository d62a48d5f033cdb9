"""Grams of a parsed portion of one food, from the item's SR28 household measures.

:func:`portion_grams` converts a :class:`~gutaxis.lifestyle._portion_parse.Portion` with mass
units, volume units scaled from a volume measure, counted or whole-item measures, or the
portion words of ``data/portion_words.tsv``; it says how (or why it could not). Re-exported by
:mod:`gutaxis.lifestyle.matching`.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from .._data import package_table
from . import _text
from ._portion_parse import _UNIT_WORDS, MASS_G, VOLUME_CUP, Portion


@lru_cache(maxsize=1)
def _portion_words() -> dict[str, list[tuple[str, float, str]]]:
    df = package_table("portion_words.tsv", comment="#", dtype={"multiplier": float})
    out: dict[str, list[tuple[str, float, str]]] = {}
    for r in df.itertuples(index=False):
        out.setdefault(r.word, []).append((r.equivalent, float(r.multiplier), r.note))
    return out


def _measures(row) -> list[tuple[float, float, str, str]]:
    """Household measures of a food row: (grams, amount, unit word(s), original text)."""
    out = []
    for g, d in ((row.get("gmwt_1"), row.get("gmwt_desc1")), (row.get("gmwt_2"), row.get("gmwt_desc2"))):
        if g is None or d is None or (isinstance(g, float) and math.isnan(g)) or not isinstance(d, str):
            continue
        m = re.match(r"\s*(\d*\.?\d+)\s*(.*)", d)
        if not m or not float(g) > 0:
            continue
        amount = float(m.group(1))
        rest = m.group(2).lower().strip()
        if amount <= 0:
            continue
        out.append((float(g), amount, rest, d.strip()))
    return out


def _measure_unit(rest: str) -> str | None:
    r = rest.strip()
    if re.match(r"fl\.? ?oz\b", r) or r.startswith("fluid ounce"):
        return "fl oz"
    first = re.split(r"[\s,()]+", r)[0] if r else ""
    return _UNIT_WORDS.get(first) or (_text.stem(first) if first else None)


_LIQUID_WORDS = {
    "milk",
    "kefir",
    "juice",
    "drink",
    "beverage",
    "soymilk",
    "buttermilk",
    "water",
    "tea",
    "coffee",
    "beer",
    "wine",
    "soda",
    "cola",
    "smoothie",
    "shake",
    "broth",
    "lemonade",
    "nectar",
    "kombucha",
}
MAX_ITEM_G = 500.0  # a "whole item" heavier than this (a whole turkey breast, a melon) is not taken as one portion


def _is_plural(food: str) -> bool:
    words = [w for w in re.findall(r"[a-z]+", food.lower())]
    if not words:
        return False
    last = words[-1]
    return _text.stem(last) != last and last not in ("hummus", "asparagus", "couscous", "molasses", "swiss")


def portion_grams(portion: Portion, row) -> tuple[float | None, str]:
    """Grams for a parsed portion of one food row, and how they were obtained.

    Returns ``(grams, basis)``; grams is None when the portion cannot be converted with the
    food's SR28 household measures (the basis then says what to give instead).
    """
    q, unit = portion.quantity, portion.unit
    meas = _measures(row)
    listed = "; ".join(m[3] for m in meas) or "none"
    if unit in MASS_G:
        g = q * MASS_G[unit]
        return g, f"{_fmt(q)} {unit} = {_fmt(g)} g"
    if unit in VOLUME_CUP:
        cups = q * VOLUME_CUP[unit]
        best = None
        for g, amount, rest, text in meas:
            mu = _measure_unit(rest)
            if mu in VOLUME_CUP:
                gpc = g / (amount * VOLUME_CUP[mu])
                score = 0 if mu == unit else 1
                if best is None or score < best[0]:
                    best = (score, gpc, text, g)
        if best is None:
            desc = str(row.get("description", ""))
            if str(row.get("ndb_no", ""))[:2] == "14" or set(_text.tokens(desc)) & _LIQUID_WORDS:
                grams = cups * 236.5882365
                return grams, (
                    f"{_fmt(q)} {unit} = {_fmt(cups * 236.59)} ml, approximated as 1 g per ml "
                    "(this drink has no SR28 volume measure)"
                )
            return None, (f"no volume measure for this food in SR28 (measures: {listed}); give grams instead")
        grams = cups * best[1]
        return grams, f"{_fmt(q)} {unit} via SR28 measure '{best[2]}' = {_fmt(best[3])} g -> {_fmt(grams)} g"
    if unit is None:
        if not portion.stated and _is_plural(portion.food):
            return None, "no amount given (how many, or how many grams?)"
        food_words = [w for w in _text.tokens(portion.food) if len(w) > 2]
        # a measure that counts the food itself: "22 chips", "1 oz, (28 almonds)", "1 serving, 3 cookies"
        for g, _amount, _rest, text in meas:
            for w in food_words:
                for mm in re.finditer(r"(\d*\.?\d+)\s+([a-z]+)", text.lower()):
                    if _text.stem(mm.group(2)) == w:
                        n = float(mm.group(1))
                        if n > 0 and g / n <= MAX_ITEM_G:
                            grams = q * g / n
                            return (
                                grams,
                                f"{_fmt(q)} x 1/{_fmt(n)} of SR28 measure '{text}' ({_fmt(g / n)} g each) "
                                f"= {_fmt(grams)} g",
                            )
        sizes = [portion.size] if portion.size else []
        sizes += [
            "medium",
            "large",
            "small",
            "fruit",
            "whole",
            "each",
            "item",
            "unit",
            "can",
            "bottle",
            "container",
            "link",
            "patty",
            "sandwich",
            "mini",
        ]
        for word in sizes:
            for g, amount, rest, text in meas:
                mu = _measure_unit(rest)
                if mu in VOLUME_CUP or mu in MASS_G:
                    continue
                if word == mu or word in set(_text.tokens(rest)):
                    each = g / amount
                    if each > MAX_ITEM_G:
                        return None, (
                            f"the only whole-item measure is '{text}' ({_fmt(each)} g), too large for one "
                            "portion; give grams"
                        )
                    grams = q * each
                    return grams, f"{_fmt(q)} x SR28 measure '{text}' ({_fmt(each)} g each) = {_fmt(grams)} g"
        return None, (
            f"no SR28 household measure for a whole item of this food (measures: {listed}); "
            "give grams or a cup/tbsp measure"
        )
    want = [(unit, 1.0, ""), *_portion_words().get(unit, [])]
    for word, mult, note in want:
        if word in MASS_G:
            g = q * mult * MASS_G[word]
            return g, f"{_fmt(q)} {unit} taken as {_fmt(mult)} {word} each ({note}) = {_fmt(g)} g"
        for g, amount, rest, text in meas:
            rest_tokens = set(_text.tokens(rest))
            mu = _measure_unit(rest)
            if word in VOLUME_CUP and mu in VOLUME_CUP:
                grams = q * mult * VOLUME_CUP[word] * g / (amount * VOLUME_CUP[mu])
                return grams, (
                    f"{_fmt(q)} {unit} taken as {_fmt(mult)} {word} ({note}); SR28 measure "
                    f"'{text}' = {_fmt(g)} g -> {_fmt(grams)} g"
                )
            if word == mu or word in rest_tokens:
                grams = q * mult * g / amount
                how = f"{_fmt(q)} x SR28 measure '{text}' ({_fmt(g / amount)} g each) = {_fmt(grams)} g"
                if note:
                    how += f" ({note})"
                return grams, how
    return None, (
        f"no SR28 household measure for '{unit}' of this food (measures: {listed}); give grams or a cup/tbsp measure"
    )


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
