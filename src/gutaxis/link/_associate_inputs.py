"""Reading and checking the inputs and options of :func:`gutaxis.link.associate`, before any model.

The options are checked (:func:`check_options`, which the CLI also calls before reading the
inputs), the abundance table and metadata read, oriented and validated (:func:`_read_inputs`),
their sample IDs matched (:func:`_match_samples`), and effects and reference levels parsed
(:func:`_as_list`, :func:`_parse_reference`). Kept apart from ``associate.py``, which holds the
result and the fits, so that the inputs are validated once at the public entry and passed
inward; ``associate.py`` imports these names (and re-exports :data:`MODELS` and
:func:`check_options`), this module never imports it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._stats import CORRECTIONS
from .._validation import abundance_matrix
from ..errors import InputError
from . import _design, _normalize

__all__ = ["MODELS", "check_options"]

MODELS = ("LM", "maaslin3")


def _single_feature(norm: str) -> str:
    what = "1 in every sample" if norm == "TSS" else "0 in every sample"
    return f"{norm} makes a single feature constant ({what}), so nothing can be associated with it"


def _parse_reference(reference) -> dict[str, str]:
    if reference is None:
        return {}
    if isinstance(reference, dict):
        return {str(k): str(v) for k, v in reference.items()}
    if isinstance(reference, str):
        out = {}
        for part in [p for p in reference.replace(";", "|").split("|") if p.strip()]:
            bits = [b.strip() for b in part.rsplit(",", 1)]  # the variable's name may hold commas
            if len(bits) != 2 or not all(bits):
                raise InputError(
                    f"cannot read reference {part!r}",
                    source="reference",
                    hint="write 'variable,level' (several separated by ';'), e.g. 'diagnosis,nonIBD'",
                )
            out[bits[0]] = bits[1]
        return out
    raise InputError(
        f"reference must be a dict or a 'variable,level' string, got {type(reference).__name__}",
        source="reference",
        hint="e.g. reference={'diagnosis': 'nonIBD'}",
    )


def _as_list(x, columns=()) -> list:
    """Effects as a list: a string is split at its commas (not inside parentheses or backticks,
    and not at all when it is a column's whole name: ``"Group (1=HC,2=RA)"``, ``"a,b"``)."""
    if x is None:
        return []
    if isinstance(x, str):
        if x.strip() in set(map(str, columns)):
            return [x.strip()]
        return [s.strip() for s in _design.split_top(x, ",") if s.strip()]
    return [tuple(map(str, s)) if isinstance(s, (tuple, list)) else str(s) for s in x]  # tuple: an interaction


def _load(path, metadata, match: str):
    """A profile file through the package's one reader (:func:`gutaxis.io.read_profile`, as the
    other commands read it), the metadata joined; the values of a plain table kept as given."""
    from ..io import read_metadata, read_profile

    if isinstance(metadata, (str, os.PathLike)):
        metadata = read_metadata(metadata)
    adata = read_profile(path, metadata=metadata, how="inner" if match == "intersection" else "exact", keep_values=True)
    if metadata is None:
        return adata, None
    columns = [c for c in adata.uns["provenance"]["metadata"]["columns"] if c in adata.obs.columns]
    meta = adata.obs[columns].copy()
    meta.attrs["source"] = adata.uns["provenance"]["metadata"].get("source")
    return adata, meta


def _read_inputs(
    data: Any, metadata: Any, match: str = "exact"
) -> tuple[np.ndarray, pd.Index, list[str], pd.DataFrame, Any]:
    """Abundance frame (samples x features) and metadata frame, oriented and validated."""
    from .._validation import _is_anndata
    from ._associate_dask import is_lazy

    if isinstance(data, (str, os.PathLike)):
        data, metadata = _load(data, metadata, match)
    if isinstance(metadata, (str, os.PathLike)):
        from ..io import read_metadata

        metadata = read_metadata(metadata)
    if metadata is not None and not isinstance(metadata, pd.DataFrame):  # before the orientation check reads it
        raise InputError(f"metadata must be a DataFrame or a path, got {type(metadata).__name__}", source="metadata")
    if _is_anndata(data):
        # a plain table read with keep_values: the values as given (MaAsLin2 models them unscaled)
        layer = "values" if "values" in data.layers else None
        if is_lazy(data.layers[layer] if layer else data.X):  # read block by block on the workers
            X, samples, features = (data.layers[layer] if layer else data.X), data.obs_names, data.var_names
        else:
            X, samples, features = abundance_matrix(data, layer=layer, name="data")
        if metadata is None:
            metadata = data.obs.copy()
    elif isinstance(data, pd.DataFrame):
        frame = data
        if (
            metadata is not None
            and not frame.index.astype(str).isin(metadata.index.astype(str)).any()
            and frame.columns.astype(str).isin(metadata.index.astype(str)).any()
        ):
            frame = frame.T  # samples were columns (MaAsLin2 accepts either orientation)
        X, samples, features = abundance_matrix(frame, name="data")
    else:
        X, samples, features = abundance_matrix(data, name="data")
    if metadata is None:
        raise InputError(
            "no metadata: pass metadata= or an AnnData with obs columns",
            source="metadata",
            hint="read it with gutaxis.read_metadata(path)",
        )
    if not isinstance(metadata, pd.DataFrame):
        raise InputError(f"metadata must be a DataFrame or a path, got {type(metadata).__name__}", source="metadata")
    import scipy.sparse as sp

    if not is_lazy(X):
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
    return (
        X,
        pd.Index([str(s) for s in samples]),
        [str(f) for f in features],
        metadata,
        (data if _is_anndata(data) else None),
    )


def _match_samples(samples: pd.Index, metadata: pd.DataFrame, match: str):
    meta = metadata.copy()
    meta.index = pd.Index([str(i) for i in meta.index])
    dup = meta.index[meta.index.duplicated()]
    if len(dup):
        raise InputError(
            f"duplicate sample ID {dup[0]!r} in the metadata", source="metadata", hint="keep one row per sample"
        )
    in_meta = samples.isin(meta.index)
    extra_meta = meta.index[~meta.index.isin(samples)]
    no_meta = samples[~in_meta]
    filtered, notes = [], []
    if not in_meta.any():
        from ..io.metadata import compare_ids

        ids = compare_ids(samples, meta.index)
        case = f"{ids.describe_case()}; " if ids.case_only else ""
        raise InputError(
            f"no sample ID of the data matches the metadata: {case}data e.g. {', '.join(samples[:3])}; "
            f"metadata e.g. {', '.join(meta.index[:3])}",
            source="metadata",
            hint="write the IDs alike (letter case counts)"
            if ids.case_only
            else "check the ID column of the metadata and the orientation of the table",
        )
    if len(no_meta) or len(extra_meta):
        from ..io.metadata import compare_ids

        ids = compare_ids(samples, meta.index)
        parts = [ids.describe_case()] if ids.case_only else []
        if len(no_meta):
            parts.append(
                f"{len(no_meta)} sample(s) have no metadata: {', '.join(no_meta[:10])}"
                f"{' ...' if len(no_meta) > 10 else ''}"
            )
        if len(extra_meta):
            parts.append(
                f"{len(extra_meta)} metadata row(s) match no sample: {', '.join(extra_meta[:10])}"
                f"{' ...' if len(extra_meta) > 10 else ''}"
            )
        if match != "intersection":
            raise InputError(
                "; ".join(parts),
                source="metadata",
                hint="fix the IDs, or pass match='intersection' (CLI: --intersection) to model only "
                "the samples in both",
            )
        if len(no_meta):
            filtered.append(
                {
                    "what": "samples without metadata",
                    "reason": "left out (match='intersection')",
                    "n": len(no_meta),
                    "ids": list(no_meta),
                }
            )
        if len(extra_meta):
            filtered.append(
                {
                    "what": "metadata rows matching no sample",
                    "reason": "left out (match='intersection')",
                    "n": len(extra_meta),
                    "ids": list(extra_meta),
                }
            )
        notes.extend(parts)
        from ..io import FilteredWarning

        warnings.warn("; ".join(parts) + " — modelling the intersection", FilteredWarning, stacklevel=3)
    return np.asarray(in_meta), meta.loc[samples[in_meta]], filtered, notes


def check_options(
    *,
    normalization: str = "TSS",
    transform: str = "LOG",
    model: str = "LM",
    min_abundance: float = 0.0,
    min_prevalence: float | None = None,
    min_variance: float = 0.0,
    max_significance: float | None = None,
    correction: str = "BH",
    match: str = "exact",
    reml_optimizer: str = "lme4",
    **maaslin3_options,
) -> dict:
    """Check the options of :func:`associate` before any work (the CLI calls it before reading the
    inputs); returns them normalised (upper-case names, the model's defaults filled in).

    Raises
    ------
    InputError
        Naming the option, its value and the values allowed.
    """
    norm = str(normalization).upper()
    tr = str(transform).upper()
    is_m3 = str(model).lower() == "maaslin3"
    if min_prevalence is None:
        min_prevalence = 0.0 if is_m3 else 0.1
    if max_significance is None:
        max_significance = 0.1 if is_m3 else 0.25
    from ._mixed import OPTIMIZERS

    _check_ranges(min_abundance, min_prevalence, min_variance, max_significance)

    if reml_optimizer not in OPTIMIZERS:
        raise InputError(
            f"unknown reml_optimizer {reml_optimizer!r}",
            source="reml_optimizer",
            hint=f"use one of {', '.join(OPTIMIZERS)}",
        )
    if maaslin3_options and not is_m3:
        raise InputError(
            f"unexpected option(s) {', '.join(maaslin3_options)} for model={model!r}",
            source="model",
            hint="these options belong to model='maaslin3'",
        )
    if is_m3:
        from . import _maaslin3

        m3_opts = {
            "augment": True,
            "median_comparison_abundance": True,
            "median_comparison_prevalence": False,
            "warn_prevalence": True,
            "max_prevalence": 1.0,
            "seed": 1,
        }
        unknown = [k for k in maaslin3_options if k not in m3_opts]
        if unknown:
            raise InputError(
                f"unknown option(s) {', '.join(unknown)} for model='maaslin3'",
                source="model",
                hint=f"options: {', '.join(m3_opts)}",
            )
        m3_opts.update(maaslin3_options)
        if str(correction).upper() != "BH":
            raise InputError(
                "model='maaslin3' uses Benjamini-Hochberg q-values only here",
                source="correction",
                hint="use correction='BH'",
            )
        if norm not in _maaslin3.NORMALIZATIONS or tr not in _maaslin3.TRANSFORMS:
            raise InputError(
                f"model='maaslin3' supports normalization {', '.join(_maaslin3.NORMALIZATIONS)} and "
                f"transform {', '.join(_maaslin3.TRANSFORMS)}, not {norm}/{tr}",
                source="transform",
                hint="use normalization='TSS', transform='LOG' (MaAsLin3's defaults)",
            )
    elif norm not in _normalize.NORMALIZATIONS:
        raise InputError(
            f"unknown normalization {normalization!r}",
            source="normalization",
            hint=f"use one of {', '.join(_normalize.NORMALIZATIONS)}",
        )
    if not is_m3 and tr not in _normalize.TRANSFORMS:
        raise InputError(
            f"unknown transform {transform!r}",
            source="transform",
            hint=f"use one of {', '.join(_normalize.TRANSFORMS)}",
        )
    model_key = {"lm": "LM", "maaslin3": "maaslin3"}.get(str(model).lower())
    if model_key is None:
        raise InputError(f"unknown model {model!r}", source="model", hint=f"use one of {', '.join(MODELS)}")
    corr = {c.lower(): c for c in CORRECTIONS}.get(str(correction).lower())
    if corr is None:
        raise InputError(
            f"unknown correction {correction!r}", source="correction", hint=f"use one of {', '.join(CORRECTIONS)}"
        )
    if not is_m3 and tr in ("AST", "LOGIT") and norm not in ("TSS", "NONE"):
        raise InputError(
            f"transform {tr} needs normalization TSS or NONE (MaAsLin2's rule), not {norm}",
            source="transform",
            hint="use normalization='TSS'",
        )
    if match not in ("exact", "intersection"):
        raise InputError(f"unknown match={match!r}", source="match", hint="use 'exact' or 'intersection'")

    out = {
        "normalization": norm,
        "transform": tr,
        "model": model_key,
        "correction": corr,
        "min_abundance": float(min_abundance),
        "min_prevalence": float(min_prevalence),
        "min_variance": float(min_variance),
        "max_significance": float(max_significance),
        "match": match,
        "reml_optimizer": reml_optimizer,
    }
    if is_m3:
        if not (0.0 <= _number(m3_opts["max_prevalence"], "max_prevalence") <= 1.0):
            raise InputError(
                f"max_prevalence must lie in [0, 1], got {m3_opts['max_prevalence']!r}",
                source="max_prevalence",
                hint="a fraction of the samples, e.g. 1.0 (the default)",
            )
        out["maaslin3_options"] = m3_opts
    return out


def _number(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x):
        raise InputError(
            f"{name} must be a finite number, got {value!r}",
            source=name,
            hint=f"CLI: --{name.replace('_', '-')} with a number",
        )
    return x


def _check_ranges(min_abundance, min_prevalence, min_variance, max_significance) -> None:
    q = _number(max_significance, "max_significance")
    if not 0.0 < q <= 1.0:
        raise InputError(
            f"max_significance must be a q-value threshold in (0, 1], got {max_significance!r}",
            source="max_significance",
            hint="e.g. 0.25 (MaAsLin2's default) or 0.1 (MaAsLin3's); CLI: --max-significance 0.25",
        )
    prev = _number(min_prevalence, "min_prevalence")
    if not 0.0 <= prev <= 1.0:
        raise InputError(
            f"min_prevalence must be a fraction of the samples in [0, 1], got {min_prevalence!r}",
            source="min_prevalence",
            hint="e.g. 0.1 (present in more than 10% of the samples); CLI: --min-prevalence 0.1",
        )
    for name, value in (("min_abundance", min_abundance), ("min_variance", min_variance)):
        if _number(value, name) < 0:
            raise InputError(
                f"{name} must be >= 0, got {value!r}",
                source=name,
                hint=f"0 keeps every feature; CLI: --{name.replace('_', '-')} 0",
            )
