"""Stool profile -> the model's guilds: the share of each guild (B, L, Pb, Bc) and the diversity of a profile.

Holds :func:`profile_guilds` and what it needs: the cited taxon -> guild table (:func:`guild_table`,
``gutaxis/data/axis_guilds.tsv``, plus the genera of the 2020 *Lactobacillus* split), the lineage of
each feature (ranks, unclassified and non-bacterial reads) and the finest-rank-first match. It is the
observation side of the personal twin (:mod:`gutaxis.axis.personal`, step 2 of its docstring), kept
separate because it reads and classifies a profile's taxon names and uses nothing of the model's
equations; the twin and ``bench/twin_fit_rates.py`` call it. Every public name stays importable from
:mod:`gutaxis.axis.personal`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["GUILDS", "guild_table", "profile_guilds"]

GUILDS = ("B", "L", "Pb", "Bc")
_RANKS = ("species", "genus", "family", "phylum")


@lru_cache(maxsize=1)
def guild_table() -> pd.DataFrame:
    """Taxon -> guild table (``gutaxis/data/axis_guilds.tsv``) with citations."""
    with resources.files("gutaxis.data").joinpath("axis_guilds.tsv").open("r", encoding="utf-8") as fh:
        t = pd.read_csv(fh, sep="\t", dtype=str)
    bad = set(t["guild"]) - set(GUILDS)
    if bad:
        raise InputError(f"unknown guild(s) {sorted(bad)}", source="axis_guilds.tsv")
    return t


#: kingdoms outside the model's bacterial (and archaeal) biomass: excluded, like the unclassified share
_NON_BACTERIAL_KINGDOMS = frozenset({"viruses", "virus", "eukaryota", "eukarya", "fungi", "metazoa", "viridiplantae"})
_VIRAL = re.compile(r"virus|phage|viridae|virales", re.IGNORECASE)
#: a lineage that names nothing below its domain is an unclassified share, not a taxon
_DOMAINS = frozenset({"bacteria", "archaea", "root", "cellular organisms", "life", "all", "prokaryotes"})
#: SILVA 132 numbers clusters of a polyphyletic genus ("Coprococcus 3", "Ruminococcus 2")
_SILVA_CLUSTER = re.compile(r"\s+\d+$")


@lru_cache(maxsize=1)
def _guild_lookup() -> dict:
    """``(rank, lower-case name) -> guild`` from ``axis_guilds.tsv``, plus the 25 genera of the 2020
    *Lactobacillus* split (``lactobacillus_2020.tsv``, Zheng 2020) as guild L, so that profiles that
    name ``Ligilactobacillus ruminis`` or ``Lactobacillus ruminis`` without a family map alike."""
    from ..taxonomy import lactobacillus_group

    tab = guild_table()
    lookup = {
        (r, str(n).lower()): g for r, n, g in zip(tab["rank"], tab["name"], tab["guild"], strict=True) if r != "default"
    }
    for genus in lactobacillus_group():
        lookup.setdefault(("genus", genus.lower()), "L")
    return lookup


def _lineage_frame(data) -> pd.DataFrame:
    """Ranks of each feature (``kingdom`` and :data:`_RANKS`; lower-case names, None where unknown),
    ``name`` (the feature's own normalised name) and ``status``: ``classified``, ``unclassified``
    (MetaPhlAn's ``UNKNOWN``/``UNCLASSIFIED`` row, QIIME's ``Unassigned``, a lineage that names nothing
    below its domain such as ``k__Bacteria``) or ``non-bacterial`` (viruses, phages, eukaryotes)."""
    from .._validation import _is_anndata
    from ..taxonomy import _is_unnamed, normalize_name, parse_lineage

    names = [str(n) for n in (data.var_names if _is_anndata(data) else data.columns)]
    cols = ("kingdom", *_RANKS)
    if _is_anndata(data) and all(r in data.var.columns for r in ("genus", "family", "phylum")):
        var = data.var
        ranks = pd.DataFrame(
            {r: (var[r].to_numpy() if r in var.columns else np.nan) for r in cols}, index=pd.Index(names)
        )
    else:
        parsed = parse_lineage(names)
        ranks = pd.DataFrame(
            {r: (parsed[r].to_numpy() if r in parsed.columns else np.nan) for r in cols}, index=pd.Index(names)
        )

    def clean(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        s = str(v).strip().lower()
        return s or None

    ranks = ranks.apply(lambda c: c.astype(object).map(clean))
    ranks["name"] = [normalize_name(n) for n in names]
    # names that carry their rank in words rather than in a lineage: MetaPhlAn 2's "Escherichia
    # unclassified" (reads of the genus without a species), "Peptostreptococcaceae noname
    # unclassified", "Lachnospiraceae bacterium 1 1 57FAA" (a family-level placeholder species)
    for i, (_, row) in enumerate(ranks.iterrows()):
        if row["genus"] is not None or row["family"] is not None:
            continue
        words = [
            w
            for w in (row["species"] or row["name"] or "").split(" ")
            if w and w.lower() not in ("unclassified", "noname", "bacterium", "sp", "sp.")
        ]
        if not words or not words[0][:1].isalpha() or _is_unnamed(words[0]):
            continue
        first = words[0].lower()
        if first.endswith("aceae"):
            ranks.iat[i, ranks.columns.get_loc("family")] = first
        elif (
            row["species"] is None
            and all(row[r] is None for r in _RANKS)
            and _is_unnamed(row["name"])
            and words[0][:1].isupper()
            and not first.endswith(("ales", "ota", "etes"))
        ):
            ranks.iat[i, ranks.columns.get_loc("genus")] = first
    status = []
    for (_, row), raw in zip(ranks.iterrows(), names, strict=True):
        named = [row[r] for r in _RANKS if row[r] is not None]
        if row["kingdom"] in _NON_BACTERIAL_KINGDOMS or any(_VIRAL.search(s) for s in [*named, row["name"]] if s):
            status.append("non-bacterial")
        elif not named and (
            not row["name"]
            or _is_unnamed(row["name"])
            or row["name"].lower() in _DOMAINS
            or raw.strip().upper() in ("UNKNOWN", "UNCLASSIFIED")
        ):
            status.append("unclassified")
        else:
            status.append("classified")
    ranks["status"] = status
    return ranks


def _match_guild(row, lookup: dict) -> tuple[str, str, str] | None:
    """``(guild, matched rank, matched name)`` of one feature of :func:`_lineage_frame`, finest rank
    first; a plain name of unknown rank (``Faecalibacterium``, ``Enterobacteriaceae``) is looked up at
    every rank; None when nothing matches (the default guild)."""
    for r in _RANKS:
        name = row[r]
        if name is None:
            continue
        if (r, name) in lookup:
            return lookup[(r, name)], r, name
        if r == "genus":
            base = _SILVA_CLUSTER.sub("", name)
            if (r, base) in lookup:
                return lookup[(r, base)], r, base
    if all(row[r] is None for r in _RANKS) and row["name"]:
        plain = _SILVA_CLUSTER.sub("", row["name"].lower())
        for r in _RANKS:
            if (r, plain) in lookup:
                return lookup[(r, plain)], r, plain
    return None


def profile_guilds(profile, sample: str | None = None) -> pd.DataFrame:
    """Guild shares and diversity of each sample of a profile.

    Observation model of the shares (what a profile says about the model's guilds):

    * **Unclassified and non-bacterial reads are removed, and the rest renormalised.** MetaPhlAn 3/4's
      ``UNKNOWN``/``UNCLASSIFIED`` row (reads that hit no marker, often most of a sample), QIIME's
      ``Unassigned``, and lineages that name nothing below the domain (``k__Bacteria``) are reads whose
      guild is unknown: they are neither a guild nor "others", and they are not a taxon, so they
      neither raise the others guild Bc nor lower the diversity. Removing them assumes that they
      split among the guilds like the classified reads (missing at random). Viruses, phages and
      eukaryotes (``k__Viruses``, ``k__Eukaryota``, names with *virus*/*phage*) are not part of the
      model's bacterial biomass and are removed too. ``gutaxis.io.read_profile`` already drops the
      MetaPhlAn unclassified row into ``obs["unclassified_fraction"]``; a DataFrame that still has it
      gives the same shares.
    * **Taxa map to guilds by** ``axis_guilds.tsv``, finest rank first (species, genus, family,
      phylum; a SILVA cluster number such as ``Coprococcus 3`` is ignored; a plain name of unknown
      rank is looked up at every rank), plus the genera of the 2020 *Lactobacillus* split as L;
      everything else is the others guild Bc. Genera of the guild families (Enterobacteriaceae and
      other Proteobacteria -> Pb; Lachnospiraceae/Ruminococcaceae -> B) are listed by genus, so a
      profile of species names without lineage (``Escherichia coli``) maps as a lineage profile does.

    Parameters
    ----------
    profile : AnnData, DataFrame (samples x taxa) or a path read with :func:`gutaxis.io.read_profile`
    sample : keep only this sample

    Returns
    -------
    DataFrame indexed by sample with columns ``B L Pb Bc`` (shares of the classified bacterial mass,
    sum 1), ``diversity`` (Hill number of order 1 of the classified bacterial features), ``n_taxa``,
    ``unclassified`` (share of the sample's reads that were unclassified: ``obs["unclassified_fraction"]``
    where the reader recorded it, else the share of the removed unclassified features) and
    ``non_bacterial`` (share removed as viral or eukaryotic); ``attrs["assignment"]`` holds the
    guild (None for removed features), matched rank (``unclassified``/``non-bacterial`` for removed
    ones) and name of each feature.
    """
    from .._validation import _is_anndata, abundance_frame

    if isinstance(profile, (str, bytes)) or hasattr(profile, "__fspath__"):
        from ..io import read_profile

        profile = read_profile(profile)
    if isinstance(profile, pd.Series):
        profile = profile.to_frame().T
    X = abundance_frame(profile, name="profile")
    obs_uncl = None
    if _is_anndata(profile) and "unclassified_fraction" in profile.obs.columns:
        obs_uncl = pd.to_numeric(profile.obs["unclassified_fraction"], errors="coerce").reindex(X.index)
    if sample is not None:
        if sample not in X.index:
            raise InputError(
                f"sample {sample!r} is not in the profile", hint=f"samples: {', '.join(map(str, X.index[:10]))}"
            )
        X = X.loc[[sample]]
        obs_uncl = None if obs_uncl is None else obs_uncl.loc[[sample]]
    ranks = _lineage_frame(profile if _is_anndata(profile) else X)
    tab = guild_table()
    lookup = _guild_lookup()
    default = tab.loc[tab["rank"] == "default", "guild"]
    default = default.iloc[0] if len(default) else "Bc"
    assign: list[tuple[str | None, str, str]] = []  # (guild, matched rank, matched name)
    for _, row in ranks.iterrows():
        if row["status"] != "classified":
            assign.append((None, row["status"], row["name"]))
            continue
        assign.append(_match_guild(row, lookup) or (default, "default", "*"))
    assignment = pd.DataFrame(assign, index=ranks.index, columns=["guild", "matched_rank", "matched_name"])
    A = X.to_numpy(float)
    tot = A.sum(axis=1)
    if np.any(tot <= 0):
        raise InputError("a sample of the profile sums to zero", source="profile", hint="remove empty samples")
    status = ranks["status"].to_numpy()
    kept = status == "classified"
    A_kept = A[:, kept]
    tot_kept = A_kept.sum(axis=1)
    if np.any(tot_kept <= 0):
        bad = X.index[np.flatnonzero(tot_kept <= 0)[0]]
        raise InputError(
            f"sample {bad!r} has no classified bacterial reads (all unclassified, viral or eukaryotic)",
            source="profile",
            hint="a guild profile needs taxa named at phylum rank or below",
        )
    frac = A_kept / tot_kept[:, None]
    guild_of = assignment["guild"].to_numpy()[kept]
    out = pd.DataFrame(index=X.index)
    for g in GUILDS:
        out[g] = frac[:, guild_of == g].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(frac > 0, frac * np.log(frac), 0.0).sum(axis=1)
    out["diversity"] = np.exp(h)
    out["n_taxa"] = (A_kept > 0).sum(axis=1)
    uncl = A[:, status == "unclassified"].sum(axis=1) / tot
    if obs_uncl is not None:
        u = obs_uncl.to_numpy(float)
        uncl = np.where(np.isfinite(u), u + (1.0 - u) * uncl, uncl)
    out["unclassified"] = uncl
    out["non_bacterial"] = A[:, status == "non-bacterial"].sum(axis=1) / tot
    out.attrs["assignment"] = assignment
    out.attrs["params"] = {
        "table": "axis_guilds.tsv",
        "diversity": "Hill number of order 1 (exp Shannon) of the classified bacterial features",
        "removed": "unclassified and non-bacterial reads, then renormalised",
    }
    return out
