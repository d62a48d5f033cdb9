"""Panels of beneficial taxa and pathobionts: summed relative abundance per panel entry.

The panel lives in ``gutaxis/data/panels.tsv``: one row per entry with ``entry panel taxon rank
match role direction_in_disease caveat citation``. ``match`` is a rule of ``;``-separated
clauses ``rank=name,name,...`` with ``rank`` one of ``species``, ``genus``, ``family`` or
``group``; a feature belongs to the entry when any clause matches its lineage:

- ``species=Ruminococcus gnavus,Mediterraneibacter gnavus``: the feature's species;
- ``genus=Bifidobacterium``: the feature's genus (``var["genus"]``, else the first word of
  the species name), so old and new species names of a genus list both match;
- ``family=Enterobacteriaceae``: ``var["family"]`` (tables without a family column fall back
  on the genus clause of the same rule);
- ``group=lactobacillus_group``: the genera of ``gutaxis.taxonomy.lactobacillus_group()``
  (Zheng et al. 2020, doi:10.1099/ijsem.0.004107) when that function exists; the ``genus=``
  clause of the same rule is the fallback list.

Entries of a panel can overlap (``butyrate_producers`` contains *F. prausnitzii*): each entry is
its own column, never summed across entries.

**Denominator.** Values are shares of the classified reads: each sample is divided by its total
over the table's features (the gutaxis readers already give such tables; a MetaPhlAn 3/4 profile's
unknown share is in ``obs["unclassified_fraction"]``, not in the denominator).

**Never silently zero.** An entry is *measurable* when the table can name a taxon at a rank the
entry's rule reads (a species clause needs features named to species; a genus, group or family
clause features named to genus or family). An entry that is measurable and matches no feature was
not detected: its value is 0. An entry that is not measurable (the features are ASV hashes or
sequences without a taxonomy, or a genus-level table for a species entry) is NaN, listed in
``attrs["not_measurable"]`` with the reason and warned about, never reported as 0.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._data import package_table
from .._typing import AbundanceData
from .._validation import _is_anndata, abundance_matrix
from ..errors import InputError
from ._taxa import feature_lineage, lactobacillus_group_genera, match_key

__all__ = ["NOT_MEASURABLE", "PANEL_COLUMNS", "PanelWarning", "load_panels", "panel_abundance"]

#: why an entry is NaN, by cause (the report and summary.json use these words)
NOT_MEASURABLE = {
    "no_names": "not measurable (no feature matches its taxa; give --taxonomy)",
    "coarser": "not measurable (the table names no taxa at the {ranks} rank this entry needs)",
}
# a rank value that names a taxon: a capitalised Latin word first (not an ASV/OTU ID, hash or sequence)
_TAXON_NAME = re.compile(r"^(?:Candidatus\s+)?\[?[A-Z][a-z]+(?:-[A-Za-z]+)*\]?(?:\s|$)")


class PanelWarning(UserWarning):
    """Some panel entries cannot be measured in this table (their values are NaN, not 0)."""


PANEL_COLUMNS = ("entry", "panel", "taxon", "rank", "match", "role", "direction_in_disease", "caveat", "citation")
_REQUIRED = ("entry", "panel", "match", "citation")
_CLAUSE_RANKS = ("species", "genus", "family", "group")
_GROUPS = {"lactobacillus_group": lactobacillus_group_genera}


@lru_cache(maxsize=1)
def _packaged() -> pd.DataFrame:
    return package_table("panels.tsv", dtype=str, keep_default_na=False)


def load_panels() -> pd.DataFrame:
    """The packaged panel table (one row per entry; see the module docstring for the columns)."""
    return _packaged().copy()


def _parse_rule(entry: str, rule: str) -> dict[str, list[str]]:
    clauses: dict[str, list[str]] = {}
    for clause in str(rule).split(";"):
        clause = clause.strip()
        if not clause:
            continue
        rank, sep, names = clause.partition("=")
        rank = rank.strip().lower()
        values = [v.strip() for v in names.split(",") if v.strip()]
        if not sep or rank not in _CLAUSE_RANKS or not values:
            raise InputError(
                f"panel entry {entry!r}: match clause {clause!r} is not 'rank=name,name'",
                source="panel",
                hint=f"rank is one of {', '.join(_CLAUSE_RANKS)}",
            )
        if rank == "group":
            unknown = [v for v in values if v not in _GROUPS]
            if unknown:
                raise InputError(
                    f"panel entry {entry!r}: unknown group {unknown[0]!r}",
                    source="panel",
                    hint=f"known groups: {', '.join(_GROUPS)}",
                )
        clauses.setdefault(rank, []).extend(values)
    if not clauses:
        raise InputError(f"panel entry {entry!r} has an empty match rule", source="panel")
    return clauses


def _select_panel(panel) -> pd.DataFrame:
    table = _packaged()
    if panel is None:
        return table.copy()
    if isinstance(panel, pd.DataFrame):
        missing = [c for c in _REQUIRED if c not in panel.columns]
        if missing:
            raise InputError(
                f"the panel table has no column {missing[0]!r}",
                source="panel",
                hint=f"a panel needs the columns {', '.join(_REQUIRED)} (see gutaxis/data/panels.tsv)",
            )
        out = panel.copy()
        for c in PANEL_COLUMNS:
            if c not in out.columns:
                out[c] = ""
        out = out.astype({c: str for c in PANEL_COLUMNS})
        dup = out["entry"][out["entry"].duplicated()]
        if len(dup):
            raise InputError(f"panel entry {dup.iloc[0]!r} is listed twice", source="panel")
        empty = out["citation"].str.strip() == ""
        if empty.any():
            raise InputError(
                f"panel entry {out['entry'][empty].iloc[0]!r} has no citation",
                source="panel",
                hint="give a DOI or PMID for every entry",
            )
        return out.reset_index(drop=True)
    wanted = [panel] if isinstance(panel, str) else list(panel)
    rows = []
    for w in wanted:
        hit = table[(table["panel"] == w) | (table["entry"] == w)]
        if hit.empty:
            raise InputError(
                f"unknown panel or entry {w!r}",
                source="panel_abundance",
                hint=f"panels: {', '.join(sorted(table['panel'].unique()))}; entries: {', '.join(table['entry'])}",
            )
        rows.append(hit)
    return pd.concat(rows).drop_duplicates("entry").reset_index(drop=True)


def _keyset(names) -> set:
    return {k for k in (match_key(n) for n in names) if k is not None}


def panel_abundance(
    data: AbundanceData, panel: str | Sequence[str] | pd.DataFrame | None = None, *, normalize: bool | None = None
) -> pd.DataFrame:
    """Summed relative abundance of each panel entry per sample.

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame of relative abundances (proportions).
    panel
        ``None`` (every entry of ``data/panels.tsv``), a panel name (``"beneficial"``,
        ``"pathobiont"``), an entry ID or a list of them, or a DataFrame with at least the
        columns ``entry panel match citation`` (your own panel).
    normalize
        Divide each sample by its total first (shares of the classified reads). ``None``
        (default): whenever some sample does not sum to 1 (percentages, counts, or proportions of
        all reads with the unclassified share left out); said in ``attrs["params"]``. Tables from
        the gutaxis readers sum to 1 already.

    Returns
    -------
    DataFrame samples x entries (proportions, 0-1). ``attrs``: ``matched`` (entry -> feature
    IDs summed), ``unmatched`` (entries with no feature in the table: their column is 0 when the
    entry is measurable, listed, not hidden), ``not_measurable`` (entry -> reason; their column
    is NaN; see the module notes), ``sources`` (where each entry's genus list came from),
    ``entries`` (the panel rows used), ``citation`` (entry -> DOI/PMID), ``params``.
    """
    X, samples, features = abundance_matrix(data, name="panel_abundance input")
    table = _select_panel(panel)
    totals = np.asarray(X.sum(axis=1)).ravel()
    auto = normalize is None
    if auto:
        normalize = bool((np.abs(totals[totals > 0] - 1.0) > 1e-6).any())
    if normalize:
        zero = np.flatnonzero(totals <= 0)
        if len(zero) and not auto:
            raise InputError(
                f"sample {samples[zero[0]]!r} sums to zero ({len(zero)} such sample(s))",
                source="panel_abundance",
                hint="remove empty samples before normalising",
            )
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)  # an empty sample stays 0
        X = sp.diags(inv) @ X if sp.issparse(X) else X * inv[:, None]

    lin = feature_lineage(data, features)
    sp_keys = np.array([match_key(s) if s is not None else None for s in lin["species"]], dtype=object)
    ge_keys = np.array([match_key(g) if g is not None else None for g in lin["genus"]], dtype=object)
    fa_keys = np.array([match_key(f) if f is not None else None for f in lin["family"]], dtype=object)
    has_family = any(f is not None for f in lin["family"])
    named = {r: any(_is_name(v) for v in lin[r]) for r in ("species", "genus", "family")}
    not_measurable: dict[str, str] = {}

    n_feat, n_ent = len(features), len(table)
    rows_i, cols_j = [], []
    matched: dict[str, list[str]] = {}
    unmatched, sources = [], {}
    for j, row in enumerate(table.itertuples(index=False)):
        entry = row.entry
        clauses = _parse_rule(entry, row.match)
        genera = list(clauses.get("genus", []))
        source = "data/panels.tsv match rule"
        for g in clauses.get("group", []):
            genera, source = _GROUPS[g](genera)
        sources[entry] = source
        reason = _unmeasurable(clauses, bool(genera), named)
        if reason is not None:
            not_measurable[entry] = reason
            matched[entry] = []
            unmatched.append(entry)
            continue
        hit = np.zeros(n_feat, bool)
        if "species" in clauses:
            hit |= np.isin(sp_keys, list(_keyset(clauses["species"])))
        if genera:
            hit |= np.isin(ge_keys, list(_keyset(genera)))
        if "family" in clauses:
            hit |= np.isin(fa_keys, list(_keyset(clauses["family"])))
        idx = np.flatnonzero(hit)
        if len(idx):
            matched[entry] = [str(features[i]) for i in idx]
            rows_i.extend(idx.tolist())
            cols_j.extend([j] * len(idx))
        else:
            matched[entry] = []
            unmatched.append(entry)
    W = sp.csr_matrix((np.ones(len(rows_i)), (rows_i, cols_j)), shape=(n_feat, n_ent))
    values = X @ W
    values = values.toarray() if sp.issparse(values) else np.asarray(values)
    result = pd.DataFrame(values, index=samples, columns=pd.Index(table["entry"].tolist(), name="entry"))
    for entry in not_measurable:
        result[entry] = np.nan
    if not_measurable:
        warnings.warn(
            f"{len(not_measurable)} of {n_ent} panel entries are not measurable in this table and are "
            f"NaN, not 0: {', '.join(list(not_measurable)[:6])}"
            f"{' ...' if len(not_measurable) > 6 else ''} -- {next(iter(not_measurable.values()))}",
            PanelWarning,
            stacklevel=2,
        )

    notes = []
    if not has_family and any("family=" in str(m) for m in table["match"]):
        notes.append("the table has no family lineage: family clauses used their genus lists only")
    if _is_anndata(data) and "rank" in data.var.columns:
        ranks = data.var["rank"].astype(str)
        for entry, ids in matched.items():
            kinds = set(ranks.loc[ids]) if ids else set()
            if len(kinds) > 1:
                notes.append(
                    f"entry {entry!r} sums features of several ranks ({', '.join(sorted(kinds))}): "
                    "check that the table does not hold nested ranks"
                )
    result.attrs["params"] = {
        "panel": "packaged" if panel is None else (panel if isinstance(panel, (str, list)) else "user table"),
        "normalize": bool(normalize),
    }
    result.attrs["matched"] = matched
    result.attrs["unmatched"] = unmatched
    absent = [e for e in unmatched if e not in not_measurable]
    result.attrs["not_measurable"] = not_measurable
    result.attrs["filtered"] = (
        [
            {
                "what": "panel entries",
                "reason": "no feature of the table matches the entry: not detected (column is 0)",
                "n": len(absent),
                "ids": absent,
            }
        ]
        if absent
        else []
    ) + (
        [
            {
                "what": "panel entries",
                "reason": "not measurable in this table (column is NaN): "
                + "; ".join(sorted(set(not_measurable.values()))),
                "n": len(not_measurable),
                "ids": list(not_measurable),
            }
        ]
        if not_measurable
        else []
    )
    result.attrs["sources"] = sources
    result.attrs["entries"] = table.to_dict(orient="records")
    result.attrs["citation"] = dict(zip(table["entry"], table["citation"], strict=True))
    result.attrs["notes"] = notes
    return result


def _is_name(value) -> bool:
    """Whether a lineage value names a taxon (not an ASV/OTU ID, a hash or a sequence)."""
    return value is not None and bool(_TAXON_NAME.match(str(value)))


def _unmeasurable(clauses: dict, has_genera: bool, named: dict) -> str | None:
    """Why an entry cannot be measured in a table with features ``named`` at these ranks (None: it can)."""
    if (
        ("species" in clauses and named["species"])
        or (has_genera and named["genus"])
        or ("family" in clauses and (named["family"] or named["genus"]))
    ):
        return None
    if not any(named.values()):
        return NOT_MEASURABLE["no_names"]
    ranks = [r for r in ("species", "genus", "family") if r in clauses or (r == "genus" and has_genera)]
    return NOT_MEASURABLE["coarser"].format(ranks=" or ".join(ranks))
