"""Taxonomy: lineage strings by rank, name normalisation, rank collapse and synonyms.

Lineages come in several spellings, all read by :func:`parse_lineage`:

- MetaPhlAn: ``k__Bacteria|p__Firmicutes|...|s__Faecalibacterium_prausnitzii|t__SGB15316``
- Greengenes: ``k__Bacteria; p__Firmicutes; ...; g__Bacteroides; s__uniformis``
- SILVA (QIIME 1/2): ``D_0__Bacteria;D_1__Firmicutes;...`` and ``d__Bacteria; p__Firmicutes; ...``
- unprefixed lineages ``Bacteria;Firmicutes;Clostridia`` (ranks by position).

Names are normalised (:func:`normalize_name`) so that the same taxon has the same name in
every input: ``s__[Ruminococcus]_gnavus`` and ``Ruminococcus gnavus`` both become
``Ruminococcus gnavus``.

The genus *Lactobacillus* was split into 25 genera in 2020 (Zheng et al., Int J Syst Evol
Microbiol 70:2782-2858, doi:10.1099/ijsem.0.004107). :func:`lactobacillus_group` gives those
genera and :func:`current_name` maps old ``Lactobacillus`` species names to their new genus, so
the group is found in profiles made with old and new reference databases alike. The list lives
in ``gutaxis/data/lactobacillus_2020.tsv`` with its citation.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._data import package_table
from ._typing import AnnDataObject
from .errors import InputError

__all__ = [
    "RANKS",
    "collapse",
    "current_name",
    "is_lactobacillus_group",
    "lactobacillus_group",
    "normalize_name",
    "parse_lineage",
    "synonyms",
]

#: Ranks of ``var`` columns, from the root down.
RANKS: tuple[str, ...] = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "strain")

_PREFIX_RANK = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6, "t": 7}
_RANK_PREFIX = {
    "kingdom": "k",
    "phylum": "p",
    "class": "c",
    "order": "o",
    "family": "f",
    "genus": "g",
    "species": "s",
    "strain": "t",
}
_ANY_PREFIX = re.compile(r"^\s*(?:[kdpcofgst]__|D_\d+__)")
_WS = re.compile(r"\s+")
# names that say "no name at this rank"
_UNNAMED = {
    "",
    "unclassified",
    "unknown",
    "unidentified",
    "uncultured",
    "unassigned",
    "noname",
    "none",
    "na",
    "n/a",
    "nan",
    "null",
    "other",
    "ambiguous taxa",
    "ambiguous_taxa",
    "metagenome",
    "gut metagenome",
    "human gut metagenome",
    "uncultured bacterium",
    "uncultured organism",
    "uncultured prokaryote",
    "unidentified bacterium",
}
_UNNAMED_SUFFIX = re.compile(r"(?:^|\s)(?:unclassified|noname)$", re.IGNORECASE)
_UNNAMED_PREFIX = re.compile(r"^(?:unclassified|unidentified|unassigned)\b", re.IGNORECASE)
_ROOTS = {"root", "cellular organisms"}
_BINOMIAL = re.compile(r"^(?:Candidatus )?[A-Z][a-z]+ (?:[a-z][a-z-]+|sp\.?)(?: \S+)*$")
_PLACEHOLDER_EPITHETS = {"bacterium", "archaeon", "organism", "uncultured"}


# ---------------------------------------------------------------------------------- names


def normalize_name(name: str | None) -> str:
    """Normalise one taxon name.

    Strips a rank prefix (``s__``, ``g__``, ``D_5__``), turns underscores into spaces,
    collapses whitespace and drops the brackets of a bracketed genus
    (``[Ruminococcus] gnavus`` -> ``Ruminococcus gnavus``). ``sp.`` and any other words are kept.
    Given a whole lineage (``|`` or ``;`` separated), the deepest named part is normalised.

    Parameters
    ----------
    name
        A taxon name, with or without rank prefix.

    Returns
    -------
    str
        The normalised name; ``""`` for a missing or empty name.

    Examples
    --------
    >>> normalize_name("s__Faecalibacterium_prausnitzii")
    'Faecalibacterium prausnitzii'
    >>> normalize_name("[Ruminococcus] gnavus")
    'Ruminococcus gnavus'
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = str(name).strip()
    if "|" in text or ";" in text:
        parts = [p.strip() for p in re.split(r"[|;]", text)]
        named = [p for p in parts if _ANY_PREFIX.sub("", p).strip()]
        text = named[-1] if named else ""
    if "__" in text:
        text = _ANY_PREFIX.sub("", text)
    text = text.replace("_", " ").replace("[", "").replace("]", "")
    text = text.strip().strip("'\"")
    if "  " in text or not text.isprintable():  # runs of spaces, tabs, other white space
        text = _WS.sub(" ", text)
    return text.strip()


def _is_unnamed(value: str) -> bool:
    low = value.casefold()
    if low in _UNNAMED:
        return True
    if value.isascii():  # the regexes below, without their cost (the common case)
        if low.endswith(("unclassified", "noname", "unclassified\n", "noname\n")) and _UNNAMED_SUFFIX.search(value):
            return True
        return low.startswith(("unclassified", "unidentified", "unassigned")) and bool(_UNNAMED_PREFIX.match(value))
    return bool(_UNNAMED_SUFFIX.search(value)) or bool(_UNNAMED_PREFIX.match(value))


# ------------------------------------------------------------------------------- lineages


_PART = re.compile(r"^(?:([kdpcofgst])|D_(\d+))__(.*)$", re.DOTALL)


def _parse_one(text: str) -> tuple[list, str]:
    """Ranks (list of 8 names or None) of one lineage string, and the original string."""
    out: list = [None] * len(RANKS)
    if not text:
        return out, text
    if "|" not in text and ";" not in text:  # one part: the common case of wide tables, kept short
        m = _PART.match(text.strip())
        if m is not None:
            letter, silva, value = m.groups()
            position = _PREFIX_RANK[letter] if letter is not None else int(silva)
            if position < len(RANKS):
                value = normalize_name(value)
                if not _is_unnamed(value):
                    out[position] = value
                if position == 6 and value:
                    out[5] = _genus_of(value)  # no genus part: the genus is the first word
            return out, text
    if "|" in text:
        parts = [p.strip() for p in text.split("|")]
    elif ";" in text:
        parts = [p.strip() for p in text.split(";")]
    else:
        parts = [text.strip()]
    parts = [p for p in parts if p]
    if parts and parts[0].casefold() in _ROOTS:
        parts = parts[1:]
    matches = [_PART.match(p) for p in parts]
    if len(parts) < 2 and not any(matches):
        # one plain name: a binomial ("Bifidobacterium longum") is a species, else the rank is unknown
        name = normalize_name(text)
        if _BINOMIAL.match(name) and not name.endswith(" group") and not _is_unnamed(name):
            out[6] = name
            out[5] = _genus_of(name)
        return out, text
    position = -1
    species_raw = None
    genus_part = False
    for part, m in zip(parts, matches, strict=True):
        if m is not None:
            letter, silva, value = m.groups()
            if letter is not None:
                position = _PREFIX_RANK[letter]
                genus_part = genus_part or letter == "g"
            else:
                position = int(silva)
                genus_part = genus_part or silva == "5"
        else:
            position, value = position + 1, part
        if position >= len(RANKS):
            continue
        value = normalize_name(value)
        if position == 6:
            species_raw = value
        if _is_unnamed(value):
            continue
        out[position] = value
    genus, species = out[5], out[6]
    if species is not None and genus is not None and " " not in species and species[:1].islower():
        out[6] = f"{genus} {species}"  # Greengenes keeps the epithet only: g__Bacteroides; s__uniformis
    elif genus is None and species_raw and not genus_part:
        # no genus part at all (``s__Alistipes_putredinis`` alone): the genus is the first word
        out[5] = _genus_of(species_raw)
    return out, text


def _genus_of(species: str) -> str | None:
    """Genus of a species name (first word, or ``Candidatus X``); None for placeholder names.

    ``Lachnospiraceae bacterium``, ``Firmicutes bacterium CAG 791`` or ``Clostridiales_unclassified``
    name no genus.
    """
    words = species.split(" ")
    if words[0] == "Candidatus" and len(words) > 2:
        words = [f"{words[0]} {words[1]}", *words[2:]]
    first = words[0]
    second = words[1].casefold() if len(words) > 1 else ""
    if (
        not first[:1].isupper()
        or _is_unnamed(first)
        or first.endswith(("aceae", "ales", "ota", "utes"))
        or second in _PLACEHOLDER_EPITHETS
    ):
        return None
    return first


def parse_lineage(strings: Iterable[str] | str) -> pd.DataFrame:
    """Split lineage strings into one column per rank.

    Handles rank prefixes ``k__``/``d__``/``p__``... and SILVA ``D_0__``..., the separators
    ``|`` and ``;``, ``s__Genus_species`` (underscores become spaces), Greengenes species
    epithets (``g__Bacteroides; s__uniformis`` -> ``Bacteroides uniformis``), empty ranks
    (``g__``) and "no name" markers (``unclassified``, ``Firmicutes_unclassified``, ``noname``,
    ``uncultured``...), which all give a missing value. Unprefixed lineages of two or more parts
    are read by position from the kingdom down; a single unprefixed name has no known rank.

    Parameters
    ----------
    strings
        Lineage strings (a single string is accepted too).

    Returns
    -------
    pandas.DataFrame
        One row per input string (index: the strings, or the Series index when a Series is
        given), columns ``kingdom phylum class order family genus species strain`` (normalised
        names, NaN where unknown), ``taxon`` (the name at the finest known rank; the normalised
        string itself when no rank is known), ``rank`` (that rank, NaN when unknown) and
        ``lineage`` (the input string).

    Examples
    --------
    >>> from gutaxis.taxonomy import parse_lineage
    >>> row = parse_lineage("k__Bacteria|p__Firmicutes|g__Faecalibacterium|s__Faecalibacterium_prausnitzii")
    >>> row.iloc[0][["phylum", "genus", "species", "rank"]].tolist()
    ['Firmicutes', 'Faecalibacterium', 'Faecalibacterium prausnitzii', 'species']
    >>> parse_lineage("D_0__Bacteria;D_1__Bacteroidetes;g__").iloc[0][["taxon", "rank"]].tolist()
    ['Bacteroidetes', 'phylum']
    """
    if isinstance(strings, str):
        strings = [strings]
    index = strings.index if isinstance(strings, pd.Series) else None
    values = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in strings]
    if index is None:
        index = pd.Index(values, dtype=object)
    unique = dict.fromkeys(values)
    columns = [*RANKS, "taxon", "rank", "lineage"]
    # one preallocated object table, filled row by row (lean on memory for a million features)
    table = np.empty((len(unique), len(columns)), dtype=object)
    for i, text in enumerate(unique):
        ranks, _ = _parse_one(text.strip())
        finest = next((k for k in range(len(RANKS) - 1, -1, -1) if ranks[k] is not None), None)
        if finest is not None:
            ranks += (ranks[finest], RANKS[finest], text)
        else:
            name = normalize_name(text)
            ranks += (None if _is_unnamed(name) or ("|" in text or ";" in text) else name, None, text)
        table[i] = ranks
    if len(unique) != len(values):
        row_of = {text: i for i, text in enumerate(unique)}
        table = table[np.fromiter((row_of[v] for v in values), dtype=np.int64, count=len(values))]
    # None as a 0-d object array (what numpy makes of it anyway): numpy's stubs refuse a bare None
    table[:, :-1][np.equal(table[:, :-1], np.array(None, dtype=object))] = np.nan
    return pd.DataFrame(table, index=index, columns=columns, dtype=object)


# ------------------------------------------------------------------------------- collapse


def collapse(adata: AnnDataObject, rank: str) -> AnnDataObject:
    """Sum the features of an AnnData to one taxonomic rank.

    Features are grouped by their ``var[rank]`` name (parsed from ``var["lineage"]`` or the
    feature IDs when ``var`` lacks the rank columns). Features with no name at that rank are
    summed into one feature ``"unassigned <rank>"``; they are reported in
    ``uns["provenance"]["filtered"]`` and by a ``gutaxis.io.FilteredWarning``. ``X`` and
    ``layers["counts"]`` are summed; other layers are dropped (and said so in provenance).
    Output features are sorted by name, ``unassigned <rank>`` last, so the result does not
    depend on feature order.

    Parameters
    ----------
    adata
        A cohort (samples x taxa) following the gutaxis data contract.
    rank
        One of ``kingdom phylum class order family genus species strain``.

    Returns
    -------
    anndata.AnnData
        A new cohort with one feature per name at ``rank``.
    """
    import anndata as ad

    from .io._container import FilteredWarning, ensure_provenance

    if rank not in RANKS:
        raise InputError(f"unknown rank {rank!r}", source="collapse", hint=f"use one of {', '.join(RANKS)}")
    if type(adata).__name__ != "AnnData":
        raise InputError(
            f"expected an AnnData, got {type(adata).__name__}",
            source="collapse",
            hint="read a profile with gutaxis.read_profile(...) first",
        )
    var = adata.var
    if rank not in var.columns:
        source = var["lineage"] if "lineage" in var.columns else pd.Series(adata.var_names, index=adata.var_names)
        var = parse_lineage(pd.Series(source.astype(str).to_numpy(), index=adata.var_names))
    level = RANKS.index(rank)
    names = var[rank].astype(object).where(var[rank].notna(), None).to_numpy(dtype=object)
    unassigned_label = f"unassigned {rank}"
    missing = np.array([n is None or str(n) == "" for n in names])
    labels = np.where(missing, unassigned_label, names.astype(str) if len(names) else names).astype(object)
    groups = sorted(set(labels[~missing]))
    if missing.any():
        groups.append(unassigned_label)
    position = {g: i for i, g in enumerate(groups)}
    col = np.array([position[label] for label in labels], dtype=np.int64)
    indicator = sp.csr_matrix((np.ones(len(col)), (np.arange(len(col)), col)), shape=(len(col), len(groups)))

    def _sum(matrix):
        out = matrix @ indicator
        return out.tocsr() if sp.issparse(matrix) else np.asarray(out)

    X = _sum(adata.X if sp.issparse(adata.X) else np.asarray(adata.X, dtype=np.float64))
    layers = {}
    if "counts" in adata.layers:
        counts = adata.layers["counts"]
        layers["counts"] = _sum(counts if sp.issparse(counts) else np.asarray(counts, dtype=np.float64))
    dropped_layers = [k for k in adata.layers if k != "counts"]

    # consensus ranks above `rank`: a value when all members agree, else NaN
    frame = pd.DataFrame({r: var[r].astype(object).to_numpy() for r in RANKS[:level]}, dtype=object)
    frame["_group"] = labels
    new_var = pd.DataFrame(index=pd.Index(groups, dtype=object), columns=list(RANKS), dtype=object)
    if level:
        grouped = frame.groupby("_group", sort=False)
        first = grouped.first()
        distinct = grouped.nunique(dropna=False)
        consensus = first.where(distinct <= 1)
        for r in RANKS[:level]:
            new_var[r] = consensus[r].reindex(groups).to_numpy(dtype=object)
    new_var[rank] = [None if g == unassigned_label else g for g in groups]
    new_var["taxon"] = groups
    new_var["rank"] = rank
    new_var["lineage"] = [
        "|".join(
            f"{_RANK_PREFIX[r]}__{'' if pd.isna(v) else str(v).replace(' ', '_')}"
            for r, v in zip(RANKS[: level + 1], row, strict=True)
        )
        for row in new_var[list(RANKS[: level + 1])].itertuples(index=False)
    ]
    new_var = new_var.astype(object).where(new_var.notna(), np.nan)

    out = ad.AnnData(X=X, obs=adata.obs.copy(), var=new_var, layers=layers or None)
    uns = copy.deepcopy(dict(adata.uns))
    prov = ensure_provenance(uns.get("provenance"))
    prov.setdefault("steps", [])
    prov["steps"] = [
        *list(prov["steps"]),
        {"step": "collapse", "rank": rank, "n_features_in": int(adata.n_vars), "n_features_out": len(groups)},
    ]
    if missing.any():
        ids = [str(v) for v in adata.var_names[missing]]
        entry = {
            "what": f"features with no {rank} name",
            "reason": f"summed into '{unassigned_label}'",
            "n": len(ids),
            "ids": ids,
        }
        prov["filtered"] = [*prov["filtered"], entry]
        warnings.warn(
            f"collapse to {rank}: {len(ids)} feature(s) with no {rank} name were summed into '{unassigned_label}'",
            FilteredWarning,
            stacklevel=2,
        )
    if dropped_layers:
        prov["steps"][-1]["dropped_layers"] = dropped_layers
    uns["provenance"] = prov
    out.uns.update(uns)
    return out


# --------------------------------------------------------------------- Lactobacillus 2020


@lru_cache(maxsize=1)
def _lactobacillus_table() -> pd.DataFrame:
    return package_table("lactobacillus_2020.tsv", dtype=str)


def lactobacillus_group() -> frozenset[str]:
    """The 25 genera of the former genus *Lactobacillus*.

    *Lactobacillus* (emended), *Paralactobacillus* and the 23 genera described by Zheng et al.
    2020, Int J Syst Evol Microbiol 70:2782-2858, doi:10.1099/ijsem.0.004107.

    Returns
    -------
    frozenset of str
        Genus names (read from ``gutaxis/data/lactobacillus_2020.tsv``).
    """
    table = _lactobacillus_table()
    return frozenset(table.loc[table["kind"] == "genus", "name"])


def synonyms() -> dict[str, str]:
    """Old ``Lactobacillus`` species names -> their name after the 2020 reclassification.

    Only names that changed are listed (e.g. ``Lactobacillus rhamnosus`` ->
    ``Lacticaseibacillus rhamnosus``); species that stayed in *Lactobacillus* (acidophilus,
    gasseri, crispatus, johnsonii, delbrueckii, helveticus...) map to themselves through
    :func:`current_name`. Source: Zheng et al. 2020, doi:10.1099/ijsem.0.004107.
    """
    table = _lactobacillus_table()
    rows = table[table["kind"] == "synonym"]
    return dict(zip(rows["name"], rows["current_name"], strict=True))


@lru_cache(maxsize=1)
def _synonym_keys() -> dict[str, str]:
    return {old.casefold(): new for old, new in synonyms().items()}


def current_name(name: str) -> str:
    """The current name of a taxon: old ``Lactobacillus`` species get their 2020 genus.

    The name is normalised first (:func:`normalize_name`); words after the binomial (subspecies,
    strain) are kept. Names that are not in the synonym table are returned normalised.

    Examples
    --------
    >>> current_name("s__Lactobacillus_rhamnosus")
    'Lacticaseibacillus rhamnosus'
    """
    norm = normalize_name(name)
    words = norm.split(" ")
    if len(words) >= 2:
        new = _synonym_keys().get(f"{words[0]} {words[1]}".casefold())
        if new is not None:
            return " ".join([new, *words[2:]])
    return norm


def is_lactobacillus_group(names: Iterable[str] | str) -> bool | np.ndarray:
    """Whether each name is in one of the 25 genera of the former genus *Lactobacillus*.

    Works with old and new names (``Lactobacillus rhamnosus`` and ``Lacticaseibacillus
    rhamnosus`` both count) and with genus names, species names and prefixed names.

    Parameters
    ----------
    names
        One name or an iterable of names.

    Returns
    -------
    bool or numpy.ndarray of bool
        A bool for a single name, else one bool per name.
    """
    genera = {g.casefold() for g in lactobacillus_group()}

    def _one(name) -> bool:
        norm = current_name(name)
        return bool(norm) and norm.split(" ")[0].casefold() in genera

    if isinstance(names, str):
        return _one(names)
    return np.array([_one(n) for n in names], dtype=bool)
