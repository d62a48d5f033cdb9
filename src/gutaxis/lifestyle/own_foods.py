"""A person's own foods and words: ``gutaxis food add`` and ``gutaxis food alias`` write these CSVs.

Own foods (per 100 g) are read with :func:`gutaxis.lifestyle.read_food_table` and *added* to the
USDA tables; aliases (``phrase, food_id, grams``) with :func:`gutaxis.lifestyle.read_aliases`.
Rows are appended; the file is rewritten whole through a temporary file, so an interrupted
write never leaves half a file. Text a spreadsheet would run as a formula (a name ``=1+2 soup``)
is written with a leading apostrophe, which the readers drop.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from ..errors import InputError
from ._csvsafe import safe_cell, unescape_cell

__all__ = ["OWN_FOOD_COLUMNS", "add_alias", "add_own_food"]

OWN_FOOD_COLUMNS = [
    "ndb_no",
    "description",
    "energy_kcal",
    "fiber_g",
    "sugars_g",
    "sat_fat_g",
    "protein_g",
    "sodium_mg",
    "nova",
    "portion_g",
]


def _append(path: Path, columns: list[str], row: dict, key: str) -> None:
    rows: list[dict] = []
    if path.is_file():
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"missing column(s) {missing}",
                    source=path,
                    hint="this file was not written by gutaxis; give a new file name",
                )
            rows = list(reader)
        if any(unescape_cell(r[key]) == row[key] for r in rows):
            raise InputError(
                f"{key} {row[key]!r} is already in the file",
                source=path,
                hint="choose another id or phrase, or edit the file",
            )
    rows.append({c: ("" if row.get(c) is None else row[c]) for c in columns})
    rows = [{c: safe_cell(v) for c, v in r.items()} for r in rows]  # no cell a spreadsheet runs as a formula
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def add_own_food(
    path,
    name: str,
    *,
    food_id: str | None = None,
    energy_kcal: float,
    fiber_g: float,
    sugars_g: float,
    sat_fat_g: float,
    protein_g: float | None = None,
    sodium_mg: float | None = None,
    portion_g: float | None = None,
    nova: int | None = None,
) -> str:
    """Append one of your own foods (values per 100 g) to ``path``; returns its id."""
    name = str(name).strip()
    if not name:
        raise InputError("the food needs a name", source="gutaxis food add")
    if sum(v or 0 for v in (fiber_g, sugars_g, sat_fat_g, protein_g)) > 100:
        raise InputError(
            "fiber + sugars + saturated fat + protein exceed 100 g per 100 g",
            source="gutaxis food add",
            hint="give the values per 100 g of the food",
        )
    fid = food_id or "own_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]
    if not re.fullmatch(r"[A-Za-z][\w.-]{0,63}", fid) or re.fullmatch(r"\d+", fid):
        raise InputError(
            f"id {fid!r} is not allowed",
            source="gutaxis food add",
            hint="start with a letter (numbers are USDA's ids), e.g. own_lentil_soup",
        )
    _append(
        Path(path),
        OWN_FOOD_COLUMNS,
        {
            "ndb_no": fid,
            "description": name,
            "energy_kcal": energy_kcal,
            "fiber_g": fiber_g,
            "sugars_g": sugars_g,
            "sat_fat_g": sat_fat_g,
            "protein_g": protein_g,
            "sodium_mg": sodium_mg,
            "nova": nova,
            "portion_g": portion_g,
        },
        "ndb_no",
    )
    return fid


def add_alias(path, phrase: str, food_id: str, grams: float | None = None) -> None:
    """Append ``phrase -> food_id`` (and your usual grams) to an aliases CSV."""
    phrase = str(phrase).strip()
    if not phrase:
        raise InputError("the alias needs a phrase", source="gutaxis food alias")
    _append(
        Path(path),
        ["phrase", "food_id", "grams"],
        {"phrase": phrase, "food_id": str(food_id).strip(), "grams": grams},
        "phrase",
    )
