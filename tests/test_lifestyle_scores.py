"""Daily and weekly diet scores; NOVA share hand-worked from the NOVA rule (energy share of group 4)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from gutaxis.lifestyle import (
    FoodMatcher,
    daily_scores,
    diet_targets,
    fiber_target,
    load_food_table,
    nova_energy_share,
    read_meal_log,
    resolve_meals,
    weekly_scores,
)

NOVA_FILE = "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"


@pytest.fixture(scope="module")
def foods(shared):
    return load_food_table(
        shared("data", "usda_sr28_abbrev", "ABBREV.txt"), shared("data", "nova_fndds_sr_grocerydb", NOVA_FILE)
    )


@pytest.fixture(scope="module")
def matcher(foods):
    return FoodMatcher(foods)


def test_nova_share_hand_worked_synthetic():
    # three foods: A 200 kcal/100 g NOVA 4, B 100 kcal/100 g NOVA 1, C 50 kcal/100 g NOVA unknown
    # eaten: 150 g A = 300 kcal, 300 g B = 300 kcal, 200 g C = 100 kcal
    # NOVA-4 share of energy with a known group = 300 / (300 + 300) = 0.5
    # coverage = known kcal / all kcal = 600 / 700 = 0.857143
    items = pd.DataFrame({"energy_kcal": [300.0, 300.0, 100.0], "nova": [4, 1, pd.NA]})
    out = nova_energy_share(items)
    assert out["share"] == pytest.approx(0.5)
    assert out["coverage"] == pytest.approx(600 / 700)
    assert (out["kcal_nova4"], out["kcal_nova1"], out["kcal_unknown"]) == (300.0, 300.0, 100.0)


def test_nova_share_hand_worked_real_foods(foods):
    # SR28 ABBREV: BANANAS,RAW (09040) 89 kcal/100 g, NOVA 1 (SR28 label);
    #              BEVERAGES,CARB,COLA,REG (14148) 42 kcal/100 g, NOVA 4 (SR25 label "cola")
    # 120 g banana = 1.2 * 89 = 106.8 kcal; 370 g cola = 3.7 * 42 = 155.4 kcal
    # NOVA-4 share = 155.4 / (106.8 + 155.4) = 155.4 / 262.2 = 0.592677
    meals = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-06 12:00"] * 2),
            "text": ["", ""],
            "ndb_no": ["09040", "14148"],
            "grams": [120.0, 370.0],
            "source_row": ["r1", "r2"],
        }
    )
    meals["date"] = meals["timestamp"].dt.normalize()
    items = resolve_meals(meals, foods)
    assert items["nova"].tolist() == [1, 4]
    assert items["energy_kcal"].tolist() == pytest.approx([106.8, 155.4])
    day = daily_scores(items, foods)
    assert day["upf_energy_share"].iloc[0] == pytest.approx(155.4 / 262.2)
    assert day["nova_coverage"].iloc[0] == pytest.approx(1.0)
    # sugars as % energy (total-sugar proxy): banana 12.23 g/100 g * 1.2 = 14.676 g; cola 9.94 * 3.7 = 36.778 g
    # (14.676 + 36.778) * 4 kcal/g / 262.2 kcal * 100 = 78.4953 %
    assert day["sugar_pct_energy"].iloc[0] == pytest.approx((14.676 + 36.778) * 4 / 262.2 * 100)
    # saturated fat: banana 0.112 * 1.2 = 0.1344 g; cola 0 -> 0.1344 * 9 / 262.2 * 100 = 0.461327 %
    assert day["sat_fat_pct_energy"].iloc[0] == pytest.approx(0.1344 * 9 / 262.2 * 100)
    # fiber: 2.6 * 1.2 = 3.12 g of the 25 g target (sex not given) = 12.48 %
    assert day["fiber_g"].iloc[0] == pytest.approx(3.12)
    assert day["fiber_pct_target"].iloc[0] == pytest.approx(12.48)
    assert "proxy" in day.attrs["params"]["sugar"] and day["sugar_basis"].iloc[0] == "total sugars (proxy)"
    assert day["inflammatory_n_parameters"].iloc[0] == 26
    assert "published DII parameters" in day.attrs["params"]["inflammatory_score"]


def test_fiber_targets():
    t = diet_targets()
    assert t.loc["fiber_women", "value"] == 25 and t.loc["fiber_men", "value"] == 38
    assert t["citation"].notna().all()
    assert fiber_target("female")[0] == 25 and fiber_target("male")[0] == 38
    assert fiber_target("male", age=60)[0] == 30 and fiber_target("female", age=51)[0] == 21
    assert fiber_target(None)[0] == 25


def test_daily_and_weekly_scores_from_a_log(tmp_path, foods, matcher):
    p = tmp_path / "meals.csv"
    p.write_text(
        "timestamp,text,ndb_no,grams\n"
        "2024-05-06T08:00,plain whole milk yogurt,,170\n"
        "2024-05-06T13:00,1 cup kimchi,,\n"
        "2024-05-06T20:00,kombucha,,\n"
        "2024-05-07T08:00,,01116,340\n"
        "2024-05-07T12:00,slice of sourdough,,60\n"
    )
    items = resolve_meals(read_meal_log(p), foods, matcher)
    assert items.loc[1, "ndb_no"] == "11118" and items.loc[1, "grams"] == 150.0
    assert items.loc[2, "match_status"] == "unmatched" and items.loc[2, "fermented_id"] == "kombucha"
    with pytest.warns(Warning, match=r"1 of \d+ foods were left out .*entries_to_fix.csv"):
        day = daily_scores(items, foods, sex="male")
    d1, d2 = pd.Timestamp("2024-05-06"), pd.Timestamp("2024-05-07")
    # fermented servings (live cultures): yogurt 170 g / 170 g + kimchi 150 g / 75 g = 1 + 2 = 3; day 2: 340/170 = 2
    # (sourdough is baked: fermented but not live -> 0)
    assert day.loc[d1, "fermented_servings"] == pytest.approx(3.0)
    assert day.loc[d2, "fermented_servings"] == pytest.approx(2.0)
    assert day.loc[d1, "n_left_out"] == 1 and day.loc[d2, "n_left_out"] == 0
    assert day.loc[d1, "fiber_target_g"] == 38
    assert day.attrs["filtered"][0]["ids"] == ["row 4"]
    week = weekly_scores(day)
    assert week["days_logged"].iloc[0] == 2
    assert week["fermented_servings_total"].iloc[0] == pytest.approx(5.0)
    assert week.index[0] == pd.Timestamp("2024-05-06")  # a Monday


def test_low_confidence_entries_are_not_counted_unless_asked(foods, matcher):
    meals = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-06 08:00"]),
            "text": ["1 tbsp ground flaxseed"],
            "ndb_no": [None],
            "grams": [np.nan],
            "source_row": ["row 2"],
        }
    )
    meals["date"] = meals["timestamp"].dt.normalize()
    items = resolve_meals(meals, foods, matcher)
    assert items.loc[0, "match_status"] == "low_confidence"
    day = daily_scores(items, foods, include_low_confidence=True)
    assert day["n_low_confidence"].iloc[0] == 1 and day["n_used"].iloc[0] == 1
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        strict = daily_scores(items, foods)  # the default: a low-confidence match is never counted silently
    assert strict["n_used"].iloc[0] == 0 and strict["n_left_out"].iloc[0] == 1


def test_added_sugars_used_when_the_table_has_them():
    # a food table with added sugars: 100 g of food X, 400 kcal, 30 g total sugars of which 10 g added
    # added-sugar energy = 10 g * 4 kcal/g = 40 kcal = 10 % of 400 kcal (total-sugar proxy would say 30 %)
    foods = pd.DataFrame(
        {
            "description": ["FOOD X"],
            "energy_kcal": [400.0],
            "fiber_g": [0.0],
            "sugars_g": [30.0],
            "sat_fat_g": [0.0],
            "added_sugars_g": [10.0],
        },
        index=pd.Index(["99001"], name="ndb_no"),
    )
    meals = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-06 08:00"]),
            "text": [""],
            "ndb_no": ["99001"],
            "grams": [100.0],
            "source_row": ["row 2"],
        }
    )
    meals["date"] = meals["timestamp"].dt.normalize()
    items = resolve_meals(meals, foods, matcher=FoodMatcher(foods))
    day = daily_scores(items, foods)
    assert day["sugar_pct_energy"].iloc[0] == pytest.approx(10.0)
    assert day["sugar_basis"].iloc[0] == "added sugars"
    # DII parameters this table can give: Energy, Fiber, Saturated fat (columns) + Garlic, Onion (food grams) = 5
    assert day["inflammatory_n_parameters"].iloc[0] == 5
