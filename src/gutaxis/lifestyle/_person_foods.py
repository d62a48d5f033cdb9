"""A person's food tables: reading a personal food table, and choosing the table their meals are scored with.

Holds :func:`read_food_table` (a CSV/TSV of foods per 100 g, each value checked against what a food
can hold per 100 g) and :func:`person_foods` (explicit USDA/NOVA paths, the dataset cache, or the
person's own table, with a sentence saying which one and why). It is kept apart from
:mod:`gutaxis.lifestyle.person` because it reads and checks nutrient tables and uses nothing of the
person's fields beyond ``foods`` and ``files``; :func:`gutaxis.lifestyle.person.read_person` calls
:func:`read_food_table` for ``files.foods``. Every public name stays importable from
:mod:`gutaxis.lifestyle.person`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from ._csvsafe import unescape_cell

if TYPE_CHECKING:
    from .person import Person

__all__ = ["MAX_KCAL_PER_100G", "person_foods", "read_food_table"]

_FOOD_REQUIRED = ("description", "energy_kcal", "fiber_g", "sugars_g", "sat_fat_g")


def read_food_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a personal food table (CSV/TSV, per 100 g): ``ndb_no``, ``description`` and nutrient columns.

    The columns are those of :func:`gutaxis.lifestyle.read_usda_abbrev` (at least
    ``energy_kcal``, ``fiber_g``, ``sugars_g``, ``sat_fat_g``; more give more DII parameters)
    plus an optional ``nova`` (1-4). Fermented-food flags are added from the descriptions.
    """
    from .fermented import fermented_flags

    p = Path(path)
    if not p.is_file():
        raise InputError("food table not found", source=p, hint="give the path of a CSV food table (per 100 g)")
    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    try:
        df = pd.read_csv(p, sep=sep, dtype={"ndb_no": str}, keep_default_na=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({exc})", source=p) from None
    missing = [c for c in ("ndb_no", *_FOOD_REQUIRED) if c not in df.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}",
            source=p,
            hint="a food table needs ndb_no, description, energy_kcal, fiber_g, sugars_g, sat_fat_g (per 100 g)",
        )
    ids = df["ndb_no"].astype(str).str.strip()
    bad = ~(ids.str.fullmatch(r"\d{1,5}|\d{8}") | ids.str.fullmatch(r"[A-Za-z][\w.-]{0,63}"))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"row {i + 2}, column 'ndb_no': {df['ndb_no'].iat[i]!r} is not a food id",
            source=p,
            hint="an SR28 NDB number (e.g. 09040), an FNDDS code (8 digits) or your own id (e.g. own_soup)",
        )
    df["ndb_no"] = ids.where(~ids.str.fullmatch(r"\d{1,5}"), ids.str.zfill(5))
    if df["ndb_no"].duplicated().any():
        dup = df.loc[df["ndb_no"].duplicated(), "ndb_no"].iat[0]
        raise InputError(f"NDB number {dup} appears twice", source=p, hint="each food must appear once")
    line = pd.Series(np.arange(len(df)) + 2, index=df["ndb_no"].to_numpy())  # header = row 1
    df = df.set_index("ndb_no")
    text = {"description", "gmwt_desc1", "gmwt_desc2", "nova_source", "food_source", "additional", "category"}
    for c in df.columns:
        if c in text:
            df[c] = df[c].map(unescape_cell, na_action="ignore")  # written by gutaxis: '=... -> =...
            continue
        vals = pd.to_numeric(df[c], errors="coerce")
        bad = vals.isna() & df[c].notna()
        if bad.any():
            fid = bad[bad].index[0]
            raise InputError(
                f"row {line[fid]}, column {c!r} (food {fid}): {df.loc[fid, c]!r} is not a number",
                source=p,
                hint="nutrients are numbers per 100 g (empty = missing)",
            )
        _check_per_100g(vals, c, line, p)
        df[c] = vals
    if "nova" in df.columns:
        bad = df["nova"].notna() & ~df["nova"].isin([1, 2, 3, 4])
        if bad.any():
            raise InputError(f"NDB {bad[bad].index[0]}, column 'nova': not 1-4", source=p)
        df["nova"] = df["nova"].astype("Int64")
    if "food_group" not in df.columns:
        df["food_group"] = df.index.str[:2]
    flags = fermented_flags(df)
    df = df.join(flags[["fermented_id", "live_cultures", "serving_g"]])
    df.attrs = {"provenance": {"reader": "gutaxis.lifestyle.read_food_table", "source": str(p)}, "filtered": []}
    return df


_NOT_PER_100G = {"gmwt_1", "gmwt_2", "portion_g", "serving_g", "nova", "refuse_pct"}  # portions, classes, percent
MAX_KCAL_PER_100G = 1000.0  # pure fat is 900 kcal/100 g; more is a typo (kJ, or per portion)


def _check_per_100g(vals: pd.Series, col: str, line: pd.Series, p: Path) -> None:
    """Refuse values no food can have per 100 g: negative or non-finite amounts, more than 100 g of a
    gram nutrient, more energy than pure fat; naming the row, column and food."""

    def refuse(mask: pd.Series, what: str, hint: str) -> None:
        if mask.any():
            fid = mask[mask].index[0]
            n = int(mask.sum())
            more = f" ({n - 1} more rows in this column)" if n > 1 else ""
            raise InputError(
                f"row {line[fid]}, column {col!r} (food {fid}): {vals[fid]:g} {what}{more}", source=p, hint=hint
            )

    refuse(np.isinf(vals), "is not a finite number", "nutrients are amounts per 100 g of the food (empty = missing)")
    refuse(
        vals < 0,
        "is negative",
        "nutrients are amounts per 100 g of the food, 0 or more (leave the cell empty when it is not known)",
    )
    if col in _NOT_PER_100G:
        return
    if col.endswith("_g"):
        refuse(
            vals > 100.0,
            "is more than 100 g per 100 g of the food",
            "give the grams in 100 g of the food (not per portion or per package)",
        )
    if col == "energy_kcal":
        refuse(
            vals > MAX_KCAL_PER_100G,
            "kcal per 100 g is more than any food has (pure fat: 900)",
            "give kcal per 100 g of the food (not kJ, not per portion or per package)",
        )


def person_foods(
    person: Person | None = None, *, usda_path=None, nova_path=None, prefer: str = "cache"
) -> tuple[pd.DataFrame, str]:
    """The food table to score a person's meals with, and a sentence saying which one and why.

    Order: explicit ``usda_path``/``nova_path``; the USDA SR28 + NOVA tables in the dataset
    cache; the person's own food table (``person.foods``, e.g. the shipped example's). When none
    is available, an :class:`~gutaxis.errors.InputError` says how to fetch the tables.
    ``prefer="person"`` uses the person's table first (reproducible output for the example).
    """
    from .foods import default_nova_path, default_usda_path, load_food_table

    own = person.foods if person is not None else None
    if prefer == "person" and person is not None and own is not None and usda_path is None:
        return own, _own_note(person)
    if usda_path is not None:
        foods = load_food_table(usda_path, nova_path, nova=True)
        return foods, f"USDA SR28 table {usda_path} with NOVA groups from {nova_path or default_nova_path()}"
    cache_usda, cache_nova = default_usda_path(), default_nova_path()
    if cache_usda.is_file():
        if cache_nova.is_file():
            return (
                load_food_table(cache_usda, cache_nova),
                "USDA SR28 and FoodProX/GroceryDB NOVA tables from the gutaxis dataset cache",
            )
        foods = load_food_table(cache_usda, nova=False)
        return foods, (
            "USDA SR28 table from the dataset cache; the NOVA table is not in the cache, so the "
            "ultra-processed share is not available (gutaxis datasets fetch nova_fndds_sr_grocerydb)"
        )
    if person is not None and own is not None:
        return own, (
            "the USDA SR28 and NOVA tables are not in the dataset cache, so the person's own food table "
            "was used: " + _own_note(person)
        )
    raise InputError(
        "the USDA SR28 food table is not in the dataset cache and no food table was given",
        source=str(cache_usda),
        hint="run `gutaxis datasets fetch usda_sr28_abbrev` and `gutaxis datasets fetch nova_fndds_sr_grocerydb` "
        "once (then it works offline), or pass --usda/--nova paths, or add a personal food table "
        "(files.foods in person.json)",
    )


def _own_note(person: Person) -> str:
    src = person.files.get("foods", "foods")
    n = len(person.foods) if person.foods is not None else 0
    return f"{src} ({n} foods, per 100 g, from USDA SR28 with NOVA groups of the FoodProX/GroceryDB set)"
