"""Symptoms: 0-10 ratings of named symptoms, Bristol stool type (1-7) and onset time.

Plain 0-10 ratings and the Bristol Stool Form Scale need no licence (unlike GSRS). The Bristol
types and their usual grouping (1-2 hard, 3-4 normal, 5-7 loose) are package data
(``gutaxis/data/bristol_stool_scale.tsv``; Lewis SJ, Heaton KW. *Scand J Gastroenterol*
1997;32:920-4, doi:10.3109/00365529709011203).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from .._data import package_table
from ..errors import InputError

__all__ = ["bristol_group", "bristol_scale", "daily_symptoms", "normalize_symptom"]


@lru_cache(maxsize=1)
def _bristol() -> pd.DataFrame:
    return package_table("bristol_stool_scale.tsv", comment="#").set_index("type")


def bristol_scale() -> pd.DataFrame:
    """The 7 Bristol stool types with their group, description and citation."""
    return _bristol().copy()


def bristol_group(stool_type) -> str:
    """Group of a Bristol type: "hard (towards constipation)", "normal" or "loose (towards diarrhoea)"."""
    try:
        t = int(stool_type)
    except (TypeError, ValueError):
        raise InputError(
            f"Bristol stool type {stool_type!r} is not a number",
            source="bristol_group",
            hint="types are whole numbers 1-7",
        ) from None
    if t != stool_type and not (isinstance(stool_type, str) and stool_type.strip() == str(t)):
        raise InputError(
            f"Bristol stool type {stool_type!r} is not a whole number",
            source="bristol_group",
            hint="types are whole numbers 1-7",
        )
    if t not in _bristol().index:
        raise InputError(f"Bristol stool type {t} is outside 1-7", source="bristol_group", hint="types are 1-7")
    return str(_bristol().at[t, "group"])


def normalize_symptom(name: str) -> str:
    """Canonical symptom name: lower case, single spaces ("Abdominal  Pain" -> "abdominal pain")."""
    return " ".join(str(name).lower().replace("_", " ").split())


def daily_symptoms(symptoms: pd.DataFrame, *, how: str = "max") -> pd.DataFrame:
    """Per-day symptom table from a symptom log (:func:`gutaxis.lifestyle.read_symptom_log`).

    Parameters
    ----------
    how
        "max" (worst rating of the day, the default) or "mean".

    Returns
    -------
    pandas.DataFrame
        One row per date (of onset), one column per symptom (0-10), plus ``bristol_mean`` and
        ``bristol_n`` (number of stools typed) when Bristol types were logged.
    """
    if how not in ("max", "mean"):
        raise InputError(f"how={how!r}", source="daily_symptoms", hint="use 'max' or 'mean'")
    if symptoms is None or len(symptoms) == 0:
        return pd.DataFrame()
    s = symptoms.copy()
    s["date"] = pd.to_datetime(s["onset"]).dt.normalize()
    rated = s.dropna(subset=["rating"])
    out = (
        rated.pivot_table(index="date", columns="symptom", values="rating", aggfunc=how)
        if len(rated)
        else pd.DataFrame()
    )
    if "bristol" in s and s["bristol"].notna().any():
        b = s.dropna(subset=["bristol"]).groupby("date")["bristol"]
        out = out.join(pd.DataFrame({"bristol_mean": b.mean(), "bristol_n": b.size()}), how="outer")
    out.index.name = "date"
    out.columns.name = None
    return out.sort_index()
