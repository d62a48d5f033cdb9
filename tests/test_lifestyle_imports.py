"""Foreign diary exports: Cronometer "servings" and MyFitnessPal Nutrition Summary CSVs."""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutaxis.errors import InputError
from gutaxis.lifestyle.imports import (
    detect_diary_format,
    read_cronometer,
    read_diary,
    read_myfitnesspal,
)

DATA = Path(__file__).parent / "data"
CRONO = DATA / "cronometer_servings.csv"
MFP = DATA / "myfitnesspal_nutrition_summary.csv"

# the Cronometer "servings" header as published in shared/science/webapp.md ("Import formats")
PUBLISHED_CRONOMETER = (  # noqa: SIM905 - kept as the one published line
    "Day,Time,Group,Food Name,Amount,Energy (kcal),Caffeine (mg),Water (g),B1 (Thiamine) (mg),"
    "B2 (Riboflavin) (mg),B3 (Niacin) (mg),B5 (Pantothenic Acid) (mg),B6 (Pyridoxine) (mg),"
    "B12 (Cobalamin) (µg),Biotin (µg),Choline (mg),Folate (µg),Vitamin A (IU),Vitamin C (mg),"
    "Vitamin D (IU),Vitamin E (mg),Vitamin K (µg),Calcium (mg),Chromium (µg),Copper (mg),Fluoride (µg),"
    "Iodine (µg),Iron (mg),Magnesium (mg),Manganese (mg),Phosphorus (mg),Potassium (mg),Selenium (µg),"
    "Sodium (mg),Zinc (mg),Carbs (g),Fiber (g),Fructose (g),Galactose (g),Glucose (g),Lactose (g),"
    "Maltose (g),Starch (g),Sucrose (g),Sugars (g),Net Carbs (g),Fat (g),Cholesterol (mg),"
    "Monounsaturated (g),Polyunsaturated (g),Saturated (g),Trans-Fats (g),Omega-3 (g),Omega-6 (g),"
    "Cystine (g),Histidine (g),Isoleucine (g),Leucine (g),Lysine (g),Methionine (g),Phenylalanine (g),"
    "Protein (g),Threonine (g),Tryptophan (g),Tyrosine (g),Valine (g),Category"
).split(",")


def _rows(path):
    """Header and rows of a fixture, read with the csv module only (independent of the reader)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _col_sum(path, name):
    header, rows = _rows(path)
    i = header.index(name)
    return sum(float(r[i]) for r in rows if r[i].strip())


def _write(path, header, rows, *, bom=False, newline="\n"):
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator=newline)
        w.writerow(header)
        w.writerows(rows)
    return path


def _edit(src, dst, edits):
    """Copy a fixture with cells replaced: edits = {(data_row_index, column): value}."""
    header, rows = _rows(src)
    for (r, col), v in edits.items():
        rows[r][header.index(col)] = v
    return _write(dst, header, rows)


# ---------------------------------------------------------------- Cronometer


def test_cronometer_fixture_has_published_header():
    header, rows = _rows(CRONO)
    assert header[:67] == PUBLISHED_CRONOMETER
    assert header[67:] == ["Added Sugars (g)", "Polyols (g)"]
    assert len({r[0] for r in rows}) == 7 and len(rows) >= 30


def test_cronometer_week_totals_match_file():
    df = read_cronometer(CRONO)
    _, rows = _rows(CRONO)
    assert len(df) == len(rows)
    assert abs(df["fiber_g"].sum() - _col_sum(CRONO, "Fiber (g)")) < 0.1
    assert abs(df["energy_kcal"].sum() - _col_sum(CRONO, "Energy (kcal)")) < 0.1
    assert abs(df["sat_fat_g"].sum() - _col_sum(CRONO, "Saturated (g)")) < 0.1
    assert abs(df["added_sugars_g"].sum() - _col_sum(CRONO, "Added Sugars (g)")) < 0.1
    assert df["date"].nunique() == 7 and (df["date"] == df["timestamp"].dt.normalize()).all()
    assert df["timestamp"].is_monotonic_increasing


def test_cronometer_row_fields():
    df = read_cronometer(CRONO)
    first = df.iloc[0]
    assert first["text"] == "Greek Yogurt, Plain, Nonfat, 1.00 cup"
    assert first["food_name"] == "Greek Yogurt, Plain, Nonfat" and first["amount_text"] == "1.00 cup"
    assert first["source_row"] == "row 2" and first["ndb_no"] is None and np.isnan(first["grams"])
    assert first["timestamp"] == pd.Timestamp("2024-05-06 07:45") and not first["time_assumed"]
    assert first["meal"] == "breakfast"
    assert df["nutrients_given"].all()
    grams = df.loc[df["amount_text"] == "150.00 g", "grams"]
    assert len(grams) and (grams == 150.0).all()
    assert df.loc[df["amount_text"].str.endswith(("cup", "oz", "slice", "tbsp")), "grams"].isna().all()
    assert set(df["meal"]) == {"breakfast", "lunch", "dinner", "snack", "other"}
    assert df.loc[df["food_name"] == "Potato Chips", "meal"].tolist() == ["other"]  # 'Uncategorized'
    assert "alcohol_g" not in df.columns  # the file has no Alcohol column


def test_cronometer_blank_time_is_noon_and_flagged():
    df = read_cronometer(CRONO)
    _, rows = _rows(CRONO)
    blank = {f"row {i}" for i, r in enumerate(rows, start=2) if not r[1].strip()}
    assert len(blank) >= 3
    flagged = df[df["time_assumed"]]
    assert set(flagged["source_row"]) == blank
    assert (flagged["timestamp"] == flagged["date"] + pd.Timedelta(hours=12)).all()
    cookie = df[df["food_name"] == "Chocolate Chip Cookie"].iloc[0]
    assert cookie["timestamp"] == pd.Timestamp("2024-05-07 12:00")
    oats = df[(df["food_name"] == "Oats, Rolled, Dry") & (df["date"] == pd.Timestamp("2024-05-07"))].iloc[0]
    assert oats["timestamp"] == pd.Timestamp("2024-05-07 08:05")
    assert "noon" in df.attrs["note"]


def test_cronometer_vitamin_d_iu_to_ug():
    df = read_cronometer(CRONO)
    # hand-worked: 150 g baked farmed salmon, Vitamin D (IU) = 788.00 -> 788 / 40 = 19.7 µg
    salmon = df[df["food_name"] == "Salmon, Atlantic, Farmed, Baked"]
    assert len(salmon) == 2
    assert salmon["vitamin_d_ug"].tolist() == pytest.approx([19.7, 19.7])
    eggs = df[df["food_name"] == "Egg, Whole, Hard-Boiled"]
    assert eggs["vitamin_d_ug"].iloc[0] == pytest.approx(87 / 40)  # 2.175 µg


def test_cronometer_blank_cells_are_missing_not_zero():
    df = read_cronometer(CRONO)
    coffee = df[df["food_name"] == "Coffee, Brewed"].iloc[0]
    assert math.isnan(coffee["fiber_g"]) and coffee["caffeine_mg"] == 95.0
    kimchi = df[df["food_name"] == "Kimchi"].iloc[0]
    assert kimchi["vitamin_c_mg"] == 0.0 and math.isnan(kimchi["vitamin_d_ug"])
    assert kimchi["grams"] == 100.0


def test_cronometer_ignored_columns_and_note():
    df = read_cronometer(CRONO)
    ign = df.attrs["ignored_columns"]
    assert "Polyols (g)" in ign and "Category" in ign and "Water (g)" in ign
    assert "Fiber (g)" not in ign and "Vitamin D (IU)" not in ign and "Added Sugars (g)" not in ign
    assert df.attrs["format"] == "cronometer" and df.attrs["source"] == str(CRONO)
    assert isinstance(df.attrs["note"], str) and df.attrs["note"].count(". ") == 0


def test_cronometer_by_name_not_position_bom_crlf(tmp_path):
    header, rows = _rows(CRONO)
    order = list(reversed(range(len(header))))
    names = [header[i].replace("µ", "\u03bc") for i in order]  # Greek mu instead of the micro sign
    shuffled = _write(
        tmp_path / "c.csv",
        [*names, "Alcohol (g)"],
        [[r[i] for i in order] + ["0"] for r in rows],
        bom=True,
        newline="\r\n",
    )
    assert detect_diary_format(shuffled) == "cronometer"
    a, b = read_cronometer(CRONO), read_cronometer(shuffled)
    cols = ["text", "timestamp", "fiber_g", "vitamin_d_ug", "selenium_ug", "sodium_mg", "meal"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert (b["alcohol_g"] == 0).all()


def test_cronometer_optional_columns_missing(tmp_path):
    header, rows = _rows(CRONO)
    keep = [i for i, h in enumerate(header) if h not in ("Time", "Group", "Omega-3 (g)", "Added Sugars (g)")]
    p = _write(tmp_path / "c.csv", [header[i] for i in keep], [[r[i] for i in keep] for r in rows])
    df = read_cronometer(p)
    assert df["time_assumed"].all() and (df["meal"] == "other").all()
    assert df["omega3_g"].isna().all() and "omega3_g" in df.attrs["missing_columns"]
    assert "added_sugars_g" not in df.columns


def test_cronometer_three_bad_rows_in_one_error(tmp_path):
    p = _edit(
        CRONO, tmp_path / "bad.csv", {(1, "Day"): "05/06/2024", (3, "Fiber (g)"): "lots", (5, "Sodium (mg)"): "-40"}
    )
    with pytest.raises(InputError) as exc:
        read_cronometer(p)
    msg = str(exc.value)
    assert str(p) in msg and "3 problems" in msg
    assert "row 3, column 'Day': '05/06/2024'" in msg
    assert "row 5, column 'Fiber (g)': 'lots' is not a number" in msg
    assert "row 7, column 'Sodium (mg)': '-40' is negative" in msg
    assert "YYYY-MM-DD" in msg and "day/month" in msg


def test_cronometer_energy_cap_bad_time_missing_name(tmp_path):
    p = _edit(
        CRONO, tmp_path / "bad.csv", {(0, "Energy (kcal)"): "14500", (1, "Time"): "breakfast-ish", (2, "Food Name"): ""}
    )
    with pytest.raises(InputError, match=r"row 2, column 'Energy \(kcal\)': '14500' kcal is above 10,000") as exc:
        read_cronometer(p)
    assert "row 3, column 'Time': 'breakfast-ish' is not a time" in str(exc.value)
    assert "row 4, column 'Food Name': missing food name" in str(exc.value)


def test_many_bad_rows_are_capped(tmp_path):
    _, rows = _rows(CRONO)
    edits = {(i, "Protein (g)"): "x" for i in range(len(rows))}
    p = _edit(CRONO, tmp_path / "bad.csv", edits)
    with pytest.raises(InputError) as exc:
        read_cronometer(p)
    msg = str(exc.value)
    assert f"{len(rows)} problems" in msg and f"and {len(rows) - 20} more" in msg
    assert msg.count("is not a number") == 20


def test_header_only_and_empty_files(tmp_path):
    for src, reader in ((CRONO, read_cronometer), (MFP, read_myfitnesspal)):
        header, _ = _rows(src)
        p = _write(tmp_path / f"head_{src.name}", header, [])
        with pytest.raises(InputError, match="no entries") as exc:
            reader(p)
        assert str(p) in str(exc.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for fn in (read_cronometer, read_myfitnesspal, detect_diary_format):
        with pytest.raises(InputError, match="empty") as exc:
            fn(empty)
        assert str(empty) in str(exc.value)


def test_not_found_and_zip(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_cronometer(tmp_path / "nope.csv")
    z = tmp_path / "mfp.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(MFP, "Nutrition-Summary-2024-05-06-to-2024-05-12.csv")
    with pytest.raises(InputError, match=r"ZIP archive.*unzip"):
        detect_diary_format(z)


# ---------------------------------------------------------------- MyFitnessPal


def test_myfitnesspal_meal_totals():
    df = read_myfitnesspal(MFP)
    _, rows = _rows(MFP)
    assert len(df) == len(rows) and df["date"].nunique() == 7
    assert df.groupby("date").size().between(3, 4).all()
    assert abs(df["energy_kcal"].sum() - _col_sum(MFP, "Calories")) < 0.1
    assert abs(df["fiber_g"].sum() - _col_sum(MFP, "Fiber")) < 0.1
    assert abs(df["potassium_mg"].sum() - _col_sum(MFP, "Potassium")) < 0.1
    first = df.iloc[0]
    assert first["text"] == "Breakfast (MyFitnessPal meal total)" and first["food_name"] is None
    assert first["meal"] == "breakfast" and first["time_assumed"] and first["ndb_no"] is None
    assert df.loc[df["text"].str.startswith("Snacks"), "meal"].eq("snack").all()
    assert df["nutrients_given"].all()
    assert df.attrs["format"] == "myfitnesspal" and df.attrs["limited"] is True
    note = df.attrs["note"]
    assert "without food names" in note and "fermented" in note and "inflammatory" in note


def test_myfitnesspal_percent_dv_dropped():
    df = read_myfitnesspal(MFP)
    for col in ("Vitamin A", "Vitamin C", "Calcium", "Iron"):
        assert col in df.attrs["ignored_columns"]
        assert "daily value" in df.attrs["ignored_reasons"][col]
    for col in ("vitamin_c_mg", "calcium_mg", "iron_mg", "Vitamin A", "Calcium"):
        assert col not in df.columns
    assert set(df.columns) >= {
        "energy_kcal",
        "fat_g",
        "sat_fat_g",
        "pufa_g",
        "mufa_g",
        "cholesterol_mg",
        "sodium_mg",
        "potassium_mg",
        "carbohydrate_g",
        "fiber_g",
        "sugars_g",
        "protein_g",
    }


def test_myfitnesspal_time_variant(tmp_path):
    header, rows = _rows(MFP)
    times = ["7:30 AM", "12:45 PM", "19:05", "3:15 PM"]
    p = _write(
        tmp_path / "mfp_time.csv",
        [*header[:2], "Time", *header[2:]],
        [[*r[:2], times[i % 4], *r[2:]] for i, r in enumerate(rows)],
        newline="\r\n",
    )
    assert detect_diary_format(p) == "myfitnesspal"
    df = read_myfitnesspal(p)
    assert not df["time_assumed"].any()
    assert pd.Timestamp("2024-05-06 07:30") in set(df["timestamp"])
    assert pd.Timestamp("2024-05-06 19:05") in set(df["timestamp"])
    assert "Time" not in df.attrs["ignored_columns"]


def test_myfitnesspal_refuses_other_date_shapes(tmp_path):
    p = _edit(MFP, tmp_path / "us.csv", {(0, "Date"): "5/6/2024", (1, "Date"): "06.05.2024"})
    with pytest.raises(InputError) as exc:
        read_myfitnesspal(p)
    msg = str(exc.value)
    assert "2 problems" in msg and "row 2, column 'Date': '5/6/2024'" in msg and "row 3, column 'Date'" in msg
    assert "YYYY-MM-DD" in msg


# ---------------------------------------------------------------- detection


def test_detect_three_formats(tmp_path):
    log = tmp_path / "meals.csv"
    log.write_text("timestamp,text,meal\n2024-05-06T08:00,1 cup kimchi,breakfast\n")
    assert detect_diary_format(log) == "gutaxis"
    assert detect_diary_format(CRONO) == "cronometer"
    assert detect_diary_format(MFP) == "myfitnesspal"
    df = read_diary(log)
    assert df.attrs["format"] == "gutaxis" and not df["nutrients_given"].any()
    js = tmp_path / "meals.json"
    js.write_text('[{"timestamp": "2024-05-06T08:00", "text": "1 cup kimchi"}]')
    assert detect_diary_format(js) == "gutaxis" and read_diary(js)["text"].tolist() == ["1 cup kimchi"]
    assert read_diary(CRONO).attrs["format"] == "cronometer"
    assert read_diary(MFP).attrs["format"] == "myfitnesspal"


def test_detect_unknown_names_file_and_header(tmp_path):
    p = tmp_path / "other.csv"
    p.write_text("when,what,how much\n2024-05-06,rice,1 cup\n")
    with pytest.raises(InputError) as exc:
        detect_diary_format(p)
    msg = str(exc.value)
    assert str(p) in msg and "when, what, how much" in msg
    assert "gutaxis" in msg and "Cronometer" in msg and "MyFitnessPal" in msg
    bio = tmp_path / "biometrics.csv"
    bio.write_text("Day,Time,Group,Metric,Unit,Amount\n2024-05-06,,,Weight,kg,70\n")
    with pytest.raises(InputError, match="other than 'Servings'"):
        detect_diary_format(bio)
    with pytest.raises(InputError, match="not a Cronometer export"):
        read_cronometer(MFP)
