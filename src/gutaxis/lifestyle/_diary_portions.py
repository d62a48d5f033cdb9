"""A food's USDA portions that fit a portion word: cups of a measure, and the row a word names.

:func:`_cups` reads a measure as a number of cups ("tbsp" -> 1/16); :func:`_pick` chooses the
portion whose measure names a word ("slice", "medium"), the given size first and the one
nearest the food's usual portion otherwise. Used by :meth:`gutaxis.lifestyle.diary.DiaryMatcher.grams`.
"""

from __future__ import annotations

import math
import re

from ._diary_words import _words

_CUPS = [
    (re.compile(r"^(cup|c)\b"), 1.0),
    (re.compile(r"^(tablespoon|tbsp|tbs)\b"), 1 / 16),
    (re.compile(r"^(teaspoon|tsp)\b"), 1 / 48),
    (re.compile(r"^(fl oz|fluid ounce)"), 1 / 8),
    (re.compile(r"^(ml|milliliter|millilitre)\b"), 1 / 236.5882365),
    (re.compile(r"^pint\b"), 2.0),
    (re.compile(r"^quart\b"), 4.0),
]


def _cups(measure: str) -> float | None:
    m = str(measure).strip().lower()
    for rx, cups in _CUPS:
        if rx.match(m):
            return cups
    return None


def _pick(rows, words: set, size: str | None):
    """The portion whose measure names one of ``words``: the given size first, then medium/regular, then the
    one nearest the food's usual portion (a bottle of beer is 12 fl oz, not the 40 fl oz bottle)."""
    best = None
    usual = next((r.grams for r in rows if r.default), None)
    for r in rows:
        if r.default:
            continue
        mw = set(_words(r.measure))
        if not (mw & words):
            continue
        rank = 0 if (size and size in mw) else 1
        if (
            mw & {"snack", "mini", "miniature", "crust", "thin", "bite", "prepackaged", "microwave", "package"}
            and not (size and size in mw)
            and not words & {"package", "packet"}
        ):
            rank += 4  # a snack-size slice is not what "a slice" means
        if rank >= 4:
            continue  # a snack-size slice or a prepackaged bowl is never what the word means
        dist = abs(math.log(r.grams / r.amount / usual)) if usual else 0.0
        if best is None or (rank, dist) < best[0]:
            best = ((rank, dist), r)
    return None if best is None else best[1]
