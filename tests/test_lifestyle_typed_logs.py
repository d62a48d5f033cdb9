"""Logs as people type them in a spreadsheet (Date, Time, Meal, Food), and logs written back.

Expected values are worked by hand from the rows written here: 07/12/2026 day-first is
7 December 2026, "12.30" is 12:30, a blank time leaves the date at midnight.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle import (
    detect_diary_format,
    read_diary,
    read_meal_log,
    read_stress_log,
    read_symptom_log,
    write_log,
)

UK_WEEK = (
    "Date,Time,Meal,Food\n"
    "07/12/2026,07:40,Breakfast,porridge w/ semi skimmed milk & a banana\n"
    "07/12/2026,12.30,lunch,spag bol + side salad\n"
    "07/12/2026,,snack,2 digestives\n"
    "08/12/2026,7:45 am,breakfast,2 slices toast\n"
    "08/12/2026,8h15,drink,1 mug tea\n"
    "13/12/2026,noon,lunch,kimchi fried rice\n"
)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_uk_spreadsheet_week_is_a_meal_log(tmp_path):
    p = _write(tmp_path, "week.csv", UK_WEEK)
    assert detect_diary_format(p) == "gutaxis"
    df = read_diary(p)
    got = dict(zip(df["text"], df["timestamp"], strict=True))
    assert got == {
        "porridge w/ semi skimmed milk & a banana": pd.Timestamp("2026-12-07 07:40"),
        "spag bol + side salad": pd.Timestamp("2026-12-07 12:30"),
        "2 digestives": pd.Timestamp("2026-12-07 00:00"),
        "2 slices toast": pd.Timestamp("2026-12-08 07:45"),
        "1 mug tea": pd.Timestamp("2026-12-08 08:15"),
        "kimchi fried rice": pd.Timestamp("2026-12-13 12:00"),
    }
    # 13/12/2026 decides the order for the whole file; the row it came from is named
    assert df.attrs["date_order"].startswith("dayfirst (detected from row 7")
    assert df.set_index("text").loc["1 mug tea", "meal"] == "drink"
    assert df.set_index("text").loc["2 slices toast", "source_row"] == "row 5"


def test_us_dates_with_separate_time_follow_monthfirst(tmp_path):
    p = _write(tmp_path, "us.csv", "date,time,food\n12/07/2026,6:30 PM,1 cup chili\n12/08/2026,8:00 AM,1 bagel\n")
    with pytest.raises(InputError, match="could be"):
        read_meal_log(p)  # 12/07 and 12/08 decide nothing: refused, not guessed
    df = read_meal_log(p, dayfirst=False)
    assert df["timestamp"].tolist() == [pd.Timestamp("2026-12-07 18:30"), pd.Timestamp("2026-12-08 08:00")]
    assert df.attrs["date_order"] == "monthfirst (given)"


def test_date_only_column_without_time(tmp_path):
    p = _write(tmp_path, "days.csv", "date,text\n2026-12-07,1 apple\n2026-12-08,1 pear\n")
    df = read_meal_log(p)
    assert df["timestamp"].tolist() == [pd.Timestamp("2026-12-07"), pd.Timestamp("2026-12-08")]


def test_typed_log_errors_name_the_columns_the_person_wrote(tmp_path):
    p = _write(tmp_path, "bad.csv", "date,time,food\n2026-12-07,25:00,toast\n,08:00,tea\n2026-12-07,,\n")
    with pytest.raises(InputError) as exc:
        read_meal_log(p)
    msg = str(exc.value)
    assert "3 problems in" in msg and str(p) in msg
    assert "row 2, column 'date' + 'time': '2026-12-07 25:00' is not a date-time" in msg
    assert "row 3, column 'date': missing" in msg
    assert "row 4: no food given" in msg


def test_timestamp_and_date_together_is_refused(tmp_path):
    """A date beside a timestamp could disagree with it: refused, never silently dropped."""
    p = _write(tmp_path, "both.csv", "timestamp,date,text\n2026-12-07T08:00,2026-12-06,1 apple\n")
    with pytest.raises(InputError, match=r"unknown column\(s\) \['date'\]"):
        read_meal_log(p)


def test_stress_and_symptom_logs_typed_with_date_and_time(tmp_path):
    s = _write(
        tmp_path, "stress.csv", "Date,Time,Rating,Practice,Minutes\n07/12/2026,21.00,6,yoga,20\n13/12/2026,,3,,\n"
    )
    st = read_stress_log(s)
    assert st["timestamp"].tolist() == [pd.Timestamp("2026-12-07 21:00"), pd.Timestamp("2026-12-13")]
    assert st["rating"].tolist() == [6.0, 3.0] and st.loc[0, "minutes"] == 20.0
    y = _write(tmp_path, "symptoms.csv", "date,time,symptom,rating\n2026-12-07,22:15,bloating,5\n")
    sy = read_symptom_log(y)
    assert sy.loc[0, "timestamp"] == pd.Timestamp("2026-12-07 22:15") and sy.loc[0, "rating"] == 5.0


def test_repeat_with_its_own_food_is_refused(tmp_path):
    """A repeat copies the earlier meal; the food written beside it used to vanish."""
    p = _write(
        tmp_path,
        "rep.csv",
        "timestamp,text,repeat_of\n2026-12-01T08:00,1 banana,\n2026-12-02T08:00,1 cup kimchi,2026-12-01T08:00\n",
    )
    with pytest.raises(InputError, match="row 3: both a food and 'repeat_of' given"):
        read_meal_log(p)


def test_meal_note_is_kept(tmp_path):
    p = _write(tmp_path, "n.csv", "timestamp,text,note\n2026-12-01T08:00,1 banana,very ripe\n2026-12-01T09:00,tea,\n")
    assert read_meal_log(p)["note"].tolist() == ["very ripe", ""]


def test_semicolon_csv_from_european_excel_and_tab_separated_paste(tmp_path):
    """Excel writes ';' where the locale uses a decimal comma; a pasted range is tab-separated.
    Only the header decides: the ';' inside a quoted food stays part of the food."""
    semi = _write(
        tmp_path,
        "semi.csv",
        'Date;Time;Meal;Food\n07/12/2026;07:40;Breakfast;porridge\n13/12/2026;12:30;Lunch;"soup; bread"\n',
    )
    df = read_diary(semi)
    assert df["text"].tolist() == ["porridge", "soup; bread"]
    assert df["timestamp"].tolist() == [pd.Timestamp("2026-12-07 07:40"), pd.Timestamp("2026-12-13 12:30")]
    tab = _write(tmp_path, "week.tsv", "timestamp\ttext\tgrams\n2026-12-07T08:00\t1 apple, sliced\t120\n")
    got = read_meal_log(tab)
    assert got["text"].tolist() == ["1 apple, sliced"] and got["grams"].tolist() == [120.0]
    # a comma file whose food holds semicolons is still split on commas
    comma = _write(tmp_path, "c.csv", "timestamp,text\n2026-12-07T08:00,soup; bread; butter\n")
    assert read_meal_log(comma)["text"].tolist() == ["soup; bread; butter"]
    st = _write(tmp_path, "stress.csv", "Date;Rating\n2026-12-07;4\n")
    assert read_stress_log(st)["rating"].tolist() == [4.0]


# --------------------------------------------------------------------------- written back


def _same(a: pd.DataFrame, b: pd.DataFrame, ignore=("source_row",)) -> None:
    cols = [c for c in a.columns if c not in ignore]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_meal_log_reads_back_as_logged(tmp_path, suffix):
    p = _write(
        tmp_path,
        "meals.csv",
        "timestamp,text,ndb_no,grams,meal,repeat_of,note\n"
        "2026-12-01T08:00+01:00,1 banana,,,breakfast,,ripe\n"
        "2026-12-01T08:00+01:00,,09040,120,breakfast,,\n"
        "2026-12-02T08:05+01:00,,,,breakfast,2026-12-01T08:00,again\n"
        "2026-12-02T19:00,=1+1 soup,,250,dinner,,\n",
    )
    df = read_meal_log(p)
    assert len(df) == 5  # the repeat became two foods
    back = read_meal_log(write_log(df, tmp_path / f"out{suffix}"))
    # the copies are written as foods of their own, so repeat_of is not read back; all else is
    _same(df, back, ignore=("source_row", "repeat_of"))
    assert back["repeat_of"].isna().all() and df["repeat_of"].notna().sum() == 2
    assert back["utc_offset"].tolist()[:4] == [60.0] * 4 and np.isnan(back["utc_offset"].iloc[4])
    assert back["text"].iloc[4] == "=1+1 soup"  # the spreadsheet guard is undone on reading


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_stress_and_symptom_logs_read_back_as_logged(tmp_path, suffix):
    pss = ",".join(str(x) for x in (2, 3, 1, 1, 2, 3, 2, 1, 2, 3))
    s = _write(
        tmp_path,
        "stress.csv",
        "timestamp,rating,practice,minutes," + ",".join(f"pss_{i}" for i in range(1, 11)) + "\n"
        "2026-12-01T21:00,6,yoga,20," + ",,,,,,,,," + "\n"
        "2026-12-07T21:00,,,," + pss + "\n",
    )
    st = read_stress_log(s)
    # PSS-10 by hand: items 4, 5, 7, 8 reversed (4 - x): 2+3+1+3+2+3+2+3+2+3 = 24
    assert st["pss10"].iloc[1] == 24.0
    _same(st, read_stress_log(write_log(st, tmp_path / f"stress{suffix}")))
    y = _write(
        tmp_path,
        "symptoms.csv",
        "timestamp,symptom,rating,bristol,onset,note\n"
        "2026-12-01T22:00,Bloating,6,,2026-12-01T20:30,after dinner\n"
        "2026-12-02T07:00,,,4,,\n",
    )
    sy = read_symptom_log(y)
    _same(sy, read_symptom_log(write_log(sy, tmp_path / f"symptoms{suffix}")))


def test_written_log_leaves_out_what_the_reader_derives(tmp_path):
    df = read_meal_log(_write(tmp_path, "m.csv", "timestamp,text\n2026-12-01T08:00,1 banana\n"))
    out = write_log(df, tmp_path / "m.json")
    assert set(json.loads(out.read_text())[0]) == {"timestamp", "meal", "text", "ndb_no", "grams", "repeat_of", "note"}
