"""The profile report's input, checked once at its entry: the data as AnnData, the output folder,
the sample, the group column and the groups kept, and the healthy reference."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ._profile_context import ReportInput

__all__ = [
    "GROUP_CANDIDATES",
    "HEALTHY_LABELS",
    "as_anndata",
    "check_input",
    "healthy_values",
    "is_synthetic",
    "load_reference",
    "resolve_group",
]

#: group labels (case-insensitive) that mark the healthy reference group of a cohort
HEALTHY_LABELS = frozenset(
    {
        "healthy",
        "health",
        "control",
        "controls",
        "healthy control",
        "healthy controls",
        "hc",
        "nonibd",
        "non-ibd",
        "normal",
    }
)
#: group columns tried, in order, when ``group`` is not given
GROUP_CANDIDATES = (
    "group",
    "Group",
    "Phenotype",
    "phenotype",
    "diagnosis",
    "Diagnosis",
    "disease",
    "Disease",
    "condition",
    "status",
    "study_condition",
)


def check_input(
    adata,
    out_dir: str | os.PathLike,
    *,
    reference,
    group: str | None,
    sample: str | None,
    groups: str | Sequence[str] | None,
) -> ReportInput:
    """``write_report``'s arguments checked, with the groups kept and the reference read; an
    :class:`~gutaxis.errors.InputError` names what is wrong."""
    adata = as_anndata(adata)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("the output path exists and is not a folder", source=out, hint="choose a folder with -o")
    if sample is not None:
        sample = str(sample)
        if sample not in adata.obs_names:
            raise InputError(
                f"sample {sample!r} is not in the profile ({adata.n_obs} samples)",
                source="write_report",
                hint="give one of the sample IDs of the table",
            )
    synthetic = is_synthetic(adata)
    group_col, labels, order, group_auto = resolve_group(adata, group)
    kept_groups = None
    n_before = None
    if groups is not None:
        from ._groups import keep_groups, parse_groups

        kept_groups = parse_groups(groups)
        n_before = adata.n_obs
        adata = keep_groups(adata, group_col, kept_groups, auto=group_auto)
        group_col, labels, order, group_auto = resolve_group(adata, group_col)
        group_auto = group is None
        if sample is not None and sample not in adata.obs_names:
            raise InputError(
                f"sample {sample!r} is not in the groups kept ({', '.join(kept_groups)})",
                source="write_report",
                hint="give a sample of those groups, or add its group",
            )
    if sample is None and adata.n_obs == 1:  # the only sample kept
        sample = str(adata.obs_names[0])
    ref, ref_path = load_reference(reference)
    return ReportInput(
        adata=adata,
        out=out,
        sample=sample,
        synthetic=synthetic,
        group_col=group_col,
        labels=labels,
        order=order,
        group_auto=group_auto,
        kept_groups=kept_groups,
        n_before=n_before,
        ref=ref,
        ref_path=ref_path,
    )


def as_anndata(data):
    """``data`` (AnnData or a samples x taxa DataFrame) as AnnData, its abundances checked."""
    from .._validation import _is_anndata, abundance_matrix

    if _is_anndata(data):
        abundance_matrix(data, name="report input")
        return data
    if isinstance(data, pd.DataFrame):
        import anndata as ad

        X, samples, features = abundance_matrix(data, name="report input")
        return ad.AnnData(
            X=np.asarray(X), obs=pd.DataFrame(index=samples.astype(str)), var=pd.DataFrame(index=features.astype(str))
        )
    raise InputError(
        f"expected an AnnData or a samples x taxa DataFrame, got {type(data).__name__}",
        source="write_report",
        hint="read a profile with gutaxis.read_profile(...)",
    )


def is_synthetic(adata) -> bool:
    """Whether the profile is (all) synthetic demo data, by ``uns`` or by every sample's ``obs`` flag."""
    if bool(adata.uns.get("synthetic", False)):
        return True
    return "synthetic" in adata.obs.columns and bool(adata.obs["synthetic"].astype(bool).all())


def resolve_group(adata, group: str | None):
    """(column or None, labels Series (str, NaN where missing), ordered labels, auto-detected?)."""
    obs = adata.obs
    auto = group is None
    if group is None:
        group = next((c for c in GROUP_CANDIDATES if c in obs.columns and 2 <= obs[c].nunique(dropna=True) <= 30), None)
        if group is None:
            return None, None, [], False
    elif group not in obs.columns:
        cols = ", ".join(map(str, obs.columns[:20])) or "none"
        raise InputError(
            f"group column {group!r} is not in the sample metadata",
            source="write_report",
            hint=f"metadata columns are: {cols}; add metadata with --metadata",
        )
    col = obs[group]
    labels = col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v))
    if isinstance(col.dtype, pd.CategoricalDtype):
        order = [str(c) for c in col.cat.categories if (col == c).any()]
    else:
        order = sorted({v for v in labels if v is not None}, key=lambda v: (v.lower() not in HEALTHY_LABELS, v))
    return group, labels, order, auto


def healthy_values(order: list[str]) -> list[str]:
    """The group labels that mark a healthy group (:data:`HEALTHY_LABELS`), in ``order``."""
    return [g for g in order if g.strip().lower() in HEALTHY_LABELS]


def load_reference(reference):
    """(HealthyReference or None, its JSON path or None) from a reference or the path of its JSON file."""
    from ..measure.reference import HealthyReference

    if reference is None or isinstance(reference, HealthyReference):
        return reference, None
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        ref = HealthyReference.from_json(path)
        return ref, path
    raise InputError(
        f"reference must be a HealthyReference or the path of its JSON file, got {type(reference).__name__}",
        source="write_report",
        hint="build one with gutaxis.build_reference(...).to_json(path)",
    )
