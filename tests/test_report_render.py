"""The one Jinja environment and the one citation parser every report uses (report/_render.py).
Expected links are written out by hand from the identifiers in each text."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from gutaxis.report._render import citations, render


def test_a_journal_volume_semicolon_does_not_split_a_reference():
    refs = citations("Tanaka M et al. Cell 2021;184:4137-53 doi:10.1016/j.cell.2021.06.019; PMID: 34256014")
    assert [r["text"] for r in refs] == [
        "Tanaka M et al. Cell 2021;184:4137-53 doi:10.1016/j.cell.2021.06.019",
        "PMID: 34256014",
    ]
    assert [r["href"] for r in refs] == [
        "https://doi.org/10.1016/j.cell.2021.06.019",
        "https://pubmed.ncbi.nlm.nih.gov/34256014/",
    ]


def test_each_identifier_kind_and_none():
    refs = citations("PMCID: pmc7175436;doi:10.1038/nature11234.; https://example.org/a.pdf, ; A book, 2004")
    assert [r["href"] for r in refs] == [
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7175436/",  # upper-cased, as PMC writes it
        "https://doi.org/10.1038/nature11234",  # the sentence's full stop is not part of the DOI
        "https://example.org/a.pdf",
        None,
    ]
    assert citations("") == [] and citations(None) == []


def test_the_doi_wins_over_a_pmid_in_one_reference():
    (ref,) = citations("Smith J. Gut 2016 PMID 26416813 doi:10.1136/gutjnl-2015-309618")
    assert ref["href"] == "https://doi.org/10.1136/gutjnl-2015-309618"


def test_render_is_strict():
    # a real report template: a missing context name is an error, not an empty string
    with pytest.raises(UndefinedError):
        render("meta.html.j2")


def test_coverage_line_says_a_bound_once():
    """99.6 % of energy is "over 99%", never "about over 99%" (seen on a typed week's plan)."""
    from types import SimpleNamespace

    from gutaxis.report.plan_meal_log import _coverage

    cov = {"n_entries": 8, "n_counted": 7, "share_entries": 7 / 8, "share_energy": 0.996, "ok": True}
    line = _coverage(SimpleNamespace(coverage=cov, items=None))["statement"]
    assert line.startswith("7 of 8 foods you logged were counted (88% of entries, over 99% of energy)")
    cov["share_energy"] = 0.5
    assert "(88% of entries, about 50% of energy)" in _coverage(SimpleNamespace(coverage=cov, items=None))["statement"]
