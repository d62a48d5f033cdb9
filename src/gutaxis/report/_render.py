"""What every report shares: one Jinja environment over ``gutaxis/report/templates`` (:func:`render`)
and one way to turn a citation text into links (:func:`citations`).

Templates are autoescaped and strict (a name missing from the context is an error, not an empty
string); they include the shared ``_style.css.j2``, ``_script.js.j2`` and ``_errors.js.j2``.
"""

from __future__ import annotations

import functools
import re

__all__ = ["citations", "render"]


@functools.cache
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("gutaxis.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, **context) -> str:
    """The text of the report template ``template`` (a file name in ``gutaxis/report/templates``)
    rendered with ``context``."""
    return _environment().get_template(template).render(**context)


# A reference ends at "; " (or at ";" right before the next identifier), never at the ";" of a
# journal's "2021;15:171-94".
_SPLIT = re.compile(r";(?:\s+|$|(?=(?:doi|pmid|pmcid|https?)\b))", re.I)
_DOI = re.compile(r"doi:\s*(10\.[^\s/;,]+/\S+?)(?=[\s;,]|$)", re.I)
_PMID = re.compile(r"PMID:?\s*(\d{1,9})\b", re.I)
_PMCID = re.compile(r"PMCID:?\s*(PMC\d+)\b", re.I)
_URL = re.compile(r"https?://\S+")


def citations(text) -> list[dict]:
    """Split a citation text (``"Author. Journal 2019;393:434-45 doi:...; PMID: ...; Other ..."``)
    into references, each ``{"text": ..., "href": ...}`` linked to its DOI, else its PubMed ID,
    else its PubMed Central ID, else its URL (``href`` None when it has none of these).

    >>> [c["href"] for c in citations("Smith J. Gut 2016;65:57-62 doi:10.1136/gutjnl-2015-309618.; PMID: 1234567")]
    ['https://doi.org/10.1136/gutjnl-2015-309618', 'https://pubmed.ncbi.nlm.nih.gov/1234567/']
    """
    out = []
    for part in [p.strip() for p in _SPLIT.split(str(text or "")) if p.strip()]:
        href = None
        if m := _DOI.search(part):
            href = "https://doi.org/" + m.group(1).rstrip(".")
        elif m := _PMID.search(part):
            href = f"https://pubmed.ncbi.nlm.nih.gov/{m.group(1)}/"
        elif m := _PMCID.search(part):
            href = f"https://www.ncbi.nlm.nih.gov/pmc/articles/{m.group(1).upper()}/"
        elif m := _URL.search(part):
            href = m.group(0).rstrip(".,;")
        out.append({"text": part, "href": href})
    return out
