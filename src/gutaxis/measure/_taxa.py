"""Matching a table's features to published taxon names (private helper of gmhi and panels).

Published lists name taxa in several spellings: MetaPhlAn2 ``s__Bifidobacterium_adolescentis``,
full lineages ``k__Bacteria|...|s__Bifidobacterium_adolescentis``, plain ``Bifidobacterium
adolescentis`` or ``[Ruminococcus] gnavus``. Features are compared by a *match key*: the
normalised name (``gutaxis.taxonomy.normalize_name`` when it is available, else the small
fallback below), case-folded, with runs of spaces, underscores, dots, slashes and hyphens
collapsed to one space.

Per-feature lineage (species, genus, family, kingdom) comes from an AnnData's ``var`` columns
where present (the data contract of ``docs/contributing.md``) and is otherwise parsed from the
feature names: a rank-prefixed lineage string gives its ranks; a plain name of two or more words
is a species whose genus is the first word; one word ending in ``-aceae`` is a family, any other
single word a genus.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .._validation import _is_anndata

__all__ = ["feature_lineage", "lactobacillus_group_genera", "match_key", "match_keys", "normalize"]

_RANKS = {
    "k": "kingdom",
    "d": "kingdom",
    "p": "phylum",
    "c": "class",
    "o": "order",
    "f": "family",
    "g": "genus",
    "s": "species",
    "t": "strain",
}
_PREFIX = re.compile(r"^\s*(?:([kdpcofgst])__|D_\d+__)")
_SEP = re.compile(r"[|;]")
_KEY_RUNS = re.compile(r"[\s_./\-]+")
_MISSING = {"", "nan", "none", "na", "<na>"}
_RANK_PART = re.compile(r"^\s*([kdpcofgst])__(.+)$")


def _fallback_normalize(name: str) -> str | None:
    """Strip rank prefixes and lineage, underscores -> spaces, drop brackets of ``[Genus]``."""
    text = str(name).strip()
    if not text:
        return None
    if "|" not in text and ";" not in text and "__" not in text:
        # one part without a rank prefix (a rank value such as 'Bifidobacterium'): what the
        # general path below gives for it, without its regexes (a wide table calls this per feature)
        leaf = " ".join(text.replace("[", "").replace("]", "").replace("_", " ").split())
        return leaf or None
    parts = [p.strip() for p in _SEP.split(text) if p.strip()]
    # keep the deepest named rank above strain: 's__X' in 'k__..|s__X|t__Y'
    named = [p for p in parts if not re.fullmatch(r"(?:[kdpcofgst]__|D_\d+__)", p)]
    if not named:
        return None
    leaf = named[-1]
    if leaf.startswith("t__") and len(named) > 1:
        leaf = named[-2]
    leaf = _PREFIX.sub("", leaf)
    leaf = leaf.replace("[", "").replace("]", "").replace("_", " ")
    leaf = " ".join(leaf.split())
    return leaf or None


@functools.cache
def _taxonomy_normalizer():
    """``gutaxis.taxonomy.normalize_name``, looked up once (not per name)."""
    try:
        from ..taxonomy import normalize_name  # written by the io/taxonomy engineer
    except ImportError:
        return None
    return normalize_name


def normalize(name) -> str | None:
    """Normalised taxon name (``gutaxis.taxonomy.normalize_name`` when available)."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    fn = _taxonomy_normalizer()
    out = None
    if fn is not None:
        try:
            out = fn(str(name))
        except Exception:  # a name the official normaliser rejects still gets the fallback
            out = None
    if type(out) is str and out.strip():  # the common case: the checks below, without their cost
        return out
    if out is None or (isinstance(out, float) and np.isnan(out)) or not str(out).strip():
        out = _fallback_normalize(str(name))
    return None if out is None else str(out)


def match_key(name) -> str | None:
    """Case-folded normalised name with separators collapsed; ``None`` for empty names."""
    norm = normalize(name)
    if norm is None:
        return None
    key = _KEY_RUNS.sub(" ", norm.casefold()).strip()
    return None if key in _MISSING else key


def match_keys(names: Iterable) -> np.ndarray:
    """:func:`match_key` of each name (object array, ``None`` where empty); unique names only once."""
    index = pd.Index(list(names), dtype=object)
    keys = {u: match_key(u) for u in index.unique()}
    return np.array([keys[n] for n in index], dtype=object)


def _raw_ranks(name: str) -> dict:
    """Ranks named explicitly in a prefixed lineage string (``g__Bifidobacterium`` -> genus)."""
    out: dict[str, str] = {}
    name = str(name)
    if "__" not in name:  # no part can carry a rank prefix
        return out
    for part in _SEP.split(name):
        m = _RANK_PART.match(part.strip())
        if m:
            val = m.group(2).strip()
            if val:
                out[_RANKS[m.group(1)]] = val
    return out


def _parse_one(name: str, with_name: bool = True) -> dict:
    """Lineage parsed from a feature name; ``with_name=False``: the caller has the normalised name
    already (var['taxon']), so a rank-prefixed name is not normalised a second time (``name`` None)."""
    ranks = _raw_ranks(name)
    norm = normalize(name) if with_name or not ranks else None
    out = {"name": norm, "species": None, "genus": None, "family": None, "kingdom": None}
    if ranks:
        for r in ("species", "genus", "family", "kingdom"):
            if r in ranks:
                out[r] = _fallback_normalize(ranks[r])
        if out["species"] is not None and out["genus"] is None:
            out["genus"] = _genus_of(out["species"])
        return out
    if norm is None:
        return out
    words = norm.split()
    if len(words) >= 2 and not (words[0] == "Candidatus" and len(words) == 2):
        out["species"] = norm
        out["genus"] = _genus_of(norm)
    elif words[-1].endswith("aceae"):
        out["family"] = norm
    else:
        out["genus"] = norm
    return out


def _genus_of(species: str) -> str | None:
    words = species.split()
    if not words:
        return None
    if words[0] == "Candidatus" and len(words) > 1:
        return " ".join(words[:2])
    return words[0]


def _clean(value):
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    text = str(value).strip()
    return None if text.casefold() in _MISSING else text


def feature_lineage(data, features: pd.Index) -> pd.DataFrame:
    """Per-feature ``name species genus family kingdom`` (normalised; ``None`` where unknown).

    AnnData ``var`` columns win where present and non-missing; the rest is parsed from the
    feature names (``var_names``).
    """
    var = data.var if _is_anndata(data) else None
    taxa = None
    if var is not None and "taxon" in var.columns:
        taxa = [_clean(v) for v in var["taxon"].to_numpy()]  # the name where given: not parsed again below
    parsed = pd.DataFrame(
        [_parse_one(f, taxa is None or taxa[i] is None) for i, f in enumerate(features)],
        index=features,
        columns=["name", "species", "genus", "family", "kingdom"],
        dtype=object,
    )
    if var is not None:
        seen: dict[str, str | None] = {}  # each distinct var value normalised once (kingdoms, families repeat)

        def norm_once(g: str):
            out = seen.get(g, seen)
            if out is seen:
                out = seen[g] = normalize(g)
            return out

        for col in ("species", "genus", "family", "kingdom"):
            if col in var.columns:
                given = [_clean(v) for v in var[col].to_numpy()]
                have = np.array([g is not None for g in given])
                vals = parsed[col].to_numpy(dtype=object)
                vals[have] = np.array([norm_once(g) for g in np.array(given, dtype=object)[have]], dtype=object)
                parsed[col] = vals
        if taxa is not None:
            vals = parsed["name"].to_numpy(dtype=object)
            for i, t in enumerate(taxa):
                if t is not None:
                    vals[i] = norm_once(t)
            parsed["name"] = vals
        # a species known from var gives its genus when var has no genus
        if "species" in var.columns and "genus" not in var.columns:
            sp_ = parsed["species"].to_numpy(dtype=object)
            ge = parsed["genus"].to_numpy(dtype=object)
            for i, s in enumerate(sp_):
                if s is not None and ge[i] is None:
                    ge[i] = _genus_of(s)
            parsed["genus"] = ge
    return parsed


def lactobacillus_group_genera(fallback: Iterable[str]) -> tuple[list[str], str]:
    """Genera of the Lactobacillus group: ``gutaxis.taxonomy.lactobacillus_group()`` when present.

    Returns ``(genera, source)``; ``fallback`` (the list in ``data/panels.tsv``) is used when the
    taxonomy module does not provide the function.
    """
    try:
        from ..taxonomy import lactobacillus_group
    except ImportError:
        return list(fallback), "data/panels.tsv genus list (gutaxis.taxonomy.lactobacillus_group not available)"
    genera = lactobacillus_group()
    if isinstance(genera, dict):
        genera = list(genera)
    elif isinstance(genera, (pd.Series, pd.Index)):
        genera = genera.tolist()
    names = [str(g) for g in genera]
    if not names:
        return list(fallback), "data/panels.tsv genus list (gutaxis.taxonomy.lactobacillus_group() was empty)"
    return names, "gutaxis.taxonomy.lactobacillus_group()"
