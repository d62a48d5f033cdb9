"""Food composition tables: USDA SR28 (abbreviated file) and NOVA processing groups.

* :func:`read_usda_abbrev` reads the USDA National Nutrient Database for Standard Reference,
  Release 28, abbreviated table ``ABBREV.txt`` (8,790 foods, values per 100 g edible portion,
  two household measures per food). U.S. Department of Agriculture, Agricultural Research
  Service, 2016; public domain (FoodData Central "SR Legacy", CC0).
* :func:`read_nova` reads the NOVA-labelled USDA foods of the FoodProX training set
  (Menichetti G et al. *Nat Commun* 2023;14:2312, doi:10.1038/s41467-023-37457-1; GroceryDB,
  MIT licence): manual NOVA groups 1-4 for FNDDS food codes and SR NDB numbers.
* :func:`nova_for_sr` joins the NOVA groups to SR28 items by NDB number, and
  :func:`load_food_table` returns the SR28 table with a ``nova`` column and the fermented-food
  flags of :mod:`gutaxis.lifestyle.fermented`.

Both files are fetched by the gutaxis downloader into the cache (``gutaxis datasets fetch
usda_sr28_abbrev`` / ``nova_fndds_sr_grocerydb``); every reader also takes an explicit path. A
file read from the cache is checked against the registry's sha256 on use
(:func:`gutaxis.io.datasets.verify_cached`; a changed file is refused with the command that
downloads it again); a file passed by its own path is the user's copy and is read as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from . import _text

__all__ = [
    "ABBREV_COLUMNS",
    "NOVA_DATASET",
    "USDA_DATASET",
    "default_nova_path",
    "default_usda_path",
    "load_food_table",
    "nova_for_sr",
    "read_nova",
    "read_usda_abbrev",
]

USDA_DATASET = ("usda_sr28_abbrev", "ABBREV.txt")
NOVA_DATASET = (
    "nova_fndds_sr_grocerydb",
    "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv",
)

# The 53 fields of ABBREV.txt in file order (no header row in the file) -> our column names.
ABBREV_COLUMNS: list[tuple[str, str]] = [
    ("NDB_No", "ndb_no"),
    ("Shrt_Desc", "description"),
    ("Water_(g)", "water_g"),
    ("Energ_Kcal", "energy_kcal"),
    ("Protein_(g)", "protein_g"),
    ("Lipid_Tot_(g)", "fat_g"),
    ("Ash_(g)", "ash_g"),
    ("Carbohydrt_(g)", "carbohydrate_g"),
    ("Fiber_TD_(g)", "fiber_g"),
    ("Sugar_Tot_(g)", "sugars_g"),
    ("Calcium_(mg)", "calcium_mg"),
    ("Iron_(mg)", "iron_mg"),
    ("Magnesium_(mg)", "magnesium_mg"),
    ("Phosphorus_(mg)", "phosphorus_mg"),
    ("Potassium_(mg)", "potassium_mg"),
    ("Sodium_(mg)", "sodium_mg"),
    ("Zinc_(mg)", "zinc_mg"),
    ("Copper_(mg)", "copper_mg"),
    ("Manganese_(mg)", "manganese_mg"),
    ("Selenium_(µg)", "selenium_ug"),
    ("Vit_C_(mg)", "vitamin_c_mg"),
    ("Thiamin_(mg)", "thiamin_mg"),
    ("Riboflavin_(mg)", "riboflavin_mg"),
    ("Niacin_(mg)", "niacin_mg"),
    ("Panto_Acid_(mg)", "pantothenic_acid_mg"),
    ("Vit_B6_(mg)", "vitamin_b6_mg"),
    ("Folate_Tot_(µg)", "folate_total_ug"),
    ("Folic_Acid_(µg)", "folic_acid_ug"),
    ("Food_Folate_(µg)", "food_folate_ug"),
    ("Folate_DFE_(µg)", "folate_dfe_ug"),
    ("Choline_Tot_(mg)", "choline_mg"),
    ("Vit_B12_(µg)", "vitamin_b12_ug"),
    ("Vit_A_IU", "vitamin_a_iu"),
    ("Vit_A_RAE", "vitamin_a_rae_ug"),
    ("Retinol_(µg)", "retinol_ug"),
    ("Alpha_Carot_(µg)", "alpha_carotene_ug"),
    ("Beta_Carot_(µg)", "beta_carotene_ug"),
    ("Beta_Crypt_(µg)", "beta_cryptoxanthin_ug"),
    ("Lycopene_(µg)", "lycopene_ug"),
    ("Lut+Zea_(µg)", "lutein_zeaxanthin_ug"),
    ("Vit_E_(mg)", "vitamin_e_mg"),
    ("Vit_D_(µg)", "vitamin_d_ug"),
    ("Vit_D_IU", "vitamin_d_iu"),
    ("Vit_K_(µg)", "vitamin_k_ug"),
    ("FA_Sat_(g)", "sat_fat_g"),
    ("FA_Mono_(g)", "mufa_g"),
    ("FA_Poly_(g)", "pufa_g"),
    ("Cholestrl_(mg)", "cholesterol_mg"),
    ("GmWt_1", "gmwt_1"),
    ("GmWt_Desc1", "gmwt_desc1"),
    ("GmWt_2", "gmwt_2"),
    ("GmWt_Desc2", "gmwt_desc2"),
    ("Refuse_Pct", "refuse_pct"),
]
_TEXT_FIELDS = {"ndb_no", "description", "gmwt_desc1", "gmwt_desc2"}

NOVA_NUTRIENTS = {
    "Protein": "protein_g",
    "Total Fat": "fat_g",
    "Carbohydrate": "carbohydrate_g",
    "Sugars, total": "sugars_g",
    "Fiber, total dietary": "fiber_g",
    "Calcium": "calcium_mg",
    "Iron": "iron_mg",
    "Sodium": "sodium_mg",
    "Vitamin C": "vitamin_c_mg",
    "Cholesterol": "cholesterol_mg",
    "Fatty acids, total saturated": "sat_fat_g",
    "Total Vitamin A": "vitamin_a_ug",
}


def _cache_root() -> Path:
    try:  # the downloader's cache (gutaxis.io.datasets), when present
        from ..io.datasets import cache_dir

        return Path(cache_dir())
    except ImportError:  # pragma: no cover - io not installed
        env = os.environ.get("GUTAXIS_DATA_DIR")
        if env:
            return Path(env).expanduser()
        import pooch

        return Path(pooch.os_cache("gutaxis"))


def default_usda_path() -> Path:
    """Where the downloader keeps ``ABBREV.txt``: ``<cache>/usda_sr28_abbrev/ABBREV.txt``."""
    return _cache_root() / USDA_DATASET[0] / USDA_DATASET[1]


def default_nova_path() -> Path:
    """Where the downloader keeps the FoodProX/GroceryDB NOVA training table."""
    return _cache_root() / NOVA_DATASET[0] / NOVA_DATASET[1]


def _verified(p: Path) -> Path:
    """``p``; when it is a registry file's place in the dataset cache, checked against its sha256."""
    try:
        from ..io.datasets import verify_cached
    except ImportError:  # pragma: no cover - io not installed
        return p
    return verify_cached(p)


def _resolve(path, default: Path, what: str, dataset: str, origin: str) -> Path:
    p = Path(path).expanduser() if path is not None else default
    if not p.is_file():
        raise InputError(
            f"{what} not found",
            source=p,
            hint=(
                f"fetch it with `gutaxis datasets fetch {dataset}` (downloads into the cache), or pass "
                f"path= to your own copy ({origin})"
            ),
        )
    return _verified(p)


def read_usda_abbrev(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the USDA SR28 abbreviated food table.

    Parameters
    ----------
    path
        ``ABBREV.txt`` (``^``-separated, text fields in ``~``, latin-1, one food per line; blank
        lines are skipped). Default: the downloader's cache.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ndb_no`` (5-character string, e.g. ``"09040"``); 52 columns named as in
        ``ABBREV_COLUMNS``, nutrients **per 100 g edible portion** (``energy_kcal``,
        ``fiber_g``, ``sugars_g`` = total sugars, ``sat_fat_g``...), household measures
        ``gmwt_1``/``gmwt_desc1``/``gmwt_2``/``gmwt_desc2`` (grams of one measure) and
        ``food_group`` (first two digits of the NDB number). An empty field is missing (NaN),
        not zero. ``attrs["provenance"]`` holds the source path and its sha256.

    Raises
    ------
    InputError
        File absent (with how to get it), or a line that is not a 53-field ABBREV record, a
        non-numeric nutrient or a duplicate NDB number — naming the file and line.
    """
    import hashlib

    p = _resolve(
        path,
        default_usda_path(),
        "USDA SR28 ABBREV.txt",
        USDA_DATASET[0],
        "USDA SR28 abbreviated file, e.g. github.com/itgma/maxprotein ABBREV.txt",
    )
    raw = p.read_bytes()
    text = raw.decode("latin-1")
    names = [n for _, n in ABBREV_COLUMNS]
    numeric_idx = [i for i, n in enumerate(names) if n not in _TEXT_FIELDS]
    records: list[list] = []
    lines_of: list[int] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip("\r\n")
        if not line.strip():
            continue
        fields = line.split("^")
        if len(fields) != len(names):
            raise InputError(
                f"line {lineno}: {len(fields)} '^'-separated fields, expected {len(names)}",
                source=p,
                hint="this is not the USDA SR28 ABBREV.txt layout (NDB_No^Shrt_Desc^...^Refuse_Pct)",
            )
        rec: list = [f.strip().strip("~") for f in fields]
        for i in numeric_idx:
            v = rec[i]
            if v == "":
                rec[i] = np.nan
                continue
            try:
                rec[i] = float(v)
            except ValueError:
                raise InputError(
                    f"line {lineno}, field {ABBREV_COLUMNS[i][0]}: {v!r} is not a number",
                    source=p,
                    hint="nutrient fields must be numbers or empty (missing)",
                ) from None
        if not rec[0].isdigit():
            raise InputError(
                f"line {lineno}, field NDB_No: {rec[0]!r} is not an NDB number",
                source=p,
                hint="NDB_No is a 5-digit number in '~' quotes, e.g. ~09040~",
            )
        rec[0] = rec[0].zfill(5)
        records.append(rec)
        lines_of.append(lineno)
    if not records:
        raise InputError("no food records", source=p, hint="the file is empty; fetch it again")
    df = pd.DataFrame.from_records(records, columns=names)
    dup = df["ndb_no"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"line {lines_of[i]}: NDB_No {df['ndb_no'].iat[i]} appears twice",
            source=p,
            hint="each food must appear once",
        )
    df = df.set_index("ndb_no")
    for c in ("gmwt_desc1", "gmwt_desc2"):
        df[c] = df[c].replace("", np.nan)
    df["food_group"] = df.index.str[:2]
    df.attrs["provenance"] = {
        "reader": "gutaxis.lifestyle.read_usda_abbrev",
        "source": str(p),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "citation": (
            "U.S. Department of Agriculture, Agricultural Research Service. USDA National Nutrient "
            "Database for Standard Reference, Release 28 (2016)"
        ),
    }
    return df


def read_nova(path: str | os.PathLike | None = None, *, nutrients: bool = False) -> pd.DataFrame:
    """Read the NOVA-labelled USDA foods of the FoodProX training set (GroceryDB).

    Parameters
    ----------
    path
        ``GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv``.
        Default: the downloader's cache.
    nutrients
        Also return the 12 nutrients per 100 g (the file stores ln(amount); ``-20`` means zero;
        they are converted back with ``exp`` and -20 -> 0).

    Returns
    -------
    pandas.DataFrame
        One row per file row: ``food_code`` (int), ``description``, ``sr_version`` (SR release
        22-28, NaN for FNDDS rows), ``fndds_year``, ``source`` ("SR" or "FNDDS"), ``nova`` (1-4,
        manual label). Citation: Menichetti G et al. *Nat Commun* 2023;14:2312,
        doi:10.1038/s41467-023-37457-1.

    Raises
    ------
    InputError
        File absent, a missing column, or a row whose food code / NOVA class is not valid —
        naming the file and line.
    """
    p = _resolve(
        path,
        default_nova_path(),
        "FoodProX/GroceryDB NOVA training table",
        NOVA_DATASET[0],
        "github.com/Barabasi-Lab/GroceryDB data/" + NOVA_DATASET[1],
    )
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({exc})", source=p) from None
    need = ["Food code", "Main food description", "version SR", "year FNDDS", "novaclass"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}",
            source=p,
            hint="expected the FoodProX training table with columns " + ", ".join(need),
        )
    line = np.arange(len(raw)) + 2  # header is line 1

    def _num(col: str, *, required: bool) -> np.ndarray:
        s = raw[col].str.strip()
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(v) & ((s != "").to_numpy() | required)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"line {line[i]}, column {col!r}: {raw[col].iat[i]!r} is not a number",
                source=p,
                hint="food codes, SR versions and NOVA classes are numbers",
            )
        return v

    code = _num("Food code", required=True)
    nova = _num("novaclass", required=True)
    bad = ~np.isin(nova, [1, 2, 3, 4])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"line {line[i]}, column 'novaclass': {raw['novaclass'].iat[i]!r}",
            source=p,
            hint="NOVA groups are 1, 2, 3 or 4",
        )
    sr = _num("version SR", required=False)
    year = _num("year FNDDS", required=False)
    both = ~np.isnan(sr) == ~np.isnan(year)
    if both.any():
        i = int(np.flatnonzero(both)[0])
        raise InputError(f"line {line[i]}: a row needs exactly one of 'version SR' and 'year FNDDS'", source=p)
    out = pd.DataFrame(
        {
            "food_code": code.astype(np.int64),
            "description": raw["Main food description"].to_numpy(),
            "sr_version": sr,
            "fndds_year": year,
            "source": np.where(np.isnan(sr), "FNDDS", "SR"),
            "nova": nova.astype(np.int64),
            "line": line,
        }
    )
    if nutrients:
        for col, name in NOVA_NUTRIENTS.items():
            if col not in raw.columns:
                raise InputError(f"missing nutrient column {col!r}", source=p)
            v = _num(col, required=True)
            out[name] = np.where(v <= -20, 0.0, np.exp(v))
    out.attrs["provenance"] = {
        "reader": "gutaxis.lifestyle.read_nova",
        "source": str(p),
        "citation": "Menichetti G et al. Nat Commun 2023;14:2312. doi:10.1038/s41467-023-37457-1",
    }
    return out


def _similar(a: str, b: str) -> float:
    """Jaccard similarity of the normalised word sets of two food descriptions."""
    ta, tb = set(_text.tokens(a)), set(_text.tokens(b))
    ta.discard("with")
    tb.discard("with")
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def nova_for_sr(usda: pd.DataFrame, nova: pd.DataFrame, *, min_similarity: float = 0.25) -> pd.DataFrame:
    """NOVA group of each SR28 item, joined by NDB number.

    An SR28 label (``sr_version == 28``) is used as is. A label from an older SR release is used
    only when its description agrees with the SR28 one (word Jaccard >= ``min_similarity`` after
    abbreviation expansion), because NDB numbers were occasionally reused for other foods.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``usda``: ``nova`` (Int64, <NA> where no label), ``nova_source``
        ("SR28", "SR<n>" or ""), ``nova_description``. ``attrs["filtered"]`` lists the older
        labels that were not used because the descriptions disagree.
    """
    sr = nova[nova["source"] == "SR"].sort_values("sr_version", ascending=False)
    sr = sr.assign(ndb_no=sr["food_code"].astype(str).str.zfill(5))
    out = pd.DataFrame(index=usda.index)
    out["nova"] = pd.array([pd.NA] * len(usda), dtype="Int64")
    out["nova_source"] = ""
    out["nova_description"] = ""
    rejected = []
    desc = usda["description"]
    for ndb, grp in sr.groupby("ndb_no", sort=False):
        if ndb not in desc.index:
            continue
        row = grp.iloc[0]  # the latest SR release
        version = int(row["sr_version"])
        if version != 28 and _similar(row["description"], desc.at[ndb]) < min_similarity:
            rejected.append(ndb)
            continue
        out.at[ndb, "nova"] = int(row["nova"])
        out.at[ndb, "nova_source"] = f"SR{version}"
        out.at[ndb, "nova_description"] = row["description"]
    out.attrs["filtered"] = (
        [
            {
                "what": "NOVA labels from older SR releases",
                "n": len(rejected),
                "ids": rejected,
                "reason": "the NDB number's description in that release differs from SR28 (number reused)",
            }
        ]
        if rejected
        else []
    )
    n = int(out["nova"].notna().sum())
    out.attrs["coverage"] = {"n_items": len(out), "n_with_nova": n}
    return out


def load_food_table(
    usda_path: str | os.PathLike | None = None,
    nova_path: str | os.PathLike | None = None,
    *,
    nova: bool = True,
    fermented: bool = True,
) -> pd.DataFrame:
    """SR28 foods with their NOVA group and fermented-food flags, ready for scoring.

    Returns :func:`read_usda_abbrev` plus ``nova``/``nova_source`` (from :func:`nova_for_sr`)
    and ``fermented_id``/``live_cultures``/``serving_g`` (from
    :func:`gutaxis.lifestyle.fermented_flags`).
    """
    foods = read_usda_abbrev(usda_path)
    attrs = {"provenance": foods.attrs["provenance"], "filtered": []}
    if nova:
        table = read_nova(nova_path)
        labels = nova_for_sr(foods, table)
        foods = foods.join(labels[["nova", "nova_source"]])
        attrs["filtered"] = labels.attrs.get("filtered", [])
        attrs["nova"] = {"source": table.attrs["provenance"]["source"], **labels.attrs["coverage"]}
    if fermented:
        from .fermented import fermented_flags

        flags = fermented_flags(foods)
        foods = foods.join(flags[["fermented_id", "live_cultures", "serving_g"]])
    foods.attrs = attrs
    return foods
