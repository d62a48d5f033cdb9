"""Inflammatory-potential score using the published Dietary Inflammatory Index parameters.

Shivappa N, Steck SE, Hurley TG, Hussey JR, Hébert JR. Designing and developing a
literature-derived, population-based dietary inflammatory index. *Public Health Nutr*
2014;17(8):1689-96. doi:10.1017/S1368980013002115, PMID 23941862.

For each of the 45 food parameters with a daily intake: ``z = (intake - global mean) / global
SD``, the centred percentile ``p = 2·Φ(z) - 1`` (−1…+1), and the contribution ``p × overall
inflammatory effect score``; the score is the sum over the parameters available. Positive =
pro-inflammatory, negative = anti-inflammatory. The parameters live in
``gutaxis/data/dii_parameters.tsv``.

"DII" is a registered trademark of Connecting Health Innovations LLC: gutaxis calls its output
"an inflammatory-potential score using the published DII parameters" and always says how many
of the 45 parameters were available (USDA SR28 covers 26; apps typically 25-30).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .._data import package_table
from ..errors import InputError

__all__ = ["N_PARAMETERS", "SCORE_LABEL", "dii_intakes_from_foods", "dii_parameters", "inflammatory_score"]

SCORE_LABEL = "inflammatory-potential score using the published DII parameters (Shivappa et al. 2014)"
N_PARAMETERS = 45


@lru_cache(maxsize=1)
def _params() -> pd.DataFrame:
    df = package_table("dii_parameters.tsv", comment="#", keep_default_na=False, dtype={"sr28": str, "unit": str})
    return df.set_index("parameter")


_RETINOL_PARTS = ["retinol_ug", "beta_carotene_ug", "alpha_carotene_ug", "beta_cryptoxanthin_ug"]


@lru_cache(maxsize=1)
def _food_columns() -> tuple[str, ...]:
    """The food-table columns the DII parameters are computed from."""
    cols = {"description"} | set(_RETINOL_PARTS)
    cols |= {src for src in _params()["sr28"] if src and src != "retinol_equivalents" and not src.startswith("food:")}
    return tuple(sorted(cols))


def dii_parameters() -> pd.DataFrame:
    """The 45 DII parameters: ``unit``, ``effect_score``, ``global_mean``, ``global_sd``, ``sr28``, ``citation``."""
    return _params().copy()


def inflammatory_score(intakes) -> pd.DataFrame:
    """Score daily intakes with the published DII parameters.

    Parameters
    ----------
    intakes
        A mapping or Series ``parameter -> daily intake`` (one day), or a DataFrame with one row
        per day and one column per parameter, in the units of :func:`dii_parameters` (e.g.
        Fiber in g, Vitamin C in mg, Beta-carotene in µg, Vitamin A in retinol equivalents,
        Energy in kcal). Parameter names are matched case-insensitively; NaN = not available.

    Returns
    -------
    pandas.DataFrame
        One row per day: ``score`` (sum of contributions over the available parameters),
        ``n_parameters`` (how many of 45 were available), ``label`` and one ``contrib:<parameter>``
        column per parameter given. ``attrs["params"]`` names the method and citation.

    Raises
    ------
    InputError
        An unknown parameter name, a negative or non-numeric intake.
    """
    single = False
    if isinstance(intakes, pd.DataFrame):
        df = intakes.copy()
    else:
        single = True
        df = pd.DataFrame([pd.Series(intakes, dtype=object)])
    p = _params()
    lookup = {k.lower(): k for k in p.index}
    rename = {}
    for c in df.columns:
        key = str(c).lower()
        if key not in lookup:
            raise InputError(
                f"unknown DII parameter {c!r}",
                source="inflammatory_score",
                hint="use the parameter names of gutaxis.lifestyle.dii_parameters(), e.g. 'Fiber'",
            )
        rename[c] = lookup[key]
    df = df.rename(columns=rename)
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in df.dtypes)
    vals = df.astype(float) if numeric else df.apply(pd.to_numeric, errors="coerce")
    bad = vals.isna() & df.notna()
    if bad.to_numpy().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise InputError(
            f"intake for {df.columns[c]!r} (row {df.index[r]!r}) is not a number: {df.iat[r, c]!r}",
            source="inflammatory_score",
        )
    if (vals < 0).to_numpy().any():
        r, c = np.argwhere((vals < 0).to_numpy())[0]
        raise InputError(f"negative intake for {df.columns[c]!r} (row {df.index[r]!r})", source="inflammatory_score")
    sub = p.loc[vals.columns]
    x = vals.to_numpy(dtype=float)
    z = (x - sub["global_mean"].to_numpy()) / sub["global_sd"].to_numpy()
    contrib = (2.0 * ndtr(z) - 1.0) * sub["effect_score"].to_numpy()
    avail = ~np.isnan(x)
    score = np.where(avail, contrib, 0.0).sum(axis=1)
    out = pd.DataFrame({"score": score, "n_parameters": avail.sum(axis=1).astype(int)}, index=df.index)
    out["label"] = [f"{SCORE_LABEL}; {n} of {N_PARAMETERS} parameters available" for n in out["n_parameters"]]
    out = pd.concat(
        [out, pd.DataFrame(contrib, index=df.index, columns=[f"contrib:{n}" for n in vals.columns])], axis=1
    )  # one block, not one insert per parameter
    out.loc[out["n_parameters"] == 0, "score"] = np.nan
    out.attrs["params"] = {
        "method": "z=(intake-mean)/sd; p=2*Phi(z)-1; sum p*effect",
        "citation": "Shivappa N et al. Public Health Nutr 2014;17:1689-96. doi:10.1017/S1368980013002115",
    }
    if single:
        out.index = [0]
    return out


def dii_intakes_from_foods(items: pd.DataFrame, foods: pd.DataFrame, *, by: str = "date") -> pd.DataFrame:
    """Daily intakes of the DII parameters that USDA SR28 ABBREV covers, from logged foods.

    Parameters
    ----------
    items
        Resolved meal items: columns ``ndb_no``, ``grams`` and ``by`` (e.g. ``date``).
    foods
        The SR28 table (:func:`gutaxis.lifestyle.read_usda_abbrev`).

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` value, one column per DII parameter derivable from the food table
        (26 of 45 with SR28; fewer when the table lacks a column):
        nutrients scaled from per-100 g values; Vitamin A as retinol equivalents (retinol +
        β-carotene/6 + (α-carotene + β-cryptoxanthin)/12, µg RE; FAO/WHO 1988 convention); Folic
        acid as total folate; Garlic and Onion as grams of SR28 garlic/onion items eaten.
        A nutrient missing in SR28 for a food eaten that day makes that day's value NaN only if
        no food has it; otherwise missing values count as 0 and ``attrs["incomplete"]`` lists them.
    """
    p = _params()
    if not foods.index.is_unique:
        dup = foods.index[foods.index.duplicated()].unique()[:3].tolist()
        raise InputError(
            f"the food table has repeated food ids, e.g. {dup}",
            source="dii_intakes_from_foods",
            hint="keep one row per food id (FoodDatabase and read_usda_abbrev tables already do)",
        )
    ok = items.dropna(subset=["ndb_no", "grams"])
    rows = foods.index.get_indexer(ok["ndb_no"])  # the index's own hash table: no rebuild per call (isin would)
    ok = ok[rows >= 0]
    needed = [c for c in _food_columns() if c in foods.columns]
    f = foods[needed].take(rows[rows >= 0])  # only the columns the parameters read, not the whole table
    factor = ok["grams"].to_numpy(dtype=float) / 100.0
    cols = {}
    incomplete = []
    for name, src in p["sr28"].items():
        if not src:
            continue
        needs = _RETINOL_PARTS if src == "retinol_equivalents" else ([] if src.startswith("food:") else [src])
        if any(c not in f.columns for c in needs):
            continue  # not in this food table: the parameter is unavailable
        if src == "retinol_equivalents":
            parts = f[_RETINOL_PARTS].to_numpy(dtype=float)
            per100 = np.where(
                np.isnan(parts[:, 0]) & np.isnan(parts[:, 1]),
                np.nan,
                np.nan_to_num(parts[:, 0])
                + np.nan_to_num(parts[:, 1]) / 6.0
                + (np.nan_to_num(parts[:, 2]) + np.nan_to_num(parts[:, 3])) / 12.0,
            )
        elif src.startswith("food:"):
            word = src.split(":", 1)[1].upper()
            desc = f["description"].astype(str).str.upper()
            is_item = desc.str.match(rf"^{word}S?,") & ~desc.str.contains("POWDER|PDR|RINGS|DEHYD|SOUP|DRSNG|SAU")
            per100 = np.where(is_item.to_numpy(), 100.0, 0.0)  # grams of the food itself
        else:
            per100 = f[src].to_numpy(dtype=float)
        v = per100 * factor
        if np.isnan(v).any():
            incomplete.append(name)
        cols[name] = v
    frame = pd.DataFrame(cols, index=ok.index)
    frame[by] = ok[by].to_numpy()
    out = frame.groupby(by).sum(min_count=1)
    out.attrs["incomplete"] = incomplete
    return out
