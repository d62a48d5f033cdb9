"""One food database for diaries: FNDDS foods as eaten, SR28, cited dishes, and a person's own foods.

:func:`load_food_database` joins

* USDA FNDDS 2017-2018 (7,083 foods as eaten, mixed dishes, 31,592 portions with grams): the
  primary table, because it is the one built to code what people report eating;
* USDA SR28 (``ABBREV.txt`` nutrients, ``WEIGHT.txt`` household measures), where present: single
  foods FNDDS lacks (hummus) or gets wrong (FNDDS chia seeds carry flaxseed values);
* ``gutaxis/data/dishes.tsv``: everyday dishes and drinks neither table has (tikka masala, a flat
  white), each a recipe of USDA components in grams with the source of its proportions;
* a person's own foods (per 100 g) and aliases: they *add* to the tables, never replace them.

Food ids: 8 digits = FNDDS food code, 5 digits = SR28 NDB number, ``gx_…`` = a gutaxis dish,
anything else = a person's own food. NOVA groups come from the FoodProX/GroceryDB labels (FNDDS
codes and SR NDB numbers), fermented-food flags from :mod:`gutaxis.lifestyle.fermented`.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from .._data import package_table
from ..errors import InputError
from .fndds import read_fndds, read_fndds_portions, read_sr28_weights

__all__ = ["FoodDatabase", "dishes", "lexicon", "load_food_database"]


@lru_cache(maxsize=1)
def dishes() -> pd.DataFrame:
    """The cited dishes and drinks of ``gutaxis/data/dishes.tsv`` (recipes of USDA components)."""
    try:
        return package_table("dishes.tsv", comment="#", dtype=str, keep_default_na=False)
    except FileNotFoundError:  # pragma: no cover - the table ships with the package
        return pd.DataFrame(columns=["id", "name", "synonyms", "components", "serving_desc", "serving_g"])


@lru_cache(maxsize=1)
def lexicon() -> pd.DataFrame:
    """Everyday words -> the USDA food a dietary-recall coder would choose (``food_lexicon.tsv``)."""
    try:
        return package_table("food_lexicon.tsv", comment="#", dtype=str, keep_default_na=False)
    except FileNotFoundError:  # pragma: no cover
        return pd.DataFrame(columns=["phrase", "food_id", "source", "note"])


@dataclass
class FoodDatabase:
    """Foods (per 100 g, indexed by food id), their portions, and where each came from."""

    foods: pd.DataFrame
    portions: pd.DataFrame
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    aliases: dict[str, tuple[str, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_food = {k: g for k, g in self.portions.groupby("food_id", sort=False)}

    def portions_of(self, food_id: str) -> pd.DataFrame:
        return self._by_food.get(str(food_id), self.portions.iloc[:0])

    def describe(self) -> str:
        return "; ".join(self.sources)


def _dish_rows(foods: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-100 g nutrients of each dish from its USDA components, and its serving as a portion.

    A row without components gives its own per-100 g values (from its cited source); recipes may use
    such rows as components (oat milk in an oat-milk latte), so those are made first.
    """
    tab = dishes()
    nutrient_cols = [c for c in foods.columns if pd.api.types.is_numeric_dtype(foods[c])]
    own = tab["components"].str.strip() == ""
    made: dict[str, pd.Series] = {}  # per-100 g nutrients of the dishes made so far
    rows, portions, skipped = [], [], []
    for r in pd.concat([tab[own], tab[~own]]).itertuples(index=False):
        comps = [c.split(":") for c in str(r.components).split("+") if c.strip()]
        if not comps:
            per100 = pd.Series(
                {c: pd.to_numeric(getattr(r, c, ""), errors="coerce") for c in nutrient_cols if hasattr(r, c)},
                dtype=float,
            )
            total = 100.0
        else:
            codes = [code.strip() for code, _ in comps]
            if any(c not in made and c not in foods.index for c in codes):
                skipped.append(r.id)  # a component not loaded (e.g. SR28 absent)
                continue
            grams = [float(g) for _, g in comps]
            total = sum(grams)
            per100 = (
                sum(
                    (made[c] if c in made else foods.loc[c, nutrient_cols].astype(float)).fillna(0.0) * g
                    for c, g in zip(codes, grams, strict=True)
                )
                / total
            )
        made[r.id] = per100.reindex(nutrient_cols)
        row = per100.to_dict()
        row.update(
            description=r.name,
            additional=str(getattr(r, "synonyms", "")).replace("|", "; "),
            category="gutaxis dish",
            food_source="gutaxis dishes.tsv: " + str(getattr(r, "citation", "")),
        )
        if getattr(r, "nova", ""):
            row["nova"] = int(r.nova)
        row["_live"] = getattr(r, "live_cultures", "")
        rows.append(pd.Series(row, name=r.id))
        serving = float(getattr(r, "serving_g", "") or total)
        portions.append(
            {
                "food_id": r.id,
                "text": str(getattr(r, "serving_desc", "1 serving")),
                "amount": 1.0,
                "measure": "serving",
                "grams": serving,
                "default": True,
                "table": "dish",
            }
        )
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*nutrient_cols, "description"])
    return frame, pd.DataFrame(portions), skipped


def _nova_for_fndds(codes: pd.Index, nova: pd.DataFrame) -> pd.Series:
    f = nova[nova["source"] == "FNDDS"].sort_values("fndds_year", ascending=False)
    f = f.drop_duplicates("food_code")
    m = pd.Series(f["nova"].to_numpy(), index=f["food_code"].astype(str).str.zfill(8))
    return m.reindex(codes).astype("Int64")


def load_food_database(
    fndds=None,
    sr28=None,
    *,
    usda_path=None,
    nova_path=None,
    personal: pd.DataFrame | None = None,
    aliases: pd.DataFrame | None = None,
    require_sr28: bool = False,
) -> FoodDatabase:
    """Build the diary food database.

    Parameters
    ----------
    fndds
        Folder with the FNDDS 2017-2018 CSVs (default: the dataset cache, ``gutaxis datasets
        fetch fndds_2017_2018``). Required: it is the primary table.
    sr28
        Folder with SR28 ``WEIGHT.txt`` (default: the cache, ``usda_sr28_full``); optional.
    usda_path, nova_path
        ``ABBREV.txt`` and the NOVA table (default: the cache); both optional.
    personal
        A person's own foods (:func:`gutaxis.lifestyle.read_food_table`), added to the tables.
    aliases
        A person's aliases (:func:`gutaxis.lifestyle.read_aliases`: phrase, food id, grams).
    """
    from .fermented import fermented_flags
    from .foods import default_nova_path, default_usda_path, read_nova, read_usda_abbrev

    foods = read_fndds(fndds)
    portions = read_fndds_portions(fndds)
    sources = [f"USDA FNDDS 2017-2018 ({len(foods):,} foods as eaten, {len(portions):,} portions)"]
    notes: list[str] = []
    abbrev_p = usda_path if usda_path is not None else default_usda_path()
    if usda_path is not None or os.path.isfile(abbrev_p):
        sr = read_usda_abbrev(abbrev_p)
        sr = sr.assign(additional="", category="", food_source="USDA SR28")
        foods = pd.concat([foods, sr[[c for c in sr.columns if c in foods.columns or c.startswith("gmwt")]]])
        sources.append(f"USDA SR28 ({len(sr):,} foods)")
        try:
            w = read_sr28_weights(sr28)
            portions = pd.concat([portions, w[w["food_id"].isin(sr.index)]], ignore_index=True)
            sources.append(f"SR28 household measures ({len(w):,})")
        except InputError as exc:
            if require_sr28 or _changed_cache(exc):
                raise
            notes.append(
                "SR28 household measures (WEIGHT.txt) are not in the cache: SR28 foods use their two "
                "ABBREV measures only (gutaxis datasets fetch usda_sr28_full)"
            )
            portions = pd.concat([portions, _abbrev_measures(sr)], ignore_index=True)
    else:
        notes.append("USDA SR28 is not in the cache: FNDDS alone is used (gutaxis datasets fetch usda_sr28_abbrev)")
    foods = foods.drop(columns=[c for c in foods.columns if c.startswith("gmwt")], errors="ignore")
    portions = _borrow_portions(portions, foods)
    dish, dish_portions, skipped = _dish_rows(foods)
    live = dish.pop("_live") if "_live" in dish else None
    if len(dish):
        foods = pd.concat(
            [
                foods,
                dish.astype(
                    {c: float for c in dish.columns if c in foods.columns and pd.api.types.is_float_dtype(foods[c])}
                ),
            ]
        )
    portions = pd.concat([portions, dish_portions], ignore_index=True)
    if skipped:
        notes.append(f"{len(skipped)} dishes need SR28 components that are not loaded: {', '.join(skipped)}")
    # NOVA
    nova_p = nova_path if nova_path is not None else default_nova_path()
    if "nova" not in foods.columns:
        foods["nova"] = pd.array([pd.NA] * len(foods), dtype="Int64")
    foods["nova"] = pd.to_numeric(foods["nova"], errors="coerce").astype("Int64")
    if nova_path is not None or os.path.isfile(nova_p):
        from .foods import nova_for_sr

        table = read_nova(nova_p)
        is_f = foods.index.str.fullmatch(r"\d{8}")
        foods.loc[is_f, "nova"] = _nova_for_fndds(foods.index[is_f], table).to_numpy()
        is_sr = foods.index.str.fullmatch(r"\d{5}")
        if is_sr.any():
            labels = nova_for_sr(foods.loc[is_sr, ["description"]], table)
            foods.loc[is_sr, "nova"] = labels["nova"].to_numpy()
        sources.append("NOVA groups of the FoodProX/GroceryDB training set")
    else:
        notes.append(
            "The NOVA table is not in the cache: the ultra-processed share is not available "
            "(gutaxis datasets fetch nova_fndds_sr_grocerydb)"
        )
    # a person's own foods add rows; an id that exists already is the person's own value for that food
    if personal is not None and len(personal):
        own = personal.copy()
        own["food_source"] = "your own foods"
        own.index = own.index.astype(str)
        foods = pd.concat([foods[~foods.index.isin(own.index)], own[[c for c in own.columns if c in foods.columns]]])
        if "portion_g" in own.columns:  # your usual portion is the food's default portion
            pg = pd.to_numeric(own["portion_g"], errors="coerce")
            pg = pg[pg > 0]
            portions = pd.concat(
                [
                    portions,
                    pd.DataFrame(
                        {
                            "food_id": pg.index,
                            "text": [f"your portion ({g:g} g)" for g in pg],
                            "amount": 1.0,
                            "measure": "portion",
                            "grams": pg.to_numpy(dtype=float),
                            "default": True,
                            "table": "yours",
                        }
                    ),
                ],
                ignore_index=True,
            )
        sources.append(f"{len(own)} foods of your own")
    # fermented flags from the descriptions, written as SR28 writes them
    desc_sr = foods["description"].astype(str).str.upper().str.replace(", ", ",", regex=False)
    flags = fermented_flags(pd.DataFrame({"description": desc_sr}, index=foods.index))
    for c in ("fermented_id", "live_cultures", "serving_g"):
        foods[c] = flags[c].to_numpy()
    if live is not None:
        has = live[live.astype(str) != ""]
        foods.loc[has.index, "live_cultures"] = has.to_numpy()
    foods = foods[~foods.index.duplicated(keep="last")]
    foods.index.name = "food_id"
    db = FoodDatabase(foods, portions, sources, notes)
    if aliases is not None:
        for r in aliases.itertuples(index=False):
            fid = str(getattr(r, "food_id", getattr(r, "ndb_no", ""))).strip()
            if fid not in foods.index and fid.zfill(5) in foods.index:
                fid = fid.zfill(5)
            if fid not in foods.index:
                raise InputError(
                    f"alias {r.phrase!r}: food id {fid} is not in the food tables",
                    source="aliases",
                    hint="use an FNDDS food code (8 digits), an SR28 NDB number or one of your own foods",
                )
            g = getattr(r, "grams", None)
            db.aliases[_norm_key(r.phrase)] = (fid, None if g is None or pd.isna(g) else float(g))
    return db


def _changed_cache(exc: Exception) -> bool:
    """A cached table that fails its checksum: never a reason to fall back to another table."""
    from ..io.datasets import DatasetCacheError

    return isinstance(exc, DatasetCacheError)


def _borrow_portions(portions: pd.DataFrame, foods: pd.DataFrame) -> pd.DataFrame:
    """Portions of ``portion_links.tsv``: a food without a household measure borrows those of its twin."""
    links = package_table("portion_links.tsv", comment="#", dtype=str, keep_default_na=False)
    add = []
    for r in links.itertuples(index=False):
        if r.food_id in foods.index:
            src = portions[(portions["food_id"] == r.portions_from) & ~portions["default"]]
            if len(src):
                add.append(src.assign(food_id=r.food_id, table=f"FNDDS {r.portions_from} (borrowed)"))
    return pd.concat([portions, *add], ignore_index=True) if add else portions


def _norm_key(phrase: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9% ]+", " ", str(phrase).lower())).strip()


def _abbrev_measures(sr: pd.DataFrame) -> pd.DataFrame:
    """The two household measures of ABBREV.txt, in the portions layout (when WEIGHT.txt is absent)."""
    from .fndds import parse_portion_text

    rows = []
    for k in (1, 2):
        g, d = sr.get(f"gmwt_{k}"), sr.get(f"gmwt_desc{k}")
        if g is None or d is None:
            continue
        for fid, grams, desc in zip(sr.index, g, d, strict=True):
            if isinstance(desc, str) and grams == grams and grams > 0:
                amount, measure = parse_portion_text(desc)
                rows.append((fid, desc, amount, measure, float(grams), False, "SR28"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.DataFrame(rows, columns=["food_id", "text", "amount", "measure", "grams", "default", "table"])


def food_database_for(
    person=None, *, fndds=None, sr28=None, usda_path=None, nova_path=None, personal=None, aliases=None
):
    """The food data to score a diary with, and one sentence saying which and why.

    The FNDDS-based :class:`FoodDatabase` (with SR28, dishes, and the person's own foods and
    aliases added) when FNDDS is in the cache or given; otherwise the earlier single-table path
    (:func:`gutaxis.lifestyle.person_foods`: SR28 from the cache, or the person's own
    table), with a note saying what is lost and how to fetch FNDDS.
    """
    from .person import person_foods

    own = personal if personal is not None else getattr(person, "foods", None)
    own_aliases = aliases if aliases is not None else getattr(person, "aliases", None)
    try:
        db = load_food_database(
            fndds, sr28, usda_path=usda_path, nova_path=nova_path, personal=own, aliases=own_aliases
        )
    except InputError as exc:
        if fndds is not None or "fndds" not in str(exc).lower() or _changed_cache(exc):
            raise
        if person is None and own is not None:
            from types import SimpleNamespace

            person = SimpleNamespace(foods=own, files={"foods": "your own food table"})
        table, note = person_foods(person, usda_path=usda_path, nova_path=nova_path)
        return table, (
            note + ". FNDDS 2017-2018 (foods as eaten, household portions, mixed dishes) is not in the "
            "cache, so compound entries and household portions are not understood: run "
            "`gutaxis datasets fetch fndds_2017_2018` and `gutaxis datasets fetch usda_sr28_full` once"
        )
    note = db.describe()
    if db.notes:
        note += ". " + ". ".join(db.notes)
    return db, note
