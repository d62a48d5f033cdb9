"""Recognise the format of a profile file from its content (and, for ties, its name).

========== =====================================================================
format     recognised by
========== =====================================================================
qza        a zip archive holding ``<uuid>/metadata.yaml`` (QIIME 2 artifact)
biom       HDF5 with BIOM attributes (v2), or JSON with a BIOM ``format`` (v1)
h5ad       HDF5 written by anndata (``X``/``obs``/``var``)
metaphlan  ``#mpa_v...``/``#SampleID``/``#clade_name`` headers, a ``clade_name`` column or
           ``k__...|p__...`` lineages at several depths
table      any other delimited text (CSV/TSV)
========== =====================================================================
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from ..errors import InputError
from ._text import HDF5_MAGIC, ZIP_MAGIC, decode, existing_file, raw_bytes

__all__ = ["SUPPORTED_FORMATS", "detect_format"]

#: Formats :func:`gutaxis.io.read_profile` reads (values of its ``format=`` argument).
SUPPORTED_FORMATS: tuple[str, ...] = ("metaphlan", "biom", "qza", "table", "h5ad")

_MPA_HEADER = re.compile(r"^#\s*(mpa_v|SampleID\s+Metaphlan|clade_name\b)", re.IGNORECASE)
_MPA_CLADE = re.compile(r"^(k|d)__[^|\t,;]*(\|[a-z]__[^|\t,;]*)*$")


def detect_format(path: str | os.PathLike) -> tuple[str, str]:
    """Detect the format of a profile file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    (format, reason)
        ``format`` is one of :data:`SUPPORTED_FORMATS`; ``reason`` says what gave it away.

    Raises
    ------
    InputError
        When the file is missing, empty or of no supported format.
    """
    p = existing_file(path)
    try:
        with open(p, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source=path) from exc
    if not head:
        raise InputError("the file is empty", source=path, hint="check that the profiler finished writing it")
    suffix = p.name.lower()
    if head.startswith(ZIP_MAGIC):
        return _detect_zip(p)
    if head.startswith(HDF5_MAGIC):
        return _detect_hdf5(p, suffix)
    data = raw_bytes(p, limit=(1 << 20) + 1)  # the head only, decompressed if need be
    if not data.strip():
        raise InputError("the file is empty", source=path, hint="check that the profiler finished writing it")
    if data.startswith(HDF5_MAGIC):
        return "biom", "compressed HDF5 file (BIOM v2)"
    text = decode(data[: 1 << 20], path, partial=len(data) > (1 << 20))
    stripped = text.lstrip()
    if stripped.startswith("{"):
        if "Biological Observation Matrix" in stripped[:4096] or '"rows"' in stripped:
            return "biom", "JSON with a BIOM 'format' field (BIOM v1)"
        raise InputError(
            "a JSON file that is not a BIOM table",
            source=path,
            hint="give a BIOM v1 JSON table or export the table as TSV",
        )
    return _detect_text(text, p)


def _detect_zip(p: Path) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(p) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(
            f"a zip archive that cannot be opened ({exc})",
            source=p,
            hint="the file may be truncated; re-export the QIIME 2 artifact",
        ) from exc
    if any(re.fullmatch(r"[^/]+/metadata\.yaml", n) for n in names) or p.suffix.lower() in (".qza", ".qzv"):
        return "qza", "zip archive with <uuid>/metadata.yaml (QIIME 2 artifact)"
    raise InputError(
        "a zip archive that is not a QIIME 2 artifact (no <uuid>/metadata.yaml)",
        source=p,
        hint="unzip it and read the table inside, or give a .qza FeatureTable",
    )


def _detect_hdf5(p: Path, suffix: str) -> tuple[str, str]:
    import h5py

    try:
        with h5py.File(p, "r") as handle:
            attrs = {k: handle.attrs[k] for k in handle.attrs}
            keys = set(handle.keys())
            encoding = attrs.get("encoding-type")
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... on damaged files
        raise InputError(
            f"an HDF5 file that cannot be opened ({type(exc).__name__}: {exc})",
            source=p,
            hint="the file may be truncated; re-write it",
        ) from exc
    if "format-url" in attrs or "format-version" in attrs or {"observation", "sample"} <= keys:
        return "biom", "HDF5 with BIOM attributes (BIOM v2)"
    if isinstance(encoding, bytes):
        encoding = encoding.decode("utf-8", "replace")
    if encoding == "anndata" or {"X", "obs", "var"} <= keys or suffix.endswith(".h5ad"):
        return "h5ad", "HDF5 written by anndata"
    if suffix.endswith(".biom"):
        return "biom", "HDF5 file named .biom"
    raise InputError(
        "an HDF5 file that is neither a BIOM table nor an AnnData (.h5ad)",
        source=p,
        hint="give a BIOM v2 table or an .h5ad written by anndata",
    )


def _detect_text(text: str, p: Path) -> tuple[str, str]:
    lines = [line for line in text.splitlines()[:400] if line.strip()]
    for line in lines[:12]:
        if _MPA_HEADER.match(line.strip()):
            return "metaphlan", f"MetaPhlAn header line {line.strip()[:40]!r}"
    body = [line for line in lines if not line.startswith("#")]
    if body:
        first = re.split(r"[\t,]", body[0], maxsplit=1)[0].strip().strip('"').lower()
        if first == "clade_name":
            return "metaphlan", "first column named 'clade_name' (merged MetaPhlAn table)"
    clades = [line.split("\t", 1)[0].strip() for line in body if "\t" in line]
    lineage = [c for c in clades if _MPA_CLADE.match(c)]
    if len(lineage) >= 2 and any("|" in c for c in lineage) and any("|" not in c for c in lineage):
        return "metaphlan", "tab-separated k__...|p__... lineages at several depths (MetaPhlAn)"
    if clades and clades[0].upper() in ("UNKNOWN", "UNCLASSIFIED") and lineage:
        return "metaphlan", "UNKNOWN/UNCLASSIFIED row followed by k__ lineages (MetaPhlAn)"
    if body:
        return "table", "delimited text (CSV/TSV)"
    raise InputError(
        "the file holds only comment lines",
        source=p,
        hint="give a file with a header row and one row per sample or taxon",
    )
