"""Gut Microbiome Health Index (GMHI).

Gupta VK, Kim M, Bakshi U, et al. A predictive index for health status using species-level gut
microbiome profiling. Nat Commun 11, 4635 (2020). doi:10.1038/s41467-020-18476-8

The computation follows the authors' script ``GMHI.R`` (github.com/jaeyunsung/GMHI_2020):

1. drop features whose name contains ``unclassified`` or ``virus`` (and, here, features whose
   ``var["kingdom"]`` is ``Viruses``);
2. renormalise every sample to sum to 1 over the remaining features;
3. set relative abundances below ``threshold`` (1e-5) to 0;
4. for the 7 Health-prevalent (MH) and the 43 Health-scarce (MN) species, with ``p`` the
   renormalised abundances of the set's species present in the sample (not renormalised within
   the set), ``R`` their number and ``H = -sum p ln p``:
   ``psi = (R / R') * H`` with ``R'_MH = 7`` and ``R'_MN = 31`` (the paper's medians);
5. ``GMHI = log10((psi_MH + 1e-5) / (psi_MN + 1e-5))``; > 0 suggests health, < 0 disease.

The species lists and ``R'`` live in ``gutaxis/data/gmhi_species.tsv`` with their citation.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._data import package_table
from .._typing import AbundanceData
from .._validation import _is_anndata, abundance_matrix
from ..errors import InputError
from ._taxa import match_keys

__all__ = ["gmhi", "gmhi_species"]

CITATION = (
    "Gupta VK et al. A predictive index for health status using species-level gut microbiome "
    "profiling. Nat Commun 11, 4635 (2020). doi:10.1038/s41467-020-18476-8"
)
#: added to psi_MH and psi_MN before the ratio (GMHI.R: "to avoid having the denominator as 0")
_PSEUDOCOUNT = 1e-5


@lru_cache(maxsize=1)
def _species_table() -> pd.DataFrame:
    return package_table("gmhi_species.tsv", dtype={"r_prime": float})


def gmhi_species() -> pd.DataFrame:
    """The 50 GMHI marker species (columns ``species metaphlan2_name group r_prime citation``)."""
    return _species_table().copy()


def _marker_sets(mh_species, mn_species) -> tuple[list[str], list[str], dict]:
    """Display names of MH and MN markers, and match key -> (group, display name)."""
    table = _species_table()
    out: dict[str, tuple[str, str]] = {}
    names = {}
    for group, given in (("MH", mh_species), ("MN", mn_species)):
        if given is None:
            rows = table[table["group"] == group]
            display = rows["species"].tolist()
            keys_a = match_keys(rows["metaphlan2_name"])
            keys_b = match_keys(rows["species"])
            pairs = [(d, {a, b}) for d, a, b in zip(display, keys_a, keys_b, strict=True)]
        else:
            if isinstance(given, str):
                given = [given]
            display = [str(s) for s in given]
            if not display:
                raise InputError(
                    f"the {group} species list is empty", source="gmhi", hint="pass None for the published list"
                )
            pairs = [(d, {k}) for d, k in zip(display, match_keys(display), strict=True)]
        for d, ks in pairs:
            for k in ks:
                if k is None:
                    raise InputError(f"{group} species {d!r} has no usable name", source="gmhi")
                if k in out and out[k][1] != d:
                    raise InputError(
                        f"species {d!r} is listed twice (also as {out[k][1]!r} in {out[k][0]})",
                        source="gmhi",
                        hint="a species can be Health-prevalent or Health-scarce, not both",
                    )
                out[k] = (group, d)
        names[group] = display
    return names["MH"], names["MN"], out


def _contains(values: np.ndarray, word: str) -> np.ndarray:
    return pd.Series(values, dtype=object).astype(str).str.contains(word, case=False, regex=False).to_numpy()


def gmhi(
    data: AbundanceData,
    *,
    mh_species: Iterable[str] | None = None,
    mn_species: Iterable[str] | None = None,
    threshold: float = 1e-5,
    r_prime: tuple[float, float] | None = None,
) -> pd.Series:
    """Gut Microbiome Health Index per sample (Gupta et al. 2020, doi:10.1038/s41467-020-18476-8).

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame of species-level relative abundances (any scale:
        every sample is renormalised). MetaPhlAn2 species profiles are what the index was built on.
        GMHI.R takes the MetaPhlAn species table as given and renormalises it itself after
        dropping the unclassified and viral rows, so the index does not depend on the
        denominator: shares of the classified reads (gutaxis's readers) or of all reads (a
        MetaPhlAn 3/4 table with its ``UNKNOWN`` row left out) give the same value.
    mh_species, mn_species
        Health-prevalent / Health-scarce species to use instead of the published 7 and 43 (any
        spelling: ``s__Genus_species``, ``Genus species``).
    threshold
        Renormalised relative abundances below this are set to 0 (published: 1e-5).
    r_prime
        ``(R'_MH, R'_MN)``; default the published (7, 31) from ``data/gmhi_species.tsv``.

    Returns
    -------
    Series ``GMHI`` indexed by sample (dimensionless; > 0 healthy-like, < 0 disease-like).
    ``attrs``: ``params``; ``filtered`` (features dropped as unclassified / viral and samples
    left NaN, each ``{"what", "reason", "n", "ids"}``); ``markers_absent`` (marker species with
    no feature in the table, per group) and ``n_markers_absent``; ``markers_matched`` (marker ->
    features); ``citation``.

    Notes
    -----
    Features are matched to marker species by normalised name (``var["species"]`` of an AnnData
    when present, else the feature IDs), so ``s__Bifidobacterium_adolescentis`` and
    ``Bifidobacterium adolescentis`` both match. Several features with the same species are
    summed. Name filters are case-insensitive (identical to GMHI.R's on MetaPhlAn2 names).
    Unlike GMHI.R, a table without any unclassified/virus row is used as is (R's
    ``x[-grep(...), ]`` would empty it). A sample with no abundance left after the filters gets
    NaN, listed in ``attrs["filtered"]`` and warned about.
    """
    if not (np.isfinite(threshold) and threshold >= 0):
        raise InputError(f"threshold {threshold!r} must be a finite number >= 0", source="gmhi")
    X, samples, features = abundance_matrix(data, name="gmhi input")
    mh_names, mn_names, marker_of = _marker_sets(mh_species, mn_species)
    table = _species_table()
    if r_prime is None:
        r_mh = float(table.loc[table["group"] == "MH", "r_prime"].iloc[0])
        r_mn = float(table.loc[table["group"] == "MN", "r_prime"].iloc[0])
    else:
        r_mh, r_mn = (float(v) for v in r_prime)
        if not (r_mh > 0 and r_mn > 0):
            raise InputError(f"r_prime {r_prime!r} must be two positive numbers", source="gmhi")

    # ---- features to drop (GMHI.R: grep 'unclassified', then grep 'virus' on the row names)
    raw = features.to_numpy(dtype=object)
    species_col = None
    if _is_anndata(data) and "species" in data.var.columns:
        species_col = data.var["species"].to_numpy(dtype=object)
    name_sources = [raw] if species_col is None else [raw, species_col]
    unclassified = np.zeros(len(raw), bool)
    virus = np.zeros(len(raw), bool)
    for src in name_sources:
        unclassified |= _contains(src, "unclassified")
    for src in name_sources:
        virus |= _contains(src, "virus")
    virus &= ~unclassified  # GMHI.R removes unclassified first, then viruses among the rest
    kingdom_virus = np.zeros(len(raw), bool)
    if _is_anndata(data) and "kingdom" in data.var.columns:
        kingdom = pd.Series(data.var["kingdom"].to_numpy(dtype=object)).astype(str).str.strip().str.casefold()
        kingdom_virus = kingdom.isin(["viruses", "virus", "k__viruses"]).to_numpy() & ~unclassified & ~virus
    drop = unclassified | virus | kingdom_virus
    keep = ~drop

    filtered = []
    for mask, reason in (
        (unclassified, "feature name contains 'unclassified' (GMHI.R drops unclassified species)"),
        (virus, "feature name contains 'virus' (GMHI.R drops viruses)"),
        (kingdom_virus, "var['kingdom'] is Viruses (viral lineage)"),
    ):
        if mask.any():
            ids = [str(f) for f in features[mask]]
            filtered.append({"what": "features", "reason": reason, "n": len(ids), "ids": ids})

    # ---- marker columns: match keys of the species names (var['species'] when given)
    keys = (
        match_keys(raw)
        if species_col is None
        else match_keys(
            [
                s if s is not None and not (isinstance(s, float) and np.isnan(s)) else f
                for s, f in zip(species_col, raw, strict=True)
            ]
        )
    )
    marker_names = mh_names + mn_names
    marker_index = {n: i for i, n in enumerate(marker_names)}
    group_of = np.array([0] * len(mh_names) + [1] * len(mn_names))
    col_list, target_list = [], []
    matched: dict[str, list[str]] = {}
    for j in np.flatnonzero(keep):
        k = keys[j]
        if k is not None and k in marker_of:
            _, disp = marker_of[k]
            col_list.append(j)
            target_list.append(marker_index[disp])
            matched.setdefault(disp, []).append(str(features[j]))
    cols = np.asarray(col_list, dtype=np.int64)
    targets = np.asarray(target_list, dtype=np.int64)
    absent = {
        "MH": [n for n in mh_names if n not in matched],
        "MN": [n for n in mn_names if n not in matched],
    }

    # ---- totals over kept features and marker abundances
    keep_f = keep.astype(np.float64)
    totals = np.asarray(X @ keep_f).ravel()
    n, m = X.shape[0], len(marker_names)
    combine = sp.csr_matrix((np.ones(len(cols)), (np.arange(len(cols)), targets)), shape=(len(cols), m))
    bad = totals <= 0
    inv = np.zeros(n)
    inv[~bad] = 1.0 / totals[~bad]
    if sp.issparse(X):
        sub = X[:, cols] if len(cols) else sp.csr_matrix((n, 0))
        P = sp.csr_matrix(sp.diags(inv) @ sub) @ combine
        P = sp.csr_matrix(P)
        P.data[P.data < threshold] = 0.0
        P.eliminate_zeros()
        plogp = P.copy()
        plogp.data = plogp.data * np.log(plogp.data)
        present = P.copy()
        present.data = np.ones_like(present.data)
        groups = sp.csr_matrix((np.ones(m), (np.arange(m), group_of)), shape=(m, 2))
        H = -np.asarray((plogp @ groups).todense())
        R = np.asarray((present @ groups).todense())
    else:
        sub = X[:, cols] * inv[:, None]
        if len(np.unique(targets)) == len(targets):
            P = np.zeros((n, m))
            P[:, targets] = sub
        else:  # several features of one marker species: sum them
            P = sub @ combine.toarray()
        P = np.where(threshold > P, 0.0, P)
        pos = P > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(pos, P * np.log(np.where(pos, P, 1.0)), 0.0)
        H = np.stack([-plogp[:, group_of == 0].sum(axis=1), -plogp[:, group_of == 1].sum(axis=1)], axis=1)
        R = np.stack([pos[:, group_of == 0].sum(axis=1), pos[:, group_of == 1].sum(axis=1)], axis=1).astype(float)
    psi_mh = R[:, 0] / r_mh * H[:, 0]
    psi_mn = R[:, 1] / r_mn * H[:, 1]
    values = np.log10((psi_mh + _PSEUDOCOUNT) / (psi_mn + _PSEUDOCOUNT))
    values[bad] = np.nan

    if bad.any():
        ids = [str(s) for s in samples[bad]]
        filtered.append(
            {
                "what": "samples",
                "reason": "no abundance left after dropping unclassified/viral features: GMHI is NaN",
                "n": len(ids),
                "ids": ids,
            }
        )
        warnings.warn(
            f"GMHI is NaN for {len(ids)} sample(s) with no abundance left after dropping "
            f"unclassified/viral features (e.g. {ids[0]!r})",
            UserWarning,
            stacklevel=2,
        )

    n_absent = len(absent["MH"]) + len(absent["MN"])
    if n_absent == len(marker_names):
        warnings.warn(
            f"none of the {len(marker_names)} GMHI marker species is a feature of this table: GMHI is "
            "log10(1e-5/1e-5) = 0 for every sample by construction (GMHI needs a species-level profile, "
            "e.g. MetaPhlAn)",
            UserWarning,
            stacklevel=2,
        )
    result = pd.Series(values, index=samples, name="GMHI")
    result.attrs["params"] = {
        "threshold": float(threshold),
        "r_prime_MH": r_mh,
        "r_prime_MN": r_mn,
        "pseudocount": _PSEUDOCOUNT,
        "n_MH_species": len(mh_names),
        "n_MN_species": len(mn_names),
        "species_lists": "published (data/gmhi_species.tsv)" if mh_species is None and mn_species is None else "user",
    }
    result.attrs["filtered"] = filtered
    result.attrs["markers_absent"] = absent
    result.attrs["n_markers_absent"] = n_absent
    result.attrs["markers_matched"] = matched
    result.attrs["citation"] = CITATION
    return result
