"""Percentiles of health indices against a healthy reference cohort.

:func:`health_indices` computes, in one call, the per-sample table the report shows: GMHI
(:func:`gutaxis.measure.gmhi.gmhi`), alpha diversity
(:func:`gutaxis.measure.alpha.alpha_diversity`) and the panel sums
(:func:`gutaxis.measure.panels.panel_abundance`). :func:`build_reference` keeps the sorted
values of every index over the healthy samples of a cohort in a :class:`HealthyReference`
(saved to and read from JSON, so a user can supply their own), and :func:`percentiles` places
each sample among them.

The percentile is the mid-rank definition, ``scipy.stats.percentileofscore(ref, x,
kind="mean")``: ``100 * (#{ref < x} + #{ref <= x}) / (2 n)``, computed for all samples at once
with ``np.searchsorted`` on the sorted reference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from .._typing import AbundanceData, SampleSelection
from .._validation import _is_anndata, sample_names
from ..errors import InputError

__all__ = ["HealthyReference", "build_reference", "health_indices", "percentiles"]

_FORMAT = "gutaxis.HealthyReference"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- sample selection
def _metadata(data, metadata: pd.DataFrame | None, samples: pd.Index, *, source: str) -> pd.DataFrame | None:
    """Per-sample metadata aligned to ``samples``: ``metadata`` if given, else an AnnData's obs."""
    if metadata is None:
        if data is not None and _is_anndata(data):
            return data.obs
        return None
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(
            f"metadata must be a DataFrame indexed by sample ID, got {type(metadata).__name__}", source=source
        )
    idx = metadata.index.astype(str) if not metadata.index.equals(samples) else metadata.index
    if idx.has_duplicates:
        dup = idx[idx.duplicated()][0]
        raise InputError(
            f"metadata has sample ID {dup!r} more than once", source=source, hint="make the metadata index unique"
        )
    missing = samples.astype(str).difference(idx, sort=False)
    if len(missing):
        raise InputError(
            f"metadata has no row for sample {missing[0]!r} ({len(missing)} sample(s) missing)",
            source=source,
            hint="index the metadata by the same sample IDs as the abundance table",
        )
    aligned = metadata.copy()
    aligned.index = idx
    aligned = aligned.loc[samples.astype(str)]
    aligned.index = samples
    return aligned


def _columns_hint(meta: pd.DataFrame) -> str:
    """What to do about an unknown column: its neighbours, or that no metadata came with the profile."""
    if len(meta.columns) == 0:
        return "the profile carries no sample metadata: give the metadata file (--metadata FILE in the CLI)"
    return f"columns are: {', '.join(map(str, meta.columns[:20]))}"


def _resolve_samples(spec, samples: pd.Index, meta: pd.DataFrame | None, *, what: str, source: str) -> np.ndarray:
    """Boolean mask over ``samples`` from a mask, a list of sample IDs or ``(column, value)``."""
    n = len(samples)
    if spec is None:
        raise InputError(f"no {what} given", source=source)
    if isinstance(spec, str):
        raise InputError(
            f"{what} {spec!r} is a single string",
            source=source,
            hint=f"give ('column', 'value') for a metadata column, or a list of sample IDs, e.g. [{spec!r}]",
        )
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and spec[0] not in samples:
        column, value = spec
        if meta is None:
            raise InputError(
                f"{what} {spec!r} names a metadata column but there is no metadata",
                source=source,
                hint="pass an AnnData with obs, or metadata= a DataFrame indexed by sample ID",
            )
        if column not in meta.columns:
            raise InputError(f"{what}: unknown metadata column {column!r}", source=source, hint=_columns_hint(meta))
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        mask = meta[column].isin(values).to_numpy()
        if not mask.any():
            present = pd.unique(meta[column].dropna())[:10]
            raise InputError(
                f"{what} ({column!r}, {value!r}) matches no sample",
                source=source,
                hint=f"values of {column!r} include: {', '.join(map(repr, present))}",
            )
        return mask
    if isinstance(spec, pd.Series) and (pd.api.types.is_bool_dtype(spec.dtype)):
        if spec.isna().any():
            raise InputError(
                f"{what} mask is missing for sample {spec.index[spec.isna().to_numpy()][0]!r}", source=source
            )
        missing = samples.difference(spec.index, sort=False)
        if len(missing):
            raise InputError(
                f"{what} mask has no value for sample {missing[0]!r} ({len(missing)} missing)",
                source=source,
                hint="index the mask by the sample IDs of the table",
            )
        mask = spec.loc[samples].to_numpy(dtype=bool)
    else:
        arr = np.asarray(list(spec) if not isinstance(spec, (np.ndarray, pd.Series, pd.Index)) else spec)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise InputError(
                    f"{what} mask has {arr.size} values for {n} samples",
                    source=source,
                    hint="give one True/False per sample, in the table's order, or a Series indexed by sample",
                )
            mask = arr.copy()
        else:
            ids = pd.Index(arr)
            unknown = ids.difference(samples, sort=False)
            if len(unknown):
                raise InputError(
                    f"{what}: sample {unknown[0]!r} is not in the table ({len(unknown)} unknown ID(s))",
                    source=source,
                    hint="list sample IDs of the abundance table",
                )
            mask = samples.isin(ids)
    if not mask.any():
        raise InputError(f"{what} selects no sample", source=source)
    return mask


def _resolve_labels(spec, samples: pd.Index, meta: pd.DataFrame | None, *, what: str, source: str) -> np.ndarray:
    """Per-sample labels (e.g. subject IDs) from a column name, a Series by sample, or a sequence."""
    if isinstance(spec, str):
        if meta is None:
            raise InputError(
                f"{what} {spec!r} names a metadata column but there is no metadata",
                source=source,
                hint="pass an AnnData with obs, or metadata= a DataFrame indexed by sample ID",
            )
        if spec not in meta.columns:
            raise InputError(f"{what}: unknown metadata column {spec!r}", source=source, hint=_columns_hint(meta))
        return meta[spec].to_numpy(dtype=object)
    if isinstance(spec, pd.Series):
        missing = samples.difference(spec.index, sort=False)
        if len(missing):
            raise InputError(
                f"{what} has no value for sample {missing[0]!r} ({len(missing)} missing)",
                source=source,
                hint="index the Series by the sample IDs of the table",
            )
        return spec.loc[samples].to_numpy(dtype=object)
    arr = np.asarray(list(spec), dtype=object)
    if arr.shape != (len(samples),):
        raise InputError(f"{what} has {arr.size} values for {len(samples)} samples", source=source)
    return arr


def _describe(spec) -> str:
    if isinstance(spec, tuple):
        return f"{spec[0]} == {spec[1]!r}"
    if isinstance(spec, pd.Series):
        return f"mask ({int(spec.sum())} samples)" if pd.api.types.is_bool_dtype(spec.dtype) else "sample list"
    try:
        arr = np.asarray(list(spec))
    except TypeError:
        return repr(spec)
    return f"mask ({int(arr.sum())} samples)" if arr.dtype == bool else f"{len(arr)} listed sample IDs"


# --------------------------------------------------------------------------- the reference
@dataclass
class HealthyReference:
    """Sorted values of each health index over healthy reference samples.

    Relative abundances (panel entries) are shares of the classified reads, as everywhere in
    gutaxis, so a profile is compared with a reference on the same denominator.

    Attributes
    ----------
    values
        Index name -> sorted 1-D float array (NaN removed).
    n_samples
        Number of healthy samples the reference was built from.
    source
        Free-text description (cohort, selection, gutaxis version).
    params
        How it was built (selection, dropped NaN per index, ...).
    profiler
        The profiler (and database) of the reference's profiles, e.g. ``"MetaPhlAn 2"`` or
        ``"MetaPhlAn 3 (mpa_v30_CHOCOPhlAn_201901)"``; ``"unknown"`` when not known. The report
        warns when a profile's profiler differs from it (``gutaxis._profiler``).
    """

    values: dict[str, np.ndarray]
    n_samples: int
    source: str = ""
    params: dict = field(default_factory=dict)
    profiler: str = "unknown"

    def __post_init__(self):
        clean = {}
        for name, v in self.values.items():
            arr = np.asarray(v, dtype=np.float64).ravel()
            if not np.isfinite(arr).all():
                raise InputError(
                    f"reference values of {name!r} contain NaN or infinite numbers",
                    source="HealthyReference",
                    hint="drop missing values before building the reference",
                )
            if arr.size == 0:
                raise InputError(f"reference index {name!r} has no values", source="HealthyReference")
            clean[str(name)] = np.sort(arr)
        self.values = clean
        self.n_samples = int(self.n_samples)
        self.profiler = str(self.profiler or "unknown")

    @property
    def indices(self) -> list[str]:
        return list(self.values)

    def __repr__(self) -> str:  # a summary, not every stored value
        names = ", ".join(self.indices[:6]) + (f", ... ({len(self.indices)} in all)" if len(self.indices) > 6 else "")
        src = f", source={self.source[:60]!r}" + ("..." if len(self.source) > 60 else "") if self.source else ""
        prof = f", profiler={self.profiler!r}" if self.profiler != "unknown" else ""
        return f"HealthyReference(n_samples={self.n_samples}, indices=[{names}]{prof}{src})"

    def to_json(self, path: str | PathLike) -> Path:
        """Write the reference as JSON (plain lists of numbers); returns the path."""
        from .. import __version__

        path = Path(path)
        doc = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "gutaxis_version": __version__,
            "source": self.source,
            "n_samples": self.n_samples,
            "profiler": self.profiler,
            "params": self.params,
            "indices": {k: v.tolist() for k, v in self.values.items()},
        }
        path.write_text(json.dumps(doc, indent=1, default=_json_default), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | PathLike) -> HealthyReference:
        """Read a reference written by :meth:`to_json` (or by hand, same layout)."""
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("file not found", source=path, hint="give the path of a reference JSON file") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON (line {exc.lineno}, column {exc.colno})", source=path) from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise InputError(
                f'not a gutaxis healthy reference (expected "format": "{_FORMAT}")',
                source=path,
                hint="write it with HealthyReference.to_json",
            )
        if not isinstance(doc.get("indices"), dict) or not doc["indices"]:
            raise InputError('the reference has no "indices" object (index name -> list of numbers)', source=path)
        values = {}
        for name, vals in doc["indices"].items():
            if not isinstance(vals, list) or not vals:
                raise InputError(f"index {name!r}: expected a non-empty list of numbers", source=path)
            bad = [v for v in vals if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
            if bad:
                raise InputError(
                    f"index {name!r}: value {bad[0]!r} is not a finite number",
                    source=path,
                    hint="remove missing values from the reference",
                )
            values[name] = np.asarray(vals, dtype=np.float64)
        n = doc.get("n_samples")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InputError(f'"n_samples" must be a positive integer, got {n!r}', source=path)
        profiler = doc.get("profiler", "unknown")  # references written before it was recorded: unknown
        if not isinstance(profiler, str):
            raise InputError(f'"profiler" must be a string, got {profiler!r}', source=path)
        return cls(
            values=values,
            n_samples=n,
            source=str(doc.get("source", "")),
            params=dict(doc.get("params") or {}),
            profiler=profiler,
        )


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (np.ndarray, pd.Index)):
        return obj.tolist()
    return str(obj)


def build_reference(
    data: AbundanceData | None = None,
    *,
    healthy: SampleSelection | None = None,
    indices: pd.DataFrame | Sequence[str] | None = None,
    metadata: pd.DataFrame | None = None,
    source: str | None = None,
    profiler: str | None = None,
) -> HealthyReference:
    """Build a :class:`HealthyReference` from the healthy samples of a cohort.

    Parameters
    ----------
    data
        The cohort: AnnData or samples x taxa DataFrame (its :func:`health_indices` are
        computed), or ``None`` when ``indices`` is a precomputed table.
    healthy
        Which samples are healthy: a boolean mask (array in table order, or Series by sample),
        a list of sample IDs, or ``(column, value)`` / ``(column, [values])`` of the metadata
        (AnnData ``obs`` or ``metadata=``). ``None``: every sample.
    indices
        A precomputed samples x indices DataFrame to use as is, or the names of the
        :func:`health_indices` columns to keep (default: all of them).
    metadata
        Per-sample metadata indexed by sample ID, for ``(column, value)`` with a DataFrame.
    source
        Description stored with the reference.
    profiler
        The profiler of the cohort (e.g. ``"MetaPhlAn 2"``); default read from the cohort's
        provenance (the MetaPhlAn version of its ``#mpa_v..`` line), else ``"unknown"``.

    Returns
    -------
    HealthyReference; NaN values of an index are left out of it (counted in ``params``).
    """
    if isinstance(indices, pd.DataFrame):
        table = indices
        if data is not None:
            samples = sample_names(data)
            missing = samples.difference(table.index, sort=False)
            if len(missing):
                raise InputError(f"indices have no row for sample {missing[0]!r}", source="build_reference")
            table = table.loc[samples]
    else:
        if data is None:
            raise InputError("give the cohort (data) or a precomputed indices DataFrame", source="build_reference")
        table = health_indices(data)
        if indices is not None:
            wanted = [indices] if isinstance(indices, str) else list(indices)
            unknown = [c for c in wanted if c not in table.columns]
            if unknown:
                raise InputError(
                    f"unknown index {unknown[0]!r}",
                    source="build_reference",
                    hint=f"available: {', '.join(map(str, table.columns))}",
                )
            table = table[wanted]
    numeric = [
        c for c in table.columns if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    ]
    skipped = [str(c) for c in table.columns if c not in numeric]
    if not numeric:
        raise InputError("the indices table has no numeric column", source="build_reference")
    samples = pd.Index(table.index)
    meta = _metadata(data, metadata, samples, source="build_reference")
    if healthy is None:
        mask = np.ones(len(samples), bool)
    else:
        mask = _resolve_samples(healthy, samples, meta, what="healthy selection", source="build_reference")
    sub = table.loc[mask, numeric]
    values, dropped = {}, {}
    for c in numeric:
        col = sub[c].to_numpy(dtype=np.float64)
        ok = np.isfinite(col)
        if not ok.any():
            dropped[str(c)] = int((~ok).sum())
            continue
        values[str(c)] = col[ok]
        if (~ok).any():
            dropped[str(c)] = int((~ok).sum())
    if not values:
        raise InputError("every index is missing (NaN) for all healthy samples", source="build_reference")
    from .. import __version__

    params = {
        "healthy": "all samples" if healthy is None else _describe(healthy),
        "n_nan_dropped": dropped,
        "skipped_columns": skipped,
        "gutaxis_version": __version__,
    }
    if profiler is None:
        from .._profiler import profiler_of

        profiler = profiler_of(data) if data is not None else "unknown"
    return HealthyReference(
        values=values,
        n_samples=int(mask.sum()),
        source=source or f"{int(mask.sum())} healthy samples ({params['healthy']})",
        params=params,
        profiler=profiler,
    )


def percentiles(indices: pd.DataFrame, reference: HealthyReference) -> pd.DataFrame:
    """Percentile (0-100) of each sample's index values among the healthy reference values.

    Mid-rank definition (``scipy.stats.percentileofscore(kind="mean")``):
    ``100 * (#{ref < x} + #{ref <= x}) / (2 n)``. NaN values stay NaN. Columns of ``indices``
    without a reference are left out and listed in ``attrs["no_reference"]``.
    """
    if not isinstance(indices, pd.DataFrame):
        if isinstance(indices, pd.Series):
            indices = indices.to_frame()
        else:
            raise InputError(
                f"indices must be a DataFrame (samples x indices), got {type(indices).__name__}", source="percentiles"
            )
    if not isinstance(reference, HealthyReference):
        raise InputError(
            f"reference must be a HealthyReference, got {type(reference).__name__}",
            source="percentiles",
            hint="build one with build_reference or HealthyReference.from_json",
        )
    cols = [c for c in indices.columns if str(c) in reference.values]
    missing = [str(c) for c in indices.columns if str(c) not in reference.values]
    if not cols:
        raise InputError(
            f"none of the indices ({', '.join(map(str, indices.columns[:10]))}) is in the reference",
            source="percentiles",
            hint=f"the reference holds: {', '.join(reference.indices)}",
        )
    out = {}
    for c in cols:
        ref = reference.values[str(c)]
        x = pd.to_numeric(indices[c], errors="coerce").to_numpy(dtype=np.float64)
        lo = np.searchsorted(ref, x, side="left")
        hi = np.searchsorted(ref, x, side="right")
        pct = 100.0 * (lo + hi) / (2.0 * len(ref))
        pct[np.isnan(x)] = np.nan
        out[c] = pct
    result = pd.DataFrame(out, index=indices.index, columns=cols)
    result.attrs["params"] = {"kind": "mean (mid-rank)"}
    result.attrs["reference"] = {
        "source": reference.source,
        "n_samples": reference.n_samples,
        "n_values": {str(c): len(reference.values[str(c)]) for c in cols},
    }
    result.attrs["no_reference"] = missing
    result.attrs["filtered"] = (
        [
            {
                "what": "indices",
                "reason": "no values for them in the reference: left out",
                "n": len(missing),
                "ids": missing,
            }
        ]
        if missing
        else []
    )
    return result


# --------------------------------------------------------------------------- one-call table
def health_indices(data: AbundanceData, *, counts: AbundanceData | None = None, inplace: bool = False) -> pd.DataFrame:
    """GMHI, alpha diversity and panel sums per sample: the table the report shows.

    Parameters
    ----------
    data
        AnnData or samples x taxa DataFrame of relative abundances (species level for GMHI).
    counts
        Optional samples x taxa read counts of the same samples, for count-based diversity
        (Chao1). An AnnData's ``layers["counts"]`` is used without this argument.
    inplace
        With an AnnData, also write the columns into ``data.obs`` (as scanpy's tools do); columns of
        ``obs`` with the same names are replaced, with a warning naming them.

    Returns
    -------
    DataFrame indexed by sample: ``GMHI``, the :func:`~gutaxis.alpha_diversity`
    columns, then one column per panel entry. ``attrs`` holds each part's attrs under
    ``gmhi``, ``alpha``, ``panels`` and ``notes``. GMHI is NaN for every sample when none of the
    50 GMHI marker species is a feature of the table (e.g. a genus-level 16S table), with a note:
    the published formula would give 0 there, which reads as a result.
    """
    import warnings

    from .alpha import alpha_diversity
    from .gmhi import gmhi
    from .panels import panel_abundance

    samples = sample_names(data)
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = gmhi(data)
    for w in caught:
        if "marker species" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=2)
    if g.attrs["n_markers_absent"] == g.attrs["params"]["n_MH_species"] + g.attrs["params"]["n_MN_species"]:
        g = pd.Series(np.nan, index=g.index, name="GMHI", dtype=float).__finalize__(g)
        notes.append(
            "GMHI set to NaN: none of the GMHI marker species is a feature of the table "
            "(GMHI needs a species-level profile, e.g. MetaPhlAn)"
        )
    if counts is not None:
        c_samples = sample_names(counts)
        missing = samples.difference(c_samples, sort=False)
        if len(missing):
            raise InputError(
                f"counts have no row for sample {missing[0]!r} ({len(missing)} missing)",
                source="health_indices",
                hint="give counts of the same samples as the abundance table",
            )
        if not c_samples.equals(samples):
            counts = counts[samples] if _is_anndata(counts) else counts.loc[samples]
        alpha = alpha_diversity(counts)
    else:
        alpha = alpha_diversity(data)
    panels = panel_abundance(data)
    result = pd.concat([g.to_frame(), alpha, panels], axis=1)
    result.index.name = "sample"
    result.attrs = {
        "params": {"counts": "given" if counts is not None else "from data (layers['counts'] if any)"},
        "filtered": list(g.attrs.get("filtered", [])) + list(panels.attrs.get("filtered", [])),
        "citation": {"GMHI": g.attrs.get("citation"), **panels.attrs.get("citation", {})},
        "gmhi": dict(g.attrs),
        "alpha": dict(alpha.attrs),
        "panels": dict(panels.attrs),
        "notes": notes + list(alpha.attrs.get("notes", [])) + list(panels.attrs.get("notes", [])),
    }
    if inplace:
        if not _is_anndata(data):
            raise InputError(
                "inplace=True writes into an AnnData's obs; this input is a table",
                source="health_indices",
                hint="pass an AnnData, or join the returned table yourself",
            )
        clash = [c for c in result.columns if c in data.obs.columns]
        if clash:
            warnings.warn(
                f"health_indices replaced {len(clash)} existing obs column(s): {', '.join(clash[:8])}",
                UserWarning,
                stacklevel=2,
            )
        for c in result.columns:
            data.obs[c] = result[c].to_numpy()
    return result
