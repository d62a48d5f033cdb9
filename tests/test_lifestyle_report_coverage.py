"""The plan's reports when too little of a food log could be counted ("Real people, real food").

A synthetic plan (the shipped example person) is given, by hand, the coverage fields the assessment
carries (``coverage``, ``to_fix``, ``assumed``, ``nutrients``, ``top_foods``) for a person whose typed
week lost most of its entries. The person's page must then lead with a banner (before any score card,
visible in the first screen) that lists the entries to fix in the person's own words with the foods
offered, and judge no diet score against a target; the dietitian summary must lead with the same
statement, address the clinician, and carry the nutrient table, the foods behind the scores, every
entry to check, the medications and notes.
"""

from __future__ import annotations

import dataclasses
import html as htmllib
import json
import re
import shutil
import subprocess

import markupsafe
import numpy as np
import pandas as pd
import pytest

from gutaxis.lifestyle import plan as P
from gutaxis.lifestyle.person import example_person
from gutaxis.report.plan import write_plan_reports

BANNER = "Only 11 of 47 foods could be counted (23% of entries, about 30% of energy): these numbers are not your diet."
CLIENT_STATEMENT = "Only 11 of 47 food entries the client logged could be counted (23% of entries, about 30% of energy)"
TO_FIX = [
    {
        "source_row": 5,
        "date": pd.Timestamp("2024-03-04"),
        "text": "Brot mit Käse & Gouda",
        "item_text": "Brot mit Käse & Gouda",
        "status": "unmatched",
        "reason": "No food in the table matches these words.",
        "candidates": "Bread, rye (32 g); Cheese, gouda (28 g)",
    },
    {
        "source_row": 9,
        "date": pd.Timestamp("2024-03-05"),
        "text": "2 slices toast w/ marmite, 1 flat white",
        "item_text": "marmite",
        "status": "low_confidence",
        "reason": "Two foods fit equally well.",
        "candidates": "Yeast extract spread (6 g); Vegetable spread (10 g)",
    },
    {
        "source_row": 12,
        "date": pd.Timestamp("2024-03-05"),
        "text": '<script>alert(1)</script> $4 smoothie "large"',
        "item_text": "",
        "status": "implausible",
        "reason": "4 kg is not a plausible portion of a smoothie.",
        "candidates": "",
    },
    {
        "source_row": 20,
        "date": pd.Timestamp("2024-03-06"),
        "text": "handful of nuts",
        "item_text": "handful of nuts",
        "status": "no_portion",
        "reason": "No amount was given and no usual portion is known.",
        "candidates": "Nuts, mixed, dry roasted (28 g)",
    },
]
NUTRIENT_KEYS = [
    "protein_g",
    "calcium_mg",
    "vitamin_d_ug",
    "folate_dfe_ug",
    "iron_mg",
    "sodium_mg",
    "alcohol_g",
    "omega3_g",
    "energy_kcal",
    "fiber_g",
]
NUTRIENT_LABELS = [
    "Protein",
    "Calcium",
    "Vitamin D",
    "Folate (DFE)",
    "Iron",
    "Sodium",
    "Alcohol",
    "Omega-3 fatty acids",
    "Energy",
    "Fiber",
]
DIET_LABELS = (
    "Fiber",
    "Fermented foods with live cultures",
    "Ultra-processed (NOVA 4) share of energy",
    "Sugars (total, proxy for free sugars)",
    "Saturated fat",
    "Inflammatory-potential score (published DII parameters)",
    "Energy",
)
TOP_KEYS = ("fiber_g", "energy_kcal", "sugars_g", "sat_fat_g", "sodium_mg")


@pytest.fixture(scope="module")
def base_plan():
    person = dataclasses.replace(
        example_person(),
        medications=["Methotrexate 15 mg weekly", "Zorblax 5 mg daily"],
        notes="Works night shifts; eats <b>late</b>.",
    )
    return P.build_plan(person, simulate=False)


def _with(plan, *, ok: bool, **fields):
    """A copy of ``plan`` whose assessment carries the coverage fields (the originals are untouched)."""
    a = dataclasses.replace(plan.assessment)
    if ok:
        a.coverage = {
            "n_entries": 47,
            "n_counted": 45,
            "share_entries": 45 / 47,
            "kcal_counted": 14500.0,
            "kcal_estimated_total": 14800.0,
            "share_energy": 0.98,
            "threshold": 0.8,
            "ok": True,
            "message": "45 of 47 foods could be counted",
        }
    else:
        a.coverage = {
            "n_entries": 47,
            "n_counted": 11,
            "share_entries": 11 / 47,
            "kcal_counted": 1743.0,
            "kcal_estimated_total": 5810.0,
            "share_energy": 0.30,
            "threshold": 0.8,
            "ok": False,
            "message": "only 11 of 47 foods could be counted",
        }
    a.to_fix = pd.DataFrame(TO_FIX)
    a.assumed = pd.DataFrame(
        [
            {
                "source_row": 3,
                "date": pd.Timestamp("2024-03-04"),
                "text": "a banana & tea",
                "description": "BANANAS,RAW",
                "grams": 118.0,
                "portion_basis": "USDA: 1 medium",
            }
        ]
    )
    a.nutrients = pd.DataFrame(
        {
            "label": NUTRIENT_LABELS,
            "unit": ["g/day", "mg/day", "µg/day", "µg/day", "mg/day", "mg/day", "g/day", "g/day", "kcal/day", "g/day"],
            "per_day": [61.7, 812.0, 3.1, 288.0, 9.8, 2410.0, 12.4, 1.3, 1733.0, 21.7],
            "per_kg": [0.93] + [np.nan] * 9,
            "reference": [f"reference for {k} (source {i})" for i, k in enumerate(NUTRIENT_KEYS)],
            "coverage_note": [f"{lab.lower()} missing for {i + 3}% of energy" for i, lab in enumerate(NUTRIENT_LABELS)],
        },
        index=pd.Index(NUTRIENT_KEYS, name="nutrient"),
    )
    a.top_foods = {
        k: pd.DataFrame(
            {
                "food": [f"TOP FOOD {k.upper()} {i}" for i in range(3)],
                "examples": [["wholemeal toast", "toast w/ jam"], ["porridge"], ["an apple"]],
                "amount": [30.0, 20.0, 10.0],
                "share_pct": [50.0, 33.3, 16.7],
                "n_entries": [4, 3, 2],
            }
        )
        for k in TOP_KEYS
    }
    for k, v in fields.items():
        setattr(a, k, v)
    out = dataclasses.replace(plan, assessment=a)
    if not ok:
        # a plan built after the gate holds its diet rules back itself, with the reason "not judged: ..."
        out.suggestions = [s for s in plan.suggestions if s.id != "saturated_fat"]
        out.not_evaluated = [
            *plan.not_evaluated,
            {
                "id": "saturated_fat",
                "title": "Bring saturated fat below 10% of energy",
                "grade": "B",
                "citation": "",
                "missing": [],
                "reason": "not judged: only 11 of 47 foods could be counted",
            },
        ]
    return out


@pytest.fixture(scope="module")
def low(base_plan, tmp_path_factory):
    plan = _with(base_plan, ok=False)
    return plan, write_plan_reports(plan, tmp_path_factory.mktemp("low") / "out")


@pytest.fixture(scope="module")
def good(base_plan, tmp_path_factory):
    plan = _with(base_plan, ok=True)
    return plan, write_plan_reports(plan, tmp_path_factory.mktemp("good") / "out")


def _e(text: str) -> str:
    """Text as the reports' templates escape it (Jinja2 autoescape)."""
    return str(markupsafe.escape(text))


def _read(files, name) -> str:
    return files[name].read_text(encoding="utf-8")


def _body(html: str) -> str:
    """The page without its <head> (the inline CSS names the same classes)."""
    return html[html.index("<body") :]


def gate_span(html: str) -> tuple[int, int]:
    body = _body(html)
    start = body.find('id="coverage-gate"')
    return start, body.find("</section>", start)


def assert_gate_first(html: str) -> None:
    """The banner is there, says the numbers are not the diet, and comes before the first score card."""
    body = _body(html)
    start, _ = gate_span(html)
    assert start >= 0, "no coverage banner"
    tag = body[body.rfind("<", 0, start) : body.find(">", start)]
    assert 'role="alert"' in tag, "the coverage banner is not an alert"
    first_card = body.find('<div class="card')
    assert first_card > 0, "no score card"
    assert body.find(_e(BANNER)) == body.find(_e(BANNER), start) > 0
    assert start < body.find(_e(BANNER)) < first_card, "the banner comes after a score card"
    assert body.find('id="scores-table"') > first_card


def score_rows(html: str) -> dict[str, str]:
    """Score table of the page: label -> status."""
    table = re.search(r'<table[^>]*id="scores-table".*?</table>', html, re.S).group(0)
    return {
        htmllib.unescape(m.group(1)): m.group(2).strip()
        for m in re.finditer(
            r'<tr><th scope="row">(.*?)</th>.*?<td class="small status-[a-z]*">(.*?)</td></tr>', table, re.S
        )
    }


# --------------------------------------------------------------------------- the person's page
def test_low_coverage_banner_comes_before_any_score_card(low):
    html = _read(low[1], "plan.html")
    assert_gate_first(html)


def test_the_banner_check_can_fail(good, low):
    with pytest.raises(AssertionError, match="no coverage banner"):
        assert_gate_first(_read(good[1], "plan.html"))
    html = _read(low[1], "plan.html")
    start, end = gate_span(html)
    body = _body(html)
    gate = body[body.rfind("<", 0, start) : end + len("</section>")]
    moved = body.replace(gate, "")
    moved = moved.replace('<section id="methods"', gate + '<section id="methods"')
    with pytest.raises(AssertionError, match="after a score card"):
        assert_gate_first(moved)


def test_banner_lists_every_entry_to_fix_in_the_persons_words_with_the_foods_offered(low):
    html = _read(low[1], "plan.html")
    start, end = gate_span(html)
    gate = _body(html)[start:end]
    for e in TO_FIX:
        assert _e(e["text"]) in gate, e["text"]
        if e["item_text"] and e["item_text"] != e["text"]:
            assert _e(e["item_text"]) in gate
        assert _e(e["reason"]) in gate
        for cand in [c.strip() for c in e["candidates"].split(";") if c.strip()]:
            assert _e(cand) in gate, cand
    assert "Did you mean Bread, rye (32 g) or Cheese, gouda (28 g)?" in gate
    assert gate.count("<li") == len(TO_FIX)


def test_low_coverage_judges_no_diet_score_and_headlines_no_diet_suggestion(low, good):
    html = _read(low[1], "plan.html")
    rows = score_rows(html)
    for label in DIET_LABELS:
        assert rows[label] == "not judged", (label, rows[label])
    assert "below target" not in html
    # the only judgements left are the stress and gut-profile scores, which do not come from the food log
    judged = {k for k, v in rows.items() if v in ("meets target", "above target", "below target")}
    assert judged <= {"PSS-10 (latest)", "GMHI"} and not judged & set(DIET_LABELS)
    outside = re.sub(r'<table[^>]*id="scores-table".*?</table>', "", html, flags=re.S)
    assert "meets target" not in outside and "above target" not in outside
    cards = re.findall(r'<div class="card[^"]*" data-judged="(yes|no)"><div class="label">(.*?)</div>', html)
    assert dict((lab, j) for j, lab in cards)["Fiber"] == "no"
    assert all(j == "no" for j, lab in cards if lab not in ("PSS-10", "GMHI")), cards
    cards_html = re.search(r'<div class="cards">(.*?)\n  </div>', html, re.S).group(1)
    assert "target" not in cards_html and cards_html.count("not judged") == 6
    # no diet rule is shown as a recommendation; the ones held back are named as waiting
    for rule in (
        "fiber_target",
        "fermented_foods",
        "ultra_processed",
        "free_sugars",
        "saturated_fat",
        "mediterranean_ra",
    ):
        assert f'data-rule="{rule}"' not in html, rule
    note = re.search(r'<p class="not-judged-note" id="plan-not-judged">(.*?)</p>', html, re.S).group(1)
    assert "Raise fiber towards your target" in note and "Bring saturated fat below 10% of energy" in note
    assert "Raise fiber" not in html[: html.find('id="plan-not-judged"')].split("<body", 1)[1]
    # the same plan with enough foods counted is judged as usual
    ok = _read(good[1], "plan.html")
    assert score_rows(ok)["Fiber"] == "below target" and 'data-rule="fiber_target"' in ok


def test_enough_coverage_shows_a_line_not_a_banner(good, low):
    html = _read(good[1], "plan.html")
    body = _body(html)
    assert 'id="coverage-gate"' not in html and 'role="alert"' not in html
    line = re.search(r'<p class="coverage-line" id="coverage-line">(.*?)</p>', body, re.S)
    assert line and "45 of 47 foods you logged were counted (96% of entries, about 98% of energy)" in line.group(1)
    assert body.find('id="coverage-line"') < body.find('<div class="card')
    # entries to fix are still listed, in their own section
    check = body[body.find('id="foods-check"') :]
    for e in TO_FIX:
        assert _e(e["text"]) in check


def test_complete_coverage_says_nothing_extra(base_plan, tmp_path):
    a = dataclasses.replace(base_plan.assessment)
    a.coverage = {
        "n_entries": 289,
        "n_counted": 289,
        "share_entries": 1.0,
        "kcal_counted": 48500.0,
        "kcal_estimated_total": 48500.0,
        "share_energy": 1.0,
        "threshold": 0.8,
        "ok": True,
        "message": "",
    }
    a.to_fix = pd.DataFrame(columns=list(TO_FIX[0]))
    files = write_plan_reports(dataclasses.replace(base_plan, assessment=a), tmp_path / "out")
    html = _read(files, "plan.html")
    assert 'id="coverage-gate"' not in html and 'id="coverage-line"' not in html and 'id="foods-check"' not in html
    assert "All 289 food entries the client logged were counted." in _read(files, "dietitian_summary.html")
    back = pd.read_csv(files["entries_to_fix.csv"])
    assert len(back) == 0 and list(back.columns) == list(TO_FIX[0])


def test_assumed_portions_are_listed_in_the_persons_words(low):
    for name in ("plan.html", "dietitian_summary.html"):
        html = _read(low[1], name)
        table = re.search(r'<table[^>]*id="assumed-table".*?</table>', html, re.S).group(0)
        assert "a banana &amp; tea" in table and "BANANAS,RAW" in table and "118" in table and "USDA: 1 medium" in table


def test_person_supplied_text_is_escaped(low):
    for name in ("plan.html", "dietitian_summary.html"):
        html = _read(low[1], name)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>late</b>" not in _read(low[1], "dietitian_summary.html")


# --------------------------------------------------------------------------- the dietitian summary
def test_dietitian_summary_leads_with_coverage_and_addresses_the_clinician(low, good):
    html = _read(low[1], "dietitian_summary.html")
    body = _body(html)
    stmt = re.search(r'<p class="coverage-statement gated" id="coverage-statement" role="alert">(.*?)</p>', body, re.S)
    assert stmt and CLIENT_STATEMENT in stmt.group(1) and "not the client&#39;s diet" in stmt.group(1)
    assert (
        body.find('id="coverage-statement"')
        < body.find('id="disclaimer"')
        < body.find('id="scores-table"')
        < body.find('id="nutrients-table"')
    )
    assert "47 food entries, read as" in body  # entries as logged, foods as read (compound entries split)
    assert "The client logged meals on 28 days" in body
    assert "you logged" not in body.lower()
    assert "your logs" not in re.search(r'<table id="plan-table">.*?</table>', body, re.S).group(0)
    assert "the client&#39;s logs" in body
    assert score_rows(html)["Fiber"] == "not judged"
    ok = _body(_read(good[1], "dietitian_summary.html"))
    assert "45 of 47 food entries the client logged were counted" in ok and 'role="alert"' not in ok


def test_dietitian_nutrient_table(low):
    html = _read(low[1], "dietitian_summary.html")
    table = re.search(r'<table[^>]*id="nutrients-table".*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr data-nutrient="([a-z0-9_]+)">(.*?)</tr>', table, re.S)
    assert [k for k, _ in rows] == NUTRIENT_KEYS
    for (key, row), label, i in zip(rows, NUTRIENT_LABELS, range(len(NUTRIENT_KEYS)), strict=True):
        assert f">{label}<" in row and f"reference for {key} (source {i})" in row
        assert f"{label.lower()} missing for {i + 3}% of energy" in row
    protein = dict(rows)["protein_g"]
    assert "61.7" in protein and "0.93 g/kg/day" in protein
    assert "2,410" in dict(rows)["sodium_mg"] and "9.8" in dict(rows)["iron_mg"]


def test_dietitian_top_foods_entries_medications_and_notes(low):
    html = _read(low[1], "dietitian_summary.html")
    for k in TOP_KEYS:
        t = re.search(rf'<table id="top-foods-{k}".*?</table>', html, re.S)
        assert t, k
        assert f"TOP FOOD {k.upper()} 0" in t.group(0) and "<q>toast w/ jam</q>" in t.group(0) and "50 %" in t.group(0)
    fix = re.search(r'<table[^>]*id="to-fix-table".*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr data-status=.*?</tr>", fix, re.S)
    assert len(rows) == len(TO_FIX)
    for e, row in zip(TO_FIX, rows, strict=True):
        assert f"row {e['source_row']}" in row and f"{e['date']:%d %b %Y}" in row
        assert _e(e["text"]) in row and _e(e["reason"]) in row
    assert "(part: <q>marmite</q>)" in rows[1]
    meds = re.search(r'<table id="medications-table">.*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr data-recognised="(yes|no)"><th scope="row">(.*?)</th>(.*?)</tr>', meds, re.S)
    assert [(r, name) for r, name, _ in rows] == [("yes", "Methotrexate 15 mg weekly"), ("no", "Zorblax 5 mg daily")]
    mtx = rows[0][2]
    assert "15 mg weekly" in mtx and "dmard" in mtx and "folic acid" in mtx  # the flags it sets and the note
    assert "none" in rows[1][2]
    assert "Works night shifts; eats &lt;b&gt;late&lt;/b&gt;." in html


def _without_new_fields(a):
    a = dataclasses.replace(a)
    for name in ("coverage", "to_fix", "assumed", "nutrients", "top_foods"):
        setattr(a, name, None)
    return a


def test_report_works_without_the_new_assessment_fields(base_plan, tmp_path):
    """No coverage fields on the assessment: coverage comes from the entries' match status."""
    plan = dataclasses.replace(base_plan, assessment=_without_new_fields(base_plan.assessment))
    files = write_plan_reports(plan, tmp_path / "out")
    html = _read(files, "plan.html")
    assert 'id="coverage-gate"' not in html and 'id="coverage-line"' not in html  # every example entry is counted
    d = _read(files, "dietitian_summary.html")
    assert 'data-nutrient="fiber_g"' in d and 'data-nutrient="energy_kcal"' in d and 'id="top-foods-fiber_g"' in d
    assert len(pd.read_csv(files["entries_to_fix.csv"])) == 0


def test_gate_from_the_match_status_when_the_assessment_has_no_coverage(base_plan, tmp_path):
    a = _without_new_fields(base_plan.assessment)
    items = a.items.copy()
    lost = items.index[: int(0.7 * len(items))]
    items.loc[lost, "match_status"] = "unmatched"
    items.loc[lost, "ndb_no"] = None
    items.loc[lost, "match_note"] = "no food matches these words"
    items.loc[lost, "candidates"] = "09003 APPLES,RAW,WITH SKIN; 09040 BANANAS,RAW"
    a.items = items
    files = write_plan_reports(dataclasses.replace(base_plan, assessment=a), tmp_path / "out")
    html = _read(files, "plan.html")
    body = _body(html)
    n, k = len(items), len(items) - len(lost)
    assert f"Only {k} of {n} foods could be counted" in body
    assert body.find('id="coverage-gate"') < body.find('<div class="card')
    assert "below target" not in html and 'data-rule="fiber_target"' not in html
    start, end = gate_span(html)
    assert "Did you mean APPLES,RAW,WITH SKIN or BANANAS,RAW?" in body[start:end]
    assert len(pd.read_csv(files["entries_to_fix.csv"])) == len(lost)


# --------------------------------------------------------------------------- CSV, JSON and PDF
def test_entries_to_fix_and_nutrients_csv_round_trip(low):
    plan, files = low
    back = pd.read_csv(files["entries_to_fix.csv"], dtype=str, keep_default_na=False)
    want = pd.DataFrame(TO_FIX)
    assert list(back.columns) == list(want.columns)
    for c in ("text", "item_text", "status", "reason", "candidates"):
        assert back[c].tolist() == want[c].tolist(), c
    assert back["source_row"].astype(int).tolist() == want["source_row"].tolist()
    assert pd.to_datetime(back["date"]).tolist() == want["date"].tolist()
    nut = pd.read_csv(files["nutrients.csv"], index_col=0)
    assert nut.index.tolist() == NUTRIENT_KEYS
    pd.testing.assert_series_equal(nut["per_day"], plan.assessment.nutrients["per_day"], check_names=False)
    assert nut.loc["protein_g", "per_kg"] == pytest.approx(0.93) and nut["per_kg"].iloc[1:].isna().all()
    assert nut["reference"].tolist() == plan.assessment.nutrients["reference"].tolist()
    top = pd.read_csv(files["top_foods.csv"])
    assert set(top["score"]) == set(TOP_KEYS) and "wholemeal toast | toast w/ jam" in top["examples"].tolist()
    data = json.loads(files["plan.json"].read_text(encoding="utf-8"))
    assert data["coverage"]["ok"] is False and data["coverage"]["n_counted"] == 11
    assert {"entries_to_fix.csv", "nutrients.csv"} <= set(data["files"])


def test_pdf_leads_with_coverage_and_has_the_nutrient_table(low, tmp_path):
    pdf = low[1]["dietitian_summary.pdf"]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed (Debian package `poppler-utils`)")
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    flat = re.sub(r"\s+", " ", text)
    assert CLIENT_STATEMENT in flat
    assert (
        flat.find(CLIENT_STATEMENT)
        < flat.find("Do not change your treatment")
        < flat.find("Scores against targets")
        < flat.find("Nutrients (mean per day")
    )
    nut = flat[flat.find("Nutrients (mean per day") :]
    for label in NUTRIENT_LABELS:
        assert label in nut, label
    assert "0.93 g/kg/day" in nut and "reference for vitamin_d_ug" in nut
    assert "Entries to check" in flat and "Brot mit Käse & Gouda" in flat
    assert "$4 smoothie" in flat  # not parsed as mathtext
    assert "Methotrexate 15 mg weekly" in flat and "The client logged" in flat


# --------------------------------------------------------------------------- in a browser
_PROBE = """<script>
(function () {
  var g = document.getElementById("coverage-gate"), h = g.querySelector(".gate-head");
  var card = document.querySelector(".card"), r = h.getBoundingClientRect(), cs = getComputedStyle(h);
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    top: r.top, bottom: r.bottom, left: r.left, right: r.right, vw: window.innerWidth, vh: window.innerHeight,
    card: card.getBoundingClientRect().top, text: h.textContent, color: cs.color, bg: cs.backgroundColor,
    display: cs.display, visibility: cs.visibility, opacity: cs.opacity}));
})();
</script>
</body>"""


def _luminance(css: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.browser
@pytest.mark.parametrize("size", ["1280,800", "390,844"])
def test_banner_is_visible_in_the_first_screen_in_headless_chromium(low, tmp_path, run_browser, size):
    html = _read(low[1], "plan.html")
    assert html.count("</body>") == 1
    page = tmp_path / "plan.html"
    page.write_text(html.replace("</body>", _PROBE), encoding="utf-8")
    proc = run_browser(
        tmp_path / "profile", f"--window-size={size}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert not console, "console messages:\n" + "\n".join(console)
    dom = proc.stdout
    assert re.search(r'<html[^>]*data-js="ok"', dom), "the report's script did not run to the end"
    probe = json.loads(htmllib.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert " ".join(probe["text"].split()) == BANNER
    assert probe["display"] != "none" and probe["visibility"] == "visible" and float(probe["opacity"]) == 1.0
    assert 0 <= probe["top"] < probe["bottom"] <= probe["vh"], probe  # wholly inside the first screen
    assert probe["left"] >= 0 and probe["right"] <= probe["vw"], probe
    assert probe["card"] > probe["bottom"], "a score card is drawn above the banner"
    hi, lo = sorted((_luminance(probe["color"]), _luminance(probe["bg"])), reverse=True)
    assert (hi + 0.05) / (lo + 0.05) >= 7.0, probe  # WCAG AAA contrast
    body = dom[dom.index("<body") :]
    assert body.find("these numbers are not your diet") < body.find('<div class="card')
