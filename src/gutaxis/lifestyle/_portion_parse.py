"""Portion words: "1 1/2 cups kimchi" -> quantity 1.5, unit "cup", food "kimchi".

:func:`parse_portion` splits what a person writes into a :class:`Portion` (numbers, number
words, size words, mass/volume units, household words). The unit tables (``MASS_G``,
``VOLUME_CUP``) are shared with :mod:`gutaxis.lifestyle._portion_grams`, which turns a portion
into grams. Re-exported by :mod:`gutaxis.lifestyle.matching`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import _text

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
