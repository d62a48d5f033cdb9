"""The plan's reports: every recommendation shown carries a grade and a citation; the PDF renders;
the HTML is self-contained and opens in headless Chromium without console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from gutaxis.lifestyle import plan as P
from gutaxis.lifestyle.person import Person, example_person, person_foods
from gutaxis.report.plan import write_plan_reports

GRADE_RE = re.compile(r'data-grade="([ABCG])"')


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (Debian package `{package}`; see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must provide it")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def assessment():
    person = example_person()
    foods, note = person_foods(person, prefer="person")
    return person, P.assess(person, foods, foods_note=note)


@pytest.fixture(scope="module")
def written(assessment, tmp_path_factory):
    person, a = assessment
    plan = P.build_plan(person, assessment=a, simulate=True, n_draws=40)
    return plan, write_plan_reports(plan, tmp_path_factory.mktemp("plan") / "out")


@pytest.fixture(scope="module")
def withheld(assessment, tmp_path_factory):
    _, a = assessment
    flagged = Person(
        id="FLAGGED", sex="female", age=46, conditions=["RA"], flags={"strong_immunosuppression": True}, synthetic=True
    )
    plan = P.build_plan(flagged, assessment=a, simulate=False)
    return plan, write_plan_reports(plan, tmp_path_factory.mktemp("plan") / "flagged")


def recommendation_blocks(html: str) -> list[str]:
    """Every element that shows a rule (``data-rule``), up to the next one."""
    starts = [m.start() for m in re.finditer(r"<(article|tr|li|p)\b[^>]*\bdata-rule=", html)]
    return [html[s:e] for s, e in zip(starts, [*starts[1:], len(html)], strict=True)]


def check_graded_and_cited(html: str) -> int:
    """Assert that every rule shown carries an evidence grade and a linked citation; return how many."""
    blocks = recommendation_blocks(html)
    for b in blocks:
        rule = re.search(r'data-rule="([^"]+)"', b).group(1)
        assert GRADE_RE.search(b[:400]), f"rule {rule} shown without an evidence grade"
        cite = re.search(r"data-citation[^>]*>(.*?)</(p|span|td)>", b, re.S)
        assert cite, f"rule {rule} shown without a citation"
        assert re.search(
            r'href="(https://doi\.org/10\.|https://pubmed\.ncbi\.nlm\.nih\.gov/\d+|https?://)', cite.group(1)
        ), f"rule {rule}: the citation has no DOI, PubMed or URL link"
    return len(blocks)


def test_files_written_and_logs_exported(written):
    plan, files = written
    for name in (
        "plan.html",
        "dietitian_summary.html",
        "dietitian_summary.pdf",
        "logged_meals.csv",
        "logged_stress.csv",
        "logged_symptoms.csv",
        "daily_scores.csv",
        "weekly_scores.csv",
        "recommendations.csv",
        "plan.json",
        "entries_to_fix.csv",
        "nutrients.csv",
        "top_foods.csv",
    ):
        assert files[name].is_file() and files[name].stat().st_size > 0, name
    p = plan.person
    assert len(pd.read_csv(files["logged_meals.csv"])) == len(p.meals)
    assert len(pd.read_csv(files["logged_stress.csv"])) == len(p.stress)
    assert len(pd.read_csv(files["logged_symptoms.csv"])) == len(p.symptoms)
    meals = pd.read_csv(files["logged_meals.csv"], dtype={"ndb_no": str})
    assert {"text", "ndb_no", "grams", "description", "match_status", "fiber_g", "energy_kcal"} <= set(meals.columns)
    assert len(pd.read_csv(files["daily_scores.csv"])) == 28 and len(pd.read_csv(files["weekly_scores.csv"])) == 4
    rec = pd.read_csv(files["recommendations.csv"])
    assert rec["grade"].isin(list("ABCG")).all() and rec["citation"].str.len().gt(10).all()


@pytest.mark.parametrize("name", ["plan.html", "dietitian_summary.html"])
def test_every_recommendation_shown_has_a_grade_and_a_citation(written, withheld, name):
    plan, files = written
    html = files[name].read_text(encoding="utf-8")
    n = check_graded_and_cited(html)
    assert n >= len(plan.shown())
    for s in plan.shown():
        assert f'data-rule="{s.id}"' in html, s.id
    html2 = withheld[1][name].read_text(encoding="utf-8")
    check_graded_and_cited(html2)
    assert 'data-rule="probiotic_ra"' in html2


def test_the_grade_and_citation_check_can_fail(written):
    html = written[1]["plan.html"].read_text(encoding="utf-8")
    no_cite = re.sub(
        r'(<article[^>]*data-rule="fiber_target".*?)<p class="cite" data-citation>.*?</p>',
        r"\1",
        html,
        count=1,
        flags=re.S,
    )
    assert no_cite != html
    with pytest.raises(AssertionError, match="fiber_target"):
        check_graded_and_cited(no_cite)
    no_grade = re.sub(
        r'(<article class="rec[^"]*" id="rec-fiber_target") data-grade="A"(.*?)<span class="grade[^>]*>A</span>',
        r"\1\2",
        html,
        count=1,
        flags=re.S,
    )
    no_grade = no_grade.replace(
        'data-rule="fiber_target">\n    <h3><span class="grade grade-A" title="Evidence grade A: '
        'meta-analysis of randomised trials, or a large randomised trial with a clinical outcome" '
        'data-grade="A">',
        'data-rule="fiber_target">\n    <h3><span>',
    )
    assert no_grade != html
    with pytest.raises(AssertionError):
        check_graded_and_cited(no_grade)


def test_withheld_probiotic_is_shown_with_its_reason(withheld):
    _plan, files = withheld
    for name in ("plan.html", "dietitian_summary.html"):
        html = files[name].read_text(encoding="utf-8")
        block = next(b for b in recommendation_blocks(html) if 'data-rule="probiotic_ra"' in b)
        assert "withheld" in block.lower() or "Withheld" in block
        assert "immunosuppressed" in block and "https://doi.org/10.1093/cid/civ085" in block
    rec = pd.read_csv(files["recommendations.csv"])
    assert rec.loc[rec["id"] == "probiotic_ra", "status"].item().startswith("withheld")
    assert "simulated effect not available" in files["plan.html"].read_text(encoding="utf-8")


def test_html_is_self_contained_and_framed(written):
    plan, files = written
    for name in ("plan.html", "dietitian_summary.html"):
        html = files[name].read_text(encoding="utf-8")
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', html)
        assert "This plan informs a conversation with your clinician or registered dietitian" in html
        assert "SYNTHETIC EXAMPLE" in html
        assert html.count("<svg") >= (2 if plan.effect.available and name == "plan.html" else 1)


def test_simulated_effect_in_the_reports(written):
    plan, files = written
    html = files["plan.html"].read_text(encoding="utf-8")
    if plan.effect.available:
        assert 'id="effect-table"' in html and "5th–95th percentile" in html
        eff = pd.read_csv(files["simulated_effect.csv"], index_col=0)
        assert {"il6", "crp", "disease_activity", "diversity", "butyrate", "permeability"} <= set(eff.index)
    else:
        assert 'id="effect-not-available"' in html and "simulated effect not available" in html


def test_pdf_renders_to_non_blank_pages(written, tmp_path):
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    pdf = written[1]["dietitian_summary.pdf"]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    proc = subprocess.run(
        [pdftoppm, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 3
    from PIL import Image

    for png in pages[:3]:
        with Image.open(png) as im:
            small = im.convert("L").resize((100, 141))
            colors = small.getcolors(maxcolors=100 * 141)
            assert colors is not None and len(colors) > 30, png.name  # text and figures, not a blank page
            white = sum(n for n, c in colors if c > 245) / (100 * 141)
            assert white < 0.97, png.name
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "Dietitian summary" in text and "Suggestions for discussion" in text
        assert "clinician or registered dietitian" in text and "doi:10.1016/S0140-6736(18)31809-9" in text


@pytest.mark.browser
@pytest.mark.parametrize("name", ["plan.html", "dietitian_summary.html"])
def test_html_opens_in_headless_chromium_without_console_errors(written, tmp_path, name, run_browser):
    html = written[1][name]
    png = tmp_path / "shot.png"
    proc = run_browser(
        tmp_path / "profile",
        "--window-size=1280,2000",
        "--virtual-time-budget=5000",
        f"--screenshot={png}",
        "--dump-dom",
        html.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert not console, "console messages:\n" + "\n".join(console)
    dom = proc.stdout
    assert 'id="js-error-marker"' not in dom
    assert re.search(r'<html[^>]*data-js="ok"', dom), "the report's script did not run to the end"
    assert 'class="sort"' in dom
    from PIL import Image

    with Image.open(png) as im:
        colors = im.convert("RGB").resize((128, 200)).getcolors(maxcolors=128 * 200)
        assert colors is not None and len(colors) > 150
    keep = os.environ.get("GUTAXIS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / f"lifestyle-{name}.png")
