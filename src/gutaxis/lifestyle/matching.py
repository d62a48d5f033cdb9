"""Free-text food matching with portion words: "1 cup kimchi" -> (NDB_No, description, grams).

:class:`FoodMatcher` matches what people write ("greek yogurt", "slice of sourdough",
"2 eggs", "150 g brown rice", "a banana") to a USDA SR28 item and converts the portion to
grams with the item's household measures (``GmWt_Desc1``/``GmWt_Desc2``), mass units (g, kg,
oz, lb) or volume units (cup, tbsp, tsp, fl oz, ml) scaled from a volume measure.

Every result says how sure it is: ``status`` is ``"matched"`` (all words found in the item's
description), ``"low_confidence"`` (some words not found, or a close runner-up with different
words; the candidates are listed) or ``"unmatched"`` (nothing adequate; candidates listed, no
guess). A portion that cannot be converted leaves ``grams`` empty and says why in ``note``.

Favourites: :meth:`FoodMatcher.remember` (or an alias CSV with ``phrase, ndb_no, grams``)
maps a person's own phrase ("my usual porridge") to an item and, optionally, grams per portion.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .._data import package_table
from ..errors import InputError
from . import _text
from ._csvsafe import unescape_cell

__all__ = ["FoodMatch", "FoodMatcher", "Portion", "parse_portion", "portion_grams", "read_aliases"]

# ---------------------------------------------------------------- portion parsing

_NUMBER_WORDS = {
    "a": 1.0,
    "an": 1.0,
    "one": 1.0,
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "twelve": 12.0,
    "half": 0.5,
    "quarter": 0.25,
    "couple": 2.0,
    "few": 3.0,
    "dozen": 12.0,
}
_FRACTIONS = {"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3", "⅛": " 1/8"}

MASS_G = {"g": 1.0, "kg": 1000.0, "mg": 0.001, "oz": 28.349523125, "lb": 453.59237}
VOLUME_CUP = {
    "cup": 1.0,
    "tbsp": 1 / 16,
    "tsp": 1 / 48,
    "fl oz": 1 / 8,
    "ml": 1 / 236.5882365,
    "l": 1000 / 236.5882365,
    "pint": 2.0,
    "quart": 4.0,
}

_UNIT_WORDS = {
    "g": "g",
    "gr": "g",
    "grs": "g",
    "gram": "g",
    "grams": "g",
    "gramme": "g",
    "grammes": "g",
    "kg": "kg",
    "kilo": "kg",
    "kilos": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "mg": "mg",
    "oz": "oz",
    "ounce": "oz",
    "ounces": "oz",
    "lb": "lb",
    "lbs": "lb",
    "pound": "lb",
    "pounds": "lb",
    "ml": "ml",
    "millilitre": "ml",
    "milliliter": "ml",
    "millilitres": "ml",
    "milliliters": "ml",
    "l": "l",
    "litre": "l",
    "liter": "l",
    "litres": "l",
    "liters": "l",
    "cup": "cup",
    "cups": "cup",
    "c": "cup",
    "tbsp": "tbsp",
    "tbs": "tbsp",
    "tbl": "tbsp",
    "tblsp": "tbsp",
    "tablespoon": "tbsp",
    "tablespoons": "tbsp",
    "tsp": "tsp",
    "teaspoon": "tsp",
    "teaspoons": "tsp",
    "pint": "pint",
    "pints": "pint",
    "quart": "quart",
    "quarts": "quart",
}
_HOUSEHOLD = {
    "slice",
    "piece",
    "pc",
    "handful",
    "glass",
    "bowl",
    "can",
    "bottle",
    "scoop",
    "square",
    "clove",
    "pat",
    "container",
    "serving",
    "portion",
    "stick",
    "spear",
    "link",
    "strip",
    "fillet",
    "wedge",
    "packet",
    "bag",
    "box",
    "jar",
    "mug",
    "shot",
    "dash",
    "pinch",
    "sprig",
    "stalk",
    "head",
    "bunch",
    "sheet",
    "patty",
    "carton",
    "pot",
    "tub",
    "cube",
    "leaf",
    "rasher",
    "knob",
    "dollop",
    "spoonful",
    "sachet",
}
_SIZES = {"small", "medium", "large", "big", "mini", "jumbo", "extra", "thick", "thin"}
_SIZE_AS = {"big": "large", "thick": "large", "thin": "small"}  # USDA's "1 large or thick slice"


@dataclass
class Portion:
    """A parsed portion: ``quantity`` x ``unit`` of ``food`` (``unit`` None = whole items)."""

    quantity: float
    unit: str | None
    food: str
    size: str | None = None
    stated: bool = False  # whether the person gave a number or a unit
    text: str = ""  # the words as written (lower case)


def _to_number(tok: str) -> float | None:
    tok = tok.strip()
    if not tok:
        return None
    m = re.fullmatch(r"(\d+)\s+(\d+)/(\d+)", tok)
    if m:
        return int(m.group(1)) + int(m.group(2)) / int(m.group(3))
    m = re.fullmatch(r"(\d+)/(\d+)", tok)
    if m:
        return int(m.group(1)) / int(m.group(2)) if int(m.group(2)) else None
    try:
        return float(tok.replace(",", "."))
    except ValueError:
        return _NUMBER_WORDS.get(tok)


_NUM_RE = r"(\d+\s+\d+/\d+|\d+/\d+|\d+(?:[.,]\d+)?)"


def _unit_of(word: str) -> str | None:
    w = word.lower().strip(".")
    if w in _UNIT_WORDS:
        return _UNIT_WORDS[w]
    s = _text.stem(w)
    if s in _HOUSEHOLD:
        return s
    if w in ("fl", "floz"):
        return "fl oz"
    return None


def parse_portion(text: str) -> Portion:
    """Split "2 slices whole wheat bread" into quantity 2, unit "slice", food "whole wheat bread".

    Understands numbers ("2", "1.5", "1/2", "1 1/2", "½"), number words ("a", "an", "two",
    "half", "a couple of"), size words ("a large banana"), mass/volume units (g, kg, oz, lb,
    ml, l, fl oz, cup, tbsp, tsp), household words (slice, piece, handful, glass, bowl, can,
    scoop, square, clove, pat...) with or without "of", glued numbers ("150g") and trailing
    portions ("brown rice 150 g", "kimchi, 1 cup").

    Examples
    --------
    >>> from gutaxis.lifestyle.matching import parse_portion
    >>> p = parse_portion("1 1/2 cups kimchi")
    >>> p.quantity, p.unit, p.food
    (1.5, 'cup', 'kimchi')
    >>> p = parse_portion("brown rice 150g")
    >>> p.quantity, p.unit, p.food
    (150.0, 'g', 'brown rice')
    >>> p = parse_portion("a couple of slices whole wheat bread")
    >>> p.quantity, p.unit, p.food
    (2.0, 'slice', 'whole wheat bread')
    """
    t = str(text).strip().lower()
    for k, v in _FRACTIONS.items():
        t = t.replace(k, v)
    t = re.sub(r"(\d)([a-z])", r"\1 \2", t)  # 150g -> 150 g
    t = re.sub(r"\s+", " ", t).strip(" ,;")
    words = t.split(" ")
    qty, unit, size, stated = 1.0, None, None, False
    # leading quantity
    t = re.sub(r"^(a|an)\s+(?=\d)", "", t)  # "a 6oz container of yogurt"
    words = t.split(" ")
    m = re.match(_NUM_RE + r"\b", t)
    if m:
        qty = _to_number(m.group(1)) or 1.0
        stated = True
        words = t[m.end() :].strip().split(" ")
    else:
        if words and words[0] in ("a", "an", "one") and len(words) > 1 and words[1] in ("half", "quarter"):
            # "a half cup" / "one quarter pound"
            qty, words, stated = _NUMBER_WORDS[words[1]], words[2:], True
        elif words and words[0] in ("half", "quarter"):
            qty, words, stated = _NUMBER_WORDS[words[0]], words[1:], True
            if words and words[0] in ("a", "an", "of"):
                words = words[1:]
                if words and words[0] in ("a", "an"):
                    words = words[1:]
        elif words and words[0] in ("a", "an") and len(words) > 1 and words[1] in ("couple", "few", "dozen"):
            qty, words, stated = _NUMBER_WORDS[words[1]], words[2:], True
            if words and words[0] == "of":
                words = words[1:]
        elif words and words[0] in _NUMBER_WORDS and words[0] not in ("half", "quarter"):
            counted = words[0] not in ("a", "an")
            qty, words, stated = _NUMBER_WORDS[words[0]], words[1:], counted
    if words[:3] == ["and", "a", "half"]:  # "1 and a half cups"
        qty += 0.5
        words = words[3:]
    # size
    while words and words[0] in _SIZES:
        size = _SIZE_AS.get(words[0], words[0])
        words = words[1:]
    # unit
    if words:
        if len(words) >= 2 and words[0] in ("fl", "fluid") and words[1] in ("oz", "ounce", "ounces"):
            unit, words = "fl oz", words[2:]
        else:
            u = _unit_of(words[0])
            rest = words[1:]
            # a household word is a unit after a number ("2 slices bread") or before "of"
            # ("slice of sourdough"); "pot roast" or "leaf lettuce" are foods
            if u is not None and rest and (u in _UNIT_WORDS.values() or u == "fl oz" or stated or rest[0] == "of"):
                unit, words = u, rest
        if unit is not None and words and words[0] == "of":
            words = words[1:]
        if unit is not None:
            stated = True
    food = " ".join(words).strip(" ,")
    if unit is None:
        # trailing portion: "brown rice 150 g", "kimchi, 1 cup", "oats (40 g)"
        m = re.search(r"[\s,(]+" + _NUM_RE + r"\s*(fl oz|[a-z]+)\.?\)?$", food)
        if m:
            u = _unit_of(m.group(2)) if m.group(2) != "fl oz" else "fl oz"
            if u is not None:
                qty, unit, stated = _to_number(m.group(1)) or 1.0, u, True
                food = food[: m.start()].strip(" ,(")
    food = re.sub(r"^(of|a|an|the|some)\s+", "", food)
    return Portion(quantity=float(qty), unit=unit, food=food, size=size, stated=stated, text=t)


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


# ---------------------------------------------------------------- matching

# phrase-level synonyms: common words -> the words USDA descriptions use
_SYNONYMS: list[tuple[str, str]] = [
    (r"\b(coke|pepsi|coca[- ]?cola)\b", "cola"),
    (r"\bdonuts?\b", "doughnut"),
    (r"\b(french )?fries\b", "french fried potatoes"),
    (r"\bchips\b(?=.*\b(fish)\b)", "french fried potatoes"),
    (r"\bketchup\b", "catsup"),
    (r"\bhot ?dogs?\b", "frankfurter"),
    (r"\bgarbanzos?( beans?)?\b", "chickpeas"),
    (r"\b(porridge|oatmeal)\b(?!\s*(cookie|bar|raisin|muffin|bread|cereal))", "oats cooked"),
    (r"\bsoy ?milk\b", "soymilk"),
    (r"\byoghurts?\b", "yogurt"),
    (r"\baubergines?\b", "eggplant"),
    (r"\bcourgettes?\b", "zucchini"),
    (r"\b(bell|sweet) peppers?\b|\bcapsicums?\b", "peppers sweet"),
    (r"\bprawns?\b", "shrimp"),
    (r"\bmince(d beef)?\b", "ground beef"),
    (r"\bcrisps\b", "potato chips"),
    (r"\bpb\b", "peanut butter"),
    (r"\bmayo\b", "mayonnaise"),
    (r"\bspuds?\b", "potato"),
    (r"\bscallions?\b|\bspring onions?\b|\bgreen onions?\b", "onions spring scallions"),
    (r"\bcilantro\b", "coriander"),
    (r"\bflax ?seeds?\b|\blinseeds?\b", "flaxseed"),
    (r"\bedamame\b", "edamame"),
    (r"\bcheddar\b", "cheddar cheese"),
    (r"\bparmesan\b|\bparmigiano\b", "parmesan cheese"),
    (r"\bmozzarella\b", "mozzarella cheese"),
    (r"\bfeta\b", "feta cheese"),
    (r"\bgouda\b", "gouda cheese"),
    (r"\bsunflower seeds?\b", "sunflower seed kernels"),
    (r"\bgreen tea\b", "green tea brewed"),
    (r"\bblack tea\b", "black tea brewed"),
    (r"\bcoffee\b(?!\s*(cake|creamer|liqueur))", "coffee brewed"),
    (r"\bespresso\b", "coffee espresso"),
]
_QUERY_STOP = {
    "a",
    "an",
    "the",
    "of",
    "some",
    "my",
    "and",
    "with",
    "i",
    "had",
    "ate",
    "for",
    "breakfast",
    "lunch",
    "dinner",
    "snack",
    "bit",
    "little",
    "lots",
    "plate",
    "side",
    "serving",
    "portion",
    "homemade",
    "home",
    "made",
    "fresh",
    "organic",
    "x",
    "pc",
    "pcs",
    "piece",
    "slice",
    "cup",
    "glass",
    "bowl",
    "handful",
    "few",
}
# modifiers that add little information: weight them down in coverage
_SOFT = {
    "ground": 0.3,
    "sliced": 0.2,
    "chopped": 0.2,
    "diced": 0.2,
    "small": 0.1,
    "large": 0.1,
    "medium": 0.1,
    "plain": 0.3,
    "whole": 0.5,
    "regular": 0.1,
    "natural": 0.2,
    "unsalted": 0.4,
    "salted": 0.4,
    "cooked": 0.6,
    "brewed": 0.3,
    "kernel": 0.3,
    "cheese": 0.6,
    "sweet": 0.8,
    "chunk": 0.2,
    "cube": 0.2,
    "ring": 0.3,
    "strip": 0.3,
    "wedge": 0.2,
    "baked": 0.6,
    "grilled": 0.6,
    "roasted": 0.6,
    "broiled": 0.6,
    "steamed": 0.6,
    "boiled": 0.7,
    "fried": 0.8,
}
# description words that are neutral as extras (defaults, qualifiers)
_NEUTRAL = {
    _text.stem(w)
    for w in (
        "with",
        "without",
        "or",
        "and",
        "of",
        "in",
        "from",
        "to",
        "for",
        "per",
        "the",
        "type",
        "style",
        "includes",
        "all",
        "variety",
        "raw",
        "regular",
        "plain",
        "commercial",
        "commercially",
        "prepared",
        "ready",
        "eat",
        "fresh",
        "ripe",
        "whole",
        "average",
        "year",
        "round",
        "salt",
        "added",
        "fluid",
        "enriched",
        "unenriched",
        "vitamin",
        "fortified",
        "brewed",
        "tap",
        "water",
        "solids",
        "liquids",
        "drained",
        "nfs",
        "ns",
        "us",
        "species",
        "mixed",
        "grades",
        "choice",
        "select",
        "edible",
        "portion",
        "kernels",
        "seeds",
        "seed",
        "mature",
        "meat",
        "only",
        "boneless",
        "broilers",
        "fryers",
        "broiler",
        "fryer",
        "beverage",
        "cereal",
        "carbonated",
        "alcoholic",
        "nut",
        "fish",
        "candy",
        "candies",
        "crustacean",
        "snack",
        "calcium",
        "propionate",
        "a",
        "d",
        "e",
        "b",
        "c",
        "k",
        "lean",
        "sodium",
        "gram",
        "ounce",
        "protein",
        "per",
        "oz",
        "salted",
        "unsalted",
        "no",
        "serve",
        "milkfat",
        "unspecified",
        "maybe",
        "previously",
        "bottled",
        "unsweetened",
        "granulated",
        "flesh",
        "original",
        "food",
        "foods",
        "fast",
        "made",
        "is",
        "it",
        "be",
        "skinless",
        "large",
        "small",
        "medium",
        "content",
        "peel",
    )
}
# default-variety markers: an item carrying one is the generic form of its food
_DEFAULT_WORDS = {"plain", "regular", "original", "nfs", "unspecified", "all", "average"}
_PARTS = {"skin", "peel", "bone", "skn"}
_STATE_WORDS = {
    "raw",
    "cooked",
    "boiled",
    "baked",
    "fried",
    "roasted",
    "grilled",
    "broiled",
    "braised",
    "stewed",
    "steamed",
    "canned",
    "frozen",
    "dried",
    "dry",
    "toasted",
    "microwaved",
    "poached",
    "scrambled",
    "mashed",
    "uncooked",
    "unprepared",
    "prepared",
    "instant",
    "smoked",
    "heated",
    "simmered",
    "sauteed",
    "powder",
    "dehydrated",
    "concentrate",
    "hard",
}
_COOKED_WORDS = {
    "cooked",
    "boiled",
    "baked",
    "fried",
    "roasted",
    "grilled",
    "broiled",
    "braised",
    "stewed",
    "steamed",
    "simmered",
    "microwaved",
    "poached",
    "heated",
    "toasted",
}
_PLAIN_COOKING = {
    "cooked",
    "boiled",
    "baked",
    "roasted",
    "grilled",
    "broiled",
    "braised",
    "stewed",
    "steamed",
    "simmered",
    "heated",
    "moist",
    "heat",
}
# words that make a different product than the plain food, unless asked for
_FORM_WORDS = {
    "powder",
    "dehydrated",
    "concentrate",
    "unprepared",
    "dry",
    "dried",
    "mix",
    "condensed",
    "instant",
    "freeze",
    "undiluted",
    "uncooked",
    "flour",
    "juice",
    "syrup",
    "sauce",
    "substitute",
    "imitation",
    "babyfood",
    "infant",
    "formula",
    "toddler",
    "junior",
    "strained",
    "soup",
    "dessert",
    "candy",
    "candies",
    "coated",
    "flavored",
    "sweetened",
    "low",
    "reduced",
    "light",
    "free",
    "lowfat",
    "nonfat",
    "diet",
    "decaffeinated",
    "meatless",
    "vegetarian",
    "veggie",
    "analog",
    "blend",
    "drink",
    "cocktail",
    "spread",
    "filling",
    "topping",
    "glazed",
    "breaded",
    "battered",
    "chip",
    "cracker",
    "puff",
    "fried",
}
_IMITATION_WORDS = {"imitation", "substitute", "meatless", "analog", "vegetarian", "veggie", "mock"}
_FLAVOUR_WORDS = {
    "chocolate",
    "vanilla",
    "strawberry",
    "cheese",
    "apple",
    "cinnamon",
    "honey",
    "fruit",
    "blueberry",
    "raisin",
    "cherry",
    "lemon",
    "orange",
    "banana",
    "peanut",
    "almond",
    "coconut",
    "maple",
    "caramel",
    "mint",
    "coffee",
    "grape",
    "cocoa",
    "fudge",
    "peach",
    "raspberry",
    "cranberry",
    "pineapple",
    "lime",
    "mango",
    "tropical",
    "berry",
    "nut",
    "spice",
    "garlic",
    "onion",
    "tomato",
    "barbecue",
    "ranch",
    "buffalo",
    "teriyaki",
    "pepperoni",
    "sausage",
    "bacon",
    "ham",
    "egg",
    "spinach",
    "potato",
    "brown",
    "wheat",
    "bran",
    "oat",
    "rye",
    "multigrain",
    "grain",
    "sugar",
    "margarine",
    "jelly",
    "jam",
    "pumpkin",
    "apricot",
}
_DRIED_OK_GROUPS = {"12", "02"}  # nuts/seeds, spices: "dried" is their usual form
# food groups (first two digits of the NDB number) and the state preferred when none is named
_PREFER_RAW = {"09", "11", "12"}
_PREFER_COOKED = {"05", "10", "13", "15", "16", "17", "20"}
_GROUP_PENALTY = {
    "03": 0.35,
    "35": 0.25,
    "36": 0.12,
    "21": 0.06,
    "22": 0.06,
    "43": 0.03,
    "42": 0.02,
    "83": 0.1,
    "90": 0.1,
    "93": 0.1,
    "80": 0.1,
}
_GENERIC_HEADS = {
    _text.stem(w)
    for w in (
        "beverage",
        "alcoholic",
        "candy",
        "candies",
        "snack",
        "cereal",
        "fast",
        "food",
        "babyfood",
        "soup",
        "salad",
        "crustacean",
        "mollusk",
        "fish",
        "nut",
        "seed",
        "spice",
        "restaurant",
        "usda",
        "game",
        "formulated",
        "infant",
        "bev",
        "carbonated",
        "sweetener",
        "sauce",
        "dessert",
        "topping",
        "commodity",
        "dressing",
        "ready",
        "eat",
        "rte",
        "fd",
    )
}


@dataclass
class FoodMatch:
    """Result of matching one phrase."""

    query: str
    status: str  # "matched", "low_confidence" or "unmatched"
    ndb_no: str | None
    description: str | None
    grams: float | None
    quantity: float
    unit: str | None
    confidence: float
    portion_basis: str = ""
    source: str = "usda"  # "usda" or "alias"
    note: str = ""
    candidates: list[tuple[str, str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "query",
                "status",
                "ndb_no",
                "description",
                "grams",
                "quantity",
                "unit",
                "confidence",
                "portion_basis",
                "source",
                "note",
            )
        }
        d["candidates"] = "; ".join(f"{n} {desc} ({s:.2f})" for n, desc, s in self.candidates)
        return d


def read_aliases(path: str | os.PathLike) -> pd.DataFrame:
    """Read a favourites/alias CSV: ``phrase, food_id[, grams]`` (grams per one portion).

    ``food_id`` is an FNDDS food code (8 digits), an SR28 NDB number (1-5 digits, zero-padded),
    a gutaxis dish (``gx_...``) or one of your own foods; the older column name ``ndb_no`` is
    read too. Every bad row is an :class:`~gutaxis.errors.InputError` naming the file, row and column.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("alias file not found", source=p, hint="give a CSV with columns phrase, food_id, grams")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    id_col = "food_id" if "food_id" in df.columns else "ndb_no"
    for col in ("phrase", id_col):
        if col not in df.columns:
            raise InputError(f"missing column {col!r}", source=p, hint="columns: phrase, food_id, grams (optional)")
    out = []
    for i, r in enumerate(df.to_dict("records"), start=2):
        phrase, fid = str(unescape_cell(r["phrase"])).strip(), str(r[id_col]).strip()
        if not phrase:
            raise InputError(f"row {i}, column 'phrase': empty", source=p, hint="write the words you use for this food")
        if re.fullmatch(r"\d{1,5}", fid):
            fid = fid.zfill(5)
        elif not re.fullmatch(r"\d{8}|[A-Za-z][\w.-]{0,63}", fid):
            raise InputError(
                f"row {i}, column {id_col!r}: {fid!r} is not a food id",
                source=p,
                hint="an FNDDS food code (8 digits), an SR28 NDB number (e.g. 09040) or your own food's id",
            )
        grams = str(r.get("grams", "")).strip()
        g = None
        if grams:
            try:
                g = float(grams)
            except ValueError:
                g = -1.0
            if not (g > 0 and math.isfinite(g)):
                raise InputError(
                    f"row {i}, column 'grams': {grams!r}",
                    source=p,
                    hint="grams per portion must be a positive number (or empty)",
                )
        out.append({"phrase": phrase, "food_id": fid, "ndb_no": fid, "grams": g})
    return pd.DataFrame(out, columns=["phrase", "food_id", "ndb_no", "grams"])


class FoodMatcher:
    """Match free-text food phrases to a USDA SR28 food table.

    Parameters
    ----------
    foods
        :func:`gutaxis.lifestyle.read_usda_abbrev` output (or :func:`load_food_table`).
    aliases
        Favourites: a DataFrame from :func:`read_aliases` or a mapping ``phrase -> ndb_no`` or
        ``phrase -> (ndb_no, grams per portion)``.
    min_coverage
        Below this share of the (weighted) query words found in the best item, the result is
        ``"unmatched"``.
    n_candidates
        How many candidates each result lists.
    """

    def __init__(self, foods: pd.DataFrame, aliases=None, *, min_coverage: float = 0.6, n_candidates: int = 5):
        if "description" not in foods.columns:
            raise InputError(
                "the food table has no 'description' column",
                source="FoodMatcher",
                hint="pass gutaxis.lifestyle.read_usda_abbrev(...) output",
            )
        self.foods = foods
        self.min_coverage = float(min_coverage)
        self.n_candidates = int(n_candidates)
        self._aliases: dict[str, tuple[str, float | None, str]] = {}
        self._build_index()
        if aliases is not None:
            if isinstance(aliases, pd.DataFrame):
                for r in aliases.itertuples(index=False):
                    g = getattr(r, "grams", None)
                    self.remember(r.phrase, r.ndb_no, None if g is None or pd.isna(g) else float(g))
            else:
                for phrase, v in dict(aliases).items():
                    ndb, g = (v, None) if isinstance(v, str) else (v[0], v[1])
                    self.remember(phrase, ndb, g)

    # ------------------------------------------------------------ index
    def _build_index(self) -> None:
        desc = self.foods["description"].astype(str).tolist()
        self._ids = self.foods.index.astype(str).tolist()
        self._desc = desc
        self._groups = [i[:2] for i in self._ids]
        self._tokens: list[set[str]] = []
        self._rank: list[dict[str, int]] = []  # token -> rank of its segment (0 = the main word)
        self._words: list[list[tuple]] = []  # (tokens, rank, paren, after_with, after_without)
        df: dict[str, int] = {}
        postings: dict[str, list[int]] = {}
        for j, d in enumerate(desc):
            segs = _text.description_words(d)
            words: list[tuple[tuple[str, ...], int, bool, bool, bool]] = []
            if len(segs) == 1 and len(segs[0]) > 1:
                # one segment in English word order ("POTATO PANCAKES", "SILK PLN SOY YOGURT"): every word
                # before a "with ..." part is a main word
                for w in segs[0]:
                    words.append(
                        (
                            tuple(w["tokens"]),
                            8 if w["paren"] else (1 if w["after_with"] else 0),
                            w["paren"],
                            w["after_with"],
                            w["after_without"],
                        )
                    )
            else:
                r = 0
                for seg in segs:
                    ss = {t for w in seg for t in w["tokens"]}
                    generic = ss <= (_GENERIC_HEADS | _NEUTRAL)
                    for w in seg:
                        rk = 9 if generic else (8 if w["paren"] else r)
                        words.append((tuple(w["tokens"]), rk, w["paren"], w["after_with"], w["after_without"]))
                    if not generic:
                        r += 1
            if re.search(r"OIL[- ]?(RSTD|ROASTED|POPPED)", d.upper()):
                words = [(tuple(t for t in w[0] if t != "oil"), *w[1:]) for w in words]
            rank: dict[str, int] = {}
            for toks_w, rk, *_ in words:
                for t in toks_w:
                    rank[t] = min(rank.get(t, 99), rk)
            toks = set(rank)
            if "salt" in toks:
                extra = "unsalted" if ("without" in toks or "no" in toks) else "salted"
                toks.add(extra)
                rank.setdefault(extra, 9)
            self._tokens.append(toks)
            self._rank.append(rank)
            self._words.append(words)
            for t in toks:
                df[t] = df.get(t, 0) + 1
                postings.setdefault(t, []).append(j)
        n = len(desc)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._postings = postings

    def _idf_of(self, t: str) -> float:
        return self._idf.get(t, math.log(len(self._desc) + 1))

    # ------------------------------------------------------------ aliases
    def remember(self, phrase: str, ndb_no: str, grams: float | None = None) -> None:
        """Add a favourite: ``phrase`` (as the person writes it) -> NDB number, grams per portion."""
        ndb = str(ndb_no).strip().zfill(5)
        if ndb not in self.foods.index:
            raise InputError(
                f"alias {phrase!r}: NDB number {ndb} is not in the food table",
                source="aliases",
                hint="use an NDB_No from USDA SR28 ABBREV.txt",
            )
        key = _text.normalize_phrase(parse_portion(phrase).food or phrase)
        self._aliases[key] = (ndb, grams, phrase)

    # ------------------------------------------------------------ matching
    def _query_tokens(self, food: str) -> list[str]:
        s = food.lower()
        for pat, rep in _SYNONYMS:
            s = re.sub(pat, rep, s)
        toks = [t for t in _text.tokens(s) if t not in _QUERY_STOP and not re.fullmatch(r"[\d.,/%]+", t)]
        seen, out = set(), []
        for t in toks:
            if t not in seen:
                seen.add(t)
                out.append(t)
        return out

    def _score(self, q: list[str], portion: Portion) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score every item for query words ``q``: (score, weighted coverage, share of words found, best rank)."""
        n = len(self._desc)
        weights = np.array([self._idf_of(t) * _SOFT.get(t, 1.0) for t in q])
        total_w = float(weights.sum()) or 1.0
        cover = np.zeros(n)
        raw = np.zeros(n)  # share of query words found as such (no position weighting)
        best_rank = np.full(n, 99)
        matched_sets: dict[int, set[str]] = {}
        for k, t in enumerate(q):
            credit: dict[int, float] = {}
            keys = [t]
            # compound: "soy" + "milk" -> "soymilk"; "sour" + "dough" -> "sourdough"
            if k + 1 < len(q):
                keys.append(q[k] + q[k + 1])
            if k > 0:
                keys.append(q[k - 1] + q[k])
            for key in keys:
                for j in self._postings.get(key, ()):
                    credit[j] = 1.0
            if t in _COOKED_WORDS:  # "baked cod" vs "COD,ATLANTIC,CKD,DRY HEAT"
                for j in self._postings.get("cooked", ()):
                    credit.setdefault(j, 0.7)
            for j, c in credit.items():
                rk = min((self._rank[j].get(key, 99) for key in keys), default=99)
                if c < 1.0:
                    rk = self._rank[j].get("cooked", 9)
                pos = 1.0 if rk <= 1 else (0.9 if rk == 2 else 0.8)
                cover[j] += weights[k] * pos * c
                raw[j] += weights[k] * (1.0 if c >= 1.0 else 0.0)
                if rk < best_rank[j]:
                    best_rank[j] = rk
                matched_sets.setdefault(j, set()).update(key for key in keys if key in self._tokens[j])
                if c < 1.0:
                    matched_sets[j].add("cooked")
        cover /= total_w
        raw /= total_w
        cand = np.flatnonzero(cover > 0)
        score = np.full(n, -np.inf)
        qset = set(q)
        q_state = qset & _STATE_WORDS
        q_forms = qset & _FORM_WORDS
        q_baby = bool(qset & {"baby", "babyfood", "infant", "toddler"})
        for j in cand.tolist():
            toks = self._tokens[j]
            matched = matched_sets.get(j, set())
            g = self._groups[j]
            pen = 0.0
            addition = False
            for wt, rk, paren, after_with, _after_without in self._words[j]:
                w = 0.0
                for t in wt:
                    if t in ("with", "without"):
                        continue
                    if t in _PARTS:  # "WITH SKIN" is the whole food; "WITHOUT SKIN" is not
                        w = max(w, 0.0 if (after_with or t in qset or t in matched) else 0.5)
                        continue
                    if t in matched or t in _NEUTRAL or any(ch.isdigit() for ch in t) or t in qset:
                        continue
                    if any(t.startswith(m) or m.startswith(t) for m in matched if len(m) > 3 and len(t) > 3):
                        continue
                    tw = min(self._idf_of(t), 7.0) / 7.0
                    if t in _IMITATION_WORDS and not (qset & _IMITATION_WORDS):
                        tw += 1.5
                    elif (
                        t in _FORM_WORDS and t not in q_forms and not (t in ("dried", "dry") and g in _DRIED_OK_GROUPS)
                    ):
                        tw += 0.6
                    elif t in _FLAVOUR_WORDS:
                        tw += 0.4
                    w = max(w, tw)
                    if after_with and not paren:
                        addition = True
                if w == 0.0:
                    continue
                if paren:
                    w *= 0.3
                elif rk == 0:  # an unmatched main word changes what the food is
                    w *= 2.0
                pen += w
            if addition:  # "W/VEG", "MADE WITH TOFU": something added to the food
                pen += 0.5
            pen += 0.03 * len(self._words[j])  # tie-breaker: the simpler description
            s = cover[j] - 0.07 * pen
            s += {0: 0.25, 1: 0.18, 2: 0.1}.get(int(best_rank[j]), 0.0)
            if toks & _DEFAULT_WORDS:
                s += 0.04
            s -= 0.0 if (q_baby and g == "03") else _GROUP_PENALTY.get(g, 0.0)
            if not q_state:
                if g in _PREFER_RAW:
                    if "raw" in toks:
                        s += 0.06
                    if toks & (_COOKED_WORDS | {"canned", "frozen"}):
                        s -= 0.04
                elif g in _PREFER_COOKED:
                    if toks & _PLAIN_COOKING:
                        s += 0.06
                    if toks & {"raw", "unprepared", "dry", "uncooked"}:
                        s -= 0.08
                    if "canned" in toks and portion.unit != "can":
                        s -= 0.03
            if portion.unit and portion.unit not in MASS_G:
                units = {_measure_unit(m[2]) for m in _measures(self._row(j))}
                if portion.unit in units or (portion.unit in VOLUME_CUP and units & set(VOLUME_CUP)):
                    s += 0.02
            score[j] = s
        return score, cover, raw, best_rank

    def _row(self, j: int) -> dict:
        r = self.foods.iloc[j]
        return {
            "gmwt_1": r.get("gmwt_1"),
            "gmwt_desc1": r.get("gmwt_desc1"),
            "gmwt_2": r.get("gmwt_2"),
            "gmwt_desc2": r.get("gmwt_desc2"),
            "description": self._desc[j],
            "ndb_no": self._ids[j],
        }

    def match(self, text: str) -> FoodMatch:
        """Match one phrase; see :class:`FoodMatch` for the fields."""
        portion = parse_portion(text)
        food = portion.food or str(text)
        key = _text.normalize_phrase(food)
        grams: float | None
        if key in self._aliases:
            ndb, g_alias, phrase = self._aliases[key]
            row = self._row(self._ids.index(ndb))
            if g_alias is not None and portion.unit is None:
                grams, basis = (
                    portion.quantity * g_alias,
                    f"{_fmt(portion.quantity)} x your portion of {_fmt(g_alias)} g",
                )
            else:
                grams, basis = portion_grams(portion, row)
            return FoodMatch(
                str(text),
                "matched",
                ndb,
                str(row["description"]),
                grams,
                portion.quantity,
                portion.unit,
                1.0,
                basis,
                "alias",
                f"your favourite '{phrase}'",
            )
        q = self._query_tokens(food)
        if not q:
            return FoodMatch(
                str(text),
                "unmatched",
                None,
                None,
                None,
                portion.quantity,
                portion.unit,
                0.0,
                note="no food words found in the phrase",
            )
        score, cover, raw, best_rank = self._score(q, portion)
        ranked = np.argsort(-score, kind="stable")
        order = [j for j in ranked[: max(self.n_candidates, 1) * 4] if np.isfinite(score[j])]
        cands = [(self._ids[j], self._desc[j], float(score[j])) for j in order[: self.n_candidates]]
        if not order or cover[order[0]] < self.min_coverage:
            best = cover[order[0]] if order else 0.0
            return FoodMatch(
                str(text),
                "unmatched",
                None,
                None,
                None,
                portion.quantity,
                portion.unit,
                float(best),
                note=(f"no USDA SR28 item covers the words {q}; pick one of the candidates or add a favourite"),
                candidates=cands,
            )
        j = order[0]
        conf = float(min(1.0, cover[j]))
        reasons = []
        if raw[j] < 0.999:
            toks = self._tokens[j]
            missing = [
                t
                for k, t in enumerate(q)
                if t not in toks
                and not (k + 1 < len(q) and q[k] + q[k + 1] in toks)
                and not (k > 0 and q[k - 1] + q[k] in toks)
            ]
            reasons.append(f"words not in the description: {', '.join(missing)}")
        if best_rank[j] > 2:
            reasons.append("the food word is not among the item's main words")
        if len(order) > 1:
            j2 = order[1]
            if score[j] - score[j2] < 0.01 and self._desc[j2].split(",")[0] != self._desc[j].split(",")[0]:
                reasons.append(f"close runner-up: {self._desc[j2]}")
                conf = min(conf, 0.7)
        status = "matched" if not reasons else "low_confidence"
        if best_rank[j] > 2:
            conf = min(conf, 0.6)
        grams, basis = portion_grams(portion, self._row(j))
        note = "; ".join(reasons)
        if grams is None:
            note = (note + "; " if note else "") + "portion not converted: " + basis
        return FoodMatch(
            str(text),
            status,
            self._ids[j],
            self._desc[j],
            grams,
            portion.quantity,
            portion.unit,
            round(conf, 3),
            basis if grams is not None else "",
            "usda",
            note,
            cands,
        )

    def match_many(self, texts) -> pd.DataFrame:
        """Match many phrases; one row per phrase (columns of :meth:`FoodMatch.as_dict`)."""
        return pd.DataFrame([self.match(t).as_dict() for t in texts])
