"""Per-study case/control effects of every feature, pooled by :func:`gutaxis.link.meta.meta_analysis`.

:func:`per_study_associations` computes, in every study of one profile, an effect per feature (a
standardised mean difference of transformed abundance, cases vs controls, or the difference in
means, the coefficient of a linear model on the case indicator) and pools it by random-effects
meta-analysis, as the cross-study meta-analyses of Duvallet et al. 2017 (Nat Commun 8:1784,
doi:10.1038/s41467-017-01973-8) and Wirbel et al. 2021 (Genome Biol 22:93,
doi:10.1186/s13059-021-02306-1).

It is kept apart from :mod:`gutaxis.link.meta` (the pooling itself and its result) because it is
a source of the studies' effects: it reads a profile and its metadata, checks the study and
case/control columns and computes per-study effect sizes, none of which the pooling needs. It is
imported from there as ``gutaxis.link.meta.per_study_associations`` (and ``gutaxis.link``).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import TYPE_CHECKING, ForwardRef

import numpy as np
import pandas as pd
from scipy import special

from .._typing import AbundanceData
from .._validation import abundance_frame
from ..errors import InputError
from ._permutations import show_ids

# the return is annotated with an alias, as in meta_forest.py: a forward reference annotated with
# the very name it refers to (``MetaResult``) would stay unresolved
if TYPE_CHECKING:
    from .meta import MetaResult as _MetaResult
else:  # .meta imports this module: a forward reference that typing.get_type_hints resolves there
    _MetaResult = ForwardRef("MetaResult", module="gutaxis.link.meta")

__all__ = ["per_study_associations"]


def _metadata_for(data, metadata, source: str) -> pd.DataFrame:
    if metadata is None:
        if type(data).__name__ == "AnnData":
            return data.obs
        raise InputError(
            "no metadata given",
            source=source,
            hint="pass metadata=DataFrame indexed by sample ID (or an AnnData with obs)",
        )
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(f"metadata must be a DataFrame, got {type(metadata).__name__}", source=source)
    return metadata


def per_study_associations(
    data: AbundanceData,
    *,
    study: str,
    label: str,
    case: Hashable,
    control: Hashable | None = None,
    metadata: pd.DataFrame | None = None,
    effect: str = "smd",
    transform: str | None = "log10",
    pseudocount: float | None = None,
    min_samples: int = 3,
    method: str = "REML",
    level: float = 95.0,
    min_studies: int = 2,
) -> _MetaResult:
    """Per-study case/control effects of every feature, pooled by :func:`meta_analysis`.

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame (abundances >= 0).
    study, label
        Metadata columns: the study of each sample, and its case/control label.
    case, control
        The label value of cases; of controls (default: every other label).
    metadata
        DataFrame indexed by sample ID (default: an AnnData's ``obs``).
    effect
        ``"smd"``: Hedges' g, the standardised mean difference of the transformed abundance
        with the exact small-sample correction ``J`` and variance
        ``1/n1 + 1/n0 + g^2 / (2 (n1 + n0))`` (metafor ``escalc(measure="SMD")``, Hedges 1981,
        doi:10.3102/10769986006002107). ``"lm"``: the coefficient of the case indicator in a
        linear model of the transformed abundance (the difference in means) with its OLS
        standard error ``s_pooled sqrt(1/n1 + 1/n0)``.
    transform
        ``"log10"``: ``log10(x + pseudocount)``; ``None``: values as given.
    pseudocount
        Default: half the smallest non-zero value of the table.
    min_samples
        A study needs at least this many cases and as many controls; others are left out
        (listed in ``params["filtered"]`` and warned about).
    method, level, min_studies
        Passed to :func:`meta_analysis`.

    Returns
    -------
    MetaResult
        Positive estimates: higher in cases. ``.studies`` lists the cases and controls per
        study. A feature constant within a study has no estimate there (NaN).
    """
    source = "per_study_associations"
    if effect not in ("smd", "lm"):
        raise InputError(f"effect={effect!r} is not one of 'smd', 'lm'", source=source)
    if transform not in ("log10", None):
        raise InputError(f"transform={transform!r} is not one of 'log10', None", source=source)
    X = abundance_frame(data, name=source)
    meta = _metadata_for(data, metadata, source)
    ids = pd.Index([str(i) for i in X.index])
    mids = pd.Index([str(i) for i in meta.index])
    missing = ids.difference(mids, sort=False)
    if len(missing):
        raise InputError(
            f"{len(missing)} sample(s) have no metadata: {show_ids(missing)}",
            source=source,
            hint="metadata must be indexed by the table's sample IDs",
        )
    meta = meta.set_axis(mids).loc[ids]
    for col in (study, label):
        if col not in meta.columns:
            raise InputError(
                f"unknown column {col!r}",
                source="metadata",
                hint=f"the metadata columns are: {show_ids([str(c) for c in meta.columns], 12)}",
            )
        bad = meta[col].isna().to_numpy()
        if bad.any():
            raise InputError(
                f"column {col!r} is missing for {int(bad.sum())} sample(s): {show_ids(ids[bad])}",
                source="metadata",
                hint="fill it or leave those samples out",
            )
    lab = meta[label].astype(str).to_numpy()
    is_case = lab == str(case)
    if not is_case.any():
        raise InputError(
            f"no sample has {label} == {case!r} (values: {show_ids(sorted(set(lab)), 8)})",
            source="metadata",
            hint="check the case value",
        )
    is_ctrl = ~is_case if control is None else lab == str(control)
    if not is_ctrl.any():
        raise InputError(
            f"no control sample ({label} == {control!r})",
            source="metadata",
            hint=f"values are: {show_ids(sorted(set(lab)), 8)}",
        )
    filtered = []
    other = ~(is_case | is_ctrl)
    if other.any():
        filtered.append(
            {
                "what": "samples neither case nor control",
                "reason": f"{label} not in {case!r}/{control!r}",
                "n": int(other.sum()),
                "ids": list(ids[other]),
            }
        )
    values = X.to_numpy()
    if transform == "log10":
        if pseudocount is None:
            nz = values[values > 0]
            pseudocount = float(nz.min()) / 2.0 if nz.size else 1.0
        values = np.log10(values + pseudocount)
    studies = pd.Series(meta[study].astype(str).to_numpy())
    names = sorted(studies.unique())
    Y = np.full((X.shape[1], len(names)), np.nan)
    S = np.full_like(Y, np.nan)
    counts = []
    for j, s in enumerate(names):
        in_s = (studies == s).to_numpy()
        a, b = values[in_s & is_case], values[in_s & is_ctrl]
        n1, n0 = len(a), len(b)
        counts.append((s, n1, n0))
        if n1 < min_samples or n0 < min_samples:
            filtered.append(
                {
                    "what": f"study {s!r}",
                    "reason": f"{n1} case(s) and {n0} control(s); at least {min_samples} of each needed",
                    "n": n1 + n0,
                    "ids": list(ids[in_s]),
                }
            )
            continue
        m1, m0 = a.mean(axis=0), b.mean(axis=0)
        ss = ((a - m1) ** 2).sum(axis=0) + ((b - m0) ** 2).sum(axis=0)
        sp_ = np.sqrt(ss / (n1 + n0 - 2))
        ok = sp_ > 1e-12 * np.maximum(1.0, np.abs(m1) + np.abs(m0))
        with np.errstate(invalid="ignore", divide="ignore"):
            if effect == "smd":
                m = n1 + n0 - 2
                J = np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
                g = J * (m1 - m0) / sp_
                var = 1.0 / n1 + 1.0 / n0 + g**2 / (2.0 * (n1 + n0))
                Y[:, j], S[:, j] = np.where(ok, g, np.nan), np.where(ok, np.sqrt(var), np.nan)
            else:
                Y[:, j] = np.where(ok, m1 - m0, np.nan)
                S[:, j] = np.where(ok, sp_ * np.sqrt(1.0 / n1 + 1.0 / n0), np.nan)
    kept = [s for s, n1, n0 in counts if n1 >= min_samples and n0 >= min_samples]
    if not kept:
        raise InputError(
            f"no study has at least {min_samples} cases and {min_samples} controls "
            f"({', '.join(f'{s}: {n1}/{n0}' for s, n1, n0 in counts)})",
            source=source,
            hint="lower min_samples or check the case/control labels",
        )
    for entry in filtered:
        warnings.warn(f"{source}: {entry['n']} {entry['what']} left out ({entry['reason']})", UserWarning, stacklevel=2)
    cols = [j for j, s in enumerate(names) if s in kept]
    eff = pd.DataFrame(Y[:, cols], index=X.columns, columns=[names[j] for j in cols])
    ses = pd.DataFrame(S[:, cols], index=X.columns, columns=[names[j] for j in cols])
    from .meta import meta_analysis  # .meta imports this module: looked up there at call time

    res = meta_analysis(eff, ses, method=method, level=level, min_studies=min_studies)
    res.studies = pd.DataFrame(counts, columns=["study", "n_case", "n_control"]).set_index("study")
    res.studies["used"] = res.studies.index.isin(kept)
    res.params = {
        **res.params,
        "effect": effect,
        "transform": transform,
        "pseudocount": pseudocount,
        "study": study,
        "label": label,
        "case": case,
        "control": control,
        "filtered": filtered,
    }
    res.table.attrs["params"] = res.params
    return res
