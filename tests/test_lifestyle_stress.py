"""PSS-10 scoring (hand-worked from the published rule), bands, Bristol scale, daily stress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import PSS10_BAND_CAVEAT, bristol_group, bristol_scale, daily_stress, pss10_band, score_pss10


def test_pss10_hand_worked():
    # answers to items 1..10: 2 1 3 3 2 1 3 2 1 0
    # reverse items 4, 5, 7, 8 (0<->4, 1<->3, 2 stays): item4 3->1, item5 2->2, item7 3->1, item8 2->2
    # scored: 2 1 3 1 2 1 1 2 1 0 -> total 14 -> band "moderate" (14-26)
    out = score_pss10([2, 1, 3, 3, 2, 1, 3, 2, 1, 0])
    assert out.loc[0, "pss10"] == 14
    assert out.loc[0, ["scored_4", "scored_5", "scored_7", "scored_8"]].tolist() == [1, 2, 1, 2]
    assert out.loc[0, "band"] == "moderate"


def test_pss10_extremes_hand_worked():
    # all 0: the six negative items give 0, the four reversed items give 4 each -> 16 (not 0)
    # all 4: six negative items 4 each = 24, reversed items 0 -> 24
    # negative items 4, positive items 0 -> 24 + 16 = 40, the maximum
    out = score_pss10(np.array([[0] * 10, [4] * 10, [4, 4, 4, 0, 0, 4, 0, 0, 4, 4]]))
    assert out["pss10"].tolist() == [16, 24, 40]
    assert out["band"].tolist() == ["moderate", "moderate", "high"]


def test_pss10_dataframe_columns():
    df = pd.DataFrame([[1] * 10], columns=[f"pss_{i}" for i in range(1, 11)], index=["visit1"])
    # 1s: negative items 6 x 1 = 6; reversed items 1 -> 3, 4 x 3 = 12; total 18
    assert score_pss10(df).loc["visit1", "pss10"] == 18


def test_pss10_missing_item_is_an_error_not_prorated():
    answers = [2, 1, 3, 3, None, 1, 3, 2, 1, 0]
    with pytest.raises(InputError, match=r"item 5 is unanswered.*no rule for prorating"):
        score_pss10(answers)


@pytest.mark.parametrize("bad", [5, -1, 2.5, "often"])
def test_pss10_invalid_answer(bad):
    answers = [2, 1, 3, bad, 2, 1, 3, 2, 1, 0]
    with pytest.raises(InputError, match="item 4 answer"):
        score_pss10(answers)


def test_pss10_wrong_length():
    with pytest.raises(InputError, match="expected 10 answers"):
        score_pss10([1, 2, 3])


def test_bands_and_caveat():
    assert [pss10_band(x) for x in (0, 13, 14, 26, 27, 40)] == ["low", "low", "moderate", "moderate", "high", "high"]
    assert "not validated" in PSS10_BAND_CAVEAT
    with pytest.raises(InputError):
        pss10_band(41)


def test_bristol():
    assert bristol_group(1) == bristol_group(2) == "hard (towards constipation)"
    assert bristol_group(4) == "normal"
    assert bristol_group("7") == "loose (towards diarrhoea)"
    assert len(bristol_scale()) == 7
    for bad in (0, 8, 3.5, "x"):
        with pytest.raises(InputError):
            bristol_group(bad)


def test_daily_stress():
    log = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(
                ["2024-05-06 07:00", "2024-05-06 21:00", "2024-05-06 22:00", "2024-05-07 20:00"]
            ),
            "rating": [np.nan, 6.0, 4.0, 3.0],
            "practice": ["yoga", "", "", "meditation"],
            "minutes": [20.0, np.nan, np.nan, 10.0],
            "pss10": [np.nan, np.nan, np.nan, 14.0],
        }
    )
    d = daily_stress(log)
    assert d.loc["2024-05-06", "stress_rating"] == 5.0
    assert d.loc["2024-05-06", "practice_min"] == 20.0 and d.loc["2024-05-07", "practice_min:meditation"] == 10.0
    assert d.loc["2024-05-07", "pss10"] == 14.0 and d.loc["2024-05-07", "pss10_band"] == "moderate"
