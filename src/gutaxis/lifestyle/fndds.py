"""USDA FNDDS 2017-2018 (foods as eaten, with portions) and the SR28 household measures.

FNDDS, the Food and Nutrient Database for Dietary Studies, is the table that codes the
What We Eat in America dietary recalls: 7,083 foods *as eaten* (mixed dishes included), energy
and 64 nutrients per 100 g, and 32,614 portions with gram weights ("1 medium banana",
"1 cup", "Quantity not specified" = the default portion when no amount is known). Cite as
USDA Food and Nutrient Database for Dietary Studies 2017-2018, Food Surveys Research Group, ARS.

SR28's ``WEIGHT.txt`` holds 15,438 household measures for SR28 foods (``1 tbsp = 14.2 g``).

Both come through the dataset registry (``gutaxis datasets fetch fndds_2017_2018`` /
``usda_sr28_full``); every reader also takes an explicit folder. Files read from the cache are
checked against the registry's sha256 (:func:`gutaxis.io.datasets.verify_cached`).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = [
    "FNDDS_DATASET",
    "FNDDS_NUTRIENTS",
    "SR28_FULL_DATASET",
    "parse_portion_text",
    "read_fndds",
    "read_fndds_portions",
    "read_sr28_weights",
]

FNDDS_DATASET = "fndds_2017_2018"
SR28_FULL_DATASET = "usda_sr28_full"
_FNDDS_FILES = {
    "foods": "fndds_2017_2018_foods_and_beverages.csv",
    "nutrients": "fndds_2017_2018_nutrient_values.csv",
    "portions": "fndds_2017_2018_portions_and_weights.csv",
}

#: FNDDS nutrient columns -> gutaxis names (the names of :func:`read_usda_abbrev`, plus the extras)
FNDDS_NUTRIENTS = {
    "Energy (kcal)": "energy_kcal",
    "Protein (g)": "protein_g",
    "Carbohydrate (g)": "carbohydrate_g",
    "Sugars, total (g)": "sugars_g",
    "Fiber, total dietary (g)": "fiber_g",
    "Total Fat (g)": "fat_g",
    "Fatty acids, total saturated (g)": "sat_fat_g",
    "Fatty acids, total monounsaturated (g)": "mufa_g",
    "Fatty acids, total polyunsaturated (g)": "pufa_g",
    "Cholesterol (mg)": "cholesterol_mg",
    "Retinol (mcg)": "retinol_ug",
    "Vitamin A, RAE (mcg_RAE)": "vitamin_a_rae_ug",
    "Carotene, alpha (mcg)": "alpha_carotene_ug",
    "Carotene, beta (mcg)": "beta_carotene_ug",
    "Cryptoxanthin, beta (mcg)": "beta_cryptoxanthin_ug",
    "Lycopene (mcg)": "lycopene_ug",
    "Lutein + zeaxanthin (mcg)": "lutein_zeaxanthin_ug",
    "Thiamin (mg)": "thiamin_mg",
    "Riboflavin (mg)": "riboflavin_mg",
    "Niacin (mg)": "niacin_mg",
    "Vitamin B-6 (mg)": "vitamin_b6_mg",
    "Folic acid (mcg)": "folic_acid_ug",
    "Folate, food (mcg)": "food_folate_ug",
    "Folate, DFE (mcg_DFE)": "folate_dfe_ug",
    "Folate, total (mcg)": "folate_total_ug",
    "Choline, total (mg)": "choline_mg",
    "Vitamin B-12 (mcg)": "vitamin_b12_ug",
    "Vitamin C (mg)": "vitamin_c_mg",
    "Vitamin D (D2 + D3) (mcg)": "vitamin_d_ug",
    "Vitamin E (alpha-tocopherol) (mg)": "vitamin_e_mg",
    "Vitamin K (phylloquinone) (mcg)": "vitamin_k_ug",
    "Calcium (mg)": "calcium_mg",
    "Phosphorus (mg)": "phosphorus_mg",
    "Magnesium (mg)": "magnesium_mg",
    "Iron (mg)": "iron_mg",
    "Zinc (mg)": "zinc_mg",
    "Copper (mg)": "copper_mg",
    "Selenium (mcg)": "selenium_ug",
    "Potassium (mg)": "potassium_mg",
    "Sodium (mg)": "sodium_mg",
    "Caffeine (mg)": "caffeine_mg",
    "Alcohol (g)": "alcohol_g",
    "Water (g)": "water_g",
}
# omega-3: ALA (18:3, FNDDS does not split its isomers), stearidonic (18:4), EPA, DPA, DHA; omega-6: 18:2 + 20:4
_OMEGA3 = ("18:3 (g)", "18:4 (g)", "20:5 n-3 (g)", "22:5 n-3 (g)", "22:6 n-3 (g)")
_OMEGA6 = ("18:2 (g)", "20:4 (g)")
CITATION = "USDA Food and Nutrient Database for Dietary Studies 2017-2018. Food Surveys Research Group, ARS, USDA"


def _cache_folder(dataset: str) -> Path:
    from ..io.datasets import cache_dir

    return Path(cache_dir()) / dataset


def _folder(folder, dataset: str) -> str:
    """The folder as a cache key: the cache's folder is resolved now, so another cache is another key."""
    return str(Path(folder).expanduser() if folder is not None else _cache_folder(dataset))


def _file(folder, dataset: str, name: str) -> Path:
    base = Path(folder).expanduser() if folder is not None else _cache_folder(dataset)
    p = base / name
    if not p.is_file():
        raise InputError(
            f"{name} not found",
            source=base,
            hint=f"fetch it once with `gutaxis datasets fetch {dataset}` (then it works offline), "
            "or pass the folder that holds it",
        )
    from ..io.datasets import verify_cached

    return verify_cached(p)  # the cache's copy is checked against the registry; another folder is the user's


def _read_fndds_csv(p: Path) -> pd.DataFrame:
    # record 1 is a title spanning two physical lines; record 2 is the header
    try:
        df = pd.read_csv(p, header=1, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not an FNDDS 'At A Glance' CSV ({exc})", source=p) from None
    df.columns = [str(c).replace("\n", " ").strip() for c in df.columns]
    if "Food code" not in df.columns:
        raise InputError(
            "no 'Food code' column in the second record",
            source=p,
            hint="expected the FNDDS 2017-2018 At A Glance CSV (a title record, then the header)",
        )
    df = df[df["Food code"].str.fullmatch(r"\d{8}")]
    return df


@lru_cache(maxsize=4)
def _read_fndds_cached(folder: str) -> pd.DataFrame:
    foods = _read_fndds_csv(_file(folder, FNDDS_DATASET, _FNDDS_FILES["foods"]))
    p_nut = _file(folder, FNDDS_DATASET, _FNDDS_FILES["nutrients"])
    nut = _read_fndds_csv(p_nut)
    missing = [c for c in (*FNDDS_NUTRIENTS, *_OMEGA3, *_OMEGA6) if c not in nut.columns]
    if missing:
        raise InputError(f"missing nutrient column(s) {missing}", source=p_nut)
    values = nut[list(FNDDS_NUTRIENTS) + list(_OMEGA3) + list(_OMEGA6)].apply(pd.to_numeric, errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"food code {nut['Food code'].iat[r]}, column {values.columns[c]!r}: "
            f"{nut[values.columns[c]].iat[r]!r} is not a number",
            source=p_nut,
        )
    if (values.to_numpy() < 0).any():
        r, c = np.argwhere(values.to_numpy() < 0)[0]
        raise InputError(f"food code {nut['Food code'].iat[r]}, column {values.columns[c]!r}: negative", source=p_nut)
    out = values[list(FNDDS_NUTRIENTS)].rename(columns=FNDDS_NUTRIENTS)
    out["omega3_g"] = values[list(_OMEGA3)].sum(axis=1)
    out["epa_dha_g"] = values[["20:5 n-3 (g)", "22:6 n-3 (g)"]].sum(axis=1)
    out["omega6_g"] = values[list(_OMEGA6)].sum(axis=1)
    out["caffeine_g"] = out["caffeine_mg"] / 1000.0
    out.index = pd.Index(nut["Food code"].to_numpy(), name="food_id")
    meta = foods.set_index("Food code")
    out.insert(0, "description", nut.set_index("Food code")["Main food description"].reindex(out.index).to_numpy())
    out.insert(1, "additional", meta["Additional food description"].reindex(out.index).fillna("").to_numpy())
    out.insert(2, "category", meta["WWEIA Category description"].reindex(out.index).fillna("").to_numpy())
    out.insert(3, "food_source", "FNDDS 2017-2018")
    out.attrs["provenance"] = {
        "reader": "gutaxis.lifestyle.fndds.read_fndds",
        "source": str(p_nut.parent),
        "sha256": hashlib.sha256(p_nut.read_bytes()).hexdigest(),
        "citation": CITATION,
    }
    return out


def read_fndds(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """FNDDS 2017-2018 foods with nutrients per 100 g, indexed by the 8-digit food code.

    Columns: ``description`` (main food description), ``additional`` (FNDDS synonyms, brands
    and preparations, ``; ``-joined), ``category`` (WWEIA), ``food_source``, the nutrients
    under the names of :func:`gutaxis.lifestyle.read_usda_abbrev` (``energy_kcal``,
    ``fiber_g``, ``sugars_g``, ``sat_fat_g``, ``protein_g``, ``calcium_mg``, ``vitamin_d_ug``,
    ``folate_dfe_ug``, ``iron_mg``, ``sodium_mg``…) plus ``alcohol_g``, ``caffeine_mg``/``caffeine_g``,
    ``omega3_g`` (18:3 + 18:4 + EPA + DPA + DHA), ``epa_dha_g`` and ``omega6_g`` (18:2 + 20:4).
    """
    return _read_fndds_cached(_folder(folder, FNDDS_DATASET)).copy()


_PORTION_RE = re.compile(r"^\s*(\d+\s+\d+/\d+|\d+/\d+|\d*\.\d+|\d+)(?:\s*-\s*\d+/\d+)?\s*(.*)$")


def parse_portion_text(text: str) -> tuple[float, str]:
    """``"1 1/2 cup, sliced"`` -> ``(1.5, "cup, sliced")``; ``"Quantity not specified"`` -> ``(1.0, text)``."""
    m = _PORTION_RE.match(str(text))
    if not m:
        return 1.0, str(text).strip().lower()
    num = m.group(1).strip()
    if " " in num:
        whole, frac = num.split()
        a, b = frac.split("/")
        amount = int(whole) + int(a) / int(b)
    elif "/" in num:
        a, b = num.split("/")
        amount = int(a) / int(b) if int(b) else 1.0
    else:
        amount = float(num)
    return (amount if amount > 0 else 1.0), m.group(2).strip().lower()


@lru_cache(maxsize=4)
def _read_fndds_portions_cached(folder: str) -> pd.DataFrame:
    p = _file(folder, FNDDS_DATASET, _FNDDS_FILES["portions"])
    df = _read_fndds_csv(p)
    need = ["Food code", "Subcode", "Portion description", "Portion weight (g)"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", source=p)
    df = df[df["Subcode"].str.strip() == ""]  # candy/snack-cake subcodes are brand items, not the generic food
    grams = pd.to_numeric(df["Portion weight (g)"], errors="coerce")
    ok = grams > 0  # one upstream row (human milk, not specified) weighs 0 g
    df, grams = df[ok], grams[ok]
    parsed = [parse_portion_text(t) for t in df["Portion description"]]
    return pd.DataFrame(
        {
            "food_id": df["Food code"].to_numpy(),
            "text": df["Portion description"].to_numpy(),
            "amount": [a for a, _ in parsed],
            "measure": [m for _, m in parsed],
            "grams": grams.to_numpy(dtype=float),
            "default": (df["Portion description"].str.strip().str.lower() == "quantity not specified").to_numpy(),
            "table": "FNDDS",
        }
    )


def read_fndds_portions(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """FNDDS portions: ``food_id``, ``text`` (as published), ``amount`` and ``measure`` (parsed:
    ``"1/2 cup"`` -> 0.5, ``"cup"``), ``grams`` (of ``amount`` x ``measure``), ``default`` (the
    "Quantity not specified" row: FNDDS's portion when no amount is known), ``table``."""
    return _read_fndds_portions_cached(_folder(folder, FNDDS_DATASET)).copy()


@lru_cache(maxsize=4)
def _read_sr28_weights_cached(folder: str) -> pd.DataFrame:
    p = _file(folder, SR28_FULL_DATASET, "WEIGHT.txt")
    rows = []
    for lineno, line in enumerate(p.read_bytes().decode("cp1252").splitlines(), start=1):
        if not line.strip():
            continue
        f = [x.strip("~") for x in line.split("^")]
        if len(f) < 5:
            raise InputError(
                f"line {lineno}: {len(f)} '^'-separated fields, expected 7",
                source=p,
                hint="this is not the SR28 WEIGHT.txt layout (NDB_No^Seq^Amount^Msre_Desc^Gm_Wgt^...)",
            )
        try:
            amount, grams = float(f[2]), float(f[4])
        except ValueError:
            raise InputError(
                f"line {lineno}: amount {f[2]!r} or gram weight {f[4]!r} is not a number", source=p
            ) from None
        if amount > 0 and grams > 0:
            rows.append((f[0].zfill(5), f"{f[2]} {f[3]}", amount, f[3].lower(), grams))
    df = pd.DataFrame(rows, columns=["food_id", "text", "amount", "measure", "grams"])
    df["default"] = False
    df["table"] = "SR28"
    return df


def read_sr28_weights(folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """SR28 ``WEIGHT.txt`` household measures in the layout of :func:`read_fndds_portions`."""
    return _read_sr28_weights_cached(_folder(folder, SR28_FULL_DATASET)).copy()
