"""The one loading path of the commands that read a profile and its sample metadata.

``report``, ``associate`` and ``permanova`` read their inputs through :func:`load_profile`:
the profile through :func:`gutaxis.io.read_profile` (MetaPhlAn single and merged tables,
BIOM, QIIME 2 ``.qza``, CSV/TSV with or without a taxonomy column, ``.h5ad``; the format
detected), the metadata through :func:`gutaxis.io.read_metadata`, joined by sample ID
(:func:`gutaxis.io.add_metadata`). A file that works in one command works in all, with the same
samples, the same features and the same relative abundances.

Samples and metadata rows must match one to one; ``--intersection`` keeps the samples in both
(a warning says how many were left out of each file, with examples). A mismatch is one error
naming the samples and the command-line options that resolve it, and IDs that differ only by
letter case (``S1`` vs ``s1``) are named as such.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["INTERSECTION_HELP", "ID_COLUMN_HELP", "load_profile", "metadata_columns"]

INTERSECTION_HELP = ("Keep only the samples found in both the profile and the metadata (a warning says how many "
                     "were left out of each, with examples); without it a mismatch is an error naming the samples.")
ID_COLUMN_HELP = "Metadata column holding the sample IDs (default: detected, e.g. sample_id, #SampleID, or the first)."


def _cli_hint(exc, intersection: bool) -> str:
    """What to do about a sample mismatch, in the command line's words (not the Python call's)."""
    match = exc.match
    if match.case_only:
        hint = "write the sample IDs alike (letter case counts) in the profile and the metadata"
    elif "suffix" in exc.base_hint:  # e.g. '_metaphlan' on every sample name
        hint = exc.base_hint.split("; rename")[0] + "; rename the samples (or the metadata IDs) so that they match"
    else:
        hint = "check the metadata's sample-ID column (--id-column) and that its IDs are the profile's sample names"
    if not intersection and match.n_matched:
        hint += "; or pass --intersection to keep only the samples in both files"
    return hint


def load_profile(profile: Path, *, metadata: Path | None = None, id_column: str | None = None,
                 format: str | None = None, orientation: str | None = None, intersection: bool = False,
                 keep_values: bool = False):
    """The cohort of ``profile`` with ``metadata`` joined into ``obs`` (see the module notes).

    ``keep_values``: plain tables keep their values as given in ``layers["values"]`` and may
    hold empty samples (``associate``, which models the values as given).
    """
    from ..errors import InputError
    from ..io import read_metadata, read_profile
    from ..io.metadata import SampleMismatchError

    if metadata is None:
        if intersection:
            raise InputError("--intersection needs --metadata", source=str(profile),
                             hint="give the sample metadata with --metadata FILE, or leave --intersection out")
        if id_column is not None:
            raise InputError("--id-column needs --metadata", source=str(profile),
                             hint="give the sample metadata with --metadata FILE, or leave --id-column out")
    meta = None if metadata is None else read_metadata(metadata, id_column=id_column)
    try:
        return read_profile(profile, format=format, orientation=orientation, metadata=meta,
                            how="inner" if intersection else "exact", keep_values=keep_values)
    except SampleMismatchError as exc:
        raise InputError(exc.problem, source=exc.source, hint=_cli_hint(exc, intersection)) from None


def metadata_columns(adata) -> list[str]:
    """The columns of ``adata.obs`` that came from the metadata file (not the reader's own, such
    as ``unclassified_fraction``)."""
    meta = (adata.uns.get("provenance") or {}).get("metadata") or {}
    return [c for c in meta.get("columns", []) if c in adata.obs.columns]
