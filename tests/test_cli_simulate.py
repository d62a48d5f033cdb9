"""``gutaxis simulate``: the shipped example runs offline and writes its report; errors are one line.

The report (template ``gutaxis/report/templates/simulate.html.j2``) is checked for its content, for
every number of its tables against the TSV files written beside it, and in headless Chromium for
console errors and horizontal overflow (skipped without Chromium, failing where CI is set).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections import defaultdict
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutaxis.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The example run once for the module: (output folder, CLI output)."""
    out = tmp_path_factory.mktemp("simulate") / "sim"
    r = runner.invoke(app, ["simulate", "example", "-o", str(out), "--replicates", "20", "--n-candidates", "600"])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_simulate_example_writes_report(sim):
    out, output = sim
    assert f"report written to {out / 'report.html'}" in output
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Context of use" in html
    for name in ("summary.tsv", "comparisons.tsv", "result.json"):
        assert (out / name).is_file()
    assert (out / "trajectories.nc").is_file() or (out / "trajectories.tsv.gz").is_file()
    doc = json.loads((out / "result.json").read_text())
    comp = {(c["arm"], c["endpoint"]): c for c in doc["comparisons"]}
    assert comp[("fermented", "R")]["smd"] > 0  # fermented food raises diversity
    assert doc["provenance"]["n_patients"] > 40


def test_report_is_self_contained_and_says_what_it_is(sim):
    out, _ = sim
    html = (out / "report.html").read_text()
    doc = json.loads((out / "result.json").read_text())
    # nothing is loaded from elsewhere: no external scripts, styles, images or fonts
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\ssrc\s*=", html) and "@import" not in html
    assert not re.search(r"url\((?!#)", html) and not re.search(r"href=\"(?!#|https?://)", html)  # in-page only
    assert re.search(r"<style>\s*:root", html)  # the shared style of the other reports (_style.css.j2)
    assert "js-error-marker" in html  # the shared script that records errors in the page
    for section in ("summary", "about", "design", "trajectories", "change", "trials", "methods"):
        assert f'id="{section}"' in html, section
    # scenario, design and what the reader needs to know
    assert "Fermented food vs high fiber (Wastyk 2021 design)" in html
    assert "Virtual healthy adults follow a high-fermented-food" in html
    assert "doi:10.1016/j.cell.2021.06.019" in html
    assert "What this is" in html and "What it is not" in html
    assert "Not a prediction of what will happen to any one person" in html
    assert "informs a conversation with a clinician or registered dietitian" in html
    assert "fermented food +6 servings/d over the usual intake, day 0 to 70, full size after a 28-day ramp" in html
    # the model version and parameters provenance of the result
    prov = doc["provenance"]
    methods = html[html.index('id="methods"') :]
    for value in (
        prov["gutaxis_version"],
        prov["sha256"],
        f"population seed {prov['population_seed']}",
        f"{prov['n_candidates']} plausible-patient candidates",
        f"step {prov['dt']} d",
        prov["scheme"],
        "axis_parameters.tsv",
    ):
        assert str(value) in methods, value
    # the trajectory figure: one matplotlib SVG with an axes per endpoint, text kept as text
    figure = html[html.index('id="trajectories"') : html.index('id="change"')]
    assert figure.count("<svg") == 1 and 'role="img"' in figure and "<title>" in figure
    for label in ("diversity (effective taxa)", "faecal butyrate (mM)", "Treg (% CD4+)"):
        assert label in figure


# --------------------------------------------------------------------------- tables against the TSV files
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Cells(HTMLParser):
    """Every element with ``data-col`` (its table, row attributes, data-value/-key and text), and every
    numeric table cell (``td.num``) with whether it holds such an element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.table = None
        self.row = {}
        self.open = []  # (tag, cell dict or None, td.num dict or None)
        self.cells = []
        self.num_tds = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr":
            self.row = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
        if tag in _VOID:
            return
        cell = td = None
        if "data-col" in a:
            cell = {
                "table": self.table,
                "row": dict(self.row),
                "col": a["data-col"],
                "value": a.get("data-value"),
                "key": a.get("data-key"),
                "text": "",
            }
            self.cells.append(cell)
            for _, _, t in self.open:
                if t is not None:
                    t["marked"] = True
        if tag == "td" and "num" in a.get("class", "").split():
            td = {"table": self.table, "row": dict(self.row), "marked": False}
            self.num_tds.append(td)
        self.open.append((tag, cell, td))

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        while self.open:
            if self.open.pop()[0] == tag:
                break
        if tag == "tr":
            self.row = {}

    def handle_data(self, data):
        for _, cell, _ in self.open:
            if cell is not None:
                cell["text"] += data


def _check_number(cell, expected: float, where: str) -> None:
    text = cell["text"].strip()
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        assert text == "—" and cell["value"] == "", where
        return
    expected = float(expected)
    # the full-precision value behind the cell (the TSV has 6 significant digits)
    assert math.isclose(float(cell["value"]), expected, rel_tol=1e-5, abs_tol=1e-12), (where, cell["value"], expected)
    # the number a reader sees: the TSV value rounded to the digits shown
    scale = 100.0 if cell["col"] == "power" else 1.0
    shown = Decimal(text)
    unit = 10.0 ** shown.as_tuple().exponent
    tol = 0.5 * unit * (1 + 1e-9) + 1e-5 * abs(expected * scale) + 1e-12
    assert abs(float(shown) - expected * scale) <= tol, (where, text, expected)


@pytest.mark.parametrize("table_id,tsv", [("summary-table", "summary.tsv"), ("comparisons-table", "comparisons.tsv")])
def test_report_tables_match_the_tsv_files(sim, table_id, tsv):
    from gutaxis.axis.scenario import ENDPOINT_LABELS

    out, _ = sim
    parser = _Cells()
    parser.feed((out / "report.html").read_text(encoding="utf-8"))
    frame = pd.read_csv(out / tsv, sep="\t", keep_default_na=True)
    assert len(frame) > 0
    rows = {(r["arm"], r["endpoint"], int(r["day"])): r for r in frame.to_dict("records")}
    shown, constants = defaultdict(dict), {}
    for cell in (c for c in parser.cells if c["table"] == table_id):
        if cell["row"]:
            key = (cell["row"]["arm"], cell["row"]["endpoint"], int(cell["row"]["day"]))
            assert cell["col"] not in shown[key], (key, cell["col"])
            shown[key][cell["col"]] = cell
        else:  # a value that is the same on every row, given once in the caption
            constants[cell["col"]] = cell
    assert set(shown) == set(rows)
    for key, row in rows.items():
        for col, expected in row.items():
            cell = shown[key].get(col) or constants.get(col)
            assert cell is not None, f"{table_id}: {col} of {key} is not in the HTML"
            where = f"{table_id} {key} {col}"
            if isinstance(expected, str):
                assert (cell["key"] or cell["text"].strip()) == expected, (where, cell)
                if col == "endpoint":
                    assert cell["text"].strip() == ENDPOINT_LABELS.get(expected, expected), where
            else:
                _check_number(cell, expected, where)
        extra = set(shown[key]) - set(row)
        assert not extra, f"{table_id}: {extra} shown but not in {tsv}"
    # every numeric cell of the table shows a checked value
    tds = [t for t in parser.num_tds if t["table"] == table_id]
    assert tds and all(t["marked"] for t in tds)


# --------------------------------------------------------------------------- headless Chromium
#: appended to a copy of the report: records the page's horizontal overflow on <html> for --dump-dom
_PROBE = """<script>
window.addEventListener("load", function () {
  var d = document.documentElement, bad = [];
  Array.prototype.forEach.call(document.querySelectorAll(".table-wrap, figure, main, header, nav, footer, section"),
    function (el) {
      if (el.scrollWidth > el.clientWidth + 1) {
        bad.push((el.id || el.className || el.tagName.toLowerCase()) + ":" + el.scrollWidth + ">" + el.clientWidth);
      }
    });
  d.setAttribute("data-probe-width", String(d.clientWidth));
  d.setAttribute("data-probe-page", String(d.scrollWidth - d.clientWidth));
  d.setAttribute("data-probe-boxes", bad.join(" "));
});
</script>"""


def _probe(run_browser, page: Path, tmp_path: Path, width: int, height: int = 2400, screenshot: Path | None = None):
    """Open a copy of ``page`` with the overflow probe: (DOM after the scripts ran, console lines)."""
    probed = page.with_name(f"probed-{width}-{page.name}")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "\n</body>"), encoding="utf-8")
    args = [f"--window-size={width},{height}", "--virtual-time-budget=5000"]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    proc = run_browser(tmp_path / f"profile-{width}", *args, "--dump-dom", probed.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return proc.stdout, console


def _attr(dom: str, name: str) -> str:
    m = re.search(rf'<html[^>]*\s{name}="([^"]*)"', dom)
    assert m, f"{name} not set: the probe did not run"
    return m.group(1)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 500])  # 500: the narrowest window of headless Chromium
def test_report_opens_in_headless_chromium_without_errors_or_overflow(sim, tmp_path, width, run_browser):
    out, _ = sim
    png = tmp_path / f"simulate-{width}.png"
    dom, console = _probe(run_browser, out / "report.html", tmp_path, width, screenshot=png)
    assert not console, "console messages:\n" + "\n".join(console)
    assert 'id="js-error-marker"' not in dom
    assert re.search(r'<html[^>]*data-js="ok"', dom), "the report's script did not run to the end"
    assert 'class="sort"' in dom  # the shared sortable-table script set up the tables
    viewport = int(_attr(dom, "data-probe-width"))
    assert viewport <= width
    assert int(_attr(dom, "data-probe-page")) <= 0, f"the page scrolls sideways at {viewport} px"
    boxes = _attr(dom, "data-probe-boxes").split()
    if width >= 1280:  # on a desktop screen even the tables fit without scrolling
        assert not boxes, f"content wider than its box at {viewport} px: {boxes}"
    else:  # on a narrow screen only the tables may scroll, inside their own box
        assert all(b.startswith("table-wrap:") for b in boxes), boxes
    from PIL import Image

    with Image.open(png) as im:
        colors = im.convert("RGB").resize((128, 240)).getcolors(maxcolors=128 * 240)
        assert colors is not None and len(colors) > 150  # text, tables and the figure, not a blank page
    keep = os.environ.get("GUTAXIS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


@pytest.mark.browser
def test_the_overflow_probe_can_fail(tmp_path, run_browser):
    page = tmp_path / "wide.html"
    page.write_text('<!doctype html><html><body><main><div style="width:3000px">wide</div></main></body></html>')
    dom, _ = _probe(run_browser, page, tmp_path, 1280, height=600)
    assert int(_attr(dom, "data-probe-page")) > 0 and "main:" in _attr(dom, "data-probe-boxes")


# --------------------------------------------------------------------------- errors
def test_simulate_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_days: 10\narms:\n  a:\n    interventions:\n      - {input: coffee, shift: 2}\n")
    r = runner.invoke(app, ["simulate", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "unknown input 'coffee'" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["simulate", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output


@pytest.mark.parametrize(
    "text,msg",
    [
        ("duration_days: 10\narms: {}\n", "arms must be"),
        ("duration_days: 10\narms: {a: {}}\ncontrol: b\n", "control arm"),
        ("duration_days: 10\narms: {a: {}}\nendpoints: [zonulin]\n", "unknown output"),
        ("arms: {a: {}}\n", "duration_days"),
    ],
)
def test_scenario_validation(text, msg):
    from gutaxis.axis.scenario import load_scenario
    from gutaxis.errors import InputError

    with pytest.raises(InputError, match=msg):
        load_scenario(text)


# --------------------------------------------------------------------------- provenance of the overrides
def _simulate(*args) -> None:
    r = runner.invoke(app, ["simulate", *args])
    assert r.exit_code == 0, r.output


def test_overrides_are_recorded_and_a_rerun_reproduces_the_tables(sim, tmp_path):
    import hashlib

    import yaml

    from gutaxis.axis.scenario import example_scenario_path, load_scenario

    out = tmp_path / "o"
    _simulate("example", "-o", str(out), "--replicates", "5", "--seed", "7", "--n-candidates", "600")
    doc = json.loads((out / "result.json").read_text())
    prov = doc["provenance"]
    # the scenario as read: the shipped file, unchanged by the overrides
    example = example_scenario_path()
    assert prov["scenario_file_sha256"] == hashlib.sha256(example.read_bytes()).hexdigest()
    assert prov["scenario_path"] == str(example)
    first = json.loads((sim[0] / "result.json").read_text())["provenance"]  # --replicates 20 --n-candidates 600
    assert prov["scenario_file_sha256"] == first["scenario_file_sha256"] and prov["sha256"] == first["sha256"]
    # the effective settings: every override with its value, the values used, a hash of what ran
    assert prov["overrides"] == {"replicates": 5, "n_candidates": 600, "seed": 7}
    assert first["overrides"] == {"replicates": 20, "n_candidates": 600}
    assert (prov["replicates"], prov["seed"], prov["n_candidates"], prov["n_per_arm"]) == (5, 7, 600, 18)
    unchanged = load_scenario(example).effective_source()  # what runs without overrides
    assert prov["sha256"] == hashlib.sha256(json.dumps(unchanged, sort_keys=True).encode()).hexdigest()
    assert len({prov["effective_sha256"], prov["sha256"], first["effective_sha256"]}) == 3
    assert doc["scenario_effective"]["trial"]["replicates"] == 5 and doc["scenario_effective"]["seed"] == 7
    assert doc["scenario"]["trial"]["replicates"] == 200 and doc["scenario"]["seed"] == 1  # as read
    assert prov["command"] == f"gutaxis simulate example -o {out} --replicates 5 --n-candidates 600 --seed 7"
    assert prov["gutaxis_version"] and prov["python_version"] and prov["numpy_version"]
    assert prov["parameter_table"]["sha256"]
    html = (out / "report.html").read_text()
    methods = html[html.index('id="methods"') :]
    assert '<p id="overrides">Command-line overrides: replicates = 5, n_candidates = 600, seed = 7</p>' in methods
    for value in (
        prov["effective_sha256"],
        prov["scenario_file_sha256"],
        prov["parameter_table"]["sha256"],
        f"numpy {prov['numpy_version']}",
    ):
        assert value in methods, value

    # re-run 1: the recorded effective scenario, saved as YAML -> the same tables, bit for bit
    eff = tmp_path / "effective.yaml"
    eff.write_text(yaml.safe_dump(doc["scenario_effective"], sort_keys=False))
    _simulate(str(eff), "-o", str(tmp_path / "again"))
    for name in ("summary.tsv", "comparisons.tsv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    again = json.loads((tmp_path / "again" / "result.json").read_text())["provenance"]
    assert again["overrides"] == {} and again["sha256"] == again["effective_sha256"] == prov["effective_sha256"]
    assert "Command-line overrides: none" in (tmp_path / "again" / "report.html").read_text()

    # re-run 2: the same file with the recorded overrides as options
    options = [a for k, v in prov["overrides"].items() for a in (f"--{k.replace('_', '-')}", str(v))]
    _simulate("example", "-o", str(tmp_path / "same"), *options)
    assert (tmp_path / "same" / "summary.tsv").read_bytes() == (out / "summary.tsv").read_bytes()
    assert (
        json.loads((tmp_path / "same" / "result.json").read_text())["provenance"]["effective_sha256"]
        == prov["effective_sha256"]
    )
