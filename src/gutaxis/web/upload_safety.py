"""Cheap, bounded checks of an uploaded profile before anything parses it.

The request copies the upload to ``settings.upload_dir`` under a random name
(:func:`save_capped`: at most ``settings.max_upload`` bytes, the partial file deleted once the cap
is passed) and then calls :func:`check_upload` on it, which refuses, with an
:class:`UploadRefused` (HTTP 400 or 413) that names the file and says what to do:

- a name with a path part, control characters or nothing in it (:func:`check_filename`; the
  name is only shown, never used on disk);
- a file larger than ``settings.max_upload``;
- content that does not match its extension: ``.biom`` must be JSON (BIOM v1) or HDF5 (v2),
  ``.qza`` a zip, ``.txt``/``.tsv``/``.csv`` UTF-8 text, ``.gz`` gzip around one of those texts;
- a gzip that unpacks to more than ``settings.max_unpacked`` (decompressed in 1 MB chunks that
  are counted and dropped, never held), or holds another archive;
- a zip whose central directory declares more than ``settings.max_unpacked`` in all, a member
  packed more than 200:1, more than 1000 members, member names with ``..`` or an absolute path,
  encrypted members, or archives inside it.

Parsing happens later, in the background job (:mod:`gutaxis.web.tasks_upload`), which also calls
:func:`check_hdf5_sizes` before it reads an HDF5 file (its datasets may be compressed too).
"""

from __future__ import annotations

import codecs
import gzip
import os
import secrets
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path

from fastapi import HTTPException

__all__ = [
    "ACCEPTED",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "TEXT_SUFFIXES",
    "UploadRefused",
    "check_filename",
    "check_hdf5_sizes",
    "check_upload",
    "save_capped",
    "shown_name",
    "suffix_of",
    "unpack_gzip",
]

CHUNK = 1 << 20
HEAD = 64 * 1024
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_RATIO = 200
MAX_CENTRAL_DIRECTORY = 4 << 20  # bytes; 1000 members with long names fit well below
MAX_NAME = 200  # Upload.filename

TEXT_SUFFIXES = (".txt", ".tsv", ".csv")
ACCEPTED = (
    "MetaPhlAn 2/3/4 output or a table as .txt, .tsv or .csv (UTF-8 text, optionally gzip-compressed "
    "as .txt.gz, .tsv.gz or .csv.gz), BIOM v1 or v2 (.biom), or a QIIME 2 feature table (.qza)"
)

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
GZIP_MAGIC = b"\x1f\x8b"
ARCHIVE_MAGICS = {
    b"PK\x03\x04": "zip",
    b"PK\x05\x06": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7-Zip",
    b"Rar!\x1a\x07": "RAR",
    b"\x28\xb5\x2f\xfd": "zstd",
}
ARCHIVE_SUFFIXES = (".zip", ".qza", ".qzv", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".zst", ".jar")


class UploadRefused(HTTPException):
    """An upload refused before parsing: 400 (what it is) or 413 (how big it is)."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(status_code=status_code, detail=message)
        self.message = message


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def shown_name(name: str | None) -> str:
    """The name as it may be shown in a message: control characters replaced, at most 80 characters."""
    text = "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in (name or ""))
    return text if len(text) <= 80 else text[:77] + "..."


def check_filename(filename: str | None) -> str:
    """The upload's name, for display only; refuse one with a path part, control characters or nothing."""
    name = filename or ""
    if not name.strip():
        raise UploadRefused("Choose a file to upload: the form arrived without a file name.")
    if len(name) > MAX_NAME:
        raise UploadRefused(
            f"The file name {shown_name(name)!r} is longer than {MAX_NAME} characters: "
            "rename the file and upload it again."
        )
    if any(unicodedata.category(ch).startswith("C") for ch in name):  # NUL, control, format, unassigned
        raise UploadRefused(
            f"The file name {shown_name(name)!r} holds control characters: "
            "rename the file (letters, digits, '-', '_' and '.') and upload it again."
        )
    if "/" in name or "\\" in name or name in (".", "..") or ":" in name:
        raise UploadRefused(
            f"The file name {shown_name(name)!r} holds a folder or drive part: "
            "upload the file itself, named without '/', '\\' or ':'."
        )
    return name


def suffix_of(name: str) -> str:
    """The extension that decides the checks: ``.gz`` keeps what it wraps (``.tsv.gz``)."""
    lower = name.lower()
    stem, dot, ext = lower.rpartition(".")
    if not dot or not stem:
        return ""
    if ext == "gz":
        inner = stem.rpartition(".")
        return "." + inner[2] + ".gz" if inner[1] and inner[0] else ".gz"
    return "." + ext


def save_capped(fileobj, filename: str | None, settings) -> tuple[Path, int]:
    """Copy an upload's file object to ``settings.upload_dir`` under a random name, in 1 MB chunks.

    Stops as soon as more than ``settings.max_upload`` bytes have arrived, deletes the partial
    file and refuses (413). Returns ``(path, size)``.
    """
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    path = settings.upload_dir / secrets.token_hex(16)
    size = 0
    try:
        with open(path, "xb") as out:
            while chunk := fileobj.read(CHUNK):
                size += len(chunk)
                if size > settings.max_upload:
                    raise UploadRefused(
                        f"{shown_name(filename)!r} is larger than the {_mb(settings.max_upload)} limit: "
                        "upload one sample's profile, gzip-compressed (.txt.gz) if it is large.",
                        413,
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def check_upload(filename: str | None, path: str | os.PathLike, settings) -> str:
    """Refuse (:class:`UploadRefused`) a saved upload that is unsafe or not what its name claims.

    Returns its kind: ``text``, ``gzip-text``, ``biom-json``, ``biom-hdf5`` or ``qza``.
    """
    name = check_filename(filename)
    shown = shown_name(name)
    path = Path(path)
    size = path.stat().st_size
    if size > settings.max_upload:
        raise UploadRefused(
            f"{shown!r} is larger than the {_mb(settings.max_upload)} limit: upload one sample's "
            "profile, gzip-compressed (.txt.gz) if it is large.",
            413,
        )
    if size == 0:
        raise UploadRefused(f"{shown!r} is empty: check that the profiler finished writing it and upload it again.")
    suffix = suffix_of(name)
    with open(path, "rb") as handle:
        head = handle.read(HEAD)
    if suffix in TEXT_SUFFIXES:
        _check_text(head, size > HEAD, shown)
        return "text"
    if suffix == ".biom":
        body = head[3:] if head.startswith(codecs.BOM_UTF8) else head
        if head.startswith(HDF5_MAGIC):
            return "biom-hdf5"
        if body.lstrip(b" \t\r\n").startswith(b"{"):
            _check_text(head, size > HEAD, shown)
            return "biom-json"
        raise UploadRefused(
            f"{shown!r} is named .biom but is neither BIOM v1 (JSON) nor BIOM v2 (HDF5): "
            "export the table again with biom-format, or upload it as TSV."
        )
    if suffix == ".qza":
        if not head.startswith(b"PK\x03\x04"):
            raise UploadRefused(
                f"{shown!r} is named .qza but is not a zip archive (QIIME 2 artifacts are): "
                "export the feature table again with QIIME 2."
            )
        _check_zip(path, shown, settings)
        return "qza"
    if suffix.endswith(".gz"):
        if suffix not in tuple(s + ".gz" for s in TEXT_SUFFIXES):
            raise UploadRefused(
                f"{shown!r}: only text profiles (.txt, .tsv, .csv) are accepted gzip-compressed; "
                "upload .biom and .qza files as they are."
            )
        if not head.startswith(GZIP_MAGIC):
            raise UploadRefused(
                f"{shown!r} is named .gz but is not gzip-compressed: upload it under its own "
                "extension (.txt, .tsv or .csv), or compress it with gzip."
            )
        _check_gzip(path, shown, settings)
        return "gzip-text"
    raise UploadRefused(f"{shown!r}: this kind of file is not accepted. Accepted: {ACCEPTED}.")


def _archive_kind(head: bytes) -> str | None:
    for magic, kind in ARCHIVE_MAGICS.items():
        if head.startswith(magic):
            return kind
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def _check_text(head: bytes, partial: bool, shown: str, *, inner: bool = False) -> None:
    where = "unpacked, it" if inner else "it"
    kind = _archive_kind(head)
    if kind is not None:
        raise UploadRefused(
            f"{shown!r}: {where} is a {kind} archive, not a text profile: "
            "unpack it and upload the profile inside (archives in archives are refused)."
        )
    if b"\x00" in head:
        raise UploadRefused(
            f"{shown!r}: {where} is a binary file, not a text profile (it holds NUL bytes): "
            f"upload MetaPhlAn output or a table saved as UTF-8 text. Accepted: {ACCEPTED}."
        )
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=not partial)
    except UnicodeDecodeError as exc:
        raise UploadRefused(
            f"{shown!r}: {where} is not UTF-8 text (undecodable byte at position {exc.start}): "
            "save the table as UTF-8 text and upload it again."
        ) from None


def _gzip_chunks(path: Path, shown: str, limit: int):
    """Decompressed chunks of a gzip file; refuses once more than ``limit`` bytes came out."""
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise UploadRefused(
                        f"{shown!r} unpacks to more than {_mb(limit)}: a profile of one sample is far smaller. "
                        "Upload the uncompressed profile, or check that this is the right file.",
                        413,
                    )
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        raise UploadRefused(
            f"{shown!r}: the gzip data is truncated or corrupt ({type(exc).__name__}): "
            "compress the profile again and upload it."
        ) from None


def _check_gzip(path: Path, shown: str, settings) -> None:
    head = b""
    for chunk in _gzip_chunks(path, shown, settings.max_unpacked):  # counts every byte, keeps 64 KB
        if len(head) < HEAD:
            head += chunk[: HEAD - len(head)]
    if not head:
        raise UploadRefused(f"{shown!r} unpacks to an empty file: compress the profile itself and upload it.")
    _check_text(head, True, shown, inner=True)


def unpack_gzip(path: str | os.PathLike, dest: str | os.PathLike, settings, *, shown: str = "the file") -> int:
    """Decompress ``path`` into ``dest`` in chunks, refusing past ``settings.max_unpacked``; bytes written."""
    n = 0
    try:
        with open(dest, "wb") as out:
            for chunk in _gzip_chunks(Path(path), shown, settings.max_unpacked):
                out.write(chunk)
                n += len(chunk)
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise
    return n


def _central_directory(path: Path, shown: str) -> tuple[int, int]:
    """``(entries, size)`` of a zip's central directory, read from its end record only."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        tail_len = min(size, 22 + 65535)
        handle.seek(size - tail_len)
        tail = handle.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            raise UploadRefused(
                f"{shown!r}: the zip archive is truncated or corrupt (no end record): "
                "export the QIIME 2 artifact again."
            )
        _, _, _, _, entries, cd_size, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # zip64: the locator points at the zip64 end record
            loc = tail[at - 20 : at] if at >= 20 else b""
            if not loc.startswith(b"PK\x06\x07"):
                raise UploadRefused(f"{shown!r}: the zip64 archive is corrupt (no locator): export it again.")
            offset = struct.unpack("<4sLQL", loc)[2]
            if offset > size - 56:
                raise UploadRefused(f"{shown!r}: the zip64 archive is corrupt: export it again.")
            handle.seek(offset)
            rec = handle.read(56)
            if not rec.startswith(b"PK\x06\x06"):
                raise UploadRefused(f"{shown!r}: the zip64 archive is corrupt: export it again.")
            fields = struct.unpack("<4sQ2H2L4Q", rec)
            entries, cd_size = fields[7], fields[8]
    return entries, cd_size


def _bad_member_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (
        name.startswith(("/", "\\"))
        or ".." in parts
        or (len(name) > 1 and name[1] == ":")
        or any(ord(ch) < 32 for ch in name)
    )


def _check_zip(path: Path, shown: str, settings) -> None:
    entries, cd_size = _central_directory(path, shown)  # before ZipFile reads (and holds) the whole directory
    if entries > MAX_ZIP_MEMBERS:
        raise UploadRefused(
            f"{shown!r}: the archive lists {entries} files; a QIIME 2 feature table holds far fewer "
            f"(at most {MAX_ZIP_MEMBERS} accepted). Export the feature table alone."
        )
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise UploadRefused(
            f"{shown!r}: the archive's list of files takes {_mb(cd_size)}; a QIIME 2 feature table's "
            "takes a few kB. Export the feature table alone."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise UploadRefused(
                    f"{shown!r}: the archive holds {len(infos)} files (at most {MAX_ZIP_MEMBERS} "
                    "accepted). Export the feature table alone."
                )
            total = 0
            for info in infos:
                member = shown_name(info.filename)
                if _bad_member_name(info.filename):
                    raise UploadRefused(
                        f"{shown!r}: the archive holds {member!r}, a path outside the archive: "
                        "refused. Export the feature table again with QIIME 2."
                    )
                if info.flag_bits & 0x1:
                    raise UploadRefused(
                        f"{shown!r}: {member!r} in the archive is encrypted: export it without a password."
                    )
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise UploadRefused(
                        f"{shown!r}: {member!r} uses a compression QIIME 2 does not write: "
                        "export the artifact again with QIIME 2."
                    )
                total += info.file_size
                if total > settings.max_unpacked:
                    raise UploadRefused(
                        f"{shown!r} unpacks to more than {_mb(settings.max_unpacked)}: a feature "
                        "table of one sample is far smaller. Check that this is the right file.",
                        413,
                    )
                if info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1) and info.file_size > HEAD:
                    raise UploadRefused(
                        f"{shown!r}: {member!r} is packed more than {MAX_ZIP_RATIO}:1, as "
                        "archives built to exhaust memory are; refused. Export the feature "
                        "table again with QIIME 2.",
                        413,
                    )
                if info.filename.lower().endswith(ARCHIVE_SUFFIXES):
                    raise UploadRefused(
                        f"{shown!r}: {member!r} is an archive inside the archive: refused. "
                        "Upload the feature table itself."
                    )
            for info in infos:  # a few bytes of each member, behind the ratio and size checks
                if info.is_dir() or info.file_size == 0:
                    continue
                with archive.open(info) as member_file:
                    kind = _archive_kind(member_file.read(8))
                if kind is not None:
                    raise UploadRefused(
                        f"{shown!r}: {shown_name(info.filename)!r} is a {kind} archive inside the "
                        "archive: refused. Upload the feature table itself."
                    )
    except UploadRefused:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as exc:
        raise UploadRefused(
            f"{shown!r}: the zip archive cannot be opened ({type(exc).__name__}): it may be "
            "truncated; export the QIIME 2 artifact again."
        ) from None


def check_hdf5_sizes(path: str | os.PathLike, settings, *, shown: str = "the file") -> None:
    """Refuse an HDF5 file whose datasets declare more than ``settings.max_unpacked`` bytes in all.

    Reads shapes and types only (no data); called by the job before the BIOM reader loads arrays.
    """
    import h5py

    from ..errors import InputError

    total = 0
    too_big: list[str] = []

    def visit(name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset):
            total += int(obj.size) * int(obj.dtype.itemsize or 1)
            if total > settings.max_unpacked and not too_big:
                too_big.append(name)

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except Exception as exc:
        raise InputError(
            f"an HDF5 file that cannot be opened ({type(exc).__name__})",
            source=shown,
            hint="the file may be truncated; export the BIOM table again",
        ) from None
    if too_big:
        raise InputError(
            f"the HDF5 datasets declare more than {_mb(settings.max_unpacked)} when unpacked "
            f"(first past the limit: {too_big[0]!r})",
            source=shown,
            hint="a BIOM table of one sample is far smaller; check that this is the right file",
        )
