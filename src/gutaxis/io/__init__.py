"""Readers: every common microbiome profile format into one cohort AnnData.

Every reader returns an ``anndata.AnnData`` following the data contract of
``docs/contributing.md``: samples x taxa, ``var`` lineage by rank, ``X`` proportions, counts in
``layers["counts"]`` when the input had counts, ``obs["unclassified_fraction"]`` where the
format has an unclassified row, and ``uns["provenance"]`` (reader, source, sha256, params and
``filtered``: everything left out, also announced by a :class:`FilteredWarning`). Bad input
raises one :class:`gutaxis.errors.InputError` naming the file, the row/column or ID and what to
do.

=================== ==========================================================================
:func:`read_profile` any supported file; detects the format (``SUPPORTED_FORMATS``)
:func:`read_metaphlan` MetaPhlAn 2/3/4, single-sample files, merged tables or a list of files
:func:`read_biom`      BIOM v1 (JSON) and v2 (HDF5)
:func:`read_qza`       QIIME 2 FeatureTable[Frequency|RelativeFrequency] artifacts
:func:`read_table`     CSV/TSV in either orientation
:func:`read_h5ad`      AnnData ``.h5ad`` (validated); :func:`write_h5ad` writes one
:func:`read_metadata`  sample metadata; :func:`add_metadata` joins it by sample ID
:func:`read_taxonomy`  a feature taxonomy (QIIME 2 TSV or ``taxonomy.qza``); :func:`attach_taxonomy` joins it
:func:`concat`         cohorts of several studies joined, each part's provenance kept
=================== ==========================================================================

One denominator: ``X`` holds the relative abundances of the classified reads of every format (each
sample sums to 1). MetaPhlAn 3/4 percentages are of all reads, their ``UNKNOWN`` row included: the
reader divides the rows of the rank kept by their total and records the unclassified share in
``obs["unclassified_fraction"]`` (:mod:`gutaxis.io.metaphlan`).

Inputs are read defensively: a MetaPhlAn file is checked against its own redundancy (every rank
sums to the same total; percentages, not proportions), BIOM/h5ad sparse arrays are checked before
biom-format, anndata or scipy use them, and decompression (gzip/bzip2/xz, zip members of a .qza,
HDF5 datasets) and YAML are bounded. The limits are module constants, documented in
:mod:`gutaxis.io._text`, :mod:`gutaxis.io.qiime2` and :mod:`gutaxis.io._hdf5`.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from .._typing import AnnDataObject
from ..errors import InputError
from ._container import FilteredWarning
from .biom import read_biom
from .concat import concat
from .detect import SUPPORTED_FORMATS, detect_format
from .feature_taxonomy import TaxonomyWarning, attach_taxonomy, read_taxonomy
from .h5ad import read_h5ad, write_h5ad
from .metadata import add_metadata, read_metadata
from .metaphlan import read_metaphlan
from .qiime2 import read_qza
from .table import read_table

__all__ = [
    "SUPPORTED_FORMATS",
    "FilteredWarning",
    "TaxonomyWarning",
    "add_metadata",
    "attach_taxonomy",
    "concat",
    "detect_format",
    "read_biom",
    "read_h5ad",
    "read_metadata",
    "read_metaphlan",
    "read_profile",
    "read_qza",
    "read_table",
    "read_taxonomy",
    "write_h5ad",
]

log = logging.getLogger("gutaxis.io")


def read_profile(
    path: str | os.PathLike | list[str | os.PathLike] | tuple[str | os.PathLike, ...],
    *,
    format: str | None = None,
    orientation: str | None = None,
    rank: str = "species",
    metadata: str | os.PathLike | pd.DataFrame | None = None,
    id_column: str | None = None,
    how: str = "exact",
    keep_values: bool = False,
    taxonomy: str | os.PathLike | pd.DataFrame | None = None,
) -> AnnDataObject:
    """Read a microbiome profile of any supported format into a cohort AnnData.

    Parameters
    ----------
    path
        The file; a list of files is read as MetaPhlAn single-sample profiles of one cohort.
    format
        One of ``SUPPORTED_FORMATS`` (``metaphlan biom qza table h5ad``); detected from the
        content when omitted. The format used is logged (INFO, logger ``gutaxis.io``) and
        recorded in ``uns["provenance"]["detected_format"]`` with the reason.
    orientation
        For plain tables: ``"samples-as-rows"`` or ``"samples-as-columns"``; detected when
        omitted (the decision is logged and recorded in provenance). Other formats have a fixed
        orientation and ignore it.
    rank
        For MetaPhlAn profiles, the rank of the rows kept (default ``"species"``). Flat tables
        (BIOM, qza, CSV/TSV, h5ad) are read as given; use :func:`gutaxis.collapse` to
        sum them to a rank.
    metadata
        Sample metadata (path or DataFrame) joined with :func:`add_metadata`. Its sample IDs
        also guide the orientation detection of plain tables.
    id_column
        The metadata column holding sample IDs (detected when omitted).
    how
        How the metadata is joined (:func:`add_metadata`): ``"exact"`` (every sample needs a
        row and every row a sample), ``"inner"`` (only the samples in both; the CLI's
        ``--intersection``) or ``"left"``.
    keep_values
        Plain tables: also keep the values as given in ``layers["values"]`` and accept empty
        samples (for models of the values as given; :func:`read_table`). Other formats
        ignore it.
    taxonomy
        A feature taxonomy joined to the features by ID (``attach_taxonomy``): a QIIME 2
        taxonomy TSV (``Feature ID``, ``Taxon``[, ``Confidence``]), a ``taxonomy.qza``, or a
        DataFrame indexed by feature ID with a ``Taxon`` column. For tables whose features are
        ASV/OTU IDs: without it their features match no named taxon (panels are not measurable).

    Returns
    -------
    anndata.AnnData
    """
    meta = None
    if metadata is not None:
        meta = metadata if isinstance(metadata, pd.DataFrame) else read_metadata(metadata, id_column=id_column)
    if isinstance(path, (list, tuple)):
        if format not in (None, "metaphlan"):
            raise InputError(
                f"a list of files is read as MetaPhlAn profiles, not as {format!r}",
                source=", ".join(map(str, path)),
                hint="read other formats one file at a time",
            )
        fmt, reason = "metaphlan", "a list of files (MetaPhlAn single-sample profiles)"
    elif format is not None:
        if format not in SUPPORTED_FORMATS:
            raise InputError(
                f"unknown format {format!r}",
                source=path,
                hint=f"use one of {', '.join(SUPPORTED_FORMATS)}, or leave format= out to detect it",
            )
        fmt, reason = format, "given"
    else:
        fmt, reason = detect_format(path)
    log.info(
        "%s: reading as %s (%s)", path if not isinstance(path, (list, tuple)) else f"{len(path)} files", fmt, reason
    )
    if orientation is not None and fmt != "table":
        log.info("orientation=%r ignored: %s files have a fixed orientation", orientation, fmt)

    if fmt == "metaphlan" or isinstance(path, (list, tuple)):  # a list of files is always MetaPhlAn (above)
        adata = read_metaphlan(path, rank=rank)
    elif fmt == "table":
        adata = read_table(
            path,
            orientation=orientation or "auto",
            sample_ids=None if meta is None else list(meta.index.astype(str)),
            keep_values=keep_values,
        )
    elif fmt == "biom":
        adata = read_biom(path)
    elif fmt == "qza":
        adata = read_qza(path)
    else:
        adata = read_h5ad(path)
    prov = adata.uns["provenance"]
    prov["detected_format"] = fmt
    prov["format_reason"] = reason
    prov["params"] = {
        **prov.get("params", {}),
        "format": format,
        "orientation": orientation,
        "rank": rank,
        "id_column": id_column,
    }
    if taxonomy is not None:
        attach_taxonomy(adata, taxonomy)
    if meta is not None:
        source = None if isinstance(metadata, pd.DataFrame) else str(metadata)
        adata = add_metadata(adata, meta, source=source, how=how)
    return adata
