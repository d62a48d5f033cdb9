"""Meal, stress and symptom logs: CSV/JSON, one clear error per malformed entry."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import daily_symptoms, read_meal_log, read_stress_log, read_symptom_log, write_log


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_meal_log_csv(tmp_path):
    p = _write(tmp_path, "meals.csv",
               "timestamp,text,ndb_no,grams,meal\n"
               "2024-05-06T08:00,greek yogurt,,170,breakfast\n"
               "2024-05-06T08:00,\"1 cup blueberries, fresh\",,,breakfast\n"
               "\n"
               "2024-05-06T19:00,,9040,120,dinner\n")
    df = read_meal_log(p)
    assert len(df) == 3
    assert df.loc[2, "ndb_no"] == "09040" and df.loc[2, "grams"] == 120.0
    assert df.loc[1, "text"] == "1 cup blueberries, fresh" and np.isnan(df.loc[1, "grams"])
    assert df.loc[0, "date"] == pd.Timestamp("2024-05-06")
    assert df.attrs["source"] == str(p)


def test_meal_log_json_and_repeats(tmp_path):
    entries = [
        {"timestamp": "2024-05-06T08:00", "text": "greek yogurt", "meal": "breakfast"},
        {"timestamp": "2024-05-06T08:00", "text": "1 cup blueberries", "meal": "breakfast"},
        {"timestamp": "2024-05-07T08:15", "repeat_of": "2024-05-06T08:00"},
    ]
    p = _write(tmp_path, "meals.json", json.dumps({"meals": entries}))
    df = read_meal_log(p)
    assert len(df) == 4
    rep = df[df["timestamp"] == pd.Timestamp("2024-05-07T08:15")]
    assert rep["text"].tolist() == ["greek yogurt", "1 cup blueberries"]
    assert (rep["meal"] == "breakfast").all() and (rep["source_row"] == "entry 3").all()


@pytest.mark.parametrize("row, message", [
    ("yesterday,greek yogurt,,,", r"row 2, column 'timestamp': 'yesterday' is not a date-time"),
    (",greek yogurt,,,", r"row 2, column 'timestamp': missing"),
    ("2024-05-06T08:00,,,,", r"row 2: no food given"),
    ("2024-05-06T08:00,,9040,,", r"row 2, column 'grams': missing for ndb_no 9040"),
    ("2024-05-06T08:00,,90x40,12,", r"row 2, column 'ndb_no': '90x40' is not an NDB number"),
    ("2024-05-06T08:00,rice,,-5,", r"row 2, column 'grams': '-5' is not allowed"),
    ("2024-05-06T08:00,rice,,0,", r"row 2, column 'grams': 0 is not allowed"),
    ("2024-05-06T08:00,rice,,12,brunch", r"row 2, column 'meal': 'brunch' is not allowed.*breakfast, lunch"),
])
def test_meal_log_errors(tmp_path, row, message):
    p = _write(tmp_path, "meals.csv", "timestamp,text,ndb_no,grams,meal\n" + row + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_meal_log(p)
    assert str(p) in str(err.value)


def test_meal_log_structural_errors(tmp_path):
    p = _write(tmp_path, "m.csv", "timestamp,text,calories\n2024-05-06T08:00,rice,300\n")
    with pytest.raises(InputError, match=r"row 2: unknown column\(s\) \['calories'\].*allowed columns"):
        read_meal_log(p)
    p = _write(tmp_path, "m.csv", "timestamp,text\n2024-05-06T08:00,rice,cooked\n")
    with pytest.raises(InputError, match="row 2: more values than columns"):
        read_meal_log(p)
    p = _write(tmp_path, "m.json", '[{"timestamp": "2024-05-06T08:00", "text": "rice"},')
    with pytest.raises(InputError, match="not valid JSON"):
        read_meal_log(p)
    p = _write(tmp_path, "m.json", '[{"timestamp": "2024-05-06T08:00", "repeat_of": "2024-05-01T08:00"}]')
    with pytest.raises(InputError, match=r"entry 1, column 'repeat_of': no meal was logged"):
        read_meal_log(p)
    with pytest.raises(InputError, match="log file not found"):
        read_meal_log(tmp_path / "none.csv")


def test_stress_log(tmp_path):
    items = ",".join(f"pss_{i}" for i in range(1, 11))
    p = _write(tmp_path, "stress.csv",
               f"timestamp,rating,practice,minutes,{items}\n"
               "2024-05-06T21:00,6,,,,,,,,,,,,\n"
               "2024-05-06T07:00,,Yoga,20,,,,,,,,,,\n"
               "2024-05-07T21:00,,,,2,1,3,3,2,1,3,2,1,0\n")
    df = read_stress_log(p)
    assert df.loc[0, "practice"] == "yoga" and df.loc[0, "minutes"] == 20
    assert df.loc[1, "rating"] == 6
    assert df.loc[2, "pss10"] == 14   # hand-worked in test_lifestyle_stress.py


@pytest.mark.parametrize("row, message", [
    ("2024-05-06T21:00,11,,", r"row 2, column 'rating': '11' is not allowed.*0 \(none\) to 10"),
    ("2024-05-06T21:00,,jogging,20", r"row 2, column 'practice': 'jogging' is not allowed.*mindfulness"),
    ("2024-05-06T21:00,,yoga,", r"row 2, column 'minutes': missing for practice 'yoga'"),
    ("2024-05-06T21:00,,yoga,-3", r"row 2, column 'minutes': '-3' is not allowed"),
    ("2024-05-06T21:00,,,", r"row 2: nothing logged"),
])
def test_stress_log_errors(tmp_path, row, message):
    p = _write(tmp_path, "stress.csv", "timestamp,rating,practice,minutes\n" + row + "\n")
    with pytest.raises(InputError, match=message):
        read_stress_log(p)


def test_stress_log_incomplete_pss10(tmp_path):
    items = ",".join(f"pss_{i}" for i in range(1, 11))
    p = _write(tmp_path, "stress.csv", f"timestamp,{items}\n2024-05-07T21:00,2,1,3,3,,1,3,2,1,0\n")
    with pytest.raises(InputError, match=r"row 2: PSS-10 answers missing for pss_5.*prorating"):
        read_stress_log(p)
    p = _write(tmp_path, "stress.csv", f"timestamp,{items}\n2024-05-07T21:00,2,1,3,3,5,1,3,2,1,0\n")
    with pytest.raises(InputError, match=r"row 2, column 'pss_5': '5' is not allowed"):
        read_stress_log(p)


def test_symptom_log(tmp_path):
    p = _write(tmp_path, "symptoms.csv",
               "timestamp,symptom,rating,bristol,onset\n"
               "2024-05-06T22:00,Bloating,6,,2024-05-06T20:30\n"
               "2024-05-07T07:30,,,4,\n"
               "2024-05-07T09:00,abdominal  pain,3,,\n")
    df = read_symptom_log(p)
    assert df["symptom"].tolist() == ["bloating", "", "abdominal pain"]
    assert df.loc[0, "onset"] == pd.Timestamp("2024-05-06T20:30")
    assert df.loc[1, "bristol"] == 4 and df.loc[2, "onset"] == df.loc[2, "timestamp"]


@pytest.mark.parametrize("row, message", [
    ("2024-05-06T22:00,bloating,12,,", r"row 2, column 'rating': '12' is not allowed"),
    ("2024-05-06T22:00,,5,,", r"row 2, column 'symptom': missing for a rating"),
    ("2024-05-06T22:00,bloating,,,", r"row 2, column 'rating': missing for symptom 'bloating'"),
    ("2024-05-06T22:00,,,8,", r"row 2, column 'bristol': '8' is not allowed.*1-7"),
    ("2024-05-06T22:00,,,3.5,", r"row 2, column 'bristol': '3.5' is not allowed"),
    ("2024-05-06T22:00,bloating,4,,2024-05-07T01:00", r"row 2, column 'onset': .* is after"),
    ("2024-05-06T22:00,,,,", r"row 2: nothing logged"),
])
def test_symptom_log_errors(tmp_path, row, message):
    p = _write(tmp_path, "symptoms.csv", "timestamp,symptom,rating,bristol,onset\n" + row + "\n")
    with pytest.raises(InputError, match=message):
        read_symptom_log(p)


def test_write_log_round_trip(tmp_path):
    p = _write(tmp_path, "symptoms.csv", "timestamp,symptom,rating\n2024-05-06T22:00,bloating,6\n")
    df = read_symptom_log(p)
    for name in ("out.csv", "out.json"):
        out = write_log(df[["timestamp", "symptom", "rating"]], tmp_path / name)
        back = read_symptom_log(out)
        assert back.loc[0, "rating"] == 6 and back.loc[0, "timestamp"] == pd.Timestamp("2024-05-06T22:00")


def test_daily_symptoms(tmp_path):
    p = _write(tmp_path, "symptoms.csv",
               "timestamp,symptom,rating,bristol,onset\n"
               "2024-05-06T10:00,bloating,2,,\n"
               "2024-05-06T22:00,bloating,6,,2024-05-06T20:30\n"
               "2024-05-07T07:30,,,4,\n"
               "2024-05-07T09:00,,,6,\n"
               "2024-05-07T09:30,bloating,3,,\n")
    log = read_symptom_log(p)
    worst = daily_symptoms(log)
    assert worst.loc["2024-05-06", "bloating"] == 6 and worst.loc["2024-05-07", "bloating"] == 3
    assert worst.loc["2024-05-07", "bristol_mean"] == 5.0 and worst.loc["2024-05-07", "bristol_n"] == 2
    assert daily_symptoms(log, how="mean").loc["2024-05-06", "bloating"] == 4.0
    with pytest.raises(InputError):
        daily_symptoms(log, how="median")
