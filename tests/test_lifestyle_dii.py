"""Inflammatory-potential score with the published DII parameters (Shivappa et al. 2014)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import dii_intakes_from_foods, dii_parameters, inflammatory_score

# reference CSV names -> our parameter names (same 45 parameters)
_ALIAS = {"vitamin B12": "Vitamin B12", "vitamin B6": "Vitamin B6"}


def test_parameters_match_reference_table(shared):
    ref = pd.read_csv(shared("data", "dii_shivappa2014", "dii_reference.csv"))
    ours = dii_parameters()
    assert len(ours) == 45 == len(ref)
    for r in ref.itertuples(index=False):
        name = _ALIAS.get(r.nutrient, r.nutrient)
        assert name in ours.index, name
        row = ours.loc[name]
        assert (row["effect_score"], row["global_mean"], row["global_sd"]) == pytest.approx(
            (r.weight, r.global_mean, r.global_sd)
        ), name
    assert (ours["citation"] == "doi:10.1017/S1368980013002115").all()


def test_hand_worked_score():
    # Fiber 28.6 g:          z = (28.6 - 18.8)/4.9 = 2.0;  Phi(2) = 0.977250; p = 2*0.977250 - 1 = 0.954500
    #                         contribution = 0.954500 * -0.663 = -0.632833
    # Saturated fat 20.6 g:  z = (20.6 - 28.6)/8.0 = -1.0; Phi(-1) = 0.158655; p = -0.682689
    #                         contribution = -0.682689 * 0.373 = -0.254643
    # Energy 2056 kcal:      z = 0; p = 0; contribution 0
    # Beta-carotene 5438 ug: z = (5438 - 3718)/1720 = 1.0; p = 0.682689; contribution = 0.682689 * -0.584 = -0.398690
    # score = -0.632833 - 0.254643 + 0 - 0.398690 = -1.286166
    out = inflammatory_score({"Fiber": 28.6, "Saturated fat": 20.6, "Energy": 2056, "Beta-carotene": 5438})
    assert out.loc[0, "score"] == pytest.approx(-1.286166, abs=1e-5)
    assert out.loc[0, "contrib:Fiber"] == pytest.approx(-0.632833, abs=1e-6)
    assert out.loc[0, "contrib:Saturated fat"] == pytest.approx(-0.254643, abs=1e-6)
    assert out.loc[0, "n_parameters"] == 4
    assert "published DII parameters" in out.loc[0, "label"] and "4 of 45" in out.loc[0, "label"]


def test_several_days_and_missing_parameters():
    # day 2: only Vitamin C at the global mean -> score 0 with 1 parameter
    days = pd.DataFrame({"fiber": [28.6, np.nan], "Vitamin C": [np.nan, 118.2]}, index=["mon", "tue"])
    out = inflammatory_score(days)
    assert list(out.index) == ["mon", "tue"]
    assert out.loc["mon", "score"] == pytest.approx(-0.632833, abs=1e-5) and out.loc["mon", "n_parameters"] == 1
    assert out.loc["tue", "score"] == pytest.approx(0.0, abs=1e-12) and out.loc["tue", "n_parameters"] == 1


def test_errors():
    with pytest.raises(InputError, match="unknown DII parameter 'kale'"):
        inflammatory_score({"kale": 3})
    with pytest.raises(InputError, match="negative intake"):
        inflammatory_score({"Fiber": -1})
    with pytest.raises(InputError, match="not a number"):
        inflammatory_score({"Fiber": "lots"})


def _foods():
    cols = {
        c: 0.0
        for c in (
            "energy_kcal",
            "carbohydrate_g",
            "protein_g",
            "fat_g",
            "fiber_g",
            "sat_fat_g",
            "mufa_g",
            "pufa_g",
            "cholesterol_mg",
            "vitamin_b6_mg",
            "vitamin_b12_ug",
            "vitamin_c_mg",
            "vitamin_e_mg",
            "thiamin_mg",
            "riboflavin_mg",
            "niacin_mg",
            "iron_mg",
            "magnesium_mg",
            "zinc_mg",
            "selenium_ug",
            "folate_total_ug",
            "beta_carotene_ug",
            "vitamin_d_ug",
            "retinol_ug",
            "alpha_carotene_ug",
            "beta_cryptoxanthin_ug",
        )
    }
    a = dict(
        cols,
        description="CARROTS,RAW",
        fiber_g=2.8,
        beta_carotene_ug=8285.0,
        alpha_carotene_ug=3477.0,
        beta_cryptoxanthin_ug=0.0,
        retinol_ug=0.0,
    )
    b = dict(cols, description="GARLIC,RAW", fiber_g=2.1, vitamin_c_mg=31.2)
    return pd.DataFrame([a, b], index=pd.Index(["11124", "11215"], name="ndb_no"))


def test_intakes_from_foods_hand_worked():
    items = pd.DataFrame({"date": ["d1", "d1"], "ndb_no": ["11124", "11215"], "grams": [50.0, 6.0]})
    out = dii_intakes_from_foods(items, _foods())
    # fiber: 2.8*0.5 + 2.1*0.06 = 1.4 + 0.126 = 1.526 g
    assert out.loc["d1", "Fiber"] == pytest.approx(1.526)
    # vitamin A as RE: carrot 50 g -> 8285*0.5/6 + 3477*0.5/12 = 690.4167 + 144.875 = 835.2917 ug RE
    assert out.loc["d1", "Vitamin A"] == pytest.approx(835.2917, abs=1e-3)
    # garlic: grams of garlic eaten = 6 g; onion: none = 0
    assert out.loc["d1", "Garlic"] == pytest.approx(6.0)
    assert out.loc["d1", "Onion"] == 0.0
    assert out.shape[1] == 26  # the parameters SR28 ABBREV covers
    score = inflammatory_score(out)
    assert score.loc["d1", "n_parameters"] == 26
    # the score is the sum of its contributions
    contrib = score.filter(like="contrib:").sum(axis=1)
    assert score.loc["d1", "score"] == pytest.approx(float(contrib.iloc[0]))
    assert math.isfinite(score.loc["d1", "score"])
