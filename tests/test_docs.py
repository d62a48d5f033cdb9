"""The documentation site: every public name has a rendered reference page.

The full build (tutorials executed, warnings as errors) runs in `.ci/run` via `docs/build`; here
the site is built without executing the tutorials, into a temporary folder, and the API pages
are checked against ``gutaxis.__all__`` itself, so a new public function without a page fails.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gutaxis

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    sphinx = Path(sys.executable).with_name("sphinx-build")
    r = subprocess.run(
        [str(sphinx), "-W", "--keep-going", "-q", "-b", "html", "-D", "nb_execution_mode=off", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    return out


def _page_text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_every_public_name_has_a_reference_page_with_its_docstring(site):
    names = [n for n in gutaxis.__all__ if n != "__version__"]
    assert len(names) > 40
    missing, undocumented = [], []
    for name in names:
        page = site / "api" / "generated" / f"gutaxis.{name}.html"
        if not page.is_file():
            missing.append(name)
            continue
        doc = inspect.getdoc(getattr(gutaxis, name)) or ""
        first = re.sub(r"[`*]", "", doc.strip().splitlines()[0]) if doc.strip() else ""
        words = re.findall(r"[A-Za-z]{4,}", first)[:4]  # the summary line's words, as rendered
        text = _page_text(page)
        if not first or not all(w in text for w in words):
            undocumented.append(name)
    assert not missing, f"no reference page for {missing}"
    assert not undocumented, f"reference page without the docstring's summary for {undocumented}"


def test_tutorials_and_guides_are_in_the_site(site):
    for page in (
        "tutorials/association-study",
        "tutorials/lupus-classifier",
        "tutorials/fermented-food-trial",
        "tutorials/dietitian-plan",
        "link",
        "classify",
        "axis",
        "lifestyle",
        "webapp",
        "changelog",
    ):
        assert (site / f"{page}.html").is_file(), page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "tutorials/lupus-classifier.html" in index and "api/index.html" in index


def test_a_broken_reference_fails_the_build(tmp_path):
    """Warnings are errors: a page with a dangling cross-reference does not build."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser"]\n')
    (src / "index.md").write_text("# t\n\nSee {ref}`no-such-label`.\n")
    sphinx = Path(sys.executable).with_name("sphinx-build")
    r = subprocess.run(
        [str(sphinx), "-W", "-q", "-b", "html", str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode != 0 and "no-such-label" in r.stderr
