"""Read QIIME 2 ``FeatureTable`` artifacts (``.qza``) without a QIIME 2 installation.

A ``.qza`` is a zip archive with one top directory named by the artifact's uuid::

    <uuid>/VERSION                     "QIIME 2" / archive version / framework version
    <uuid>/metadata.yaml               uuid, type (e.g. FeatureTable[Frequency]), format
    <uuid>/data/feature-table.biom     the table, BIOM v2 (HDF5)
    <uuid>/provenance/...

The BIOM file is opened in memory (h5py on a bytes buffer) and read through biom-format.
``FeatureTable[Frequency]`` and ``FeatureTable[RelativeFrequency]`` are read; any other
artifact type is an :class:`~gutaxis.errors.InputError` naming the type.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from typing import TYPE_CHECKING

from ..errors import InputError
from ._container import file_sha256
from .biom import _short, cohort_from_biom_table

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["read_qza", "QZA_TYPES"]

#: Artifact types :func:`read_qza` reads.
QZA_TYPES = ("FeatureTable[Frequency]", "FeatureTable[RelativeFrequency]")

_MAX_MEMBER_BYTES = 4 << 30  # refuse absurd declared sizes before decompressing


def read_qza(path: str | os.PathLike) -> AnnData:
    """Read a QIIME 2 ``FeatureTable[Frequency]`` or ``[RelativeFrequency]`` artifact.

    Parameters
    ----------
    path
        The ``.qza`` file.

    Returns
    -------
    anndata.AnnData
        Samples x features, as :func:`gutaxis.io.read_biom` returns them (``X`` proportions,
        counts in ``layers["counts"]`` for a Frequency table). ``uns["provenance"]`` records
        ``artifact_uuid``, ``artifact_type``, ``artifact_format`` and the archive version.

    Raises
    ------
    InputError
        When the file is not a readable artifact, is another artifact type, or its table is bad.
    """
    import biom
    import h5py
    import yaml

    source = str(path)
    hint = "give a QIIME 2 FeatureTable artifact (.qza) as written by QIIME 2"
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise InputError("file not found", source=source, hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InputError("is a directory, not a file", source=source, hint=hint) from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(f"not a readable zip archive ({_short(exc)}); the file may be truncated", source=source,
                         hint=hint) from exc
    with archive:
        names = archive.namelist()
        meta_names = [n for n in names if re.fullmatch(r"[^/]+/metadata\.yaml", n)]
        if len(meta_names) != 1:
            what = "no" if not meta_names else f"{len(meta_names)}"
            raise InputError(f"not a QIIME 2 artifact: {what} <uuid>/metadata.yaml in the archive", source=source,
                             hint=hint)
        root = meta_names[0].split("/", 1)[0]
        try:
            metadata = yaml.safe_load(_member(archive, meta_names[0]).decode("utf-8"))
        except InputError:
            raise
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError, zip CRC errors...
            raise InputError(f"{meta_names[0]} cannot be read ({type(exc).__name__}: {_short(exc)})",
                             source=source, hint=hint) from exc
        if not isinstance(metadata, dict) or "type" not in metadata:
            raise InputError(f"{meta_names[0]} does not name the artifact type", source=source, hint=hint)
        artifact_type = str(metadata.get("type"))
        if artifact_type not in QZA_TYPES:
            raise InputError(
                f"artifact type {artifact_type!r} is not a feature table gutaxis can read", source=source,
                hint=f"give a {' or '.join(QZA_TYPES)} artifact (e.g. the table.qza of a DADA2/Deblur run, "
                     "or taxa collapse output)")
        version = {}
        version_name = f"{root}/VERSION"
        if version_name in names:
            try:
                for line in _member(archive, version_name).decode("utf-8", "replace").splitlines():
                    key, _, value = line.partition(":")
                    if value:
                        version[key.strip()] = value.strip()
            except InputError:
                version = {}
        biom_name = f"{root}/data/feature-table.biom"
        if biom_name not in names:
            raise InputError(f"the artifact has no {biom_name}", source=source,
                             hint="the archive is incomplete; re-export it from QIIME 2")
        payload = _member(archive, biom_name)
    try:
        with h5py.File(io.BytesIO(payload), "r") as handle:
            table = biom.load_table(handle)
    except Exception as exc:  # h5py/biom raise many types on damaged input
        raise InputError(f"{biom_name} is not a readable BIOM v2 table ({type(exc).__name__}: {_short(exc)})",
                         source=source, hint="the artifact may be damaged; re-export it from QIIME 2") from exc
    extra = {
        "artifact_uuid": str(metadata.get("uuid", root)),
        "artifact_type": artifact_type,
        "artifact_format": None if metadata.get("format") is None else str(metadata.get("format")),
        "archive_version": version.get("archive"),
        "qiime2_framework": version.get("framework"),
    }
    return cohort_from_biom_table(table, source=path, reader="qza", sha256=file_sha256(path),
                                  extra_provenance=extra)


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
        if info.file_size > _MAX_MEMBER_BYTES:
            raise InputError(f"{name} declares {info.file_size} bytes", source=archive.filename,
                             hint="the archive looks damaged")
        return archive.read(name)
    except InputError:
        raise
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError...
        raise InputError(f"{name} cannot be extracted ({type(exc).__name__}: {_short(exc)})",
                         source=archive.filename, hint="the archive may be truncated; re-export it") from exc
