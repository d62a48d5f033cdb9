"""The README's main command in a real browser: `gutaxis demo -o DIR`, then report.html opened by
headless Debian Chromium (no network), checking for console errors, script errors, the key
sections and a non-trivial screenshot.

Without Chromium the tests skip with a reason; where the environment variable CI is set they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SECTIONS_COHORT = ("summary", "groups", "ordination", "percentiles", "panels", "explanations", "methods")
SECTIONS_SINGLE = ("summary", "indices", "panels", "composition", "explanations", "methods")


def _console_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def _run_gutaxis(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("gutaxis")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "gutaxis"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "gutaxis-demo"
    proc = _run_gutaxis("demo", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").is_file()
    return out


def _open(run_browser, html: Path, tmp_path: Path, sections) -> tuple[str, Path]:
    """Load the page once: its DOM after the scripts ran, and a screenshot. Checks both."""
    png = tmp_path / f"{html.parent.name}.png"
    proc = run_browser(
        tmp_path / f"profile-{html.parent.name}",
        "--window-size=1280,2400",
        "--virtual-time-budget=5000",
        f"--screenshot={png}",
        "--dump-dom",
        html.as_uri(),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = _console_lines(proc.stderr)
    assert not console, "console messages:\n" + "\n".join(console)
    marker = re.search(r'<div[^>]*id="js-error-marker"[^>]*>[^<]*', dom)
    assert marker is None, marker.group(0)
    assert re.search(r'<html[^>]*data-js="ok"', dom), "the report's script did not run to the end"
    assert 'class="sort"' in dom  # sortable tables were set up by the script
    for section in sections:
        assert f'id="{section}"' in dom, section
    assert "This report informs a conversation with a clinician or registered dietitian" in dom
    _check_screenshot(png)
    return dom, png


def _check_screenshot(png: Path) -> None:
    assert png.is_file() and png.stat().st_size > 40_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1280, 2400)
        small = im.convert("RGB").resize((128, 240))
        colors = small.getcolors(maxcolors=128 * 240)
        assert colors is not None and len(colors) > 200  # text, tables and figures, not a blank page
        dominant = max(colors)[0] / (128 * 240)
        assert dominant < 0.9


def _keep(png: Path, name: str) -> None:
    """Copy a screenshot to $GUTAXIS_SCREENSHOT_DIR, for a person to look at."""
    keep = os.environ.get("GUTAXIS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / name)


def test_demo_report_opens_cleanly(run_browser, demo_dir, tmp_path):
    dom, png = _open(run_browser, demo_dir / "report.html", tmp_path, SECTIONS_COHORT)
    assert "SYNTHETIC" in dom
    assert dom.count("<svg") >= 2
    _keep(png, "demo-report.png")


def test_single_sample_report_opens_cleanly(run_browser, tmp_path):
    from gutaxis.demo import demo_cohort
    from gutaxis.report import write_report

    cohort = demo_cohort(n_healthy=20, n_dysbiotic=20, seed=2)
    path = write_report(cohort, tmp_path / "one", sample="DEMO-D04")
    dom, png = _open(run_browser, path, tmp_path, SECTIONS_SINGLE)
    assert "Percentile among healthy" in dom
    _keep(png, "single-report.png")


def test_a_broken_page_is_detected(run_browser, tmp_path):
    """The checks above can fail: a script error and an external resource are caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'\"><script>"
        + (Path(__file__).resolve().parents[1] / "src/gutaxis/report/templates/_errors.js.j2").read_text()
        + '</script></head><body><img src="https://example.org/x.png" alt=""><script>undefinedFunction();</script>'
        "</body></html>"
    )
    proc = run_browser(tmp_path / "profile-broken", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    assert 'id="js-error-marker"' in proc.stdout
    assert "undefinedFunction" in proc.stdout
    assert _console_lines(proc.stderr)
