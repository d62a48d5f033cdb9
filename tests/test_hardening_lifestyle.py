"""Hardening (issue 12): the diet / insights / plan / datasets cases of the reliability audit.

Each test is named after its case id in ``../shared/science/audit-reliability.md`` and uses the
audit's reproduction inputs (meal logs written in tmp_path, the shipped example person's
``foods.csv`` as the ``--foods`` table, a copy of ``ABBREV.txt`` as a tampered cache).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app
from gutaxis.errors import InputError
from gutaxis.io import datasets
from gutaxis.lifestyle.imports import read_diary
from gutaxis.lifestyle.logs import (
    read_meal_log,
    read_stress_log,
    read_symptom_log,
    write_log,
)

EXAMPLE = resources.files("gutaxis").joinpath("data", "example_person")
FORMULA = '=HYPERLINK("http://example.invalid/x","click")'


@pytest.fixture
def foods_csv(tmp_path) -> Path:
    """The audit's ``$F``: the example person's food table (per 100 g, SR28 values)."""
    p = tmp_path / "foods.csv"
    p.write_bytes(EXAMPLE.joinpath("foods.csv").read_bytes())
    return p


def _log(tmp_path: Path, body: str, name: str = "m.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(body.encode(encoding))
    return p


def _cli(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def _cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _formula_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would run as formulas (text starting = + - @ tab CR that is not a number)."""
    bad = []
    for row in _cells(path):
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


def _log_columns(export: Path, dest: Path) -> Path:
    """The meal-log columns of an export (resolved_meals.csv, logged_meals.csv), cells copied verbatim."""
    rows = _cells(export)
    keep = [i for i, c in enumerate(rows[0]) if c in ("timestamp", "meal", "text", "ndb_no", "grams")]
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([[r[i] for i in keep] for r in rows])
    return dest


# ------------------------------------------------------------------------------------------ dates


def test_L01_day_month_order_is_decided_for_the_whole_file(tmp_path, foods_csv):
    """The audit's m.csv: 04/03/2024 and 13/03/2024 are both March (13/03 proves day-first)."""
    m = _log(
        tmp_path,
        "timestamp,text,ndb_no,grams\n04/03/2024 08:00,oatmeal,08121,300\n13/03/2024 08:00,oatmeal,08121,300\n",
    )
    df = read_diary(m)
    assert df["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-04", "2024-03-13"]
    assert df.attrs["date_order"].startswith("dayfirst (detected from row 3")
    out = tmp_path / "o"
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", out)
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(out / "daily_scores.csv")
    assert daily["date"].tolist() == ["2024-03-04", "2024-03-13"]


def test_L01_seven_date_formats_in_one_log_keep_their_month(tmp_path):
    """A log in 7 date formats (40 entries, 1 March - 9 April 2024, day-first) moves no entry."""
    forms = [
        lambda d: d.strftime("%d/%m/%Y %H:%M"),
        lambda d: f"{d.day}.{d.month}.{d.year} {d:%H:%M}",
        lambda d: d.strftime("%d-%m-%Y %H:%M"),
        lambda d: d.strftime("%Y-%m-%dT%H:%M"),
        lambda d: f"{d.day} {d:%b} {d.year} {d:%H:%M}",
        lambda d: f"{d:%b} {d.day}, {d.year} {d:%H:%M}",
        lambda d: f"{d:%d/%m/%Y} {d.hour % 12 or 12}:{d:%M} {'am' if d.hour < 12 else 'pm'}",
    ]
    days = pd.date_range("2024-03-01 08:00", periods=40, freq="D")
    lines = ["timestamp,text,ndb_no,grams"]
    for i, d in enumerate(days):
        lines.append(f'"{forms[i % 7](d)}",oatmeal,08121,100')
    df = read_meal_log(_log(tmp_path, "\n".join(lines) + "\n"))
    assert df["timestamp"].tolist() == list(days)


def test_L02_dates_written_both_ways_are_refused(tmp_path):
    both = _log(tmp_path, "timestamp,text\n13/03/2024 08:00,oatmeal\n03/14/2024 08:00,oatmeal\n")
    with pytest.raises(InputError, match=r"both day-first \(row 2.*and month-first \(row 3"):
        read_meal_log(both)
    ambiguous = _log(tmp_path, "timestamp,text\n04/03/2024 08:00,oatmeal\n", name="a.csv")
    with pytest.raises(InputError, match=r"could be 4 March or April 3.*--dayfirst"):
        read_meal_log(ambiguous)
    assert read_meal_log(ambiguous, dayfirst=True)["timestamp"].iloc[0] == pd.Timestamp("2024-03-04 08:00")
    assert read_meal_log(ambiguous, dayfirst=False)["timestamp"].iloc[0] == pd.Timestamp("2024-04-03 08:00")


def test_L11_year_2999_is_refused_naming_the_row(tmp_path, foods_csv):
    m = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,,01009,100\n2999-03-01 08:00,,01009,100\n")
    with pytest.raises(InputError) as err:
        read_diary(m)
    msg = str(err.value)
    assert str(m) in msg and "row 3" in msg and "'timestamp'" in msg and "2999" in msg and "plausible" in msg
    for bad in ("1850-01-01 08:00", "0201-03-01 08:00"):
        with pytest.raises(InputError, match=r"row 2.*plausible"):
            read_meal_log(_log(tmp_path, f"timestamp,text\n{bad},oatmeal\n", name="b.csv"))
    with pytest.raises(InputError, match=r"row 2.*onset.*plausible"):
        read_symptom_log(
            _log(
                tmp_path, "timestamp,symptom,rating,onset\n2024-03-01 08:00,bloating,3,01/03/2999 07:00\n", name="s.csv"
            )
        )
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "2999" in r.output and "AttributeError" not in r.output, r.output


def test_L11_year_2999_in_a_cronometer_export_is_refused(tmp_path):
    c = _log(
        tmp_path,
        "Day,Time,Group,Food Name,Amount,Energy (kcal)\n2999-03-01,8:00 AM,Breakfast,Oats,40 g,150\n",
        name="servings.csv",
    )
    with pytest.raises(InputError, match=r"row 2, column 'Day'.*2999.*plausible"):
        read_diary(c)


def test_L12_utc_offset_keeps_the_local_day_and_time(tmp_path, foods_csv):
    """A -08:00 evening meal stays on its own evening (wall-clock time as logged), not moved to UTC."""
    m = _log(
        tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01T20:00-08:00,,01009,100\n2024-03-02T08:00-08:00,,08121,300\n"
    )
    df = read_meal_log(m)
    assert df["timestamp"].tolist() == [pd.Timestamp("2024-03-01 20:00"), pd.Timestamp("2024-03-02 08:00")]
    assert df["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-01", "2024-03-02"]
    assert df["utc_offset"].tolist() == [-480.0, -480.0]
    out = tmp_path / "o"
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", out)
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out / "daily_scores.csv")["date"].tolist() == ["2024-03-01", "2024-03-02"]
    rows = _cells(out / "resolved_meals.csv")  # written with its offset, as logged
    assert [r[0] for r in rows[1:]] == ["2024-03-01T20:00:00-08:00", "2024-03-02T08:00:00-08:00"]
    back = read_meal_log(_log_columns(out / "resolved_meals.csv", tmp_path / "back.csv"))
    assert back["timestamp"].tolist() == df["timestamp"].tolist() and back["utc_offset"].tolist() == [-480.0] * 2


# ------------------------------------------------------------------------------------------ amounts


def test_L03_infinite_grams_refused(tmp_path, foods_csv):
    m = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,,01009,inf\n")
    with pytest.raises(InputError, match=r"row 2, column 'grams': grams=inf is not a number of grams"):
        read_diary(m)
    j = _log(tmp_path, '[{"timestamp": "2024-03-01 08:00", "ndb_no": "01009", "grams": Infinity}]', name="m.json")
    with pytest.raises(InputError, match=r"entry 1, column 'grams'"):
        read_meal_log(j)
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "inf" in r.output and "mean fiber" not in r.output, r.output


def test_L05_implausible_grams_refused_with_the_row(tmp_path, foods_csv):
    m = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,,01009,100\n2024-03-01 12:00,,01009,1e9\n")
    with pytest.raises(InputError, match=r"row 3, column 'grams': 1e\+09 g in one entry is not plausible"):
        read_diary(m)
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "row 3" in r.output, r.output


def test_L15_negative_nutrient_in_own_food_table_refused(tmp_path, foods_csv):
    """fiber_g=-5 for 01009 in $F: refused naming the file, row and column (not a wrong mean fiber)."""
    from gutaxis.lifestyle.person import read_food_table

    rows = _cells(foods_csv)
    col = rows[0].index("fiber_g")
    rows[1][col] = "-5"  # 01009 is the first food (row 2)
    bad = tmp_path / "bad_foods.csv"
    with open(bad, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError) as err:
        read_food_table(bad)
    msg = str(err.value)
    assert str(bad) in msg and "row 2" in msg and "'fiber_g'" in msg and "01009" in msg and "negative" in msg
    m = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,,01009,100\n")
    r = _cli("diet", "scores", m, "--foods", bad, "-o", tmp_path / "o")
    assert r.exit_code == 2 and "fiber_g" in r.output and "mean fiber" not in r.output, r.output


@pytest.mark.parametrize(
    "column,value,why",
    [
        ("sugars_g", "inf", "not a finite number"),
        ("fat_g", "250", "more than 100 g per 100 g"),
        ("energy_kcal", "4000", "kcal per 100 g"),
    ],
)
def test_L15_impossible_nutrient_in_own_food_table_refused(tmp_path, foods_csv, column, value, why):
    from gutaxis.lifestyle.person import read_food_table

    rows = _cells(foods_csv)
    rows[3][rows[0].index(column)] = value
    bad = tmp_path / "bad_foods.csv"
    with open(bad, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(InputError, match=rf"row 4, column '{column}'.*{why}"):
        read_food_table(bad)
    assert len(read_food_table(foods_csv)) == len(rows) - 1  # the shipped table still reads


def test_L19_negative_age_refused_by_the_scores(tmp_path, foods_csv):
    from gutaxis.lifestyle.scores import daily_scores, fiber_target

    for age in (-5, 130, float("nan"), float("inf"), "old"):
        with pytest.raises(InputError, match=r"age"):
            fiber_target("female", age)
    assert fiber_target("female", 60)[0] == 21.0 and fiber_target(None, -0.0)[0] == 25.0
    items = pd.DataFrame(
        {
            "date": [pd.Timestamp("2024-03-01")],
            "ndb_no": ["01009"],
            "grams": [100.0],
            "match_status": ["given"],
            "energy_kcal": [404.0],
            "fiber_g": [0.0],
            "sugars_g": [0.5],
            "sat_fat_g": [18.9],
        }
    )
    with pytest.raises(InputError, match=r"age -5 .*0-120"):
        daily_scores(items, pd.DataFrame(), age=-5)
    with pytest.raises(InputError, match=r"age -5 .*0-120"):  # also without sex (the age was ignored before)
        fiber_target(None, -5)
    m = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,,01009,100\n")
    r = _cli("diet", "scores", m, "--foods", foods_csv, "--age", "-5", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "age" in r.output and "mean fiber" not in r.output, r.output


# ------------------------------------------------------------------------------------------ encodings


def test_L07_latin1_meal_log_read_with_a_note(tmp_path, foods_csv):
    body = (
        "timestamp,text,ndb_no,grams\n2024-03-01 08:00,café au lait,01077,200\n"
        "2024-03-01 12:00,crème fraîche,01009,30\n"
    )
    m = _log(tmp_path, body, encoding="cp1252")
    with pytest.warns(UserWarning, match=r"m\.csv.*not UTF-8.*Windows-1252.*save it as UTF-8"):
        df = read_diary(m)
    assert df["text"].tolist() == ["café au lait", "crème fraîche"]
    assert df.attrs["encoding"] == "cp1252"
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", tmp_path / "o")
    assert r.exit_code == 0 and "Windows-1252" in r.output and "UnicodeDecodeError" not in r.output, r.output
    # the stress and symptom logs share the reader
    s = _log(tmp_path, "timestamp,rating,note\n2024-03-01 20:00,4,réunion\n", name="s.csv", encoding="cp1252")
    with pytest.warns(UserWarning, match="Windows-1252"):
        assert read_stress_log(s)["rating"].tolist() == [4.0]


def test_L07_undecodable_meal_log_names_the_file_and_says_save_as_utf8(tmp_path):
    m = tmp_path / "m.csv"
    m.write_bytes(b"timestamp,text\n2024-03-01 08:00,oat\x81\x8d\x8f\x90\x9d\n")  # not UTF-8, not Windows-1252
    with pytest.raises(InputError) as err:
        read_diary(m)
    msg = str(err.value)
    assert str(m) in msg and "line 2" in msg and "save it as UTF-8" in msg


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_L08_utf16_meal_log_is_read(tmp_path, foods_csv, encoding):
    """`iconv -t utf-16` (with a byte-order mark), or UTF-16 without one, reads as the UTF-8 file does."""
    body = "timestamp,text,ndb_no,grams\n04/03/2024 08:00,oatmeal,08121,300\n13/03/2024 08:00,café,08121,300\n"
    m = _log(tmp_path, body, name="m16.csv", encoding=encoding)
    if encoding in ("utf-16-le", "utf-16-be"):  # no byte-order mark: detected, with a note
        with pytest.warns(UserWarning, match=r"m16\.csv.*UTF-16"):
            df = read_diary(m)
    else:
        df = read_diary(m)
    assert df["text"].tolist() == ["oatmeal", "café"]
    assert df["timestamp"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-04", "2024-03-13"]
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", tmp_path / "o")
    assert r.exit_code == 0 and "UnicodeDecodeError" not in r.output, r.output


def test_L08_utf16_cronometer_export_is_read(tmp_path):
    c = _log(
        tmp_path,
        "Day,Time,Group,Food Name,Amount,Energy (kcal)\n2024-03-01,8:00 AM,Breakfast,Crêpe,40 g,150\n",
        name="servings.csv",
        encoding="utf-16",
    )
    df = read_diary(c)
    assert df.attrs["format"] == "cronometer" and df["food_name"].tolist() == ["Crêpe"]


# ------------------------------------------------------------------------------------------ CSV injection


def test_L21_formula_meal_text_neutralised_in_resolved_meals(tmp_path, foods_csv):
    m = _log(
        tmp_path,
        f'timestamp,text,ndb_no,grams\n2024-03-01 08:00,"{FORMULA.replace(chr(34), 2 * chr(34))}",'
        "08121,300\n2024-03-01 12:00,@SUM(1+1)*cmd,01009,30\n2024-03-01 13:00,-2+3,01077,200\n",
    )
    out = tmp_path / "o"
    r = _cli("diet", "scores", m, "--foods", foods_csv, "-o", out)
    assert r.exit_code == 0, r.output
    rows = _cells(out / "resolved_meals.csv")
    texts = [row[rows[0].index("text")] for row in rows[1:]]
    assert texts == ["'" + FORMULA, "'@SUM(1+1)*cmd", "'-2+3"]
    assert _formula_cells(out / "resolved_meals.csv") == []
    # the export's log columns read back as logged
    back = read_meal_log(_log_columns(out / "resolved_meals.csv", tmp_path / "back.csv"))
    assert back["text"].tolist() == [FORMULA, "@SUM(1+1)*cmd", "-2+3"]


def test_L21_write_log_round_trip_and_numbers_untouched(tmp_path):
    log = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-01 08:00", "2024-03-01 09:00"]),
            "text": [FORMULA, "\tTAB"],
            "grams": [-1.5, 20.0],
            "note": ["-5", "+1e3"],
        }
    )
    p = write_log(log, tmp_path / "x.csv")
    rows = _cells(p)
    assert rows[1] == ["2024-03-01T08:00:00", "'" + FORMULA, "-1.5", "-5"]
    assert rows[2] == ["2024-03-01T09:00:00", "'\tTAB", "20.0", "+1e3"]
    # a JSON export is not a spreadsheet: written as is
    j = write_log(log, tmp_path / "x.json")
    assert json.loads(j.read_text())[0]["text"] == FORMULA


def test_L21_own_foods_and_aliases_files_neutralised(tmp_path):
    from gutaxis.lifestyle.matching import read_aliases
    from gutaxis.lifestyle.own_foods import add_alias, add_own_food
    from gutaxis.lifestyle.person import read_food_table

    f = tmp_path / "my_foods.csv"
    fid = add_own_food(f, "=1+2 soup", energy_kcal=50, fiber_g=2, sugars_g=1, sat_fat_g=0.5)
    add_own_food(f, "plain soup", food_id="own_plain", energy_kcal=40, fiber_g=1, sugars_g=1, sat_fat_g=0.2)
    assert _formula_cells(f) == []
    assert read_food_table(f).loc[fid, "description"] == "=1+2 soup"
    a = tmp_path / "aliases.csv"
    add_alias(a, "@home soup", fid, 300)
    add_alias(a, "+ salad", fid)
    assert _formula_cells(a) == []
    assert read_aliases(a)["phrase"].tolist() == ["@home soup", "+ salad"]
    with pytest.raises(InputError, match="already in the file"):
        add_alias(a, "@home soup", fid)


def test_L21_plan_csv_exports_neutralised(tmp_path):
    """Meal text, symptom notes and stress notes with formulas: no CSV of `plan` holds a live formula."""
    from gutaxis.lifestyle import plan as P
    from gutaxis.lifestyle.person import person_foods, read_person
    from gutaxis.report.plan import write_plan_reports

    person_dir = tmp_path / "person"
    person_dir.mkdir()
    for name in ("person.json", "foods.csv", "stress.csv", "symptoms.json", "profile_metaphlan.txt"):
        (person_dir / name).write_bytes(EXAMPLE.joinpath(name).read_bytes())
    meals = EXAMPLE.joinpath("meals.csv").read_text(encoding="utf-8").rstrip("\n").splitlines()
    meals += [
        f'2024-03-05T13:00,lunch,"{FORMULA.replace(chr(34), 2 * chr(34))}",,',
        "2024-03-06T13:00,lunch,@cmd|' /C calc'!A0,,",
        "2024-03-07T13:00,snack,+1 mystery bar,,",
    ]
    (person_dir / "meals.csv").write_text("\n".join(meals) + "\n", encoding="utf-8")
    sym = json.loads(EXAMPLE.joinpath("symptoms.json").read_text(encoding="utf-8"))
    entries = sym if isinstance(sym, list) else next(v for v in sym.values() if isinstance(v, list))
    entries[0]["note"] = "=1+1"
    (person_dir / "symptoms.json").write_text(json.dumps(sym), encoding="utf-8")
    person = read_person(person_dir)
    foods, note = person_foods(person, prefer="person")
    plan = P.build_plan(person, foods=foods, foods_note=note, simulate=False)
    written = write_plan_reports(plan, tmp_path / "out")
    csvs = [p for n, p in written.items() if n.endswith(".csv")]
    assert {"logged_meals.csv", "entries_to_fix.csv", "logged_symptoms.csv"} <= {p.name for p in csvs}
    for p in csvs:
        assert _formula_cells(p) == [], p.name
    logged = _cells(tmp_path / "out" / "logged_meals.csv")
    texts = {r[logged[0].index("text")] for r in logged[1:]}
    assert "'" + FORMULA in texts and "'+1 mystery bar" in texts
    # entries to fix (the CLI's diet scores writes them too): through the same writer
    from gutaxis.lifestyle.assessment import entries_to_fix
    from gutaxis.report.plan import _csv

    items = pd.DataFrame(
        {
            "source_row": ["row 2"],
            "date": [pd.Timestamp("2024-03-05")],
            "text": [FORMULA],
            "match_status": ["unmatched"],
            "counted": [False],
            "candidates": ["=cmd|x"],
        }
    )
    _csv(entries_to_fix(items), tmp_path / "fix.csv")
    fix = _cells(tmp_path / "fix.csv")
    assert fix[1][fix[0].index("text")] == "'" + FORMULA and _formula_cells(tmp_path / "fix.csv") == []
    notes = _cells(tmp_path / "out" / "logged_symptoms.csv")
    assert "'=1+1" in {r[notes[0].index("note")] for r in notes[1:]}
    # the logs exported by the plan read back as the person logged them
    back = read_meal_log(_log_columns(tmp_path / "out" / "logged_meals.csv", tmp_path / "back.csv"))
    assert FORMULA in set(back["text"])


# ------------------------------------------------------------------------------------------ datasets


def _abbrev_copy(shared, dest: Path, *, tamper: bool) -> Path:
    """ABBREV.txt copied to ``dest``; with ``tamper`` oats 08121 fiber 1.7 -> 31.7 (the audit's edit)."""
    data = shared("data", "usda_sr28_abbrev", "ABBREV.txt").read_bytes()
    if tamper:
        start = data.index(b"~08121~")
        end = data.index(b"\n", start)
        fields = data[start:end].split(b"^")
        assert fields[8] == b"1.7"
        fields[8] = b"31.7"
        data = data[:start] + b"^".join(fields) + data[end:]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def test_D16_tampered_cached_abbrev_is_refused(tmp_path, shared, monkeypatch):
    from gutaxis.lifestyle.foods import load_food_table, read_usda_abbrev
    from gutaxis.lifestyle.person import person_foods

    cache = tmp_path / "c"
    _abbrev_copy(shared, cache / "usda_sr28_abbrev" / "ABBREV.txt", tamper=True)
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(cache))
    for call in (read_usda_abbrev, lambda: load_food_table(nova=False), lambda: person_foods(None)):
        with pytest.raises(datasets.DatasetCacheError) as err:
            call()
        msg = str(err.value)
        assert isinstance(err.value, InputError)
        assert "ABBREV.txt" in msg and "sha256" in msg and "gutaxis datasets fetch usda_sr28_abbrev" in msg
    # the audit's command: 300 g of 08121 no longer gives 95.1 g/day of fiber
    o = _log(tmp_path, "timestamp,text,ndb_no,grams\n2024-03-01 08:00,oatmeal,08121,300\n", name="o.csv")
    r = _cli("diet", "scores", o, "-o", tmp_path / "out")
    assert r.exit_code == 2 and "gutaxis datasets fetch usda_sr28_abbrev" in r.output, r.output
    assert "95.1" not in r.output


def test_D16_explicit_path_is_the_users_own_copy(tmp_path, shared):
    """A table passed by path is not a registry file: no checksum applies (only cache use is verified)."""
    from gutaxis.lifestyle.foods import read_usda_abbrev

    mine = _abbrev_copy(shared, tmp_path / "mine" / "ABBREV.txt", tamper=True)
    assert read_usda_abbrev(mine).loc["08121", "fiber_g"] == pytest.approx(31.7)
    assert read_usda_abbrev(shared("data", "usda_sr28_abbrev", "ABBREV.txt")).loc["08121", "fiber_g"] == pytest.approx(
        1.7
    )


def test_D16_intact_cache_is_verified_cheaply_with_a_stamp(tmp_path, shared, monkeypatch):
    from gutaxis.lifestyle.foods import read_usda_abbrev

    cache = tmp_path / "c"
    p = _abbrev_copy(shared, cache / "usda_sr28_abbrev" / "ABBREV.txt", tamper=False)
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(cache))
    assert read_usda_abbrev().loc["08121", "fiber_g"] == pytest.approx(1.7)
    stamps = [f for f in p.parent.iterdir() if f != p]
    assert len(stamps) == 1
    # while size and mtime are unchanged the file is not hashed again
    calls = []
    real = datasets.file_sha256
    monkeypatch.setattr(datasets, "file_sha256", lambda path: calls.append(path) or real(path))
    read_usda_abbrev()
    assert calls == []
    # an edit (new size and mtime) after the stamp is found on the next use
    _abbrev_copy(shared, p, tamper=True)
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    with pytest.raises(datasets.DatasetCacheError, match="gutaxis datasets fetch usda_sr28_abbrev"):
        read_usda_abbrev()
    assert calls  # it was hashed again
    # a read-only cache still works (verified on every use, no stamp written)
    p.write_bytes(shared("data", "usda_sr28_abbrev", "ABBREV.txt").read_bytes())
    for s in p.parent.iterdir():
        if s != p:
            s.unlink()
    p.parent.chmod(0o555)
    try:
        assert read_usda_abbrev().loc["08121", "fiber_g"] == pytest.approx(1.7)
    finally:
        p.parent.chmod(0o755)


def test_D16_tampered_cached_fndds_is_refused(tmp_path, shared, monkeypatch):
    from gutaxis.lifestyle.fndds import read_fndds, read_fndds_portions
    from gutaxis.lifestyle.fooddb import food_database_for, load_food_database

    cache = tmp_path / "c"
    folder = cache / "fndds_2017_2018"
    folder.mkdir(parents=True)
    for f in ("fndds_2017_2018_foods_and_beverages.csv", "fndds_2017_2018_portions_and_weights.csv"):
        os.symlink(shared("data", "fndds_portions", f), folder / f)  # intact (symlinks are fine)
    nut = shared("data", "fndds_portions", "fndds_2017_2018_nutrient_values.csv").read_bytes()
    (folder / "fndds_2017_2018_nutrient_values.csv").write_bytes(nut.replace(b",0.4,", b",9.4,", 1))
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(cache))
    assert len(read_fndds_portions()) > 30000  # the intact file reads
    for call in (read_fndds, load_food_database, lambda: food_database_for(None, personal=None)):
        with pytest.raises(datasets.DatasetCacheError, match="gutaxis datasets fetch fndds_2017_2018"):
            call()
    # a changed SR28 WEIGHT.txt is not taken for "not in the cache" (no silent fall-back)
    (folder / "fndds_2017_2018_nutrient_values.csv").write_bytes(nut)
    sr = cache / "usda_sr28_full"
    sr.mkdir()
    weight = shared("data", "usda_sr28_full", "WEIGHT.txt").read_bytes()
    (sr / "WEIGHT.txt").write_bytes(weight.replace(b"^", b"^", 1)[:-200])
    _abbrev_copy(shared, cache / "usda_sr28_abbrev" / "ABBREV.txt", tamper=False)
    with pytest.raises(datasets.DatasetCacheError, match="gutaxis datasets fetch usda_sr28_full"):
        load_food_database()
    # the same folder passed explicitly is checked too (it is the cache); a copy elsewhere is not
    own = tmp_path / "own"
    shutil.copytree(folder, own)
    assert len(read_fndds(own)) > 7000


def test_D16_fetch_writes_the_stamp_and_refetch_repairs(tmp_path, shared, monkeypatch):
    """`datasets fetch` over a changed cached file downloads it again (the hint works), then it is used."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from gutaxis.lifestyle.foods import read_usda_abbrev

    entry = datasets.dataset_info("usda_sr28_abbrev")
    www = tmp_path / "www" / entry["path"]
    www.mkdir(parents=True)
    os.symlink(shared("data", "usda_sr28_abbrev", "ABBREV.txt"), www / "ABBREV.txt")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path / "www")))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        cache = tmp_path / "c"
        _abbrev_copy(shared, cache / "usda_sr28_abbrev" / "ABBREV.txt", tamper=True)
        monkeypatch.setenv("GUTAXIS_DATA_DIR", str(cache))
        monkeypatch.setenv("GUTAXIS_DATASETS_URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
        with pytest.raises(datasets.DatasetCacheError):
            read_usda_abbrev()
        datasets.fetch("usda_sr28_abbrev", progress=False)
        assert len([f for f in (cache / "usda_sr28_abbrev").iterdir()]) == 2  # the file and its stamp
        assert read_usda_abbrev().loc["08121", "fiber_g"] == pytest.approx(1.7)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_D14_bad_datasets_url_is_an_input_error(tmp_path, monkeypatch):
    for url in ("not a url", "ftp//x", "http://", "127.0.0.1:8000/"):
        monkeypatch.setenv("GUTAXIS_DATASETS_URL", url)
        with pytest.raises(InputError) as err:
            datasets.fetch("gmhi2020_validation/MH_species.txt", cache_dir=tmp_path / "c", progress=False)
        msg = str(err.value)
        assert "GUTAXIS_DATASETS_URL" in msg and repr(url) in msg and "http" in msg
        assert isinstance(err.value, datasets.DatasetError)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.txt"))
    r = _cli("datasets", "fetch", "gmhi2020_validation", "--cache", tmp_path / "c")
    assert r.exit_code == 2 and "GUTAXIS_DATASETS_URL" in r.output and "InvalidURL" not in r.output, r.output
