"""Read MetaPhlAn 2, 3 and 4 profiles: single-sample files and merged tables.

Single-sample output (``metaphlan ... -o profile.txt``)::

    #mpa_vJan21_CHOCOPhlAnSGB_202103            <- database (MetaPhlAn 3/4)
    #/path/to/metaphlan ... (command line)
    #12345 reads processed                      <- MetaPhlAn 4
    #SampleID   Metaphlan_Analysis
    #clade_name NCBI_tax_id relative_abundance  additional_species
    UNCLASSIFIED    -1  12.3                    <- UNKNOWN in MetaPhlAn 3
    k__Bacteria 2   87.7
    k__Bacteria|p__Firmicutes   2|1239  50.1
    ...

MetaPhlAn 2 writes two columns (``clade_name``, ``relative_abundance``), optionally under a
``#SampleID`` line; ``-t rel_ab_w_read_stats`` adds ``coverage`` and
``estimated_number_of_reads_from_the_clade`` columns (the latter is kept in
``layers["counts"]``).

Merged tables (``merge_metaphlan_tables.py``) have an optional ``#mpa_v...`` line, then a header
``clade_name [NCBI_tax_id|clade_taxid] sample1 sample2 ...`` (``ID sample1 ...`` in MetaPhlAn 2,
whose merged tables may repeat a ``#SampleID`` row). Sample names are kept as given, suffixes
such as ``_profile`` included.

MetaPhlAn writes percentages of the classified reads (MetaPhlAn 2) or of all reads (MetaPhlAn 3/4
with ``--unknown_estimation``, whose ``UNKNOWN``/``UNCLASSIFIED`` row can hold most of a sample).
gutaxis uses one denominator for every profile: **the reads classified at the rank kept**. Only
rows of the requested rank are kept (higher ranks are sums of them and ``t__`` rows subdivide them,
so keeping one rank avoids double counting) and each sample is divided by their total, so ``X``
sums to 1 per sample whatever the MetaPhlAn version; the ``UNKNOWN``/``UNCLASSIFIED`` row's share
(of all reads) goes to ``obs["unclassified_fraction"]`` and the share of the profile at the rank to
``uns["provenance"]["rank_total"]``. A MetaPhlAn 3 profile with 70 % unknown reads and one with
none then give the same relative abundances to the same community, and they compare with
MetaPhlAn 2 references and with 16S tables (which are closed too).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._typing import AnnDataObject
from .._validation import check_abundance
from ..errors import InputError
from ..taxonomy import RANKS, normalize_name
from ._container import build_cohort, file_sha256, filtered_entry, format_ids
from ._text import fast_parse, file_stem, parse_delimited, read_lines, split_fields, to_numbers

__all__ = ["read_metaphlan"]

log = logging.getLogger("gutaxis.io")

_UNCLASSIFIED = {"UNKNOWN", "UNCLASSIFIED"}
_DEFAULT_SAMPLE_LABELS = {"", "metaphlan_analysis", "metaphlan2_analysis", "metaphlan3_analysis", "metaphlan4_analysis"}
_TAXID_COLUMNS = {"ncbi_tax_id", "clade_taxid", "taxid", "ncbi_taxid", "tax_id", "taxonomy_id"}
_CLADE = re.compile(r"^[a-z]__[^|]*(\|[a-z]__[^|]*)*$")
_LETTER = {
    "kingdom": ("k", "d"),
    "phylum": ("p",),
    "class": ("c",),
    "order": ("o",),
    "family": ("f",),
    "genus": ("g",),
    "species": ("s",),
    "strain": ("t",),
}
_PERCENT_TOLERANCE = 1.0  # percentage points above 100 accepted as rounding


@dataclass
class _Profile:
    """One MetaPhlAn file: clades x samples percentages."""

    source: str
    clades: list[str]
    lines: list[int]
    samples: list[str]
    values: np.ndarray  # clades x samples, percent
    reads: np.ndarray | None = None  # clades x samples, estimated reads
    database: str | None = None
    layout: str = "single"
    has_unclassified: np.ndarray | None = None  # per sample: did its file have an unclassified row

    def __post_init__(self) -> None:
        if self.has_unclassified is None:
            present = any(c.upper() in _UNCLASSIFIED for c in self.clades)
            self.has_unclassified = np.full(len(self.samples), present, dtype=bool)


def read_metaphlan(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike], *, rank: str = "species"
) -> AnnDataObject:
    """Read MetaPhlAn 2/3/4 output into a cohort AnnData.

    Parameters
    ----------
    path_or_paths
        A single-sample profile, a merged table (``merge_metaphlan_tables.py``), or a list of
        such files read into one cohort (clades missing from a file count as 0).
    rank
        Rank of the rows kept: ``kingdom phylum class order family genus species strain``
        (``strain`` is the ``t__`` level, SGBs in MetaPhlAn 4).

    Returns
    -------
    anndata.AnnData
        Samples x taxa at ``rank``; ``X`` = relative abundances of the reads classified at
        ``rank`` (each sample's rows divided by their total: they sum to 1; see the module notes);
        ``obs["unclassified_fraction"]`` = the ``UNKNOWN``/``UNCLASSIFIED`` row / 100 (of all
        reads; NaN for a sample whose file has no such row) and ``uns["provenance"]["rank_total"]``
        = each sample's total at ``rank`` / 100 before closure; ``var`` lineage by rank; ``var_names``
        the normalised names at ``rank`` (e.g. ``Faecalibacterium prausnitzii``). Rows of other ranks and
        the unclassified row are listed in ``uns["provenance"]["filtered"]`` (and announced by a
        ``gutaxis.io.FilteredWarning``).

    Raises
    ------
    InputError
        For files that are not MetaPhlAn output, bad cells, duplicate clades or samples,
        percentages above 100, samples with no abundance at ``rank``; for a file whose ranks do
        not sum to the same total (MetaPhlAn computes each clade as the sum of its children, so a
        truncated or edited file shows: say species 27.3 % against kingdoms 29.2 %; tolerance
        ``RANK_TOTAL_TOLERANCE`` plus the rounding of the written decimals); and for a sample
        whose values sum to about 1 instead of 100 (proportions, refused rather than converted:
        MetaPhlAn never writes them, so the file went through another tool, and a guessed unit
        is a 100-fold error when the guess is wrong).
    """
    if rank not in RANKS:
        raise InputError(f"unknown rank {rank!r}", source="read_metaphlan", hint=f"use one of {', '.join(RANKS)}")
    single = isinstance(path_or_paths, (str, os.PathLike))
    paths: list[str | os.PathLike] = (
        [path_or_paths] if isinstance(path_or_paths, (str, os.PathLike)) else list(path_or_paths)
    )
    if not paths:
        raise InputError("no files given", source="read_metaphlan", hint="pass a path or a list of paths")
    profiles = [_parse_file(p) for p in paths]
    profile = profiles[0] if len(profiles) == 1 else _combine(profiles)
    source = profile.source
    hashes = [file_sha256(p) for p in paths]
    sha: str | list[str] = hashes[0] if single else hashes

    clades = np.array(profile.clades, dtype=object)
    is_unclassified = np.array([c.upper() in _UNCLASSIFIED for c in clades], dtype=bool)
    letters = np.array([_rank_letter(c) for c in clades], dtype=object)
    keep = np.isin(letters, _LETTER[rank]) & ~is_unclassified
    if not keep.any():
        found = sorted({RANKS[i] for i, r in enumerate(RANKS) if np.isin(letters, _LETTER[r]).any()}, key=RANKS.index)
        raise InputError(
            f"no rows at rank {rank!r} (ranks present: {', '.join(found) or 'none'})",
            source=source,
            hint="pass rank=... for a rank present in the file, or re-run MetaPhlAn with -t rel_ab",
        )
    values = profile.values
    kept = values[keep].T  # samples x taxa
    unclassified = None
    has_unclassified = profile.has_unclassified
    assert has_unclassified is not None  # filled in by _Profile.__post_init__
    if has_unclassified.any():
        unclassified = np.where(has_unclassified, values[is_unclassified].sum(axis=0) / 100.0, np.nan)

    totals = kept.sum(axis=1) + (values[is_unclassified].sum(axis=0) if is_unclassified.any() else 0.0)
    over = np.flatnonzero(totals > 100.0 + _PERCENT_TOLERANCE)
    if len(over):
        raise InputError(
            f"sample {profile.samples[over[0]]!r} sums to {totals[over[0]]:.4g}% at rank {rank!r} "
            f"({len(over)} sample(s) above 100%)",
            source=source,
            hint="MetaPhlAn relative abundances are percentages; a table of counts or reads should be "
            "read with gutaxis.read_table",
        )
    empty = np.flatnonzero(kept.sum(axis=1) <= 0)
    if len(empty):
        raise InputError(
            f"sample(s) {format_ids([profile.samples[i] for i in empty])} have no abundance at rank {rank!r} "
            "(all of it is unclassified or at other ranks)",
            source=source,
            hint="remove these samples, or choose another rank",
        )

    lineages = list(clades[keep])
    features = _feature_ids(lineages)
    filtered = []
    if is_unclassified.any():
        filtered.append(
            filtered_entry(
                "unclassified row", "its share is in obs['unclassified_fraction']", list(clades[is_unclassified])
            )
        )
    other = ~keep & ~is_unclassified
    if other.any():
        filtered.append(
            filtered_entry(
                "rows at other ranks",
                f"kept {rank} rows only (higher ranks are sums of them; lower ranks subdivide them)",
                list(clades[other]),
            )
        )
    counts = profile.reads[keep].T if profile.reads is not None else None
    rank_total = kept.sum(axis=1)  # percent of all reads (MetaPhlAn 3/4) at the rank kept
    closed = kept * (100.0 / rank_total)[:, None]  # one denominator: the reads classified at the rank
    return build_cohort(
        closed,
        profile.samples,
        features,
        source=paths[0] if single else [str(p) for p in paths],
        reader="metaphlan",
        sha256=sha,
        params={"rank": rank},
        scale="percent",
        lineage=lineages,
        filtered=filtered,
        unclassified=unclassified,
        counts=counts,
        extra_provenance={
            "metaphlan_database": profile.database,
            "layout": profile.layout,
            "denominator": f"reads classified at rank {rank} (each sample's {rank} rows divided by "
            "their total; the unclassified share is obs['unclassified_fraction'])",
            "rank_total": {s: float(t) / 100.0 for s, t in zip(profile.samples, rank_total, strict=True)},
        },
    )


def _rank_letter(clade: str) -> str | None:
    last = clade.rsplit("|", 1)[-1]
    return last[0] if len(last) >= 3 and last[1:3] == "__" else None


def _feature_ids(lineages: list[str]) -> list[str]:
    names = [normalize_name(c.rsplit("|", 1)[-1]) or c for c in lineages]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    dup = {n for n, k in seen.items() if k > 1}
    if dup:
        log.warning(
            "MetaPhlAn: %d name(s) occur under several lineages (profiles from different databases?): "
            "%s; their full lineage is used as feature ID",
            len(dup),
            format_ids(sorted(dup)),
        )
    return [c if n in dup else n for n, c in zip(names, lineages, strict=True)]


def _parse_file(path) -> _Profile:
    lines = read_lines(path)
    source = str(path)
    if not len(lines):
        raise InputError("the file is empty", source=source, hint="check that MetaPhlAn finished writing it")
    n_comments = 0
    while n_comments < len(lines) and lines.text[n_comments].startswith("#"):
        n_comments += 1
    comments = [line.lstrip("#").strip() for line in lines.text[:n_comments]]
    database = next((c.split()[0] for c in comments if c.startswith("mpa_v")), None)
    sample_label = None
    header: list[str] | None = None
    for raw in lines.text[:n_comments]:
        fields = [f.strip() for f in raw.lstrip("#").split("\t")]
        if fields[0].lower() == "sampleid" and len(fields) > 1:
            sample_label = fields[1]
        if fields[0].lower() == "clade_name":
            header = [f.lower() for f in fields]
    body = [
        (t, n) for t, n in zip(lines.text[n_comments:], lines.number[n_comments:], strict=True) if not t.startswith("#")
    ]
    if not body:
        raise InputError(
            "no data rows after the header", source=source, hint="the profile is empty or truncated; re-run MetaPhlAn"
        )
    texts = [t for t, _ in body]
    numbers = [n for _, n in body]
    if not any("\t" in t for t in texts[:50]):
        raise InputError(
            "not tab-separated: MetaPhlAn output has tab-separated columns",
            source=source,
            hint="give the MetaPhlAn output as written, or read other tables with read_table",
        )
    first = split_fields(texts[0], "\t")
    if header is None and not _is_clade(first[0]):
        profile = _parse_merged(source, first, texts[1:], numbers[1:], numbers[0], database)
    else:
        profile = _parse_single(source, header, texts, numbers, first, sample_label, database, path)
    _check_percent(profile)
    _check_rank_totals(profile)
    return profile


#: Rank letters, from the root down (``k``/``d`` kingdom ... ``s`` species; ``t`` is left out of
#: the totals check: MetaPhlAn 2 lists strains for some species only).
_RANK_ORDER = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}
_RANK_WORD = {0: "kingdom", 1: "phylum", 2: "class", 3: "order", 4: "family", 5: "genus", 6: "species"}
#: How far a rank's total may be from the top rank's total (percentage points, plus a share of
#: that total), beyond the rounding of the values as written.
RANK_TOTAL_TOLERANCE = (1e-4, 1e-5)


def _pct(value: float) -> str:
    return f"{value:.3g}"


def _rank_index(clades: list[str]) -> np.ndarray:
    return np.array(
        [_RANK_ORDER.get(_rank_letter(c) or "", -1) if c.upper() not in _UNCLASSIFIED else -1 for c in clades],
        dtype=np.int64,
    )


def _check_percent(profile: _Profile) -> None:
    """MetaPhlAn writes percentages: a sample whose top rank plus unclassified share sums to
    about 1 holds proportions (some tool or script divided it by 100)."""
    ranks = _rank_index(profile.clades)
    present = sorted(set(ranks[ranks >= 0].tolist()))
    if not present:
        return
    unclassified = np.array([c.upper() in _UNCLASSIFIED for c in profile.clades], dtype=bool)
    top = profile.values[ranks == present[0]].sum(axis=0) + profile.values[unclassified].sum(axis=0)
    looks = np.flatnonzero(np.abs(top - 1.0) <= 0.01)
    if len(looks):
        i = looks[0]
        what = f"{_RANK_WORD[present[0]]} rows" + (" plus the unclassified row" if unclassified.any() else "")
        raise InputError(
            f"sample {profile.samples[i]!r}: its {what} sum to {top[i]:.4g}, not 100 -- its values look like "
            f"proportions, but MetaPhlAn writes percentages ({len(looks)} of {len(profile.samples)} sample(s))",
            source=profile.source,
            hint="multiply that sample's values by 100 (MetaPhlAn's relative_abundance is in percent), or "
            "read a table of proportions with gutaxis.read_table (--format table) and one rank only",
        )


def _decimals_half_unit(values: np.ndarray) -> float:
    """Half of the last written decimal (0.5e-5 for values written with 5 decimals)."""
    v = np.abs(values[np.isfinite(values) & (values != 0)])
    if not v.size:
        return 0.0
    for d in range(9):
        scaled = v * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-3):
            return 0.5 * 10.0**-d
    return 0.0


def _check_rank_totals(profile: _Profile) -> None:
    """Every rank of a MetaPhlAn profile sums to the same total (each clade is the sum of its
    children), which a truncated or edited file breaks: refuse it.

    MetaPhlAn 2 leaves ``..._unclassified`` clades without children (``g__Sutterellaceae_unclassified``
    has no species): such a childless clade counts towards every rank below its own.
    """
    clades = profile.clades
    ranks = _rank_index(clades)
    present = sorted(set(ranks[ranks >= 0].tolist()))
    if len(present) < 2:
        return  # one rank only: nothing to compare
    ancestors = set()
    for c in clades:
        parts = c.split("|")
        for k in range(1, len(parts)):
            ancestors.add("|".join(parts[:k]))
    leaf_unclassified = np.array(
        [c not in ancestors and c.rsplit("|", 1)[-1].lower().endswith("_unclassified") for c in clades], dtype=bool
    )
    values = profile.values
    unclassified = values[np.array([c.upper() in _UNCLASSIFIED for c in clades], dtype=bool)].sum(axis=0)
    for r in present[::-1]:  # counts rather than percentages: said as such (the species rank first)
        totals = values[ranks == r].sum(axis=0) + unclassified
        over = np.flatnonzero(totals > 100.0 + _PERCENT_TOLERANCE)
        if len(over):
            raise InputError(
                f"sample {profile.samples[over[0]]!r} sums to {totals[over[0]]:.4g}% at rank {_RANK_WORD[r]!r} "
                f"({len(over)} sample(s) above 100%)",
                source=profile.source,
                hint="MetaPhlAn relative abundances are percentages; a table of counts or reads should be "
                "read with gutaxis.read_table",
            )
    top = present[0]
    reference = values[ranks == top].sum(axis=0)
    half_unit = _decimals_half_unit(values)
    absolute, relative = RANK_TOTAL_TOLERANCE
    for r in present[1:]:
        rows = ranks == r
        carried = leaf_unclassified & (ranks >= top) & (ranks < r) & (ranks >= 0)
        total = values[rows].sum(axis=0) + values[carried].sum(axis=0)
        tolerance = absolute + relative * reference + half_unit * (rows.sum() + carried.sum())
        off = np.flatnonzero(np.abs(total - reference) > tolerance)
        if not len(off):
            continue
        i = off[0]
        who = f"sample {profile.samples[i]!r}: " if len(profile.samples) > 1 else ""
        own = values[rows, i].sum()
        with_leaves = (
            f" ({_pct(total[i])}% with {int(carried.sum())} childless '_unclassified' clade(s) above)"
            if values[carried, i].sum() > 0
            else ""
        )
        raise InputError(
            f"{who}the {_RANK_WORD[r]} rows sum to {_pct(own)}%{with_leaves} but the {_RANK_WORD[top]} rows to "
            f"{_pct(reference[i])}% ({len(off)} of {len(profile.samples)} sample(s)); in MetaPhlAn output every "
            "rank sums to the same total, so the file looks truncated or edited"
            f"{_missing_children(profile, ranks, r, i)}",
            source=profile.source,
            hint="copy the complete file again or re-run MetaPhlAn; if rows were removed on purpose, keep the "
            "rows of one rank only (e.g. the s__ rows)",
        )


def _missing_children(profile: _Profile, ranks: np.ndarray, r: int, sample: int) -> str:
    """``" (e.g. g__X holds 1.2% but its species rows 0%)"``: the first clade whose children fall short."""
    values = profile.values[:, sample]
    children: dict[str, float] = {}
    for c, rank, v in zip(profile.clades, ranks, values, strict=True):
        if rank == r and "|" in c:
            parent = c.rsplit("|", 1)[0]
            children[parent] = children.get(parent, 0.0) + v
    for c, rank, v in zip(profile.clades, ranks, values, strict=True):
        if rank == r - 1 and v > 0 and abs(children.get(c, 0.0) - v) > 1e-4 + 1e-5 * v:
            if c not in children and c.rsplit("|", 1)[-1].lower().endswith("_unclassified"):
                continue
            return (
                f" (e.g. {c.rsplit('|', 1)[-1]} holds {_pct(v)}% but its {_RANK_WORD[r]} rows "
                f"{_pct(children.get(c, 0.0))}%)"
            )
    return ""


def _is_clade(name: str) -> bool:
    return name.upper() in _UNCLASSIFIED or bool(_CLADE.match(name))


def _check_clades(clades: list[str], numbers: list[int], source: str) -> None:
    for clade, line in zip(clades, numbers, strict=True):
        if not _is_clade(clade):
            raise InputError(
                f"row {clade!r} (line {line}) is not a MetaPhlAn clade (k__...|p__...)",
                source=source,
                hint="check the file is MetaPhlAn output and not truncated",
            )


def _parse_single(source, header, texts, numbers, first, sample_label, database, path) -> _Profile:
    width = len(header) if header is not None else len(first)
    if width < 2:
        raise InputError(
            "MetaPhlAn rows need at least a clade and an abundance column",
            source=source,
            hint="check the file is MetaPhlAn output",
        )
    if header is not None and "relative_abundance" in header:
        col = header.index("relative_abundance")
    else:
        col = 1 if width == 2 else 2
    reads_col = (
        header.index("estimated_number_of_reads_from_the_clade")
        if header is not None and "estimated_number_of_reads_from_the_clade" in header
        else None
    )
    cells = parse_delimited(texts, numbers, "\t", width, source)
    clades = [str(c).strip() for c in cells[:, 0]]
    _check_clades(clades, numbers, source)
    label = (sample_label or "").strip()
    sample = label if label.lower() not in _DEFAULT_SAMPLE_LABELS else file_stem(path)
    values = to_numbers(
        cells[:, [col]], clades, [sample], source=source, row_kind="clade", col_kind="sample", row_lines=numbers
    )
    check_abundance(values.T, _index([sample]), _index(clades), name=source)
    reads = None
    if reads_col is not None:
        reads = to_numbers(
            cells[:, [reads_col]],
            clades,
            [sample],
            source=source,
            row_kind="clade",
            col_kind="estimated reads of sample",
            row_lines=numbers,
        )
        check_abundance(reads.T, _index([sample]), _index(clades), name=source)
    return _Profile(source, clades, numbers, [sample], values, reads, database, "single")


def _parse_merged(source, header, texts, numbers, header_line, database) -> _Profile:
    start = 2 if len(header) > 1 and header[1].strip().lower() in _TAXID_COLUMNS else 1
    samples = [h.strip() for h in header[start:]]
    if not samples:
        raise InputError(
            f"the header (line {header_line}) names no sample columns",
            source=source,
            hint="a merged MetaPhlAn table has clade_name, optionally NCBI_tax_id, then one column per sample",
        )
    if any(not s for s in samples):
        raise InputError(
            f"an empty sample name in the header (line {header_line})", source=source, hint="name every sample column"
        )
    if not texts:
        raise InputError(
            "the table has a header but no rows", source=source, hint="the merged table is empty or truncated"
        )
    value_cols = list(range(start, len(header)))
    fast = fast_parse(texts, "\t", len(header), value_cols, list(range(start)))
    if fast is not None:
        values, text = fast
        clades = text[0]
        _check_clades(clades, numbers, source)
    else:  # slow path: find and name the bad cell
        cells = parse_delimited(texts, numbers, "\t", len(header), source)
        clades = [str(c).strip() for c in cells[:, 0]]
        _check_clades(clades, numbers, source)
        values = to_numbers(
            cells[:, start:], clades, samples, source=source, row_kind="clade", col_kind="sample", row_lines=numbers
        )
    check_abundance(values.T, _index(samples), _index(clades), name=source)
    return _Profile(source, clades, numbers, samples, values, None, database, "merged")


def _combine(profiles: list[_Profile]) -> _Profile:
    owner: dict[str, str] = {}
    for prof in profiles:
        for s in prof.samples:
            if s in owner:
                raise InputError(
                    f"sample {s!r} occurs in {owner[s]} and in {prof.source}",
                    source=prof.source,
                    hint="sample names come from the file names (or #SampleID); rename one file",
                )
            owner[s] = prof.source
    order: dict[str, int] = {}
    for prof in profiles:
        for c in prof.clades:
            order.setdefault(c, len(order))
    clades = list(order)
    n_samples = sum(len(p.samples) for p in profiles)
    values = np.zeros((len(clades), n_samples))
    with_reads = all(p.reads is not None for p in profiles)
    reads = np.zeros_like(values) if with_reads else None
    col = 0
    for prof in profiles:
        rows = np.array([order[c] for c in prof.clades], dtype=np.int64)
        width = len(prof.samples)
        values[rows, col : col + width] = prof.values
        if reads is not None:
            reads[rows, col : col + width] = prof.reads
        col += width
    databases = sorted({p.database for p in profiles if p.database})
    if len(databases) > 1:
        log.warning("MetaPhlAn profiles made with different databases: %s", ", ".join(databases))
    return _Profile(
        source=", ".join(p.source for p in profiles),
        clades=clades,
        lines=[0] * len(clades),
        samples=[s for p in profiles for s in p.samples],
        values=values,
        reads=reads,
        database=databases[0] if len(databases) == 1 else (", ".join(databases) or None),
        layout="files",
        has_unclassified=np.concatenate([p.has_unclassified for p in profiles]),
    )


def _index(labels):
    import pandas as pd

    return pd.Index(labels, dtype=object)
