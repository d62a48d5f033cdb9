"""Read plain CSV/TSV abundance tables in either orientation.

The first column (or the column named like ``Species``, ``clade_name``, ``#OTU ID``, ``ID``,
``SampleID``...) holds the IDs; the header row holds the other axis. Leading ``#`` comment
lines are skipped, except a last ``#`` line that looks like the header (``#OTU ID<TAB>...``
of a BIOM-converted table). A ``taxonomy``/``lineage`` column of a taxa-as-rows table gives the
lineage; NCBI taxid and confidence columns are annotation and are not samples.

Orientation, when not given, is decided from (in order): sample IDs known from metadata; the
name of the ID column (``Species`` vs ``SampleID``); a taxonomy column; which axis has
lineage-like names (``k__...``, ``s__Genus_species``, ``Genus species``); and, without any of
these, the feature-table convention (taxa as rows). The decision and its reason are logged and
recorded in ``uns["provenance"]["orientation"]`` / ``["orientation_reason"]``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .._typing import AnnDataObject
from ..errors import InputError
from ._container import build_cohort, file_sha256, format_ids
from ._text import fast_parse, parse_delimited, read_lines, split_fields, to_numbers

__all__ = ["ORIENTATIONS", "read_table"]

log = logging.getLogger("gutaxis.io")

#: Values of ``orientation=``.
ORIENTATIONS = ("auto", "samples-as-rows", "samples-as-columns")

_TAXON_ID_NAMES = {
    "species",
    "genus",
    "family",
    "cladename",
    "clade",
    "otuid",
    "otu",
    "featureid",
    "feature",
    "asv",
    "asvid",
    "taxon",
    "taxa",
    "taxonid",
    "taxonomyid",
    "lineage",
    "bug",
    "bugs",
    "sgb",
    "taxname",
    "organism",
}
_SAMPLE_ID_NAMES = {
    "sampleid",
    "sampleids",
    "sample",
    "samplename",
    "samples",
    "run",
    "runid",
    "runaccession",
    "subject",
    "subjectid",
    "specimen",
    "specimenid",
    "biosample",
}
_NEUTRAL_ID_NAMES = {"id", "name", "index", ""}
_LINEAGE_COLUMNS = {"taxonomy", "lineage", "consensuslineage", "taxonomicassignment"}
_ANNOTATION_COLUMNS = {"ncbitaxid", "cladetaxid", "taxid", "ncbitaxonid", "confidence", "additionalspecies"}
_SPECIAL_KEYS = _TAXON_ID_NAMES | _SAMPLE_ID_NAMES | _NEUTRAL_ID_NAMES | _LINEAGE_COLUMNS | _ANNOTATION_COLUMNS
_TAXON_LIKE = re.compile(
    r"^\s*(?:[kdpcofgst]__|D_\d+__)"  # rank prefix
    r"|[|;]\s*[a-z]__"  # prefixed lineage
    r"|^\s*\[?[A-Z][a-z]+\]?[ _](?:[a-z][a-z-]+|sp\.?)(?:[ _].*)?$"  # Genus species
    r"|^(?:UNKNOWN|UNCLASSIFIED|Unassigned)$"
)


_KEY_DROP = str.maketrans("", "", " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f_#-.")
_KEY_SEP = re.compile(r"[\s_#\-.]+")


def _key(name: str) -> str:
    name = str(name)
    if name.isascii():  # str.translate: the header of a wide table has a million names
        return name.translate(_KEY_DROP).lower()
    return _KEY_SEP.sub("", name).lower()


def read_table(
    path: str | os.PathLike,
    *,
    orientation: str = "auto",
    sep: str | None = None,
    sample_ids: Iterable[str] | None = None,
    keep_values: bool = False,
) -> AnnDataObject:
    """Read a CSV/TSV abundance table.

    Parameters
    ----------
    path
        The table (may be gzip/bzip2 compressed).
    orientation
        ``"samples-as-rows"``, ``"samples-as-columns"`` or ``"auto"`` (detected; the decision
        is logged and recorded in provenance).
    sep
        Field separator; detected from the header line (tab, comma or semicolon) when omitted.
    sample_ids
        Known sample IDs (e.g. from metadata) that help the orientation detection. IDs that
        match only when letter case is ignored (``S1`` and ``s1``) still show which axis holds
        the samples (the join then names them as differing in case).
    keep_values
        Keep the values as given in ``layers["values"]`` and accept samples that sum to zero
        (see ``gutaxis.io._container.build_cohort``).

    Returns
    -------
    anndata.AnnData
        Samples x taxa. ``X`` = each sample's values divided by its total (proportions; the
        values are kept as given otherwise, nothing is dropped). When every value is an integer,
        the raw values are kept in ``layers["counts"]``. ``var_names`` are the IDs as given;
        ``var`` lineage columns come from a taxonomy column or from the IDs.

    Raises
    ------
    InputError
        For empty tables, non-numeric/missing/negative cells, duplicate IDs, samples summing to
        zero, ragged rows, a header and rows split by different separators, and a given
        ``orientation`` that names the samples like taxa (``s__...``, ``k__...|p__...``; sample
        names that only look like binomials are warned about).
    """
    if orientation not in ORIENTATIONS:
        raise InputError(
            f"unknown orientation {orientation!r}", source=path, hint=f"use one of {', '.join(ORIENTATIONS)}"
        )
    source = str(path)
    requested = {"orientation": orientation, "sep": sep}
    lines = read_lines(path)
    if not len(lines):
        raise InputError("the table is empty", source=source, hint="check that the file was written completely")
    header_at = _header_index(lines.text, source)
    header_line = lines.text[header_at]
    if sep is None:
        sep = _sniff_sep(header_line, lines.text[header_at + 1 : header_at + 6], source)
    header = split_fields(header_line.lstrip("#") if header_line.startswith("#") else header_line, sep)
    body = [
        (t, n)
        for t, n in zip(lines.text[header_at + 1 :], lines.number[header_at + 1 :], strict=True)
        if not t.startswith("#")
    ]
    texts = [t for t, _ in body]
    numbers = [n for _, n in body]
    if len(header) < 2:
        raise InputError(
            f"the header (line {lines.number[header_at]}) has a single column",
            source=source,
            hint="a table needs an ID column and at least one value column; check the separator",
        )
    if not texts:
        raise InputError(
            "the table has a header but no rows", source=source, hint="check that the file was written completely"
        )
    _check_same_separator(header_line, sep, texts, numbers, lines.number[header_at], source)
    if _r_style_header(header, texts, sep):
        # R's write.table: the header has no name for the row-name column
        header = ["", *header]
        log.info("%s: the header has one field less than the rows; the first column holds the IDs", source)

    # the few header names that mean something (not a list of a million keys: wide tables)
    keys = {i: k for i, k in enumerate(map(_key, header)) if k in _SPECIAL_KEYS}
    id_col = next((i for i, k in keys.items() if k in _TAXON_ID_NAMES | _SAMPLE_ID_NAMES | {"id"}), 0)
    lineage_col = next((i for i, k in keys.items() if k in _LINEAGE_COLUMNS and i != id_col), None)
    annotation = [i for i, k in keys.items() if k in _ANNOTATION_COLUMNS and i not in (id_col, lineage_col)]
    value_cols = [i for i in range(len(header)) if i not in {id_col, lineage_col, *annotation}]
    if not value_cols:
        raise InputError(
            "the table has no value columns",
            source=source,
            hint="a table needs an ID column and at least one value column",
        )
    col_ids = [header[i] for i in value_cols]
    _check_header(col_ids, source, lines.number[header_at])
    text_cols = [id_col] + ([lineage_col] if lineage_col is not None else [])
    fast = fast_parse(texts, sep, len(header), value_cols, text_cols)
    if fast is not None:
        values, text = fast
        row_ids = text[id_col]
        lineage_values = text.get(lineage_col) if lineage_col is not None else None
        _check_ids(row_ids, numbers, "row", source)
    else:  # slow path: find and name the bad cell
        cells = parse_delimited(texts, numbers, sep, len(header), source)
        row_ids = [str(c).strip() for c in cells[:, id_col]]
        lineage_values = [str(c) for c in cells[:, lineage_col]] if lineage_col is not None else None
        _check_ids(row_ids, numbers, "row", source)
        values = to_numbers(
            cells[:, value_cols], row_ids, col_ids, source=source, row_kind="row", col_kind="column", row_lines=numbers
        )

    if orientation == "auto":
        orientation, reason = _detect_orientation(
            row_ids, col_ids, _key(header[id_col]), lineage_col is not None, sample_ids
        )
        level = logging.WARNING if reason.startswith("no evidence") else logging.INFO
        log.log(level, "%s: orientation %s (%s)", source, orientation, reason)
    else:
        reason = "given"
    notes = []
    if orientation == "samples-as-columns":
        matrix, samples, features = values.T, col_ids, row_ids
        lineage = lineage_values
    else:
        if lineage_col is not None:
            raise InputError(
                f"a {header[lineage_col]!r} column only makes sense with taxa as rows",
                source=source,
                hint="pass orientation='samples-as-columns', or remove that column",
            )
        matrix, samples, features = values, row_ids, col_ids
        lineage = None
    if reason == "given":
        notes += _check_given_orientation(samples, features, orientation, source)
    extra: dict[str, Any] = {
        "orientation": orientation,
        "orientation_reason": reason,
        "separator": sep,
        "id_column": header[id_col],
    }
    depths = {f.count("|") for f in features if f.startswith(("k__", "d__")) and "__" in f}
    if len(depths) > 1:
        note = (
            "feature IDs are MetaPhlAn-style lineages at several ranks, so each organism is counted at "
            "every rank; read the file with read_metaphlan (tab-separated) or keep one rank"
        )
        log.warning("%s: %s", source, note)
        notes.append(note)
    if notes:
        extra["notes"] = notes
    if annotation:
        extra["annotation_columns"] = [header[i] for i in annotation]
    return build_cohort(
        matrix,
        samples,
        features,
        source=path,
        reader="table",
        sha256=file_sha256(path),
        params=requested,
        scale="total",
        lineage=lineage,
        extra_provenance=extra,
        keep_values=keep_values,
    )


def _header_index(text: list[str], source: str) -> int:
    """Index of the header line: the first non-``#`` line, or a last leading ``#`` line with fields."""
    i = 0
    while i < len(text) and text[i].startswith("#"):
        i += 1
    if i == len(text):
        raise InputError("the file holds only comment lines", source=source, hint="give a table with a header row")
    if i > 0:
        last = text[i - 1]
        first_data = text[i]
        for sep in ("\t", ",", ";"):
            if sep in last and last.count(sep) >= first_data.count(sep) > 0:
                return i - 1
    return i


def _r_style_header(header: list[str], texts: list[str], sep: str) -> bool:
    """R's ``write.table``: every row has one field more than a header that names no ID column."""
    if _key(header[0]) in _TAXON_ID_NAMES | _SAMPLE_ID_NAMES | _NEUTRAL_ID_NAMES:
        return False
    width = len(header) + 1
    for text in texts:
        fields = split_fields(text, sep) if '"' in text else text.split(sep)
        if len(fields) != width or fields[-1].strip() == "":
            return False
    return True


def _sniff_sep(header: str, rows: Sequence[str], source: str) -> str:
    for sep in ("\t", ",", ";"):
        if sep in header:
            return sep
    for sep in ("\t", ",", ";"):
        if rows and all(sep in r for r in rows):
            return sep
    raise InputError(
        "cannot find the column separator (tab, comma or semicolon) in the header",
        source=source,
        hint="pass sep=... or save the table as CSV/TSV",
    )


def _check_ids(ids: list[str], numbers: list[int], kind: str, source: str) -> None:
    for ident, line in zip(ids, numbers, strict=True):
        if not ident or ident.lower() in ("nan", "na"):
            raise InputError(
                f"{kind} at line {line} has an empty ID", source=source, hint="give every row an ID in the first column"
            )


def _check_header(ids: list[str], source: str, line: int) -> None:
    seen = set()
    for i, ident in enumerate(ids):
        if not ident:
            raise InputError(
                f"column {i + 2} of the header (line {line}) has no name", source=source, hint="name every column"
            )
        if ident in seen:
            raise InputError(
                f"duplicate column name {ident!r} in the header (line {line})",
                source=source,
                hint="make sample/taxon IDs unique",
            )
        seen.add(ident)


_SEP_NAMES = {"\t": "tabs", ",": "commas", ";": "semicolons"}


def _check_same_separator(
    header: str, sep: str, texts: list[str], numbers: list[int], header_line: int, source: str
) -> None:
    """A header split by one separator over rows split by another is named as such (not as
    missing values in rows of one field)."""
    head = texts[:5]
    if sep not in header or any(sep in t for t in head):
        return
    for other in ("\t", ",", ";"):
        if other != sep and all(other in t for t in head):
            raise InputError(
                f"the header (line {header_line}) is separated by {_SEP_NAMES.get(sep, repr(sep))} but the rows "
                f"(from line {numbers[0]}) by {_SEP_NAMES[other]}",
                source=source,
                hint="use one separator throughout: save the table again as CSV (commas) or TSV (tabs)",
            )


_RANK_PREFIXED = re.compile(r"^\s*(?:[kdpcofgst]__|D_\d+__)|[|;]\s*[a-z]__")


def _share(labels: Sequence[str], pattern: re.Pattern, limit: int = 20000) -> float:
    """Share of ``labels`` matching ``pattern`` (at most ``limit`` of them, evenly spaced, are tested)."""
    if not len(labels):
        return 0.0
    step = max(1, len(labels) // limit)
    tested = labels[::step]
    return sum(1 for x in tested if pattern.search(x)) / len(tested)


def _check_given_orientation(
    samples: Sequence[str], features: Sequence[str], orientation: str, source: str
) -> list[str]:
    """A given orientation that names the samples like taxa: refused when the names carry rank
    prefixes (``s__...``, ``k__...|p__...``), warned about when they only look like binomials."""
    other = "samples-as-columns" if orientation == "samples-as-rows" else "samples-as-rows"
    if _share(samples, _RANK_PREFIXED) >= 0.5 and _share(features, _RANK_PREFIXED) < 0.5:
        named = [s for s in samples[:1000] if _RANK_PREFIXED.search(s)]
        raise InputError(
            f"with orientation {orientation!r} the {len(samples)} samples are named like taxa "
            f"({format_ids(named, limit=3)})",
            source=source,
            hint=f"the orientation looks wrong: pass orientation '{other}' (--orientation {other}), "
            "or leave it out to have it detected",
        )
    score = _share(samples, _TAXON_LIKE)
    if score >= 0.5 and score > _share(features, _TAXON_LIKE):
        note = (
            f"with orientation {orientation!r}, {score:.0%} of the sample names look like taxon names; "
            f"check the orientation ({other}?)"
        )
        log.warning("%s: %s", source, note)
        return [note]
    return []


def _taxon_score(labels: Sequence[str]) -> float:
    return _share(labels, _TAXON_LIKE)


def _detect_orientation(row_ids, col_ids, id_key, has_lineage_col, sample_ids) -> tuple[str, str]:
    if sample_ids is not None:
        known = {str(s) for s in sample_ids}
        in_rows = sum(1 for r in row_ids if r in known)
        in_cols = sum(1 for c in col_ids if c in known)
        if in_rows != in_cols:
            if in_cols > in_rows:
                return "samples-as-columns", f"{in_cols} column names match metadata sample IDs"
            return "samples-as-rows", f"{in_rows} row IDs match metadata sample IDs"
        # IDs written in another letter case (S1 / s1) still say which axis holds the samples
        folded = {s.casefold() for s in known}
        in_rows = sum(1 for r in row_ids if r.casefold() in folded)
        in_cols = sum(1 for c in col_ids if c.casefold() in folded)
        if in_cols > in_rows:
            return "samples-as-columns", f"{in_cols} column names match metadata sample IDs up to letter case"
        if in_rows > in_cols:
            return "samples-as-rows", f"{in_rows} row IDs match metadata sample IDs up to letter case"
    if id_key in _TAXON_ID_NAMES:
        return "samples-as-columns", f"the ID column is named like a taxon column ({id_key!r})"
    if id_key in _SAMPLE_ID_NAMES:
        return "samples-as-rows", f"the ID column is named like a sample column ({id_key!r})"
    if has_lineage_col:
        return "samples-as-columns", "a taxonomy column annotates the rows"
    row_score, col_score = _taxon_score(row_ids), _taxon_score(col_ids)
    if row_score >= 0.5 and row_score > col_score:
        return "samples-as-columns", f"{row_score:.0%} of row IDs look like taxon names"
    if col_score >= 0.5 and col_score > row_score:
        return "samples-as-rows", f"{col_score:.0%} of column names look like taxon names"
    return (
        "samples-as-columns",
        "no evidence either way; assumed the feature-table convention (taxa as rows) -- pass orientation= to be sure",
    )
