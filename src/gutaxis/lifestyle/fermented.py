"""Fermented foods with (or without) live microbes.

The list is package data written for gutaxis (``gutaxis/data/fermented_foods.tsv``): each row
names a fermented food, whether it is usually eaten with live microbes (``yes`` / ``varies`` /
``no``), why, and a citation (Rezac S et al. *Front Microbiol* 2018;9:1785,
doi:10.3389/fmicb.2018.01785; Marco ML et al. *Nat Rev Gastroenterol Hepatol* 2021;18:196-208,
doi:10.1038/s41575-020-00390-5). Vinegar pickles, canned sauerkraut, baked sourdough bread,
tempeh (cooked), beer and wine, and processed cheese are flagged as *not* live.

Matching uses both the USDA description (``description_pattern``) and the person's own words
(``text_pattern``, e.g. "raw sauerkraut" or "kombucha", which SR28 lacks); when both match,
the row listed first in the file (the more specific one) wins.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

from .._data import package_table
from ..errors import InputError

__all__ = ["LIVE_VALUES", "classify_fermented", "fermented_flags", "fermented_foods"]

LIVE_VALUES = ("yes", "varies", "no")


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    df = package_table("fermented_foods.tsv", comment="#", dtype=str, keep_default_na=False)
    bad = ~df["live_cultures"].isin(LIVE_VALUES)
    if bad.any():  # pragma: no cover - guarded by tests
        raise InputError(f"fermented_foods.tsv row {df['id'][bad].iat[0]}: live_cultures must be yes/varies/no")
    df["serving_g"] = pd.to_numeric(df["serving_g"].replace("", np.nan))
    df["_desc_re"] = [re.compile(p) if p else None for p in df["description_pattern"]]
    df["_text_re"] = [re.compile(p, re.I) if p else None for p in df["text_pattern"]]
    return df


def fermented_foods() -> pd.DataFrame:
    """The curated fermented-food table (one row per food, with reason and citation)."""
    return _table().drop(columns=["_desc_re", "_text_re"]).copy()


def _first(col: str, value: str | None) -> int | None:
    if not value:
        return None
    for i, rx in enumerate(_table()[col]):
        if rx is not None and rx.search(value):
            return i
    return None


def classify_fermented(text: str | None = None, description: str | None = None) -> dict | None:
    """Fermented-food row for a food, from the person's words and/or the USDA description.

    Returns ``None`` when the food is not in the fermented-food list, else a dict with
    ``fermented_id``, ``name``, ``live_cultures``, ``serving_g``, ``reason``, ``citation``.
    """
    it = _first("_text_re", text)
    idesc = _first("_desc_re", description)
    picks = [i for i in (it, idesc) if i is not None]
    if not picks:
        return None
    row = _table().iloc[min(picks)]
    return {
        "fermented_id": row["id"],
        "name": row["name"],
        "live_cultures": row["live_cultures"],
        "serving_g": row["serving_g"],
        "reason": row["reason"],
        "citation": row["citation"],
    }


def fermented_flags(foods: pd.DataFrame) -> pd.DataFrame:
    """Fermented-food flags for every item of a USDA food table (by description).

    Returns a DataFrame indexed like ``foods`` with ``fermented_id`` (empty string when not a
    listed fermented food), ``live_cultures`` ("yes"/"varies"/"no"/"") and ``serving_g``.
    """
    tab = _table()
    desc = foods["description"].astype(str)
    fid = np.full(len(desc), "", dtype=object)
    live = np.full(len(desc), "", dtype=object)
    serv = np.full(len(desc), np.nan)
    for _, row in tab.iloc[::-1].iterrows():  # reversed: earlier rows overwrite later ones
        rx = row["_desc_re"]
        if rx is None:
            continue
        hit = np.fromiter((rx.search(x) is not None for x in desc), dtype=bool, count=len(desc))
        fid[hit], live[hit], serv[hit] = row["id"], row["live_cultures"], row["serving_g"]
    return pd.DataFrame({"fermented_id": fid, "live_cultures": live, "serving_g": serv}, index=foods.index)
