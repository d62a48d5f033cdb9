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
letter case (``S1`` vs ``s1``) are named as such. ``--taxonomy FILE`` names the features of a table
that has none (ASV/OTU IDs): a QIIME 2 taxonomy TSV (``Feature ID``, ``Taxon``[, ``Confidence``]) or
``taxonomy.qza``, joined to the features by ID (:func:`gutaxis.io.read_taxonomy`). Where the profile
carries metadata of its own (an ``.h5ad``'s ``obs``), the columns of the metadata file replace those
of the same name, with a warning.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ID_COLUMN_HELP", "INTERSECTION_HELP", "TAXONOMY_HELP", "load_profile", "metadata_columns"]

INTERSECTION_HELP = (
    "Keep only the samples found in both the profile and the metadata (a warning says how many "
    "were left out of each, with examples); without it a mismatch is an error naming the samples."
)
ID_COLUMN_HELP = "Metadata column holding the sample IDs (default: detected, e.g. sample_id, #SampleID, or the first)."
TAXONOMY_HELP = (
    "Taxonomy of the features (ASV/OTU IDs): a QIIME 2 taxonomy TSV (Feature ID, Taxon[, Confidence]) "
    "or taxonomy.qza, joined by feature ID; without it a table of unnamed features cannot be "
    "matched to named taxa (panels are 'not measurable')."
)


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


def load_profile(
    profile: Path,
    *,
    metadata: Path | None = None,
    id_column: str | None = None,
    format: str | None = None,
    orientation: str | None = None,
    intersection: bool = False,
    keep_values: bool = False,
    taxonomy: Path | None = None,
):
    """The cohort of ``profile`` with ``metadata`` joined into ``obs`` (see the module notes).

    ``keep_values``: plain tables keep their values as given in ``layers["values"]`` and may
    hold empty samples (``associate``, which models the values as given). ``taxonomy``: the
    ``--taxonomy`` file, joined to the features (:func:`gutaxis.io.read_profile`).
    """
    from ..errors import InputError
    from ..io import add_metadata, detect_format, read_metadata, read_profile
    from ..io.metadata import SampleMismatchError

    if metadata is None:
        if intersection:
            raise InputError(
                "--intersection needs --metadata",
                source=str(profile),
                hint="give the sample metadata with --metadata FILE, or leave --intersection out",
            )
        if id_column is not None:
            raise InputError(
                "--id-column needs --metadata",
                source=str(profile),
                hint="give the sample metadata with --metadata FILE, or leave --id-column out",
            )
    meta = None if metadata is None else read_metadata(metadata, id_column=id_column)
    how = "inner" if intersection else "exact"
    try:
        if meta is None or (format or detect_format(profile)[0]) == "table":
            # a plain table: the metadata's IDs also say which axis holds the samples
            return read_profile(
                profile,
                format=format,
                orientation=orientation,
                metadata=meta,
                how=how,
                keep_values=keep_values,
                taxonomy=taxonomy,
            )
        adata = read_profile(
            profile, format=format, orientation=orientation, keep_values=keep_values, taxonomy=taxonomy
        )
        return add_metadata(adata, _replacing(adata, meta, profile), how=how)
    except SampleMismatchError as exc:
        raise InputError(exc.problem, source=exc.source, hint=_cli_hint(exc, intersection)) from None


def _replacing(adata, meta, profile):
    """The metadata, after the profile's own ``obs`` columns of the same names (an .h5ad that
    carries its metadata) were dropped from ``adata``, with a warning: the file given wins."""
    import warnings

    from ..io.metadata import MetadataWarning

    clash = [c for c in meta.columns if c in adata.obs.columns]
    if clash:
        warnings.warn(
            f"{profile}: its own column(s) {', '.join(map(repr, clash[:5]))}"
            f"{f' and {len(clash) - 5} more' if len(clash) > 5 else ''} are replaced by those of the "
            f"metadata file {meta.attrs.get('source')}",
            MetadataWarning,
            stacklevel=3,
        )
        adata.obs = adata.obs.drop(columns=clash)
    return meta


def metadata_columns(adata) -> list[str]:
    """The columns of ``adata.obs`` that came from the metadata file (not the reader's own, such
    as ``unclassified_fraction``)."""
    meta = (adata.uns.get("provenance") or {}).get("metadata") or {}
    return [c for c in meta.get("columns", []) if c in adata.obs.columns]
