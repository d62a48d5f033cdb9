"""The words of diary entries: synonyms, how entries split, and which words matter to a match.

British/European words (``data/food_synonyms.tsv``), the separators that split a compound entry,
stop, neutral and soft words, additions and their usual portion (milk: a tbsp), where it was
eaten ("at the pub"), words that make another product, generic heads, and :func:`_words`
(lower-case stems). Used by :class:`gutaxis.lifestyle.diary.DiaryMatcher`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .._data import package_table
from . import _text


@lru_cache(maxsize=1)
def _synonyms() -> list[tuple[re.Pattern, str]]:
    df = package_table("food_synonyms.tsv", comment="#", dtype=str, keep_default_na=False)
    return [(re.compile(rf"\b{p}\b"), r) for p, r in zip(df["words"], df["means"], strict=True)]


_SPLIT_RE = re.compile(r"\s*(?:,|;|\+|&|\band\b|\bwith\b|\bw/|\bplus\b|\bon\b|\btopped with\b)\s*")
_NEUTRAL = {
    "ns",
    "nfs",
    "as",
    "to",
    "or",
    "and",
    "with",
    "of",
    "in",
    "the",
    "a",
    "type",
    "form",
    "made",
    "from",
    "not",
    "specified",
    "includes",
    "regular",
    "plain",
    "fresh",
    "raw",
    "whole",
    "added",
    "no",
    "fat",
    "any",
    "other",
    "than",
    "eaten",
    "restaurant",
    "fast",
    "food",
    "home",
    "recipe",
    "ready",
    "eat",
    "commercial",
    "prepared",
    "style",
    "homemade",
    "cooked",
    "brand",
    "cooking",
    "method",
    "kind",
    "content",
    "nonfat",
    "lowfat",
}
_STOP = {
    "a",
    "an",
    "the",
    "of",
    "some",
    "my",
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
    "lot",
    "lots",
    "plate",
    "x",
    "homemade",
    "home",
    "organic",
    "fresh",
    "usual",
    "big",
    "small",
    "medium",
    "large",
    "side",
    "serving",
    "portion",
    "few",
    "couple",
    "about",
    "around",
    "approx",
    "chunk",
    "diced",
    "chopped",
    "sliced",
    "cubed",
    "piece",
    "made",
    "packet",
    "sachet",
    "bag",
    "bottle",
    "glass",
    "mug",
    "bowl",
    "tub",
    "pot",
    "jar",
    "carton",
    "spear",
    "scoop",
}
# words that describe a food without changing what it is: not required for a counted match
_SOFT = {
    "raw",
    "fresh",
    "unpasteurised",
    "unpasteurized",
    "live",
    "organic",
    "natural",
    "plain",
    "steamed",
    "boiled",
    "cooked",
    "roasted",
    "grilled",
    "baked",
    "toasted",
    "hot",
    "cold",
    "warm",
    "ripe",
    "whole",
    "homemade",
    "paste",
    "shredded",
    "grated",
    "double",
    "single",
}
# an addition named after "with"/"on" without an amount (milk in tea, butter on toast) is a small amount, not a
# glass of milk: a gutaxis convention, stated in the portion basis
_ADDITIONS = {
    "milk": "tbsp",
    "cream": "tbsp",
    "creamer": "tbsp",
    "sugar": "tsp",
    "honey": "tsp",
    "syrup": "tsp",
    "butter": "tsp",
    "margarine": "tsp",
    "jam": "tbsp",
    "jelly": "tbsp",
    "marmalade": "tbsp",
    "ketchup": "tbsp",
    "catsup": "tbsp",
    "mayonnaise": "tbsp",
    "mayo": "tbsp",
    "mustard": "tsp",
    "dressing": "tbsp",
    "oil": "tsp",
    "lemon": "tsp",
    "sweetener": "tsp",
}
_PLACE_RE = re.compile(
    r"\b(at|in|from) (the |a |my )?(pub|restaurant|home|work|office|cafe|café|canteen|bar|"
    r"cinema|party|gym|school)\b.*$"
)
_FORM_WORDS = {
    "dried",
    "dehydrated",
    "creamed",
    "pickled",
    "powder",
    "canned",
    "frozen",
    "instant",
    "concentrate",
    "mix",
    "meatless",
    "imitation",
    "substitute",
    "crumb",
    "condensed",
    "stuffed",
    "teriyaki",
    "sweetened",
    "candied",
    "smoked",
    "breaded",
    "coated",
    "diet",
    "light",
    "reduced",
    "flavored",
    "jerky",
    "chip",
}
_GENERIC_HEADS = {"cereal", "beverage", "candy", "snack", "soup", "sauce", "bread", "cheese", "tea", "coffee"}
_GENERIC = re.compile(r"\b(nfs|ns as to)\b", re.I)


def _words(text: str) -> list[str]:
    return [_text.stem(w) for w in re.findall(r"[a-z0-9%]+", text.lower())]
