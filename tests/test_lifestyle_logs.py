"""Meal, stress and symptom logs: CSV/JSON, one clear error per malformed entry."""

from __future__ import annotations

import json
import re

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
    p = _write(
        tmp_path,
        "meals.csv",
        "timestamp,text,ndb_no,grams,meal\n"
        "2024-05-06T08:00,greek yogurt,,170,breakfast\n"
        '2024-05-06T08:00,"1 cup blueberries, fresh",,,breakfast\n'
        "\n"
        "2024-05-06T19:00,,9040,120,dinner\n",
    )
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


@pytest.mark.parametrize(
    "row, message",
    [
        ("yesterday,greek yogurt,,,", r"row 2, column 'timestamp': 'yesterday' is not a date-time"),
        (",greek yogurt,,,", r"row 2, column 'timestamp': missing"),
        ("2024-05-06T08:00,,,,", r"row 2: no food given"),
        ("2024-05-06T08:00,,9040,,", r"row 2, column 'grams': missing for ndb_no 9040"),
        ("2024-05-06T08:00,,90x40,12,", r"row 2, column 'ndb_no': '90x40' is not an NDB number"),
        ("2024-05-06T08:00,rice,,-5,", r"row 2, column 'grams': '-5' is not allowed"),
        ("2024-05-06T08:00,rice,,0,", r"row 2, column 'grams': 0 is not allowed"),
        ("2024-05-06T08:00,rice,,12,brunch", r"row 2, column 'meal': 'brunch' is not allowed.*breakfast, lunch"),
    ],
)
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
    p = _write(
        tmp_path,
        "stress.csv",
        f"timestamp,rating,practice,minutes,{items}\n"
        "2024-05-06T21:00,6,,,,,,,,,,,,\n"
        "2024-05-06T07:00,,Yoga,20,,,,,,,,,,\n"
        "2024-05-07T21:00,,,,2,1,3,3,2,1,3,2,1,0\n",
    )
    df = read_stress_log(p)
    assert df.loc[0, "practice"] == "yoga" and df.loc[0, "minutes"] == 20
    assert df.loc[1, "rating"] == 6
    assert df.loc[2, "pss10"] == 14  # hand-worked in test_lifestyle_stress.py


@pytest.mark.parametrize(
    "row, message",
    [
        ("2024-05-06T21:00,11,,", r"row 2, column 'rating': '11' is not allowed.*0 \(none\) to 10"),
        ("2024-05-06T21:00,,jogging,20", r"row 2, column 'practice': 'jogging' is not allowed.*mindfulness"),
        ("2024-05-06T21:00,,yoga,", r"row 2, column 'minutes': missing for practice 'yoga'"),
        ("2024-05-06T21:00,,yoga,-3", r"row 2, column 'minutes': '-3' is not allowed"),
        ("2024-05-06T21:00,,,", r"row 2: nothing logged"),
    ],
)
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
    p = _write(
        tmp_path,
        "symptoms.csv",
        "timestamp,symptom,rating,bristol,onset\n"
        "2024-05-06T22:00,Bloating,6,,2024-05-06T20:30\n"
        "2024-05-07T07:30,,,4,\n"
        "2024-05-07T09:00,abdominal  pain,3,,\n",
    )
    df = read_symptom_log(p)
    assert df["symptom"].tolist() == ["bloating", "", "abdominal pain"]
    assert df.loc[0, "onset"] == pd.Timestamp("2024-05-06T20:30")
    assert df.loc[1, "bristol"] == 4 and df.loc[2, "onset"] == df.loc[2, "timestamp"]


@pytest.mark.parametrize(
    "row, message",
    [
        ("2024-05-06T22:00,bloating,12,,", r"row 2, column 'rating': '12' is not allowed"),
        ("2024-05-06T22:00,,5,,", r"row 2, column 'symptom': missing for a rating"),
        ("2024-05-06T22:00,bloating,,,", r"row 2, column 'rating': missing for symptom 'bloating'"),
        ("2024-05-06T22:00,,,8,", r"row 2, column 'bristol': '8' is not allowed.*1-7"),
        ("2024-05-06T22:00,,,3.5,", r"row 2, column 'bristol': '3.5' is not allowed"),
        ("2024-05-06T22:00,bloating,4,,2024-05-07T01:00", r"row 2, column 'onset': .* is after"),
        ("2024-05-06T22:00,,,,", r"row 2: nothing logged"),
    ],
)
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
    p = _write(
        tmp_path,
        "symptoms.csv",
        "timestamp,symptom,rating,bristol,onset\n"
        "2024-05-06T10:00,bloating,2,,\n"
        "2024-05-06T22:00,bloating,6,,2024-05-06T20:30\n"
        "2024-05-07T07:30,,,4,\n"
        "2024-05-07T09:00,,,6,\n"
        "2024-05-07T09:30,bloating,3,,\n",
    )
    log = read_symptom_log(p)
    worst = daily_symptoms(log)
    assert worst.loc["2024-05-06", "bloating"] == 6 and worst.loc["2024-05-07", "bloating"] == 3
    assert worst.loc["2024-05-07", "bristol_mean"] == 5.0 and worst.loc["2024-05-07", "bristol_n"] == 2
    assert daily_symptoms(log, how="mean").loc["2024-05-06", "bloating"] == 4.0
    with pytest.raises(InputError):
        daily_symptoms(log, how="median")


# --------------------------------------------------------------------------- dates: one day/month order per file


def _meals(tmp_path, *timestamps, name="meals.csv"):
    body = "".join(f"{t},food {i}\n" for i, t in enumerate(timestamps))
    return _write(tmp_path, name, "timestamp,text\n" + body)


def test_dates_uk_file_detected_dayfirst(tmp_path):
    # 13/12/2026 (row 3) can only be 13 December, so the file is day-first and 01/12/2026 is 1 December
    p = _meals(tmp_path, "01/12/2026 08:30", "13/12/2026")
    df = read_meal_log(p)
    assert df["timestamp"].tolist() == [pd.Timestamp("2026-12-01 08:30"), pd.Timestamp("2026-12-13")]
    assert df.attrs["date_order"] == "dayfirst (detected from row 3: 13/12/2026)"


def test_dates_us_file_detected_monthfirst(tmp_path):
    # 12/13/2026 (row 2) can only be December 13, so 01/12/2026 is January 12
    p = _meals(tmp_path, "12/13/2026", "01/12/2026")
    df = read_meal_log(p)
    assert df["timestamp"].tolist() == [pd.Timestamp("2026-01-12"), pd.Timestamp("2026-12-13")]
    assert df.attrs["date_order"] == "monthfirst (detected from row 2: 12/13/2026)"


def test_dates_ambiguous_file_is_refused_with_the_fix(tmp_path):
    p = _meals(tmp_path, "2026-11-30T19:00", "01/12/2026")
    with pytest.raises(InputError) as err:
        read_meal_log(p)
    msg = str(err.value)
    assert str(p) in msg and "row 3, column 'timestamp': '01/12/2026'" in msg
    assert "1 December or January 12" in msg
    assert "--dayfirst (UK/European 01/12/2026 = 1 December)" in msg and "--monthfirst" in msg and "ISO" in msg


def test_dates_given_order(tmp_path):
    p = _meals(tmp_path, "01/12/2026")
    df = read_meal_log(p, dayfirst=True)
    assert df.loc[0, "timestamp"] == pd.Timestamp("2026-12-01") and df.attrs["date_order"] == "dayfirst (given)"
    df = read_meal_log(p, dayfirst=False)
    assert df.loc[0, "timestamp"] == pd.Timestamp("2026-01-12") and df.attrs["date_order"] == "monthfirst (given)"
    # a date that contradicts the given order is refused, not silently read the other way
    p = _meals(tmp_path, "01/12/2026", "12/25/2026", name="m2.csv")
    with pytest.raises(
        InputError,
        match=r"row 3, column 'timestamp': '12/25/2026' is not a day-first date "
        r"\(there is no month 25\)",
    ):
        read_meal_log(p, dayfirst=True)
    with pytest.raises(InputError, match=r"dayfirst='yes'"):
        read_meal_log(p, dayfirst="yes")


def test_dates_file_proving_both_orders_is_refused(tmp_path):
    p = _meals(tmp_path, "13/12/2026", "01/12/2026", "12/13/2026")
    with pytest.raises(InputError) as err:
        read_meal_log(p)
    msg = str(err.value)
    assert "day-first (row 2, column 'timestamp': '13/12/2026')" in msg
    assert "month-first (row 4, column 'timestamp': '12/13/2026')" in msg


def test_dates_other_forms(tmp_path):
    # day-first decided by 13.12.2026; dots and dashes as separators, am/pm times, month names
    p = _meals(
        tmp_path,
        "13.12.2026",
        "1.12.2026 8:30 pm",
        "02-12-2026 12:15 am",
        "3 Dec 2026 07:05",
        '"Dec 4, 2026"',
        "2026-12-05 06:07:08",
    )
    df = read_meal_log(p)
    assert df["timestamp"].tolist() == [
        pd.Timestamp("2026-12-01 20:30"),
        pd.Timestamp("2026-12-02 00:15"),
        pd.Timestamp("2026-12-03 07:05"),
        pd.Timestamp("2026-12-04"),
        pd.Timestamp("2026-12-05 06:07:08"),
        pd.Timestamp("2026-12-13"),
    ]
    # ISO and month names never need an order
    assert (
        read_meal_log(_meals(tmp_path, "2026-12-01", "2026-12-01T08:30", name="iso.csv")).attrs["date_order"] == "iso"
    )
    df = read_meal_log(_meals(tmp_path, "1 Dec 2026", '"Dec 1, 2026"', "05/05/2026", name="names.csv"))
    assert df.attrs["date_order"] == "unambiguous"
    assert df["timestamp"].tolist() == [
        pd.Timestamp("2026-05-05"),
        pd.Timestamp("2026-12-01"),
        pd.Timestamp("2026-12-01"),
    ]


@pytest.mark.parametrize(
    "value, why",
    [
        ("2026-02-30", "not a date-time"),
        ("2026-12-01 25:00", "not a date-time"),
        ("2026-12-01 13:00 pm", "not a date-time"),
        ("01/12/26", "two-digit year"),
        ("2026-12-01T08:30+25:00", "no valid UTC offset"),
        ("next tuesday", "not a date-time"),
    ],
)
def test_dates_invalid_values(tmp_path, value, why):
    p = _meals(tmp_path, value)
    with pytest.raises(InputError, match=f"row 2, column 'timestamp': '{re.escape(value)}'.*{why}"):
        read_meal_log(p)


def test_dates_utc_offset_keeps_local_time(tmp_path):
    # breakfast at 08:30 local time stays 08:30 (converting to UTC gave 07:30); 00:30 at +02:00 stays on
    # 1 December (in UTC it was 22:30 on 30 November)
    p = _meals(
        tmp_path,
        "2026-12-01T08:30+01:00",
        "2026-12-01T00:30+02:00",
        "2026-12-01T12:00-05:30",
        "2026-12-01T13:00Z",
        "2026-12-01T18:00",
    )
    df = read_meal_log(p)
    assert df["timestamp"].dt.strftime("%H:%M").tolist() == ["00:30", "08:30", "12:00", "13:00", "18:00"]
    assert (df["date"] == pd.Timestamp("2026-12-01")).all()
    assert df["utc_offset"].tolist()[:4] == [120.0, 60.0, -330.0, 0.0] and np.isnan(df["utc_offset"].iloc[4])
    assert list(df.columns) == [
        "timestamp",
        "date",
        "meal",
        "text",
        "ndb_no",
        "grams",
        "repeat_of",
        "note",
        "source_row",
        "utc_offset",
    ]
    # the export writes the offset into the timestamp and reads back the same
    out = write_log(df[["timestamp", "text", "utc_offset"]], tmp_path / "out.csv")
    assert "2026-12-01T08:30:00+01:00" in out.read_text() and "2026-12-01T12:00:00-05:30" in out.read_text()
    back = read_meal_log(out)
    assert back["timestamp"].tolist() == df["timestamp"].tolist()
    np.testing.assert_array_equal(back["utc_offset"], df["utc_offset"])


def test_dates_order_detected_across_columns_and_offsets_in_onset(tmp_path):
    # the onset column (13/12/2026) decides the order of the timestamp column too
    p = _write(
        tmp_path,
        "sym.csv",
        "timestamp,symptom,rating,onset\n01/12/2026 22:00,bloating,5,\n13/12/2026 09:00,bloating,3,13/12/2026 07:00\n",
    )
    df = read_symptom_log(p)
    assert df["onset"].tolist() == [pd.Timestamp("2026-12-01 22:00"), pd.Timestamp("2026-12-13 07:00")]
    # noted at 08:00+01:00 = 07:00 UTC; onset 07:30 UTC is half an hour later
    p = _write(
        tmp_path, "sym2.csv", "timestamp,symptom,rating,onset\n2026-12-01T08:00+01:00,bloating,3,2026-12-01T07:30Z\n"
    )
    with pytest.raises(InputError, match=r"row 2, column 'onset': .* is after"):
        read_symptom_log(p)
    p = _write(tmp_path, "st.csv", "timestamp,rating\n12/13/2026,4\n01/12/2026,2\n")
    st = read_stress_log(p)
    assert st["timestamp"].tolist() == [pd.Timestamp("2026-01-12"), pd.Timestamp("2026-12-13")]


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize(
    "reader, header",
    [
        (read_meal_log, "timestamp,text\n"),
        (read_stress_log, "timestamp,rating\n"),
        (read_symptom_log, "timestamp,symptom,rating\n"),
    ],
)
@pytest.mark.parametrize("kind", ["header_only", "empty", "json_list", "blank_rows"])
def test_no_entries(tmp_path, reader, header, kind):
    name, text = {
        "header_only": ("log.csv", header),
        "empty": ("log.csv", ""),
        "json_list": ("log.json", "[]"),
        "blank_rows": ("log.csv", header + "," * header.count(",") + "\n\n"),
    }[kind]
    p = _write(tmp_path, name, text)
    with pytest.raises(InputError, match="no entries") as err:
        reader(p)
    assert str(p) in str(err.value) and err.value.hint


# --------------------------------------------------------------------------- every problem at once


def test_all_bad_rows_in_one_error(tmp_path):
    p = _write(
        tmp_path,
        "meals.csv",
        "timestamp,text,grams,meal\n"
        "yesterday,rice,100,lunch\n"
        "2026-12-01T12:00,rice,100,lunch\n"
        "2026-12-01T13:00,rice,-5,lunch\n"
        "2026-12-01T19:00,rice,100,brunch\n",
    )
    with pytest.raises(InputError) as err:
        read_meal_log(p)
    lines = str(err.value).splitlines()
    assert lines[0] == f"3 problems in {p}"
    assert lines[1].startswith("row 2, column 'timestamp': 'yesterday' is not a date-time")
    assert lines[2].startswith("row 4, column 'grams': '-5' is not allowed")
    assert lines[3].startswith("row 5, column 'meal': 'brunch' is not allowed")
    assert len(lines) == 4 and err.value.source == str(p)


def test_more_than_25_problems_are_counted(tmp_path):
    p = _write(tmp_path, "sym.csv", "timestamp,symptom,rating\n" + "2026-12-01T08:00,bloating,11\n" * 30)
    with pytest.raises(InputError) as err:
        read_symptom_log(p)
    lines = str(err.value).splitlines()
    assert lines[0] == f"30 problems in {p}"
    assert lines[1].startswith("row 2, column 'rating': '11' is not allowed")
    assert lines[25].startswith("row 26, column 'rating'")
    assert lines[26] == "... and 5 more" and len(lines) == 27


@pytest.mark.parametrize(
    "grams, message",
    [
        ("5000", r"row 3, column 'grams': 5000 g in one entry is not plausible — check the unit \(g vs kg\)"),
        ("inf", r"row 3, column 'grams': grams=inf is not a number of grams"),
        ("nan", r"row 3, column 'grams': grams=nan is not a number of grams"),
        ("2000.5", r"row 3, column 'grams': 2000.5 g in one entry is not plausible"),
    ],
)
def test_implausible_grams(tmp_path, grams, message):
    p = _write(
        tmp_path, "meals.csv", f"timestamp,text,grams\n2026-12-01T08:00,rice,2000\n2026-12-01T09:00,rice,{grams}\n"
    )
    with pytest.raises(InputError, match=message):
        read_meal_log(p)


def test_grams_2000_is_the_limit(tmp_path):
    p = _write(tmp_path, "meals.csv", "timestamp,text,grams\n2026-12-01T08:00,rice,2000\n")
    assert read_meal_log(p).loc[0, "grams"] == 2000.0
    p = _write(tmp_path, "meals.json", '[{"timestamp": "2026-12-01T08:00", "text": "rice", "grams": Infinity}]')
    with pytest.raises(InputError, match=r"entry 1, column 'grams': grams=inf"):
        read_meal_log(p)


# --------------------------------------------------------------------------- encodings


def test_latin1_file_is_read_with_a_warning_and_the_fix(tmp_path):
    """Issue 12 (audit L07): a Latin-1/Windows-1252 log (Excel's "CSV" on Western European Windows)
    is read, with a warning naming the file, the byte and how to save it as UTF-8."""
    p = tmp_path / "meals.csv"
    p.write_bytes("timestamp,text\n2026-12-01T08:00,crème brûlée\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="not UTF-8.*line 2.*Windows-1252.*save it as UTF-8") as rec:
        df = read_meal_log(p)
    assert str(p) in str(rec[0].message)
    assert df.loc[0, "text"] == "crème brûlée" and df.attrs["encoding"] == "cp1252"


def test_undecodable_file_is_refused_with_the_fix(tmp_path):
    p = tmp_path / "meals.csv"
    p.write_bytes(b"timestamp,text\n2026-12-01T08:00,cr\x81me\n")  # 0x81: neither UTF-8 nor Windows-1252
    with pytest.raises(InputError, match=r"not UTF-8 text.*line 2.*save it as UTF-8") as err:
        read_meal_log(p)
    assert str(p) in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_utf16_and_utf8_bom_files_read(tmp_path, encoding):
    p = tmp_path / "meals.csv"
    p.write_bytes("timestamp,text\n2026-12-01T08:00,crème brûlée\n".encode(encoding))  # utf-16 writes a BOM
    df = read_meal_log(p)
    assert df.loc[0, "text"] == "crème brûlée" and df.loc[0, "timestamp"] == pd.Timestamp("2026-12-01T08:00")
