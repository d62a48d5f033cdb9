"""Sample metadata: read a TSV/CSV and join it to a cohort by sample ID.

Metadata files have one row per sample. The ID column is ``id_column`` when given, else the
first column named like ``sample-id``, ``#SampleID``, ``SampleID``, ``Sample_Ids``, ``sample``,
``id``..., else the first column. QIIME 2 metadata files (``#q2:types`` row, ``#`` comment
lines) and QIIME 1 mapping files (``#SampleID`` header) are understood.

:func:`add_metadata` matches IDs exactly. ``how`` says what to do when IDs do not match:

``"exact"`` (default)
    every sample needs a metadata row and every metadata row a sample; otherwise an
    :class:`~gutaxis.errors.InputError` names the unmatched IDs.
``"left"``
    keep all samples (those without metadata get missing values); metadata rows that match no
    sample are left out and reported.
``"inner"``
    keep only samples with metadata; the samples dropped and the metadata rows left out are
    reported.

Whatever is left out is listed in ``uns["provenance"]["filtered"]`` and announced by a
:class:`~gutaxis.io.FilteredWarning`.

A column is numeric when every non-missing value is a number. The model builders of
``associate`` and ``permanova`` refuse a column that is numeric except for a few cells
(:func:`check_numeric_column`: one ``unknown`` or ``41,5`` among ages would otherwise make
``age`` a factor with one level per age), naming the samples and values, and warn about levels
that differ only in case or spaces (:func:`warn_case_variants`, ``CD`` next to ``cd``).
"""

from __future__ import annotations

import copy
import logging
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._typing import AnnDataObject
from ..errors import InputError
from ._container import FilteredWarning, ensure_provenance, file_sha256, filtered_entry, format_ids
from ._text import parse_delimited, read_lines, split_fields

__all__ = [
    "HOW",
    "IdMatch",
    "MetadataWarning",
    "SampleMismatchError",
    "add_metadata",
    "case_variants",
    "check_numeric_column",
    "compare_ids",
    "numeric_except_cells",
    "read_metadata",
    "warn_case_variants",
]

log = logging.getLogger("gutaxis.io")

#: Values of ``add_metadata(how=...)``.
HOW = ("exact", "left", "inner")

_ID_NAMES = ("sampleid", "sampleids", "samplename", "sample", "id", "runid", "run", "runaccession")
_SUFFIXES = ("_profile", "_metaphlan_bugs_list", "_metaphlan", "_bugs_list", ".metaphlan", "_taxonomic_profile")


class MetadataWarning(UserWarning):
    """Metadata that is used, but probably not as meant (e.g. levels differing only in case)."""


def _key(name: str) -> str:
    return re.sub(r"[\s_#\-.]+", "", str(name)).lower()


def read_metadata(path: str | os.PathLike, *, id_column: str | None = None) -> pd.DataFrame:
    """Read a sample metadata table (TSV or CSV).

    Parameters
    ----------
    path
        The metadata file.
    id_column
        The column holding sample IDs; detected when omitted (see the module notes).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample ID (index name ``"sample"``, strings); numeric columns are converted
        to numbers. ``attrs["source"]`` is the path, ``attrs["id_column"]`` the ID column.

    Raises
    ------
    InputError
        For an empty file, an unknown ``id_column``, empty or duplicate sample IDs.
    """
    source = str(path)
    lines = read_lines(path)
    hint = "metadata needs a header row and one row per sample, the sample ID in one column"
    start = 0
    while start < len(lines) and lines.text[start].startswith("#"):
        first = re.split(r"[\t,;]", lines.text[start].lstrip("#"), maxsplit=1)[0]
        if _key(first) in _ID_NAMES:
            break
        start += 1
    if start >= len(lines):
        raise InputError("the metadata file is empty", source=source, hint=hint)
    header_line = lines.text[start]
    sep = next((s for s in ("\t", ",", ";") if s in header_line), None)
    if sep is None:
        raise InputError(
            "cannot find the column separator (tab, comma or semicolon) in the header", source=source, hint=hint
        )
    header = split_fields(header_line.lstrip("#") if header_line.startswith("#") else header_line, sep)
    body = [
        (t, n) for t, n in zip(lines.text[start + 1 :], lines.number[start + 1 :], strict=True) if not t.startswith("#")
    ]
    if not body:
        raise InputError("the metadata file has a header but no rows", source=source, hint=hint)
    texts, numbers = [t for t, _ in body], [n for _, n in body]
    # R's write.table (row.names = TRUE, the default, as in MaAsLin's example metadata) leaves the
    # row-name column out of the header: every row then has one field more than the header, and
    # R's read.table takes the first field as the row name. Do the same.
    row_names = all(len(split_fields(t, sep)) == len(header) + 1 for t in texts)
    if row_names:
        header = ["row.names", *header]
    cells = parse_delimited(texts, numbers, sep, len(header), source)
    columns = _unique_columns(header)
    frame = pd.DataFrame(cells, columns=columns)

    if id_column is not None:
        if id_column not in header:
            raise InputError(
                f"no column {id_column!r} (columns: {format_ids(header, 8)})",
                source=source,
                hint="pass id_column= with one of the columns above",
            )
        col = header.index(id_column)
    elif row_names:
        col = 0
    else:
        keys = [_key(h) for h in header]
        col = next((keys.index(k) for k in _ID_NAMES if k in keys), 0)
    ids = [str(v).strip() for v in frame.iloc[:, col]]
    for ident, line in zip(ids, numbers, strict=True):
        if not ident or ident.lower() in ("nan", "na"):
            raise InputError(
                f"empty sample ID at line {line} (column {header[col]!r})",
                source=source,
                hint="give every row a sample ID, or choose another id_column=",
            )
    dup = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(dup):
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in column {header[col]!r} ({len(dup)} duplicate(s))",
            source=source,
            hint="keep one row per sample",
        )
    frame = frame.drop(columns=columns[col])
    frame.index = pd.Index(ids, dtype=object, name="sample")
    for name in frame.columns:
        frame[name] = _convert(frame[name])
    renamed = [c for c, h in zip(columns, header, strict=True) if c != h]
    if renamed:
        log.warning("%s: duplicate column names were made unique: %s", source, ", ".join(renamed))
    frame.attrs["source"] = source
    frame.attrs["id_column"] = header[col]
    return frame


def _unique_columns(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        name = h or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


# "none" is not missing in metadata: it is a category ("dysbiosis_state: none", "medication: none")
_METADATA_MISSING = frozenset({"", "na", "nan", "n/a", "null"})


def _convert(column: pd.Series) -> pd.Series:
    text = column.astype(str).str.strip()
    missing = text.str.lower().isin(_METADATA_MISSING)
    numeric = pd.to_numeric(text.where(~missing), errors="coerce")
    if (numeric.notna() | missing).all() and numeric.notna().any():
        return numeric
    return text.where(~missing, np.nan).astype(object)


# a number written with a decimal comma (41,5) or a thousands separator (1,000)
_COMMA_NUMBER = re.compile(r"[+-]?\d*,\d+")


def numeric_except_cells(column: pd.Series) -> list[tuple[str, str]] | None:
    """The cells that keep an otherwise numeric column from being numeric.

    A column is *numeric except for a few cells* when it is not numeric as a whole, at least 90%
    of its non-missing values are numbers (or numbers written with a decimal comma, ``41,5``)
    and those take at least 3 distinct values. Then the cells that are not plain numbers
    (``unknown``, ``41,5``, ``>80``) are returned as ``[(sample ID, value), ...]``; otherwise
    (a numeric column, a categorical one, a two-valued code) ``None``.

    Such a column would be modelled as categorical, one group per distinct number: one word
    among ages turns ``age`` into a factor with as many levels as there are ages.
    """
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    text = column[column.notna()].astype(str).str.strip()
    text = text[~text.str.lower().isin(_METADATA_MISSING)]
    if text.empty:
        return None
    number = pd.to_numeric(text, errors="coerce")
    comma = text.str.fullmatch(_COMMA_NUMBER.pattern).fillna(False).astype(bool)
    if number.notna().all():
        return None  # all numbers (an object column of numbers): nothing to name
    like = number.notna() | comma
    if like.mean() < 0.9:
        return None
    values = number.where(number.notna(), pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce"))
    if values[like].nunique() < 3:
        return None
    bad = text[number.isna()]
    return [(str(i), str(v)) for i, v in bad.items()]


def check_numeric_column(
    column: pd.Series, name: str, *, source: str | None = "metadata", categorical_hint: str | None = None
) -> None:
    """Refuse a column that is numeric except for a few cells (:func:`numeric_except_cells`),
    naming the column, the samples and their values, and what to do.

    ``categorical_hint``: how the caller lets a user say the column is categorical after all
    (e.g. ``"write C(age) in the formula"``).
    """
    cells = numeric_except_cells(column)
    if not cells:
        return

    def show(cell):
        sample, value = cell
        note = " (a decimal comma?)" if _COMMA_NUMBER.fullmatch(value) else ""
        return f"sample {sample!r}: {value!r}{note}"

    shown = "; ".join(show(c) for c in cells[:5]) + (f"; and {len(cells) - 5} more" if len(cells) > 5 else "")
    n = int(column.notna().sum())
    if all(_COMMA_NUMBER.fullmatch(v) for _, v in cells) and len(cells) == n:
        problem = f"column {name!r} holds numbers written with a decimal comma ({shown})"
    else:
        problem = (
            f"column {name!r} is numeric except for {len(cells)} of its {n} values ({shown}); as it is, "
            "it would be modelled as categorical, one group per distinct value"
        )
    hint = (
        "replace each such value by a number written with a decimal point (41.5, not 41,5), or leave the cell "
        "empty or NA (that sample is then left out)"
    )
    if categorical_hint:
        hint += f"; if {name!r} is meant to be categorical, {categorical_hint}"
    raise InputError(problem, source=source, hint=hint)


def case_variants(values) -> list[list[str]]:
    """Groups of distinct values that differ only in letter case or spaces (``CD``, ``cd``, ``CD ``)."""
    groups: dict[str, list[str]] = {}
    for value in dict.fromkeys(str(v) for v in values):
        groups.setdefault(" ".join(value.split()).casefold(), []).append(value)
    return [g for g in groups.values() if len(g) > 1]


def warn_case_variants(values, name: str, *, source: str | None = "metadata", stacklevel: int = 3) -> None:
    """One :class:`MetadataWarning` per group of levels of ``name`` that differ only in case or spaces."""
    for group in case_variants(values):
        prefix = f"{source}: " if source else ""
        warnings.warn(
            f"{prefix}column {name!r}: the levels {', '.join(map(repr, group))} differ only in case or "
            "spaces and are treated as different groups; if they are the same, write them alike in the "
            "metadata",
            MetadataWarning,
            stacklevel=stacklevel,
        )


def add_metadata(
    adata: AnnDataObject,
    metadata: pd.DataFrame | str | os.PathLike,
    *,
    source: str | None = None,
    how: str = "exact",
    id_column: str | None = None,
) -> AnnDataObject:
    """Join sample metadata to a cohort by sample ID.

    Parameters
    ----------
    adata
        The cohort (``obs_names`` are the sample IDs).
    metadata
        A DataFrame indexed by sample ID (as :func:`read_metadata` returns), or a path to read
        with :func:`read_metadata`.
    source
        Name of the metadata in messages and provenance (default: its path).
    how
        ``"exact"``, ``"left"`` or ``"inner"`` (see the module notes).
    id_column
        Passed to :func:`read_metadata` when ``metadata`` is a path.

    Returns
    -------
    anndata.AnnData
        A new cohort with the metadata columns in ``obs``; ``uns["provenance"]["metadata"]``
        records the source, its sha256 (for files), ``how`` and the counts matched.

    Raises
    ------
    InputError
        For unmatched IDs under ``how="exact"`` (or no match at all), columns already in
        ``obs``, an unknown ``how``.
    """
    sha = None
    if isinstance(metadata, (str, os.PathLike)):
        path = metadata
        metadata = read_metadata(path, id_column=id_column)
        sha = file_sha256(path)
        source = source or str(path)
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(
            f"metadata must be a DataFrame or a path, got {type(metadata).__name__}",
            source=source or "metadata",
            hint="read it with gutaxis.read_metadata(path)",
        )
    attr_source = metadata.attrs.get("source")
    if sha is None and attr_source and os.path.isfile(attr_source):
        sha = file_sha256(attr_source)
    source = source or attr_source or "metadata"
    if how not in HOW:
        raise InputError(f"unknown how={how!r}", source=source, hint=f"use one of {', '.join(HOW)}")
    meta = metadata.copy()
    meta.index = pd.Index([str(i).strip() for i in meta.index], dtype=object, name="sample")
    dup = meta.index[meta.index.duplicated()]
    if len(dup):
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in the metadata", source=source, hint="keep one row per sample"
        )
    samples = pd.Index([str(s) for s in adata.obs_names], dtype=object)
    match = compare_ids(samples, meta.index)
    extra, missing = match.extra, match.missing
    clash = [c for c in meta.columns if c in adata.obs.columns]
    if clash:
        raise InputError(
            f"metadata column(s) {format_ids(clash)} already exist in the cohort's obs",
            source=source,
            hint="rename those metadata columns",
        )
    hint = _mismatch_hint(samples, meta.index)
    if match.case_only:
        hint = "write the IDs alike (letter case counts) in the profile and the metadata"
    case = f"{match.describe_case()}; " if match.case_only else ""
    if len(extra) == len(meta.index):
        raise SampleMismatchError(
            f"no metadata ID matches a sample: {case}{len(extra)} metadata ID(s) such as "
            f"{format_ids(extra, 3)}; samples are e.g. {format_ids(list(samples), 3)}",
            source=source,
            hint=hint,
            match=match,
            fixes="",
        )
    if how == "exact" and (extra or missing):
        parts = ([f"{len(missing)} sample(s) have no metadata: {format_ids(missing)}"] if missing else []) + (
            [f"{len(extra)} metadata ID(s) match no sample: {format_ids(extra)}"] if extra else []
        )
        fixes = (
            "or pass how='left' (keep them, metadata missing) or how='inner' (drop them)"
            if missing
            else "or pass how='left' to leave these rows out"
        )
        raise SampleMismatchError(case + "; ".join(parts), source=source, hint=hint, match=match, fixes=fixes)
    filtered = []
    if extra:
        filtered.append(filtered_entry("metadata rows matching no sample", "left out (no such sample)", extra))
    keep = samples
    if how == "inner" and missing:
        filtered.append(filtered_entry("samples without metadata", "dropped (only samples in both are kept)", missing))
        keep = pd.Index([s for s in samples if s not in set(missing)], dtype=object)
    out = adata[np.asarray(samples.isin(keep))].copy() if len(keep) != len(samples) else adata.copy()
    joined = meta.reindex(pd.Index([str(s) for s in out.obs_names], dtype=object))
    obs = out.obs.copy()
    for col in joined.columns:
        obs[col] = joined[col].to_numpy()
    out.obs = obs
    prov = ensure_provenance(copy.deepcopy(out.uns.get("provenance")))
    prov["filtered"] = [*prov["filtered"], *filtered]
    prov["metadata"] = {
        "source": source,
        "sha256": sha,
        "how": how,
        "columns": [str(c) for c in meta.columns],
        "n_matched": int(len(samples) - len(missing)),
        "n_without_metadata": len(missing) if how == "left" else 0,
        "id_column": metadata.attrs.get("id_column"),
    }
    out.uns["provenance"] = prov
    if filtered:
        # how many and which: the user decides from this line whether the join did what was meant
        parts = [f"{e['n']} {e['what']} {e['reason'].split(' (')[0]} ({format_ids(e['ids'], 3)})" for e in filtered]
        case = f" ({match.describe_case()})" if match.case_only else ""
        msg = f"{source}: " + "; ".join(parts) + case + " -- listed in uns['provenance']['filtered']"
        log.info(msg)
        warnings.warn(msg, FilteredWarning, stacklevel=2)
    if how == "left" and missing:
        log.info(
            "%s: %d sample(s) have no metadata (kept with missing values): %s",
            source,
            len(missing),
            format_ids(missing),
        )
    return out


@dataclass(frozen=True)
class IdMatch:
    """How the sample IDs of a profile and of its metadata match (:func:`compare_ids`)."""

    missing: list[str]  # samples without a metadata row
    extra: list[str]  # metadata rows matching no sample
    case_only: list[tuple[str, str]]  # (sample, metadata ID) equal up to letter case
    n_matched: int = 0  # samples with a metadata row

    def describe_case(self) -> str:
        """``"2 sample ids differ only by letter case, for example 'S1' (profile) vs 's1' (metadata)"``."""
        n = len(self.case_only)
        sample, meta_id = self.case_only[0]
        return (
            f"{n} sample id{'s' if n != 1 else ''} differ{'' if n != 1 else 's'} only by letter case, for "
            f"example {sample!r} (profile) vs {meta_id!r} (metadata)"
        )


def compare_ids(samples, ids) -> IdMatch:
    """The samples without metadata, the metadata rows without a sample, and among those the
    pairs whose IDs are the same but for letter case (``S1`` vs ``s1``: never matched, named)."""
    samples, ids = [str(s) for s in samples], [str(i) for i in ids]
    in_meta, in_samples = set(ids), set(samples)
    missing = [s for s in samples if s not in in_meta]
    extra = [i for i in ids if i not in in_samples]
    folded: dict[str, str] = {}
    for i in extra:
        folded.setdefault(i.casefold(), i)
    case_only = [(s, folded[s.casefold()]) for s in missing if s.casefold() in folded]
    return IdMatch(missing=missing, extra=extra, case_only=case_only, n_matched=len(samples) - len(missing))


class SampleMismatchError(InputError):
    """Sample IDs of a profile and of its metadata that do not match (:func:`add_metadata`).

    ``match`` is the :class:`IdMatch`; ``fixes`` the options of the Python call that accept the
    mismatch (a command line names its own options instead, see :mod:`gutaxis.cli._inputs`).
    """

    def __init__(self, problem: str, *, source, hint: str, match: IdMatch, fixes: str):
        self.match = match
        self.base_hint = hint
        super().__init__(problem, source=source, hint=f"{hint}; {fixes}" if fixes else hint)


def _mismatch_hint(samples: pd.Index, ids: pd.Index) -> str:
    base = "check the ID column (id_column=...) and that sample names match the profile's"
    known = set(ids)
    found: dict[str, int] = {}
    for s in samples:
        if s in known:
            continue
        for suffix in _SUFFIXES:
            if s.endswith(suffix) and s[: -len(suffix)] in known:
                found[suffix] = found.get(suffix, 0) + 1
                break
    if found:
        suffix = max(found, key=found.__getitem__)
        return (
            f"sample names carry a suffix such as {suffix!r} that the metadata IDs lack; rename the samples "
            f"first, e.g. adata.obs_names = adata.obs_names.str.removesuffix({suffix!r})"
        )
    return base
