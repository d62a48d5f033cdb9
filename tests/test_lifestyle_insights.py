"""N-of-1 insights: planted lagged effects are found at the right lag; no planted effect -> nothing passes FDR."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import benjamini_hochberg, factor_events, n_of_1, symptom_observations

FOODS = ("beans", "yogurt", "bread", "coffee", "apple", "cheese")
START = np.datetime64("2024-01-01T00:00")


def simulate_diary(seed, *, n_days=60, effect=0.0, food="beans", lag=(12.0, 24.0), day_sd=0.8, noise_sd=1.2):
    """A simulated diary: 6 foods, each eaten on ~40 % of days at 8, 13 or 19 h; bloating rated 0-10 at
    8, 14 and 20 h with a day-level random effect (flare days) plus noise; optionally +``effect`` points
    when ``food`` was eaten ``lag`` hours before the rating."""
    rng = np.random.default_rng(seed)
    ev_t, ev_f = [], []
    for d in range(n_days):
        for f in FOODS:
            if rng.random() < 0.4:
                ev_t.append(d * 24 + rng.choice([8.0, 13.0, 19.0]))
                ev_f.append(f)
    ev_t, ev_f = np.array(ev_t), np.array(ev_f)
    obs_t = np.array([d * 24 + h for d in range(n_days) for h in (8.0, 14.0, 20.0)])
    y = 3.0 + np.repeat(rng.normal(0, day_sd, n_days), 3) + rng.normal(0, noise_sd, len(obs_t))
    if effect:
        e = np.sort(ev_t[ev_f == food])
        cnt = np.searchsorted(e, obs_t - lag[0], side="right") - np.searchsorted(e, obs_t - lag[1], side="right")
        y = y + effect * (cnt > 0)
    y = np.clip(np.round(y), 0, 10)

    def when(h):
        return START + (np.asarray(h) * 60).astype("int64").astype("timedelta64[m]")

    events = pd.DataFrame({"time": when(ev_t), "factor": ["food: " + f for f in ev_f]})
    obs = pd.DataFrame({"time": when(obs_t), "symptom": "bloating", "rating": y})
    return events, obs


def test_planted_effect_found_at_the_right_lag():
    # symptom +2 points 12-24 h after eating beans
    found = 0
    for seed in range(20):
        res = n_of_1(*simulate_diary(100 + seed, effect=2.0, lag=(12.0, 24.0)))
        top = res.table.iloc[0]  # sorted by q-value: the strongest association
        ok = (
            top["factor"] == "food: beans"
            and top["lag"] == "12-24 h"
            and bool(top["passes"])
            and top["mean_diff"] > 1.0
        )
        found += ok
    assert found >= 19, f"planted 12-24 h effect found with the right lag in {found}/20 diaries"
    assert any("12-24 h after food: beans" in f for f in res.findings)
    assert "not proof of cause" in res.statement


def test_planted_short_lag_effect():
    # +2 points 0-6 h after coffee: found in the 0-6 h window, not the 12-24 h one
    res = n_of_1(*simulate_diary(7, effect=2.0, food="coffee", lag=(0.0, 6.0)))
    top = res.table.iloc[0]
    assert (top["factor"], top["lag"], bool(top["passes"])) == ("food: coffee", "0-6 h", True)
    assert top["hedges_g"] > 0.8 and top["cliffs_delta"] > 0.3


def test_no_planted_effect_nothing_passes_in_95_percent_of_200_diaries():
    t0 = time.perf_counter()
    any_pass = sum(bool(n_of_1(*simulate_diary(10_000 + s)).table["passes"].any()) for s in range(200))
    elapsed = time.perf_counter() - t0
    assert any_pass <= 10, f"{any_pass}/200 null diaries had a factor passing FDR"
    assert elapsed < 20, f"200 diaries took {elapsed:.1f} s"


def test_too_few_data_is_said_plainly():
    events, obs = simulate_diary(3, n_days=5)
    res = n_of_1(events, obs)
    assert len(res.table) == 0
    assert res.statement.startswith("Too few data to say anything")
    assert len(res.skipped) > 0 and (res.skipped["reason"].str.contains("fewer than 7 days")).all()
    res = n_of_1(events.iloc[:0], obs)
    assert res.statement.startswith("Too few data")


def test_min_days_and_inputs():
    events, obs = simulate_diary(3, n_days=12)
    assert len(n_of_1(events, obs, min_days=3).table) > len(n_of_1(events, obs, min_days=7).table)
    with pytest.raises(InputError, match="min_days=2"):
        n_of_1(events, obs, min_days=2)
    with pytest.raises(InputError, match="lag window"):
        n_of_1(events, obs, lags=[(24, 72)])
    with pytest.raises(InputError, match="observations need a 'rating'"):
        n_of_1(events, obs.drop(columns="rating"))


def test_small_groups_use_a_permutation_test():
    events, obs = simulate_diary(11, n_days=14, effect=3.0)
    res = n_of_1(events, obs, min_days=3)
    assert (res.table["test"] == "permutation").any()
    assert ((res.table["p_value"] > 0) & (res.table["p_value"] <= 1)).all()


def test_benjamini_hochberg_hand_worked():
    # p = 0.01, 0.04, 0.03, 0.20 (m = 4); sorted 0.01, 0.03, 0.04, 0.20
    # raw: 0.01*4/1 = 0.04; 0.03*4/2 = 0.06; 0.04*4/3 = 0.05333; 0.20*4/4 = 0.20
    # step-up minimum from the top: 0.20; min(0.05333, 0.20) = 0.05333; min(0.06, 0.05333) = 0.05333; 0.04
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.20]))
    assert q == pytest.approx([0.04, 0.053333, 0.053333, 0.20], abs=1e-6)
    assert np.isnan(benjamini_hochberg(np.array([np.nan, 0.5]))[0])


def test_factor_events_and_observations_from_logs():
    items = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-05-06 08:00", "2024-05-06 13:00", "2024-05-06 19:00", "2024-05-07 08:00"]
            ),
            "description": ["YOGURT,PLN,WHL MILK", "CABBAGE,KIMCHI", None, "BANANAS,RAW"],
            "text": ["yogurt", "kimchi", "kombucha", "a banana"],
            "live_cultures": ["yes", "yes", "varies", ""],
            "sugars_g": [7.9, 1.6, 10.0, 14.7],
        }
    )
    stress = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-05-06 21:00", "2024-05-07 21:00", "2024-05-08 21:00"]),
            "rating": [2.0, 8.0, 5.0],
            "practice": ["yoga", "", ""],
            "minutes": [20.0, np.nan, np.nan],
        }
    )
    ev = factor_events(items, stress)
    f = set(ev["factor"])
    assert {
        "food: yogurt,pln,whl milk",
        "food: kombucha",
        "fermented food (live cultures)",
        "stress above your median",
        "yoga practice",
    } <= f
    assert (ev["factor"] == "fermented food (live cultures)").sum() == 2
    assert ev.loc[ev["factor"] == "stress above your median", "time"].tolist() == [pd.Timestamp("2024-05-07 21:00")]
    assert (ev["factor"] == "high-sugar meal (top third of your meals)").sum() == 1
    sym = pd.DataFrame(
        {
            "onset": pd.to_datetime(["2024-05-06 20:00", "2024-05-07 08:00"]),
            "symptom": ["bloating", ""],
            "rating": [5.0, np.nan],
            "bristol": [np.nan, 6.0],
        }
    )
    obs = symptom_observations(sym)
    assert obs["symptom"].tolist() == ["bloating", "bristol stool type"]
    assert obs["rating"].tolist() == [5.0, 6.0]
