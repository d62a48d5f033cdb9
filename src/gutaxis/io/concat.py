"""Join cohorts (one per study) into one AnnData, keeping each part's provenance.

``anndata.concat`` drops ``uns`` unless told how to merge it, so the reader's record of each part
(``uns["provenance"]``: its file, sha256, reader, what was left out) would be lost. :func:`concat`
joins the parts with ``anndata.concat`` and writes a provenance record of its own whose
``parts`` list every part's record, keyed by its study name; ``filtered`` holds the parts'
records of what was left out, each naming its part. :func:`gutaxis.io.write_h5ad` stores it and
:func:`gutaxis.io.read_h5ad` reads it back (under ``"upstream"``), and the provenance of every
command's output (:func:`gutaxis._provenance.record`) lists the parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._typing import AnnDataObject
from ..errors import InputError
from ._container import ensure_provenance, gutaxis_version

__all__ = ["concat"]

_SOURCE = "gutaxis.io.concat"


def _part_name(adata, i: int) -> str:
    source = ensure_provenance(adata.uns.get("provenance")).get("source")
    if isinstance(source, str) and source:
        return Path(source).stem
    return f"part_{i + 1}"


def concat(
    adatas: Mapping[str, AnnDataObject] | Sequence[AnnDataObject],
    *,
    label: str = "study",
    keys=None,
    join: str = "outer",
    fill_value: float = 0.0,
    index_unique: str | None = None,
) -> AnnDataObject:
    """Concatenate cohorts along samples, each part's name in ``obs[label]``, their provenance kept.

    Parameters
    ----------
    adatas
        ``{name: AnnData}``, or a list of AnnData (named by ``keys``, else after the file each
        was read from).
    label
        The ``obs`` column that names each sample's part (e.g. its study); it must not be a
        column of any part already.
    keys
        Names of the parts of a list.
    join
        ``"outer"`` (default): every feature of any part, ``fill_value`` (0: not observed) where
        a part lacks it; ``"inner"``: only the features of every part.
    index_unique
        ``None``: sample IDs must be unique across the parts (an error names the repeats);
        a separator (``"-"``) appends each part's name to its IDs, as ``anndata.concat``.

    Returns
    -------
    anndata.AnnData
        ``uns["provenance"]``: ``reader = "concat"``, ``source`` (the parts' files), ``params``,
        ``parts`` (each part's own record with its ``key``) and ``filtered`` (each entry with its
        ``part``).
    """
    import anndata as ad

    if isinstance(adatas, Mapping):
        if keys is not None:
            raise InputError("keys= is for a list of cohorts; a mapping names its parts itself", source=_SOURCE)
        names, parts = [str(k) for k in adatas], list(adatas.values())
    else:
        parts = list(adatas)
        names = [str(k) for k in keys] if keys is not None else [_part_name(a, i) for i, a in enumerate(parts)]
        if len(names) != len(parts):
            raise InputError(
                f"{len(names)} keys for {len(parts)} cohorts", source=_SOURCE, hint="give one key per cohort"
            )
    if not parts:
        raise InputError("no cohort to concatenate", source=_SOURCE, hint="give at least one AnnData")
    for name, part in zip(names, parts, strict=True):
        if type(part).__name__ != "AnnData":
            raise InputError(
                f"part {name!r} is a {type(part).__name__}, not an AnnData",
                source=_SOURCE,
                hint="read each file with gutaxis.io.read_profile first",
            )
        if label in part.obs.columns:
            raise InputError(
                f"part {name!r} already has an obs column {label!r}",
                source=_SOURCE,
                hint=f"choose another label= (the column naming each sample's part), or drop obs[{label!r}] first",
            )
    if len(set(names)) != len(names):
        dup = min(n for n in names if names.count(n) > 1)
        raise InputError(
            f"two parts are named {dup!r}",
            source=_SOURCE,
            hint="name the parts: concat({'name': adata, ...}) or keys=[...]",
        )
    if join not in ("outer", "inner"):
        raise InputError(f"join={join!r} is not 'outer' or 'inner'", source=_SOURCE)
    if not np.isfinite(float(fill_value)) or fill_value < 0:
        raise InputError(f"fill_value={fill_value!r} must be a number >= 0 (an abundance)", source=_SOURCE)
    if index_unique is None:
        seen: dict[str, str] = {}
        for name, part in zip(names, parts, strict=True):
            for sid in map(str, part.obs_names):
                if sid in seen:
                    raise InputError(
                        f"sample {sid!r} is in parts {seen[sid]!r} and {name!r}",
                        source=_SOURCE,
                        hint="sample IDs must be unique; index_unique='-' appends each part's name",
                    )
                seen[sid] = name
    records = [ensure_provenance(p.uns.get("provenance")) for p in parts]
    out = ad.concat(
        dict(zip(names, parts, strict=True)),
        label=label,
        join=join,
        fill_value=fill_value,
        merge="first",
        index_unique=index_unique,
    )
    out.obs[label] = out.obs[label].astype(str).astype("category")
    filtered = []
    for name, rec in zip(names, records, strict=True):
        for entry in rec.get("filtered", []):
            filtered.append({**entry, "part": name})
    out.uns["provenance"] = {
        "gutaxis_version": gutaxis_version(),
        "reader": "concat",
        "source": [rec.get("source") if isinstance(rec.get("source"), str) else None for rec in records],
        "sha256": None,
        "params": {
            "label": label,
            "keys": names,
            "join": join,
            "fill_value": float(fill_value),
            "index_unique": index_unique,
        },
        "parts": [
            {
                "key": name,
                **{k: v for k, v in rec.items() if k != "filtered"},
                "n_samples": int(part.n_obs),
                "n_features": int(part.n_vars),
            }
            for name, rec, part in zip(names, records, parts, strict=True)
        ],
        "filtered": filtered,
    }
    return out
