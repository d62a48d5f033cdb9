"""The food tables of the app: one FoodDatabase + DiaryMatcher per process, and a typed meal -> stored items.

Every number comes from :mod:`gutaxis.lifestyle`: :func:`~gutaxis.lifestyle.load_food_database`
(FNDDS 2017-2018 foods as eaten, SR28 and its household measures, NOVA groups),
:class:`~gutaxis.lifestyle.DiaryMatcher` and :func:`~gutaxis.lifestyle.resolve_diary`. This module
only shapes the results for storage in :attr:`MealEntry.items` and for the pages.

When FNDDS is not there (no folder in the settings and none in the dataset cache) nothing is
dropped: the entry is stored with status ``"not matched"`` and a note saying how to fetch it.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "FETCH_HINT",
    "NOVA_NAMES",
    "STATUS_TEXT",
    "FoodDataMissing",
    "food_problem",
    "items_from_resolved",
    "match_meal",
    "meal_frame",
    "resolve",
    "tables",
]

FETCH_HINT = (
    "The food tables are not installed, so meals cannot be matched to foods yet: run "
    "`gutaxis datasets fetch fndds_2017_2018` and `gutaxis datasets fetch usda_sr28_full` once on the "
    "server (then it works offline), or start the app with the folders that hold them."
)

#: NOVA groups as the badges name them (Monteiro CA et al. Public Health Nutr 2019;22:936-41)
NOVA_NAMES = {
    1: "unprocessed or minimally processed",
    2: "processed culinary ingredient",
    3: "processed",
    4: "ultra-processed",
}

#: what each match status means for the person, in a few words
STATUS_TEXT = {
    "matched": "counted",
    "low_confidence": "not sure which food this is: not counted",
    "unmatched": "not matched: not counted",
    "no_portion": "amount not understood: not counted",
    "implausible": "amount not plausible: not counted",
    "nutrients_given": "from your imported file",
    "given": "counted",
    "not matched": "not matched: not counted",
}


class FoodDataMissing(Exception):
    """The FNDDS tables are not installed; ``str(exc)`` says what to run."""


def _key(settings) -> tuple:
    def s(p):
        return None if p is None else str(Path(p).expanduser())

    paths = (s(settings.fndds), s(settings.sr28), s(settings.usda), s(settings.nova))
    cache = None
    if None in paths:  # a table taken from the dataset cache: another cache is another database
        from ..io.datasets import cache_dir

        cache = str(cache_dir())
    return (*paths, cache)


@lru_cache(maxsize=2)
def _load(fndds: str | None, sr28: str | None, usda: str | None, nova: str | None, cache: str | None = None):
    from ..lifestyle import DiaryMatcher, load_food_database

    db = load_food_database(fndds, sr28, usda_path=usda, nova_path=nova)
    return db, DiaryMatcher(db)


def tables(settings):
    """``(FoodDatabase, DiaryMatcher)`` for these settings (loaded once per process)."""
    from ..io.datasets import DatasetCacheError

    try:
        return _load(*_key(settings))
    except DatasetCacheError:
        raise  # a changed cached file: its message says how to fetch it again
    except InputError as exc:
        if "fndds" in str(exc).lower() or settings.fndds is None:
            raise FoodDataMissing(FETCH_HINT) from None
        raise


def food_problem(settings) -> str | None:
    """None when the food tables load; else the sentence telling what to install."""
    try:
        tables(settings)
    except FoodDataMissing as exc:
        return str(exc)
    return None


def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else round(x, 3)


def _int(v) -> int | None:
    x = _num(v)
    return None if x is None else int(x)


_GRAMS = re.compile(r"\s*\(\d+(?:\.\d+)? g\)")


def _note(r: dict, *, plain: bool = False) -> str:
    """One sentence per food: what was assumed or read, or what to do to have it counted.

    ``plain``: the same without any amount in grams (for people who hide numbers).
    """
    status = r.get("match_status", "")
    parts = []
    note = str(r.get("match_note") or "")
    if status == "matched" or status == "given":
        if note:
            parts.append(note)
        if r.get("portion_assumed"):
            parts.append(
                "portion assumed; write the amount to change it"
                if plain
                else f"portion assumed ({r.get('portion_basis')}); write the amount to change it"
            )
    elif status == "nutrients_given":
        pass
    elif status == "low_confidence":
        cands = str(r.get("candidates") or "")
        if plain:
            cands = _GRAMS.sub("", cands)
        parts.append(
            (note + ". " if note else "")
            + "Not counted: write it more exactly"
            + (f" (did you mean: {cands}?)" if cands else "")
        )
    elif status == "no_portion":
        parts.append(
            (note or "the amount could not be converted") + ". Not counted: give the amount in grams "
            "(e.g. '150 g ...') or a household measure"
        )
    elif status == "implausible":
        parts.append(
            ("the amount is not plausible" if plain else (note or "the amount is not plausible"))
            + ". Not counted: check the amount"
        )
    else:
        parts.append(
            (note or "no food matched") + ". Not counted: write it another way (e.g. '1 cup cooked "
            "rice', '2 slices wholemeal bread') or give grams"
        )
    return "; ".join(p for p in parts if p)


def items_from_resolved(resolved: pd.DataFrame) -> list[dict]:
    """:func:`resolve_diary` rows of one entry -> the item dicts stored in ``MealEntry.items``."""
    out = []
    for r in resolved.to_dict("records"):
        live = str(r.get("live_cultures") or "")
        desc = r.get("description")
        out.append(
            {
                "text": str(r.get("item_text") or ""),
                "description": None if desc is None or (isinstance(desc, float) and math.isnan(desc)) else str(desc),
                "grams": _num(r.get("grams")),
                "food_id": None if not r.get("food_id") or r.get("food_id") != r.get("food_id") else str(r["food_id"]),
                "status": str(r.get("match_status") or ""),
                "counted": bool(r.get("counted")),
                "portion_assumed": bool(r.get("portion_assumed")),
                "portion_basis": str(r.get("portion_basis") or ""),
                "note": _note(r),
                "note_plain": _note(r, plain=True),
                "nova": _int(r.get("nova")) if r.get("nova") is not pd.NA else None,
                "fermented": bool(r.get("fermented_id")),
                "live_cultures": live,
                "fiber_g": _num(r.get("fiber_g")),
                "energy_kcal": _num(r.get("energy_kcal")),
            }
        )
    return out


def not_matched_items(text: str, reason: str) -> list[dict]:
    """The one item stored when the food tables are missing: nothing is dropped."""
    return [
        {
            "text": text,
            "description": None,
            "grams": None,
            "food_id": None,
            "status": "not matched",
            "counted": False,
            "portion_assumed": False,
            "portion_basis": "",
            "note": reason,
            "note_plain": reason,
            "nova": None,
            "fermented": False,
            "live_cultures": "",
            "fiber_g": None,
            "energy_kcal": None,
        }
    ]


def meal_frame(rows: list[dict]) -> pd.DataFrame:
    """A meal table in the shape of :func:`gutaxis.lifestyle.read_meal_log` (plus the import columns).

    ``rows``: dicts with ``timestamp`` (datetime), ``meal``, ``text``, ``source_row`` and optionally
    ``ndb_no``, ``grams``, ``food_name``, ``nutrients_given`` and nutrient values.
    """
    cols = [
        "timestamp",
        "date",
        "meal",
        "text",
        "ndb_no",
        "grams",
        "repeat_of",
        "source_row",
        "utc_offset",
        "food_name",
        "nutrients_given",
    ]
    df = pd.DataFrame(rows)
    for c in cols:
        if c not in df.columns:
            df[c] = None
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["date"] = df["timestamp"].dt.normalize()
    df["grams"] = pd.to_numeric(df["grams"], errors="coerce").astype(float)
    df["utc_offset"] = float("nan")
    df["repeat_of"] = pd.NaT
    df["nutrients_given"] = [v is True or (isinstance(v, (bool, np.bool_)) and bool(v)) for v in df["nutrients_given"]]
    df["meal"] = df["meal"].fillna("")
    df["text"] = df["text"].fillna("")
    df = df[cols + [c for c in df.columns if c not in cols]]
    df.attrs["source"] = "gutaxis web diary"
    return df


def resolve(settings, meals: pd.DataFrame) -> pd.DataFrame:
    """:func:`gutaxis.lifestyle.resolve_diary` with the process-wide tables (raises :class:`FoodDataMissing`)."""
    from ..lifestyle import resolve_diary

    db, matcher = tables(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resolve_diary(meals, db, matcher)


def match_meal(settings, text: str, eaten_at: datetime, meal: str = "") -> list[dict]:
    """The foods of one typed entry, as stored in ``MealEntry.items``.

    Each item: ``description``, ``grams``, ``food_id``, ``status``, ``counted``,
    ``portion_assumed``, ``note``, ``nova``, ``fermented``, ``live_cultures``, ``fiber_g``,
    ``energy_kcal`` (and ``text``, ``portion_basis``). Without the food tables: one item with
    status ``"not matched"`` whose note says what to install.
    """
    try:
        tables(settings)  # loads (once) or raises FoodDataMissing before anything is cached
    except FoodDataMissing as exc:
        return not_matched_items(text, str(exc))
    return copy.deepcopy(_match_cached(_key(settings), text, meal or ""))  # the time eaten does not change it


@lru_cache(maxsize=4096)
def _match_cached(key: tuple, text: str, meal: str) -> list[dict]:
    """The matched foods of a text (the same tables give the same match; people repeat their entries)."""
    from ..lifestyle import resolve_diary

    db, matcher = _load(*key)
    frame = meal_frame([{"timestamp": datetime(2000, 1, 1, 12), "meal": meal, "text": text, "source_row": "typed"}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resolved = resolve_diary(frame, db, matcher)
    if resolved.empty:
        return not_matched_items(text, "no food words found. Not counted: write what you ate, e.g. '1 cup kimchi'")
    return items_from_resolved(resolved)
