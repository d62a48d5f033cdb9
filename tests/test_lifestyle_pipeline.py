"""The personal pipeline end to end, as a person runs it: the CLI on real USDA tables in the cache.

The dataset cache is laid out as ``gutaxis datasets fetch`` leaves it, from ../shared (links,
no copies), so these tests read exactly the files the downloader's checksums name.
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app

DATA = Path(__file__).parent / "data"
NOVA = "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"
runner = CliRunner()


@pytest.fixture()
def cache(tmp_path, shared, monkeypatch):
    """A dataset cache holding FNDDS, SR28 (abbreviated and full) and the NOVA table."""
    root = tmp_path / "cache"
    layout = {
        "fndds_2017_2018": (
            "fndds_portions",
            [
                "fndds_2017_2018_foods_and_beverages.csv",
                "fndds_2017_2018_nutrient_values.csv",
                "fndds_2017_2018_portions_and_weights.csv",
            ],
        ),
        "usda_sr28_full": ("usda_sr28_full", ["WEIGHT.txt", "FOOD_DES.txt", "FD_GROUP.txt"]),
        "usda_sr28_abbrev": ("usda_sr28_abbrev", ["ABBREV.txt"]),
        "nova_fndds_sr_grocerydb": ("nova_fndds_sr_grocerydb", [NOVA]),
    }
    for name, (folder, files) in layout.items():
        (root / name).mkdir(parents=True)
        for f in files:
            os.symlink(shared("data", folder, f), root / name / f)
    monkeypatch.setenv("GUTAXIS_DATA_DIR", str(root))
    return root


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_registry_checksums_match_the_tables_in_shared(shared):
    import hashlib

    from gutaxis.io.datasets import dataset_info

    for name, folder in (("fndds_2017_2018", "fndds_portions"), ("usda_sr28_full", "usda_sr28_full")):
        for fname, meta in dataset_info(name)["files"].items():
            data = shared("data", folder, fname).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"] and len(data) == meta["bytes"]


def test_cronometer_week_fiber_equals_the_files_own_column(cache, tmp_path):
    # the file's own fiber, summed per day with the csv module (not gutaxis)
    per_day: dict[str, float] = {}
    with open(DATA / "cronometer_servings.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Fiber (g)"].strip():
                per_day[row["Day"]] = per_day.get(row["Day"], 0.0) + float(row["Fiber (g)"])
    out = tmp_path / "scores"
    r = run("diet", "scores", DATA / "cronometer_servings.csv", "-o", out)
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(out / "daily_scores.csv", index_col="date")
    assert set(daily.index) == set(per_day)
    for day, fiber in per_day.items():
        assert daily.at[day, "fiber_g"] == pytest.approx(fiber, abs=0.1)


def test_myfitnesspal_export_scores_only_what_it_holds(cache, tmp_path):
    out = tmp_path / "scores"
    r = run("diet", "scores", DATA / "myfitnesspal_nutrition_summary.csv", "-o", out)
    assert r.exit_code == 0, r.output
    assert "meal totals" in r.output.lower()
    daily = pd.read_csv(out / "daily_scores.csv")
    assert daily["fiber_g"].notna().all() and daily["fermented_servings"].eq(0).all()


def test_uk_dates_without_an_order_are_refused_with_the_fix(cache, tmp_path):
    r = run("diet", "scores", DATA / "week_typed_uk.csv", "-o", tmp_path / "s")
    assert r.exit_code != 0 and "--dayfirst" in r.output and "Traceback" not in r.output
    r = run("diet", "scores", DATA / "week_typed_uk.csv", "-o", tmp_path / "s", "--dayfirst")
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(tmp_path / "s" / "daily_scores.csv")
    assert list(daily["date"]) == [f"2026-12-0{d}" for d in range(1, 8)]  # 1-7 December, not seven months


def test_food_match_splits_and_weighs_an_entry(cache):
    r = run("food", "match", "2 eggs and toast")
    assert r.exit_code == 0, r.output
    assert r.output.count("food:") == 2 and "French toast" not in r.output


def test_your_own_foods_add_to_the_usda_tables(cache, tmp_path):
    foods, aliases = tmp_path / "my_foods.csv", tmp_path / "my_words.csv"
    r = run(
        "food",
        "add",
        "grandma's lentil soup",
        "-o",
        foods,
        "--kcal",
        80,
        "--fiber",
        4.5,
        "--sugars",
        2,
        "--sat-fat",
        0.5,
        "--portion",
        300,
    )
    assert r.exit_code == 0, r.output
    r = run("food", "alias", "my usual porridge", "56203065", "-o", aliases, "--grams", 250)
    assert r.exit_code == 0, r.output
    log = tmp_path / "meals.csv"
    log.write_text(
        "timestamp,text\n2026-12-01T08:00,my usual porridge\n2026-12-01T13:00,grandma's lentil soup\n"
        "2026-12-01T19:00,1 medium banana\n",
        encoding="utf-8",
    )
    out = tmp_path / "s"
    r = run("diet", "scores", log, "-o", out, "--foods", foods, "--aliases", aliases)
    assert r.exit_code == 0, r.output
    items = pd.read_csv(out / "resolved_meals.csv", dtype={"food_id": str})
    soup = items[items["text"] == "grandma's lentil soup"].iloc[0]
    assert soup["grams"] == pytest.approx(300) and soup["fiber_g"] == pytest.approx(4.5 * 3)
    porridge = items[items["text"] == "my usual porridge"].iloc[0]
    assert porridge["grams"] == pytest.approx(250) and str(porridge["food_id"]) == "56203065"
    # the USDA tables are still there: the banana is FNDDS's
    assert items[items["text"] == "1 medium banana"].iloc[0]["food_id"] == "63107010"


def _person(tmp_path: Path, meals_text: str, **extra) -> Path:
    d = tmp_path / "person"
    d.mkdir()
    (d / "meals.csv").write_text(meals_text, encoding="utf-8")
    (d / "person.json").write_text(
        json.dumps(
            {"id": "P1", "sex": "female", "age": 44, "conditions": ["RA"], "files": {"meals": "meals.csv"}, **extra}
        ),
        encoding="utf-8",
    )
    return d


def test_a_week_that_cannot_be_counted_leads_with_the_banner_in_chromium(cache, tmp_path, run_browser):
    rows = ["timestamp,text"] + [
        f"2026-12-0{d}T{h:02d}:00,{t}"
        for d in range(1, 4)
        for h, t in ((8, "zorblax crunch bar"), (13, "frobnitz bowl"), (19, "1 medium banana"))
    ]
    d = _person(tmp_path, "\n".join(rows) + "\n")
    out = tmp_path / "plan"
    r = run("plan", d, "-o", out, "--no-simulate")
    assert r.exit_code == 0, r.output
    html = (out / "plan.html").read_text(encoding="utf-8")
    assert "Only 3 of 9" in html and "these numbers are not your diet" in html
    assert "below target" not in html
    proc = run_browser(
        tmp_path / "profile",
        "--window-size=1280,800",
        "--virtual-time-budget=5000",
        "--dump-dom",
        (out / "plan.html").as_uri(),
    )
    dom = proc.stdout
    gate, first_card = dom.find('id="coverage-gate"'), dom.find('class="card')
    assert gate != -1 and (first_card == -1 or gate < first_card)
    assert "zorblax crunch bar" in dom[gate:]


def test_medications_and_pregnancy_reach_the_plan(cache, tmp_path):
    rows = "timestamp,text\n2026-12-01T08:00,greek yogurt\n2026-12-01T12:00,1 medium banana\n"
    d = _person(
        tmp_path,
        rows,
        medications=["prednisolone 40 mg daily", "mycophenolate mofetil 1 g twice daily"],
        flags={"pregnant": True},
    )
    out = tmp_path / "plan"
    r = run("plan", d, "-o", out, "--no-simulate")
    assert r.exit_code == 0, r.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    withheld = {w["id"]: w for w in plan["withheld"]}
    assert "probiotic_ra" in withheld and re.search(r"mycophenolate|prednisolone", withheld["probiotic_ra"]["reason"])
    shown = {s["id"] for s in plan["suggestions"]}
    assert {"pregnancy_listeria", "pregnancy_fish_mercury"} <= shown
