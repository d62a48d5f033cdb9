"""A person's stored entries as the tables :mod:`gutaxis.lifestyle` reads (the shapes of
``read_meal_log``, ``read_symptom_log`` and ``read_stress_log``), so that every number the app shows
is computed by the same functions as the CLI's."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["meal_rows", "stress_frame", "symptom_frame"]


def meal_rows(entries) -> list[dict]:
    """DB meal entries -> rows for :func:`gutaxis.web.food.meal_frame` (the read_meal_log shape)."""
    rows = []
    for e in entries:
        r = {
            "timestamp": e.eaten_at,
            "meal": e.meal or "",
            "text": e.text,
            "source_row": f"entry {e.id}",
            "ndb_no": None,
            "grams": np.nan,
            "food_name": None,
            "nutrients_given": False,
        }
        n = dict(e.nutrients or {})
        if e.source in ("cronometer", "myfitnesspal"):
            r["nutrients_given"] = True
            r["food_name"] = n.pop("food_name", None)
            r["grams"] = n.pop("grams", np.nan)
            r.update({k: v for k, v in n.items() if isinstance(v, (int, float)) or v is None})
        elif n:  # a gutaxis meal log import: an SR28 number and/or grams as the file gave them
            r["ndb_no"] = n.get("ndb_no")
            r["grams"] = n.get("grams", np.nan)
        rows.append(r)
    return rows


def symptom_frame(entries) -> pd.DataFrame:
    """DB symptom entries in the shape of :func:`gutaxis.lifestyle.read_symptom_log`."""
    df = pd.DataFrame(
        [
            {
                "timestamp": e.at,
                "onset": e.onset or e.at,
                "symptom": e.symptom or "",
                "rating": np.nan if e.rating is None else e.rating,
                "bristol": np.nan if e.bristol is None else float(e.bristol),
                "note": e.note,
                "source_row": f"entry {e.id}",
                "utc_offset": np.nan,
            }
            for e in entries
        ],
        columns=["timestamp", "onset", "symptom", "rating", "bristol", "note", "source_row", "utc_offset"],
    )
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df["onset"] = pd.to_datetime(df["onset"])
    df.insert(2, "date", df["onset"].dt.normalize())
    return df


def stress_frame(entries) -> pd.DataFrame:
    """DB stress entries in the shape of :func:`gutaxis.lifestyle.read_stress_log`."""
    rows = []
    for e in entries:
        r = {
            "timestamp": e.at,
            "rating": np.nan if e.rating is None else e.rating,
            "practice": e.practice or "",
            "minutes": np.nan if e.minutes is None else e.minutes,
            "source_row": f"entry {e.id}",
            "utc_offset": np.nan,
            "pss10": np.nan if e.pss_total is None else e.pss_total,
        }
        for i in range(1, 11):
            r[f"pss_{i}"] = e.pss_items[i - 1] if e.pss_items else np.nan
        rows.append(r)
    df = pd.DataFrame(
        rows,
        columns=[
            "timestamp",
            "rating",
            "practice",
            "minutes",
            "source_row",
            "utc_offset",
            *[f"pss_{i}" for i in range(1, 11)],
            "pss10",
        ],
    )
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    df.insert(1, "date", df["timestamp"].dt.normalize())
    return df
