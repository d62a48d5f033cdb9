"""The *act* commands: `gutaxis plan` (the shipped example works offline), `food match`, `diet scores`, `insights`."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app

NOVA_FILE = "GroceryDB_training_dataset_SRFNDSS_2001_2018_NOVA123_multi_compositions_12Nutrients.csv"
EXAMPLE = resources.files("gutaxis").joinpath("data", "example_person")


@pytest.fixture
def tables(shared):
    return [
        "--usda",
        str(shared("data", "usda_sr28_abbrev", "ABBREV.txt")),
        "--nova",
        str(shared("data", "nova_fndds_sr_grocerydb", NOVA_FILE)),
    ]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_plan_example_offline_writes_both_reports(tmp_path):
    out = tmp_path / "plan"
    r = run("plan", "--example", "-o", out, "--draws", 40, "--days", 56)
    assert r.exit_code == 0, r.output
    assert "not in the dataset cache" in r.output  # says which food table it used, and why
    for name in (
        "plan.html",
        "dietitian_summary.html",
        "dietitian_summary.pdf",
        "logged_meals.csv",
        "logged_stress.csv",
        "logged_symptoms.csv",
        "recommendations.csv",
        "plan.json",
    ):
        assert (out / name).is_file(), name
    assert (out / "dietitian_summary.pdf").read_bytes()[:5] == b"%PDF-"
    data = json.loads((out / "plan.json").read_text())
    assert data["person"]["synthetic"] is True and data["person"]["id"] == "EXAMPLE-01"
    assert all(s["grade"] in "ABCG" and s["citation"] for s in data["suggestions"] + data["limits"])
    eff = data["simulated_effect"]
    assert eff["available"] or eff["message"].startswith("simulated effect not available")
    assert "SYNTHETIC" in (out / "plan.html").read_text(encoding="utf-8")


def test_plan_person_folder_with_immunosuppression_withholds_the_probiotic(tmp_path):
    person = tmp_path / "person"
    shutil.copytree(EXAMPLE, person)
    meta = json.loads((person / "person.json").read_text())
    meta["flags"]["strong_immunosuppression"] = True
    meta["synthetic"] = True
    (person / "person.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    r = run("plan", person, "-o", out, "--no-simulate")
    assert r.exit_code == 0, r.output
    assert "1 withheld" in r.output and "simulated effect not available" in r.output
    rec = pd.read_csv(out / "recommendations.csv")
    row = rec[rec["id"] == "probiotic_ra"].iloc[0]
    assert row["status"] == "withheld (strong_immunosuppression)" and "immunosuppressed" in row["why"]


def test_plan_with_explicit_files_and_options(tables, tmp_path):
    out = tmp_path / "out"
    r = run(
        "plan",
        "--meals",
        EXAMPLE / "meals.csv",
        "--stress",
        EXAMPLE / "stress.csv",
        "--symptoms",
        EXAMPLE / "symptoms.json",
        "--sex",
        "male",
        "--age",
        40,
        "--condition",
        "SLE",
        "--flag",
        "central_venous_catheter",
        "-o",
        out,
        "--no-simulate",
        *tables,
    )
    assert r.exit_code == 0, r.output
    data = json.loads((out / "plan.json").read_text())
    assert data["scores"]["fiber_target_g"] == 38.0  # men 19-50: 38 g/day
    ids = [s["id"] for s in data["suggestions"] + data["limits"]]
    assert "no_specific_diet" in ids and "probiotic_ra" not in ids and "GMHI" not in data["scores"]


def test_plan_without_food_tables_says_how_to_fetch_them(tmp_path):
    person = tmp_path / "person"
    shutil.copytree(EXAMPLE, person)
    meta = json.loads((person / "person.json").read_text())
    del meta["files"]["foods"]
    (person / "person.json").write_text(json.dumps(meta))
    r = run("plan", person, "-o", tmp_path / "out", "--no-simulate")
    assert r.exit_code == 2
    assert "gutaxis datasets fetch usda_sr28_abbrev" in r.output and "Traceback" not in r.output


def test_plan_errors_are_one_clear_line(tmp_path):
    r = run("plan", "--example", "--condition", "rheumatoid", "-o", tmp_path / "o", "--no-simulate")
    assert r.exit_code == 2 and "condition tag 'rheumatoid' is not known" in r.output
    r = run("plan", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "no person given" in r.output


def test_food_match(tables):
    r = run("food", "match", "1 cup kimchi", *tables)
    assert r.exit_code == 0, r.output
    assert "11118 CABBAGE,KIMCHI" in r.output and "grams: 150" in r.output and "live cultures: yes" in r.output


def test_food_match_offline_without_tables():
    r = run("food", "match", "greek yogurt")
    assert r.exit_code == 2 and "gutaxis datasets fetch usda_sr28_abbrev" in r.output


def test_diet_scores(tables, tmp_path):
    out = tmp_path / "scores"
    r = run(
        "diet",
        "scores",
        EXAMPLE / "meals.csv",
        "--stress",
        EXAMPLE / "stress.csv",
        "--sex",
        "female",
        "--age",
        46,
        "-o",
        out,
        *tables,
    )
    assert r.exit_code == 0, r.output
    daily = pd.read_csv(out / "daily_scores.csv")
    assert len(daily) == 28 and {"fiber_g", "upf_energy_share", "pss10"} <= set(daily.columns)
    assert len(pd.read_csv(out / "weekly_scores.csv")) == 4
    assert "target 25" in r.output


def test_insights(tmp_path):
    out = tmp_path / "ins"
    r = run(
        "insights",
        "--meals",
        EXAMPLE / "meals.csv",
        "--symptoms",
        EXAMPLE / "symptoms.json",
        "--stress",
        EXAMPLE / "stress.csv",
        "--foods",
        EXAMPLE / "foods.csv",
        "-o",
        out,
    )
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "insights.csv")
    top = table[table["passes"]].iloc[0]
    # the pattern planted in the synthetic diary: bloating +2.5 points 12-24 h after cheddar
    assert top["factor"] == "food: cheese,cheddar" and top["symptom"] == "bloating" and top["lag"] == "12-24 h"
    assert "not proof of cause" in r.output


def test_plan_from_a_cronometer_export(tables, tmp_path):
    """A Cronometer 'Servings' export as the meal log. It crashed in the plan ('cannot convert float
    NaN to integer': no day had DII intakes), and with SR28 alone its foods were matched again by
    name, so the file's own fiber was replaced (12.0 g/day). The fiber is the file's: 134.2 g over
    its 7 days (one blank cell: not known, not 0), summed by hand from the Fiber (g) column."""
    out = tmp_path / "out"
    crono = Path(__file__).parent / "data" / "cronometer_servings.csv"
    r = run("plan", "--meals", crono, "--sex", "female", "--age", 35, "-o", out, "--no-simulate", *tables)
    assert r.exit_code == 0, r.output
    s = json.loads((out / "plan.json").read_text())["scores"]
    assert s["days_logged"] == 7 and s["fiber_g_per_day"] == pytest.approx(134.2 / 7)
    # the export carries no food codes, so no DII parameter is available: said as none, not as 0 score
    assert s["inflammatory_n_parameters"] == 0 and s["inflammatory_score"] is None
