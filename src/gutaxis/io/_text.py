"""Text-file helpers shared by the readers: bytes -> lines -> a table of strings -> numbers.

Files may be gzip- or bzip2-compressed (recognised by their first bytes) and may start with a
UTF-8 byte-order mark. Every problem becomes an :class:`~gutaxis.errors.InputError` naming the
file and, where it applies, the line, row and column.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["Lines", "read_lines", "existing_file", "raw_bytes", "split_fields", "parse_delimited", "fast_parse", "to_numbers",
           "MISSING_TOKENS", "file_stem"]

GZIP_MAGIC = b"\x1f\x8b"
BZ2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"

#: Cell values read as "missing" (reported as missing rather than as non-numeric text).
MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none", "<na>", "-", "."})


COMPRESSED_MAGICS = (GZIP_MAGIC, BZ2_MAGIC, XZ_MAGIC)


def existing_file(path: str | os.PathLike) -> Path:
    """``Path(path)``, or :class:`InputError` when it is missing or a directory."""
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", source=path, hint="check the path")
    if p.is_dir():
        raise InputError("is a directory, not a file", source=path, hint="give the path of the profile file")
    return p


def raw_bytes(path: str | os.PathLike, *, limit: int | None = None) -> bytes:
    """The file's bytes, decompressed when gzip/bzip2/xz (at most ``limit`` raw bytes when given)."""
    p = existing_file(path)
    try:
        with open(p, "rb") as handle:
            data = handle.read() if limit is None else handle.read(limit)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror or exc})", source=path,
                         hint="check the file permissions") from exc
    try:
        if data.startswith(GZIP_MAGIC):
            return gzip.decompress(data)
        if data.startswith(BZ2_MAGIC):
            return bz2.decompress(data)
        if data.startswith(XZ_MAGIC):
            return lzma.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(f"the compressed file is truncated or corrupt ({exc})", source=path,
                         hint="re-download or re-create the file") from exc
    return data


def decode(data: bytes, source, *, partial: bool = False) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); binary content is an InputError.

    ``partial``: ``data`` is the start of a longer file (a multi-byte character cut at the end is
    not an error).
    """
    if b"\x00" in data[:65536]:
        raise InputError("this is a binary file, not a text table", source=source,
                         hint="give a MetaPhlAn/CSV/TSV text file, a BIOM file, a .qza or an .h5ad")
    try:
        if partial:  # a character cut at the end of the head is not an error
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("latin-1") if _looks_latin1(data) else None
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            text = None
        if text is None:
            raise InputError(f"not a UTF-8 text file (undecodable byte at position {exc.start})",
                             source=source, hint="save the table as UTF-8 text") from exc
    return text


def _looks_latin1(data: bytes) -> bool:
    # accented metadata from spreadsheets: mostly printable text with few high bytes
    sample = data[:65536]
    high = sum(1 for b in sample if b >= 0x80)
    control = sum(1 for b in sample if b < 0x20 and b not in (9, 10, 13))
    return control == 0 and high <= max(1, len(sample) // 50)


@dataclass
class Lines:
    """Non-blank lines of a text file with their 1-based line numbers."""

    text: list[str]
    number: list[int]
    source: str

    def __len__(self) -> int:
        return len(self.text)


def read_lines(path: str | os.PathLike) -> Lines:
    """Non-blank lines (line endings and trailing ``\\r`` removed)."""
    text = decode(raw_bytes(path), path)
    out, numbers = [], []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(line.rstrip("\r\n"))
            numbers.append(i)
    return Lines(out, numbers, str(path))


def split_fields(line: str, sep: str) -> list[str]:
    """Fields of one line (CSV quoting understood), stripped of surrounding spaces."""
    try:
        fields = next(csv.reader([line], delimiter=sep, quotechar='"'), [])
    except csv.Error:
        fields = line.split(sep)
    return [f.strip() for f in fields]


def parse_delimited(lines: list[str], numbers: list[int], sep: str, n_fields: int, source) -> np.ndarray:
    """Rows of fields (object array, n_rows x n_fields).

    A row with more fields than ``n_fields`` is an InputError naming its line; a shorter row is
    padded with empty cells (reported as missing values later).
    """
    if not lines:
        return np.empty((0, n_fields), dtype=object)
    body = "\n".join(lines)
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, header=None, dtype=str, keep_default_na=False,
                            na_filter=False, quotechar='"', skip_blank_lines=False, engine="c")
    except pd.errors.ParserError as exc:
        raise InputError(f"rows differ in their number of fields ({_parser_detail(exc, numbers)})", source=source,
                         hint="check the separator and that every row has one value per column") from exc
    except (ValueError, UnicodeError, MemoryError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot parse the table ({exc})", source=source,
                         hint="check the separator and quoting") from exc
    if len(frame) != len(lines):
        raise InputError("quoted cells span several lines; cannot locate rows", source=source,
                         hint="remove line breaks inside quoted cells")
    if frame.shape[1] > n_fields:
        extra = frame.iloc[:, n_fields:].astype(str).apply(lambda c: c.str.strip() != "").any(axis=1).to_numpy()
        if extra.any():
            row = int(np.flatnonzero(extra)[0])
            raise InputError(f"line {numbers[row]} has more fields than the header ({n_fields})", source=source,
                             hint="check the separator and that every row has one value per column")
        frame = frame.iloc[:, :n_fields]
    cells = frame.to_numpy(dtype=object)
    if cells.shape[1] < n_fields:
        pad = np.full((cells.shape[0], n_fields - cells.shape[1]), "", dtype=object)
        cells = np.hstack([cells, pad])
    return cells


def fast_parse(lines: list[str], sep: str, n_fields: int, value_cols: list[int],
               text_cols: list[int]) -> tuple[np.ndarray, dict[int, list[str]]] | None:
    """Parse a clean table quickly (pandas' C parser reads the numbers).

    Returns ``(values, text)`` -- ``values`` float64 (rows x ``value_cols``), ``text`` the
    stripped strings of ``text_cols`` -- or ``None`` when anything is unusual (a non-numeric or
    missing cell, a ragged row...). The caller then takes the slow path
    (:func:`parse_delimited` + :func:`to_numbers`), which names the offending cell.
    """
    if not lines:
        return None
    dtype: dict[int, object] = {i: str for i in text_cols}
    dtype.update({i: np.float64 for i in value_cols})
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, header=None, dtype=dtype, quotechar='"',
                            engine="c", keep_default_na=True, skip_blank_lines=False)
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.shape != (len(lines), n_fields):
        return None
    values = frame.iloc[:, value_cols].to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        return None
    text = {}
    for i in text_cols:
        column = frame.iloc[:, i]
        if column.isna().any():
            return None
        text[i] = [str(v).strip() for v in column]
    return values, text


def _parser_detail(exc: Exception, numbers: list[int]) -> str:
    import re

    m = re.search(r"line (\d+), saw (\d+)", str(exc))
    if m:
        row = int(m.group(1)) - 1
        line_no = numbers[row] if 0 <= row < len(numbers) else row + 1
        return f"line {line_no} has {m.group(2)} fields"
    return str(exc).strip()


def to_numbers(cells: np.ndarray, row_ids, col_ids, *, source, row_kind: str, col_kind: str,
               row_lines: list[int] | None = None) -> np.ndarray:
    """Convert a block of string cells to float64; the first bad cell is an InputError.

    Missing cells (empty, ``NA``, ``nan``...) and text are reported with their row and column
    IDs (and line number when known).
    """
    frame = pd.DataFrame(cells)
    numeric = frame.apply(lambda col: pd.to_numeric(col, errors="coerce")).to_numpy(dtype=np.float64)
    bad = np.isnan(numeric)
    if bad.any():
        # genuine "nan" text parses to NaN too: every NaN cell is an error
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raw = str(cells[i, j]).strip()
        where = f"{row_kind} {row_ids[i]!r}, {col_kind} {col_ids[j]!r}"
        if row_lines is not None:
            where += f" (line {row_lines[i]})"
        n_bad = int(bad.sum())
        more = f" ({n_bad} such cells)" if n_bad > 1 else ""
        if raw.casefold() in MISSING_TOKENS:
            raise InputError(f"missing value {raw!r} for {where}{more}", source=source,
                             hint="fill missing abundances with 0 or remove the row/column")
        raise InputError(f"non-numeric value {raw!r} for {where}{more}", source=source,
                         hint="abundances must be numbers; fix that cell or check the separator/orientation")
    return numeric


def file_stem(path: str | os.PathLike) -> str:
    """File name without compression suffix and without its last extension."""
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name
