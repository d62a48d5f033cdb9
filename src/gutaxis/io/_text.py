"""Text-file helpers shared by the readers: bytes -> lines -> a table of strings -> numbers.

Files may be gzip-, bzip2- or xz-compressed (recognised by their first bytes). Text is UTF-8
(a byte-order mark is dropped), UTF-16 or UTF-32 (recognised by the byte-order mark, or for
UTF-16 without one by the zero bytes of Latin text), or latin-1 when it looks like accented
spreadsheet text (:func:`decode`, through :mod:`gutaxis._textfile`). Every problem becomes an
:class:`~gutaxis.errors.InputError` naming the file and, where it applies, the line, row and column.

Decompression is bounded while it runs (module constants; raise them for an unusual genuine
file): at most ``MAX_DECOMPRESSED_BYTES`` (2 GiB), and above ``DECOMPRESSION_RATIO_FLOOR_BYTES``
(64 MiB) at most ``MAX_DECOMPRESSION_RATIO`` (100) times the compressed size; real tables
compress 10 to 25 fold.

Wide tables (a million columns) are split with ``str.split`` and their numbers read in one pass
over all cells: nothing is done per column.
"""

from __future__ import annotations

import bz2
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

from .._textfile import decode_text
from ..errors import InputError

__all__ = [
    "DECOMPRESSION_RATIO_FLOOR_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_DECOMPRESSION_RATIO",
    "MISSING_TOKENS",
    "Lines",
    "existing_file",
    "fast_parse",
    "file_stem",
    "parse_delimited",
    "raw_bytes",
    "read_lines",
    "split_fields",
    "to_numbers",
]

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


#: Largest decompressed size of a gzip/bzip2/xz file, in bytes.
MAX_DECOMPRESSED_BYTES = 2 << 30
#: Largest ratio of decompressed to compressed size (above DECOMPRESSION_RATIO_FLOOR_BYTES).
#: Real tables compress 10-25 fold; a ratio near 1000 is a run of repeated bytes, a bomb.
MAX_DECOMPRESSION_RATIO = 100
#: Decompressed sizes below this are not held to MAX_DECOMPRESSION_RATIO.
DECOMPRESSION_RATIO_FLOOR_BYTES = 64 << 20


def raw_bytes(path: str | os.PathLike, *, limit: int | None = None) -> bytes:
    """The file's bytes, decompressed when gzip/bzip2/xz.

    ``limit``: at most that many bytes are returned (of the decompressed content for a
    compressed file; a shorter head is not an error). Without it, decompression is bounded by
    :data:`MAX_DECOMPRESSED_BYTES` and :data:`MAX_DECOMPRESSION_RATIO`, checked while
    decompressing, so a small "bomb" is refused before it fills the memory.
    """
    p = existing_file(path)
    try:
        with open(p, "rb") as handle:
            magic = handle.read(6)
            handle.seek(0)
            opener = _opener(magic)
            if opener is None:
                return handle.read() if limit is None else handle.read(limit)
            compressed = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        raise InputError(
            f"cannot read the file ({exc.strerror or exc})", source=path, hint="check the file permissions"
        ) from exc
    if limit is not None:
        cap, strict = limit, False
    else:
        cap = min(MAX_DECOMPRESSED_BYTES, max(DECOMPRESSION_RATIO_FLOOR_BYTES, MAX_DECOMPRESSION_RATIO * compressed))
        strict = True
    out = io.BytesIO()
    try:
        with opener(p, "rb") as stream:
            while out.tell() <= cap:
                block = stream.read(min(1 << 20, cap + 1 - out.tell()))
                if not block:
                    break
                out.write(block)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(
            f"the compressed file is truncated or corrupt ({exc})",
            source=path,
            hint="re-download or re-create the file",
        ) from exc
    if out.tell() > cap:
        if strict:
            which = (
                "MAX_DECOMPRESSED_BYTES"
                if cap == MAX_DECOMPRESSED_BYTES
                else f"MAX_DECOMPRESSION_RATIO = {MAX_DECOMPRESSION_RATIO} times its {compressed} bytes"
            )
            raise InputError(
                f"the compressed file decompresses to more than {cap} bytes (limit: {which})",
                source=path,
                hint="it looks like a decompression bomb; for a genuine file, decompress it first or "
                "raise gutaxis.io._text.MAX_DECOMPRESSION_RATIO / MAX_DECOMPRESSED_BYTES",
            )
        return out.getvalue()[:cap]
    return out.getvalue()


def _opener(magic: bytes):
    if magic.startswith(GZIP_MAGIC):
        return gzip.open
    if magic.startswith(BZ2_MAGIC):
        return bz2.open
    if magic.startswith(XZ_MAGIC):
        return lzma.open
    return None


def decode(data: bytes, source, *, partial: bool = False) -> str:
    """Text of a file, by the one decoder of user files (:func:`gutaxis._textfile.decode_text`): UTF-8 (a
    leading byte-order mark is dropped), UTF-16/UTF-32 (by their byte-order mark or, without one, by the
    NUL bytes of Latin text in UTF-16), or -- the readers' policy -- latin-1 only when it looks like
    accented spreadsheet text (no control characters, at most 2 % non-ASCII bytes), without a warning;
    binary content is an InputError.

    ``partial``: ``data`` is the start of a longer file (a multi-byte character cut at the end is
    not an error).
    """
    return decode_text(
        data,
        source,
        partial=partial,
        fallback="latin-1",
        fallback_when_sparse=True,
        hint="save the table as UTF-8 text",
        what="a text table",
        binary_hint="give a MetaPhlAn/CSV/TSV text file, a BIOM file, a .qza or an .h5ad",
    )[0]


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


def _split_rows(lines: list[str], sep: str) -> list[list[str]] | None:
    """Fields of each line (CSV quoting understood); None when a quoted cell spans lines.

    Plain ``str.split`` when no line holds a quote (fast on wide tables: one pass per line, no
    per-column work), the ``csv`` module otherwise.
    """
    if not any('"' in line for line in lines):
        return [line.split(sep) for line in lines]
    rows = []
    for line in lines:
        try:
            fields = next(csv.reader([line], delimiter=sep, quotechar='"', strict=True), [])
        except csv.Error:
            return None  # an unterminated quote: the cell goes on on another line
        rows.append(fields)
    return rows


def parse_delimited(lines: list[str], numbers: list[int], sep: str, n_fields: int, source) -> np.ndarray:
    """Rows of fields (object array of str, n_rows x n_fields), as written (not stripped).

    A row with more (non-empty) fields than ``n_fields`` is an InputError naming its line; a
    shorter row is padded with empty cells (reported as missing values later).
    """
    if not lines:
        return np.empty((0, n_fields), dtype=object)
    rows = _split_rows(lines, sep)
    if rows is None:
        raise InputError(
            "quoted cells span several lines; cannot locate rows",
            source=source,
            hint="remove line breaks inside quoted cells",
        )
    first = len(rows[0])
    for r, fields in enumerate(rows):
        if len(fields) > first:
            raise InputError(
                f"rows differ in their number of fields (line {numbers[r]} has {len(fields)} fields)",
                source=source,
                hint="check the separator and that every row has one value per column",
            )
    cells = np.full((len(rows), n_fields), "", dtype=object)
    for r, fields in enumerate(rows):
        if len(fields) > n_fields:
            if any(f.strip() for f in fields[n_fields:]):
                raise InputError(
                    f"line {numbers[r]} has more fields than the header ({n_fields})",
                    source=source,
                    hint="check the separator and that every row has one value per column",
                )
            fields = fields[:n_fields]
        cells[r, : len(fields)] = fields
    return cells


def fast_parse(
    lines: list[str], sep: str, n_fields: int, value_cols: list[int], text_cols: list[int]
) -> tuple[np.ndarray, dict[int, list[str]]] | None:
    """Parse a clean table quickly.

    Returns ``(values, text)`` -- ``values`` float64 (rows x ``value_cols``), ``text`` the
    stripped strings of ``text_cols`` -- or ``None`` when anything is unusual (a non-numeric or
    missing cell, a ragged row...). The caller then takes the slow path
    (:func:`parse_delimited` + :func:`to_numbers`), which names the offending cell.

    The numbers are converted in one call over all cells (no per-column work), so a table of
    2 samples x 1,000,000 features reads as fast as one of 1,000,000 x 2.
    """
    if not lines:
        return None
    rows = _split_rows(lines, sep)
    if rows is None or any(len(fields) != n_fields for fields in rows):
        return None
    flat = np.empty(len(rows) * len(value_cols), dtype=object)
    width = len(value_cols)
    contiguous = value_cols == list(range(value_cols[0], value_cols[0] + width)) if width else True
    for r, fields in enumerate(rows):
        if contiguous:
            flat[r * width : (r + 1) * width] = fields[value_cols[0] : value_cols[0] + width] if width else []
        else:
            flat[r * width : (r + 1) * width] = [fields[i] for i in value_cols]
    values = _fast_floats(flat)
    if values is None or np.isnan(values).any():
        return None
    text = {}
    for i in text_cols:
        column = [fields[i].strip() for fields in rows]
        if any(c.casefold() in MISSING_TOKENS for c in column):
            return None
        text[i] = column
    return values.reshape(len(rows), width), text


def _fast_floats(flat: np.ndarray) -> np.ndarray | None:
    """float64 of clean number strings through pandas' C parser, one value per line (a single
    column: no per-column cost); None at the first cell it cannot read."""
    if not len(flat):
        return np.empty(0, dtype=np.float64)
    joined = "\n".join(flat.tolist())
    if "\x01" in joined:  # the one character that must not occur: it stands for the separator
        return None
    try:
        frame = pd.read_csv(
            io.StringIO(joined),
            sep="\x01",
            header=None,
            names=["v"],
            dtype=np.float64,
            engine="c",
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
            keep_default_na=True,
        )
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.shape != (len(flat), 1):
        return None
    return frame["v"].to_numpy(dtype=np.float64)


def _to_float(flat: np.ndarray) -> np.ndarray | None:
    """float64 of an object array of strings (NaN where a cell is not a number), None if it fails."""
    try:
        out = pd.to_numeric(pd.Series(flat, dtype=object, copy=False), errors="coerce")
    except (TypeError, ValueError, OverflowError):  # pragma: no cover - coerce turns bad cells to NaN
        return None
    return out.to_numpy(dtype=np.float64, na_value=np.nan)


def to_numbers(
    cells: np.ndarray, row_ids, col_ids, *, source, row_kind: str, col_kind: str, row_lines: list[int] | None = None
) -> np.ndarray:
    """Convert a block of string cells to float64; the first bad cell is an InputError.

    Missing cells (empty, ``NA``, ``nan``...) and text are reported with their row and column
    IDs (and line number when known).
    """
    cells = np.asarray(cells, dtype=object)
    numeric = _to_float(cells.ravel())
    if numeric is None:  # pragma: no cover - see _to_float
        numeric = np.full(cells.size, np.nan)
    numeric = numeric.reshape(cells.shape)
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
            raise InputError(
                f"missing value {raw!r} for {where}{more}",
                source=source,
                hint="fill missing abundances with 0 or remove the row/column",
            )
        raise InputError(
            f"non-numeric value {raw[:50]!r} for {where}{more}",
            source=source,
            hint="abundances must be numbers; fix that cell or check the separator/orientation",
        )
    return numeric


def file_stem(path: str | os.PathLike) -> str:
    """File name without compression suffix and without its last extension."""
    name = Path(path).name
    for suffix in (".gz", ".bz2", ".xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name
