"""What the plotting functions accept: association results (an AssociationResult or its table)
and the samples' metadata, with errors that name the column and what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

_NEEDED = ("feature", "metadata", "value", "coef", "qval")


def results_table(results, source: str) -> tuple[pd.DataFrame, dict]:
    """(long table with feature, metadata, value, coef, qval and ``label``, params) of an
    :class:`~gutaxis.link.associate.AssociationResult` or of a table such as ``all_results.tsv``."""
    params = {}
    if hasattr(results, "results") and hasattr(results, "params"):
        params = dict(results.params or {})
        table = results.results
    elif isinstance(results, pd.DataFrame):
        table = results
    else:
        raise InputError(
            f"expected association results (gutaxis.associate(...) or its all_results.tsv as a "
            f"DataFrame), got {type(results).__name__}",
            source=source,
            hint="pass what gutaxis.associate returns, or pd.read_csv('all_results.tsv', sep='\\t')",
        )
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise InputError(
            f"the results table has no column(s) {', '.join(map(repr, missing))}",
            source=source,
            hint="give associate's results (columns feature, metadata, value, coef, qval)",
        )
    t = table[table["coef"].notna()].copy()
    if "taxon" in t.columns:
        t["name"] = [
            str(x) if isinstance(x, str) and x else str(f) for x, f in zip(t["taxon"], t["feature"], strict=True)
        ]
    else:
        t["name"] = t["feature"].astype(str)
    t["qval"] = pd.to_numeric(t["qval"], errors="coerce")
    t["coef"] = pd.to_numeric(t["coef"], errors="coerce")
    return t, params


def default_variable(table: pd.DataFrame, params: dict) -> str:
    """The variable of interest: the first fixed effect (as ``associate`` was given it), else the
    first variable of the table."""
    present = list(dict.fromkeys(table["metadata"].astype(str)))
    for term in params.get("fixed_effects") or []:
        name = ":".join(term) if isinstance(term, (list, tuple)) else str(term)
        if name.startswith("C(") and name.endswith(")"):
            name = name[2:-1]
        if name in present:
            return name
    if not present:
        raise InputError(
            "the results have no modelled association to plot",
            source="gutaxis.pl",
            hint="check the error column of the results: no feature was modelled",
        )
    return present[0]


def check_variable(table: pd.DataFrame, variable: str, source: str) -> None:
    present = list(dict.fromkeys(table["metadata"].astype(str)))
    if str(variable) not in present:
        raise InputError(
            f"variable {variable!r} is not in the results",
            source=source,
            hint=f"the results have: {', '.join(present[:20]) or 'no variables'}",
        )


def threshold(params: dict, q: float | None) -> float:
    if q is not None:
        if not (0 < float(q) <= 1):
            raise InputError(f"q must be in (0, 1], got {q!r}", source="gutaxis.pl")
        return float(q)
    return float(params.get("max_significance") or 0.25)


def obs_column(frame: pd.DataFrame | None, column: str, index, source: str) -> pd.Series:
    """``frame[column]`` aligned on ``index`` (samples), or an error naming what there is."""
    if frame is None:
        raise InputError(
            f"color={column!r} needs sample metadata",
            source=source,
            hint="pass metadata=DataFrame (indexed by sample), or an AnnData whose obs holds the column",
        )
    if column not in frame.columns:
        cols = ", ".join(map(str, list(frame.columns)[:20])) or "none"
        raise InputError(
            f"column {column!r} is not in the sample metadata", source=source, hint=f"metadata columns are: {cols}"
        )
    s = frame[column]
    common = pd.Index(index).intersection(frame.index)
    if len(common) == 0:
        raise InputError(
            f"no sample of the coordinates is in the metadata (e.g. {list(index)[:3]})",
            source=source,
            hint="index the metadata by the same sample IDs as the profile",
        )
    return s.reindex(pd.Index(index))


def finite(x) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(x), errors="coerce"), dtype=float)
