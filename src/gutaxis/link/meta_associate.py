"""Per-study effects read from ``gutaxis associate`` outputs, for :func:`gutaxis.link.meta.meta_analysis`.

Each study is one ``associate`` run: its output folder, the ``all_results.tsv`` in it, or the
:class:`~gutaxis.link.associate.AssociationResult` the API returned. Its rows give, per
(feature, metadata, value), the coefficient ``coef`` and its standard error ``stderr``: the
effect pooled across studies. Rows without an estimate (features the study filtered out, models
that failed: ``coef`` or ``stderr`` ``NA``) are not an estimate of that study.

Study names come from a mapping ``{name: output}``, or, for a list of outputs, from the output
folders' names (the folder holding ``all_results.tsv``); two studies may not share a name.
``value_map`` renames metadata values before pooling, for studies that name the same level
differently (``{"Healthy": "no"}``), and ``metadata_map`` renames metadata columns likewise.

What was read is recorded for the provenance: the path and sha256 of each ``all_results.tsv``
and of the ``params.json`` beside it, with that run's own provenance record (its inputs,
parameters and version).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["KEY", "associate_effects", "is_associate_output", "read_associate"]

#: the columns an associate row is pooled by
KEY = ["feature", "metadata", "value"]
_NEEDED = [*KEY, "coef", "stderr"]


def _header(path: Path) -> list[str]:
    """The first line of a text file split at tabs (empty for a binary or unreadable file)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 16)
        return [c.strip() for c in first.decode("utf-8-sig").rstrip("\r\n").split("\t")]
    except (OSError, UnicodeDecodeError):
        return []


def is_associate_output(source) -> bool:
    """Whether ``source`` is an ``associate`` output: an AssociationResult, a folder holding
    ``all_results.tsv``, or a tab-separated file with the columns feature, metadata, value,
    coef and stderr."""
    if _is_result(source):
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(source)
    if path.is_dir():
        return (path / "all_results.tsv").is_file()
    return path.is_file() and set(_NEEDED) <= set(_header(path))


def _is_result(obj) -> bool:
    return type(obj).__name__ == "AssociationResult" and hasattr(obj, "results") and hasattr(obj, "params")


def _results_file(source) -> Path:
    path = Path(source)
    if path.is_dir():
        found = path / "all_results.tsv"
        if not found.is_file():
            raise InputError(
                "the folder holds no all_results.tsv",
                source=path,
                hint="give a folder written by gutaxis associate (or its all_results.tsv)",
            )
        return found
    if not path.is_file():
        raise InputError(
            "no such file or folder",
            source=path,
            hint="give the output folder of gutaxis associate, or its all_results.tsv",
        )
    return path


def _default_name(source, i: int) -> str:
    if _is_result(source):
        return f"study_{i + 1}"
    path = Path(source)
    return (path if path.is_dir() else path.resolve().parent).name or f"study_{i + 1}"


def _file_record(path: Path) -> dict:
    from ..io._container import file_sha256

    return {"path": str(path), "sha256": file_sha256(path)}


def read_associate(source, name: str | None = None) -> tuple[pd.DataFrame, dict]:
    """One study's rows and provenance: ``(frame, record)``.

    ``frame`` has the columns feature, metadata, value (as text), coef and stderr (numbers),
    plus ``model`` for MaAsLin3 outputs; rows without an estimate are left out (counted in
    ``record["rows_without_estimate"]``). ``record`` names the study and what was read.
    """
    if _is_result(source):
        results = source.results.copy()
        where = f"AssociationResult of study {name!r}" if name else "AssociationResult"
        record = {
            "study": name,
            "object": "AssociationResult",
            "params": dict(source.params or {}),
            "provenance": getattr(source, "provenance", None),
        }
    else:
        path = _results_file(source)
        where = str(path)
        if set(_NEEDED) - set(_header(path)):
            lacking = [c for c in _NEEDED if c not in _header(path)]
            raise InputError(
                f"not an associate all_results.tsv: no column(s) {', '.join(lacking)}",
                source=path,
                hint="give the output of gutaxis associate (columns feature, metadata, value, coef, "
                "stderr); an effects table (feature, study, effect, se) is read on its own",
            )
        try:
            results = pd.read_csv(
                path,
                sep="\t",
                dtype={c: str for c in KEY},
                keep_default_na=False,
                na_values={"coef": ["NA", ""], "stderr": ["NA", ""]},
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(
                f"cannot read the table ({' '.join(str(exc).split())[:200]})",
                source=path,
                hint="give all_results.tsv as gutaxis associate wrote it",
            ) from exc
        record = {"study": name, "all_results": _file_record(path), "params_json": None, "provenance": None}
        params_path = path.parent / "params.json"
        if params_path.is_file():
            record["params_json"] = _file_record(params_path)
            try:
                saved = json.loads(params_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(
                    f"params.json beside all_results.tsv is not readable JSON ({exc})",
                    source=params_path,
                    hint="restore the file gutaxis associate wrote",
                ) from exc
            record["params"] = saved.get("params")
            record["provenance"] = saved.get("provenance")
    cols = _NEEDED + (["model"] if "model" in results.columns else [])
    lacking = [c for c in _NEEDED if c not in results.columns]
    if lacking:
        raise InputError(
            f"the results have no column(s) {', '.join(lacking)}",
            source=where,
            hint="give the output of gutaxis associate",
        )
    frame = results[cols].copy()
    for c in KEY + (["model"] if "model" in cols else []):
        frame[c] = frame[c].astype(str)
    coef = pd.to_numeric(frame["coef"], errors="coerce")
    se = pd.to_numeric(frame["stderr"], errors="coerce")
    text = frame["coef"].astype(str).str.strip()
    bad = coef.isna() & ~text.isin(["", "NA", "nan", "NaN", "None"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"coef {frame['coef'].iloc[i]!r} of feature {frame['feature'].iloc[i]!r} is not a number",
            source=where,
            hint="give all_results.tsv as gutaxis associate wrote it",
        )
    frame["coef"], frame["stderr"] = coef, se
    have = np.isfinite(coef.to_numpy(dtype=float)) & np.isfinite(se.to_numpy(dtype=float))
    nonpos = have & ~(se.to_numpy(dtype=float) > 0)
    if nonpos.any():
        i = int(np.flatnonzero(nonpos)[0])
        raise InputError(
            f"stderr {float(se.iloc[i])!r} of feature {frame['feature'].iloc[i]!r} "
            f"({frame['metadata'].iloc[i]} = {frame['value'].iloc[i]}) is not > 0",
            source=where,
            hint="a coefficient without a positive standard error cannot be weighted; leave that "
            "row out (or set its coef to NA)",
        )
    record["rows"] = len(frame)
    record["rows_without_estimate"] = int((~have).sum())
    frame = frame[have].reset_index(drop=True)
    dup = frame.duplicated(cols[:3] + (["model"] if "model" in cols else []))
    if dup.any():
        r = frame[dup].iloc[0]
        raise InputError(
            f"feature {r['feature']!r} ({r['metadata']} = {r['value']}) appears twice",
            source=where,
            hint="one row per feature, metadata and value, as gutaxis associate writes them",
        )
    record["estimates"] = len(frame)
    return frame, record


def _named(inputs) -> list[tuple[str, object]]:
    if isinstance(inputs, Mapping):
        pairs = [(str(k), v) for k, v in inputs.items()]
    elif isinstance(inputs, (str, os.PathLike)) or _is_result(inputs):
        pairs = [(_default_name(inputs, 0), inputs)]
    else:
        items = list(inputs)
        pairs = [(_default_name(v, i), v) for i, v in enumerate(items)]
    names = [n for n, _ in pairs]
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise InputError(
            f"two studies are named {min(seen)!r} (names come from the output folders' names)",
            source="meta_analysis",
            hint="name each study: {name: output} in Python, --study NAME=PATH on the command line",
        )
    return pairs


def associate_effects(inputs, *, value_map: Mapping | None = None, metadata_map: Mapping | None = None):
    """Features x studies effects and standard errors from several ``associate`` outputs.

    Parameters
    ----------
    inputs
        ``{study name: output}`` or a list of outputs (named after their folders); an output is
        a folder written by ``gutaxis associate``, its ``all_results.tsv``, or an
        :class:`~gutaxis.link.associate.AssociationResult`.
    value_map, metadata_map
        Renames of values / metadata columns applied to every study before pooling.

    Returns
    -------
    (effects, std_errors, records)
        DataFrames indexed by (feature, metadata, value) (and model, for MaAsLin3 outputs), one
        column per study, NaN where a study has no estimate; ``records`` is the list of the
        studies' provenance records.
    """
    pairs = _named(inputs)
    if len(pairs) < 1:
        raise InputError(
            "no associate output given",
            source="meta_analysis",
            hint="give the output folders of gutaxis associate, one per study",
        )
    frames, records = [], []
    for name, source in pairs:
        frame, record = read_associate(source, name)
        if metadata_map:
            frame["metadata"] = frame["metadata"].map(lambda m: str(metadata_map.get(m, m)))
        if value_map:
            frame["value"] = frame["value"].map(lambda v: str(value_map.get(v, v)))
        frame["study"] = name
        frames.append(frame)
        records.append(record)
    with_model = ["model" in f.columns for f in frames]
    if any(with_model) and not all(with_model):
        odd = [n for (n, _), m in zip(pairs, with_model, strict=True) if m]
        raise InputError(
            f"study {odd[0]!r} was fitted with --model maaslin3 and others with LM",
            source="meta_analysis",
            hint="pool outputs of the same model",
        )
    key = KEY + (["model"] if all(with_model) else [])
    long = pd.concat(frames, ignore_index=True)
    if (dup := long.duplicated([*key, "study"])).any():  # renames (value_map) that merged two rows
        r = long[dup].iloc[0]
        raise InputError(
            f"after renaming, feature {r['feature']!r} has two rows {r['metadata']} = {r['value']} in "
            f"study {r['study']!r}",
            source="meta_analysis",
            hint="rename values to distinct names",
        )
    studies = [n for n, _ in pairs]
    _warn_disjoint_values(long, studies)
    effects = long.pivot_table(index=key, columns="study", values="coef", aggfunc="first", sort=False)
    ses = long.pivot_table(index=key, columns="study", values="stderr", aggfunc="first", sort=False)
    order = pd.MultiIndex.from_frame(long[key].drop_duplicates())
    effects = effects.reindex(index=order, columns=studies)
    ses = ses.reindex(index=order, columns=studies)
    effects.columns.name = ses.columns.name = "study"
    return effects, ses, records


def _warn_disjoint_values(long: pd.DataFrame, studies: list[str]) -> None:
    """Warn where a metadata column is in several studies but no value is in two of them (the
    same level named differently, e.g. ``Healthy`` and ``no``): nothing of it can be pooled."""
    import warnings

    if len(studies) < 2:
        return
    for meta, part in long.groupby("metadata", sort=False):
        values = part.groupby("study", sort=False)["value"].agg(lambda v: sorted(set(v)))
        if len(values) < 2:
            continue
        counts = part.drop_duplicates(["study", "value"])["value"].value_counts()
        if (counts >= 2).any():
            continue
        listed = "; ".join(f"{s}: {', '.join(v[:4])}" for s, v in values.items())
        warnings.warn(
            f"metadata {meta!r} has no value in two studies ({listed}), so none of its rows can be pooled; "
            "if these name the same level (the same reference level in each study), rename them: "
            "value_map={'old': 'new'} (gutaxis meta --value-map OLD=NEW)",
            UserWarning,
            stacklevel=3,
        )
