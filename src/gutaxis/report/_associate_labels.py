"""What the associate report says about a result and its rows: the labels, titles and captions
of its figures and the values each row's model saw.

The text helpers of :mod:`gutaxis.report.associate` (a number as the report prints it, a heatmap
column's name, ``feature ~ coefficient`` titles, the caption under a plot, the axis label of the
normalised and transformed values) and the lookups into an association result they rest on (its
interaction coefficients, the model's variables, a feature's short name, the outcome per sample).
Kept apart from the drawing (:mod:`gutaxis.report._associate_plots`) and the page
(:mod:`gutaxis.report.associate`) because both use them and they need no matplotlib.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _txt(x) -> str:
    """Text for a matplotlib label: ``$`` escaped so that no name is read as mathtext."""
    return str(x).replace("$", r"\$")


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


def _interactions(result) -> dict:
    """``{(metadata, value): (coefficient name, [(variable, level or None), ...])}``."""
    out = {}
    for name, d in ((getattr(result, "params", None) or {}).get("interactions") or {}).items():
        out[(d["metadata"], d["value"])] = (name, [tuple(p) for p in d["parts"]])
    return out


def _as_levels(x: pd.Series) -> np.ndarray:
    # level strings as the design codes them (logical columns as R's TRUE/FALSE)
    if pd.api.types.is_bool_dtype(x):
        return x.map({True: "TRUE", False: "FALSE"}).astype(str).to_numpy()
    return x.astype(str).to_numpy()


def _is_numeric(x: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)


def _is_m3(result) -> bool:
    return (getattr(result, "params", None) or {}).get("model") == "maaslin3"


def _col_label(result, metadata, value) -> str:
    """Heatmap column: the coefficient's name for an interaction, else ``metadata-value`` (MaAsLin2)
    or ``metadata value`` (MaAsLin3), or the variable alone for a numeric one."""
    hit = _interactions(result).get((metadata, value))
    if hit is not None:
        return hit[0]
    if str(metadata) == str(value):
        return str(metadata)
    return f"{metadata}{' ' if _is_m3(result) else '-'}{value}"


def _model_variables(result) -> list[str]:
    """Metadata columns the model used (complete cases over these were modelled)."""
    p = result.params
    meta = result.metadata
    names: list[str] = []
    for term in list(p.get("fixed_effects") or []) + list(p.get("random_effects") or []):
        parts = term if isinstance(term, (list, tuple)) else str(term).split(":")
        names.extend(str(v) for v in parts)
    return [v for v in dict.fromkeys(names) if meta is not None and v in meta.columns]


def _axis_label(norm: str | None, tr: str | None, what: str = "abundance", *, short: bool = False) -> str:
    """Name of the modelled values, e.g. ``log2(relative abundance)`` (``short``: ``log2(rel. abundance)``)."""
    rel = "rel." if short else "relative"
    base = {"TSS": f"{rel} {what}", "CLR": f"CLR {what}", "NONE": what}.get(str(norm), f"{norm} {what}")
    return {
        "LOG": f"log2({base})",
        "PLOG": f"log2({base})",
        "AST": f"arcsin(sqrt({base}))",
        "LOGIT": f"logit({base})",
        "NONE": base,
    }.get(str(tr), f"{tr}({base})")


def _transform_note(model_m3: bool, tr: str | None) -> str:
    """How zeros enter the plotted values (MaAsLin3's abundance model leaves them out whatever the transform)."""
    if model_m3:
        return ""
    return {"LOG": "zeros at half the feature's smallest non-zero value, as MaAsLin2's LOG"}.get(str(tr), "")


def _outcome(result, row) -> tuple[np.ndarray, str, str]:
    """The values the row's model saw, per sample of ``result.data`` (NaN: not in that model), the
    axis label and the kind (``"abundance"`` or ``"presence"``, 0/1)."""
    fn = getattr(result, "outcome", None)
    if fn is not None:
        return fn(row)
    from ..link._normalize import transform

    p = result.params
    x = result.data[row["feature"]].to_numpy(dtype=float)
    y = transform(x[:, None], str(p.get("transform", "NONE")))[:, 0]
    return y, _axis_label(p.get("normalization", "NONE"), p.get("transform", "NONE"), short=True), "abundance"


def _short(result, feature) -> str:
    """The feature's short name (last informative rank of its lineage) for titles and labels."""
    from ..pl._style import short_taxon

    res = result.results
    if "taxon" in res.columns:
        hit = res.loc[res["feature"].astype(str) == str(feature), "taxon"]
        if len(hit) and isinstance(hit.iloc[0], str) and hit.iloc[0]:
            return short_taxon(hit.iloc[0])
    return short_taxon(feature)


def _title(feature: str, coef_label: str) -> str:
    """``feature ~ coefficient`` on one line when short, else on two (a long name cut every 40 characters)."""
    if len(feature) + len(coef_label) <= 34:
        return f"{feature} ~ {coef_label}"
    parts = [feature[i : i + 40] for i in range(0, len(feature), 40)] or [""]
    return "\n".join(parts) + f"\n~ {coef_label}"


def _flat(title: str) -> str:
    return title.replace("\n~", " ~").replace("\n", "")


def _subtitle(result, row) -> str:
    bits = [f"coef {_fmt(row.get('coef'))}", f"q {_fmt(row.get('qval'), 2)}"]
    if _is_m3(result) and "model" in row:
        bits.insert(0, str(row["model"]))
    return " · ".join(bits)


def _caption(result, row, n: int, extra: str = "") -> str:
    """The short caption under one plot: the model and its numbers not in the plot's title."""
    bits = []
    if _is_m3(result) and "model" in row:
        bits.append(f"{row['model']} model, joint q {_fmt(row.get('qval_joint'), 2)}")
    bits.append(f"stderr {_fmt(row.get('stderr'))}, p {_fmt(row.get('pval'), 2)}")
    who = "samples with the feature present" if _is_m3(result) and row.get("model") == "abundance" else "samples"
    bits.append(f"{n} {who} shown")
    return "; ".join(bits) + (f". {extra}" if extra else ".")
