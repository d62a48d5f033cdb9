"""Read QIIME 2 ``FeatureTable`` artifacts (``.qza``) without a QIIME 2 installation.

A ``.qza`` is a zip archive with one top directory named by the artifact's uuid::

    <uuid>/VERSION                     "QIIME 2" / archive version / framework version
    <uuid>/metadata.yaml               uuid, type (e.g. FeatureTable[Frequency]), format
    <uuid>/data/feature-table.biom     the table, BIOM v2 (HDF5)
    <uuid>/provenance/...

The BIOM file is opened in memory (h5py on a bytes buffer) and read through biom-format.
``FeatureTable[Frequency]`` and ``FeatureTable[RelativeFrequency]`` are read; any other
artifact type is an :class:`~gutaxis.errors.InputError` naming the type.

A ``.qza`` may come from anywhere, so it is read defensively. Limits (module constants of
``gutaxis.io.qiime2``; raise them for an unusual genuine artifact):

``MAX_MEMBER_BYTES``
    Largest uncompressed size of the one member read in full, the BIOM table: 1 GiB.
``MAX_TOTAL_BYTES``
    Largest uncompressed size of the whole archive (every member, as declared): 2 GiB.
``MAX_COMPRESSION_RATIO``
    Largest ratio of a member's uncompressed to compressed size, for members above
    ``RATIO_FLOOR_BYTES`` (1 MiB): 100. QIIME 2 stores gzip-compressed HDF5, which compresses
    little further; a ratio near 1000 is a run of zeros, a zip bomb.
``MAX_METADATA_BYTES``
    Largest ``metadata.yaml`` (and ``VERSION``): 64 KiB. QIIME 2 writes a few hundred bytes.
``MAX_MEMBERS``
    Largest number of members: 100,000.
``MAX_YAML_DEPTH``
    Deepest nesting of lists and mappings in ``metadata.yaml``: 20.

The declared sizes are checked before anything is decompressed, and decompression stops at the
limit whatever the archive declares. ``metadata.yaml`` is read with the safe YAML loader of
:mod:`gutaxis._yaml`, which refuses aliases (``*name``: QIIME 2 never writes them, and nested aliases,
"billion laughs", expand a few hundred bytes into gigabytes), deeper nesting and duplicate keys. The BIOM
table's arrays are checked before biom-format reads them (:mod:`gutaxis.io._hdf5`).
"""

from __future__ import annotations

import io
import os
import re
import zipfile

from .._typing import AnnDataObject
from .._yaml import load_yaml
from ..errors import InputError
from ._container import file_sha256
from ._hdf5 import check_biom_hdf5
from .biom import _short, cohort_from_biom_table

__all__ = ["QZA_TYPES", "read_qza"]

#: Artifact types :func:`read_qza` reads.
QZA_TYPES = ("FeatureTable[Frequency]", "FeatureTable[RelativeFrequency]")

#: Largest uncompressed size of the BIOM member, in bytes.
MAX_MEMBER_BYTES = 1 << 30
#: Largest uncompressed size of all members together (as declared), in bytes.
MAX_TOTAL_BYTES = 2 << 30
#: Largest uncompressed / compressed size of a member above RATIO_FLOOR_BYTES.
MAX_COMPRESSION_RATIO = 100
#: Members smaller than this are not held to MAX_COMPRESSION_RATIO.
RATIO_FLOOR_BYTES = 1 << 20
#: Largest metadata.yaml / VERSION member, in bytes.
MAX_METADATA_BYTES = 64 << 10
#: Largest number of members in the archive.
MAX_MEMBERS = 100_000
#: Deepest nesting of lists/mappings in metadata.yaml (QIIME 2 writes a flat mapping).
MAX_YAML_DEPTH = 20

#: metadata.yaml's refusals in the words of a QIIME 2 artifact (see gutaxis._yaml.MESSAGES)
_YAML_MESSAGES = {
    "size": "{what} is {size} bytes, above MAX_METADATA_BYTES = {limit}",
    "alias": "{what} uses a YAML alias ('*{anchor}', line {line}); QIIME 2 never writes aliases, and expanding "
    "nested ones can exhaust memory",
    "depth": "{what} nests more than {limit} levels deep (line {line}); QIIME 2 metadata is a flat mapping",
    "syntax": "{what} cannot be read ({error}: {detail})",
    "value": "{what} cannot be read ({error}: {detail})",
}


def read_qza(path: str | os.PathLike) -> AnnDataObject:
    """Read a QIIME 2 ``FeatureTable[Frequency]`` or ``[RelativeFrequency]`` artifact.

    Parameters
    ----------
    path
        The ``.qza`` file.

    Returns
    -------
    anndata.AnnData
        Samples x features, as :func:`gutaxis.read_biom` returns them (``X`` proportions,
        counts in ``layers["counts"]`` for a Frequency table). ``uns["provenance"]`` records
        ``artifact_uuid``, ``artifact_type``, ``artifact_format`` and the archive version.

    Raises
    ------
    InputError
        When the file is not a readable artifact, is another artifact type, or its table is bad.
    """
    import biom
    import h5py

    source = str(path)
    biom_name, payload, metadata, version, artifact_type = _read_artifact(
        path,
        types=QZA_TYPES,
        member="data/feature-table.biom",
        limit=MAX_MEMBER_BYTES,
        limit_name="MAX_MEMBER_BYTES",
        hint="give a QIIME 2 FeatureTable artifact (.qza) as written by QIIME 2",
        type_hint=f"give a {' or '.join(QZA_TYPES)} artifact (e.g. the table.qza of a DADA2/Deblur run, "
        "or taxa collapse output)",
        what="a feature table",
    )
    try:
        with h5py.File(io.BytesIO(payload), "r") as handle:
            check_biom_hdf5(handle, len(payload), source=source, where=biom_name)  # before biom/scipy use it
            table = biom.load_table(handle)
    except InputError:
        raise
    except Exception as exc:  # h5py/biom raise many types on damaged input
        raise InputError(
            f"{biom_name} is not a readable BIOM v2 table ({type(exc).__name__}: {_short(exc)})",
            source=source,
            hint="the artifact may be damaged; re-export it from QIIME 2",
        ) from exc
    extra = {
        "artifact_uuid": _short(str(metadata.get("uuid", biom_name.split("/", 1)[0])), 100),
        "artifact_type": artifact_type,
        "artifact_format": None if metadata.get("format") is None else _short(str(metadata.get("format")), 100),
        "archive_version": version.get("archive"),
        "qiime2_framework": version.get("framework"),
    }
    return cohort_from_biom_table(table, source=path, reader="qza", sha256=file_sha256(path), extra_provenance=extra)


def _read_artifact(
    path, *, types: tuple[str, ...], member: str, limit: int, limit_name: str, hint: str, type_hint: str, what: str
) -> tuple[str, bytes, dict, dict, str]:
    """Open a QIIME 2 artifact defensively (see the module notes) and read one member of its ``data/``.

    Returns ``(member path, its bytes, metadata.yaml as a dict, VERSION fields, artifact type)``.
    """
    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise InputError("file not found", source=source, hint="check the path") from exc
    except IsADirectoryError as exc:
        raise InputError("is a directory, not a file", source=source, hint=hint) from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InputError(
            f"not a readable zip archive ({_short(exc)}); the file may be truncated", source=source, hint=hint
        ) from exc
    with archive:
        names = archive.namelist()
        _check_sizes(archive, source)
        meta_names = [n for n in names if re.fullmatch(r"[^/]+/metadata\.yaml", n)]
        if len(meta_names) != 1:
            count = "no" if not meta_names else f"{len(meta_names)}"
            raise InputError(
                f"not a QIIME 2 artifact: {count} <uuid>/metadata.yaml in the archive", source=source, hint=hint
            )
        root = meta_names[0].split("/", 1)[0]
        try:
            metadata = load_yaml(
                _member(archive, meta_names[0], MAX_METADATA_BYTES, "MAX_METADATA_BYTES").decode("utf-8"),
                source=source,
                what=meta_names[0],
                max_bytes=MAX_METADATA_BYTES,
                max_depth=MAX_YAML_DEPTH,
                messages=_YAML_MESSAGES,
                hint=hint,
            )
        except InputError:
            raise
        except Exception as exc:  # UnicodeDecodeError, zip CRC errors...
            raise InputError(
                f"{meta_names[0]} cannot be read ({type(exc).__name__}: {_short(exc)})", source=source, hint=hint
            ) from exc
        if not isinstance(metadata, dict) or "type" not in metadata:
            raise InputError(f"{meta_names[0]} does not name the artifact type", source=source, hint=hint)
        artifact_type = metadata.get("type")
        artifact_type = artifact_type if isinstance(artifact_type, str) else repr(artifact_type)
        if artifact_type not in types:
            raise InputError(
                f"artifact type {_short(artifact_type, 80)!r} is not {what} gutaxis can read",
                source=source,
                hint=type_hint,
            )
        version = {}
        version_name = f"{root}/VERSION"
        if version_name in names:
            try:
                for line in (
                    _member(archive, version_name, MAX_METADATA_BYTES, "MAX_METADATA_BYTES")
                    .decode("utf-8", "replace")
                    .splitlines()
                ):
                    key, _, value = line.partition(":")
                    if value:
                        version[key.strip()] = value.strip()
            except InputError:
                version = {}
        name = f"{root}/{member}"
        if name not in names:
            raise InputError(
                f"the artifact has no {name}",
                source=source,
                hint="the archive is incomplete; re-export it from QIIME 2",
            )
        payload = _member(archive, name, limit, limit_name)
    return name, payload, metadata, version, artifact_type


def _check_sizes(archive: zipfile.ZipFile, source: str) -> None:
    """The archive's declared sizes against MAX_MEMBERS and MAX_TOTAL_BYTES (before reading)."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(
            f"the archive has {len(infos)} members, above MAX_MEMBERS = {MAX_MEMBERS}",
            source=source,
            hint="a QIIME 2 artifact has a few dozen; for a genuine one raise gutaxis.io.qiime2.MAX_MEMBERS",
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise InputError(
            f"the archive would decompress to {total} bytes, above MAX_TOTAL_BYTES = {MAX_TOTAL_BYTES}",
            source=source,
            hint="the archive looks damaged or hostile; for a genuine artifact raise gutaxis.io.qiime2.MAX_TOTAL_BYTES",
        )


def _member(archive: zipfile.ZipFile, name: str, limit: int, limit_name: str) -> bytes:
    """One member's bytes: its declared size and compression ratio are checked first, and
    decompression stops past ``limit`` (or past the declared size) whatever the archive says."""
    source = archive.filename
    try:
        info = archive.getinfo(name)
    except KeyError as exc:  # pragma: no cover - names come from namelist()
        raise InputError(f"the archive has no {name}", source=source) from exc
    hint = f"the archive looks damaged or hostile; for a genuine artifact raise gutaxis.io.qiime2.{limit_name}"
    if info.file_size > limit:
        raise InputError(
            f"{name} would decompress to {info.file_size} bytes, above {limit_name} = {limit}", source=source, hint=hint
        )
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise InputError(
            f"{name} would decompress from {info.compress_size} to {info.file_size} bytes (ratio "
            f"{info.file_size / max(info.compress_size, 1):.0f}, above MAX_COMPRESSION_RATIO = "
            f"{MAX_COMPRESSION_RATIO})",
            source=source,
            hint="the archive looks like a zip bomb; for a genuine artifact raise "
            "gutaxis.io.qiime2.MAX_COMPRESSION_RATIO",
        )
    cap = min(limit, info.file_size)
    out = io.BytesIO()
    try:
        with archive.open(info) as stream:
            while True:
                block = stream.read(min(1 << 20, cap + 1 - out.tell()))
                if not block:
                    break
                out.write(block)
                if out.tell() > cap:
                    raise InputError(
                        f"{name} decompresses to more than {cap} bytes (it declares "
                        f"{info.file_size}; {limit_name} = {limit})",
                        source=source,
                        hint=hint,
                    )
    except InputError:
        raise
    except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError, NotImplementedError...
        raise InputError(
            f"{name} cannot be extracted ({type(exc).__name__}: {_short(exc)})",
            source=source,
            hint="the archive may be truncated; re-export it",
        ) from exc
    return out.getvalue()
