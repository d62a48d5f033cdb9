"""The text of a log or diary export, whatever encoding a spreadsheet or phone app saved it in.

Order: a byte-order mark (UTF-8, UTF-16, UTF-32) decides; UTF-16 without one is recognised by
its NUL bytes; then UTF-8; then Windows-1252 (Excel's "CSV" on Western European Windows, a
superset of Latin-1 for text). A file read as anything but UTF-8 (with or without a byte-order mark)
or UTF-16/32 with a byte-order mark gives a :class:`LogEncodingWarning` (``warning:`` on the
command line) naming the file and the encoding used. A file none of these decodes is an
:class:`~gutaxis.errors.InputError` naming the file and line and saying how to save it as UTF-8.
"""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path

from ..errors import InputError

__all__ = ["LogEncodingWarning", "decode_text", "UTF8_HINT"]

UTF8_HINT = ("save it as UTF-8 (Excel: Save As 'CSV UTF-8'; LibreOffice: character set 'Unicode (UTF-8)'; "
             "a text editor: encoding UTF-8)")


class LogEncodingWarning(UserWarning):
    """A log was not UTF-8 and was read in the encoding the warning names."""


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the NUL bytes sit where UTF-16 puts them for Latin text."""
    sample = data[:65536]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    n_even, n_odd = even.count(0), odd.count(0)
    if n_odd >= 0.3 * len(odd) and n_even <= 0.02 * len(even):
        return "utf-16-le"
    if n_even >= 0.3 * len(even) and n_odd <= 0.02 * len(odd):
        return "utf-16-be"
    return None


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """``(text, encoding)`` of a file's bytes; see the module docstring.

    ``encoding`` is ``"utf-8"``, ``"utf-16"``, ``"utf-32"``, ``"utf-16-le"``/``"utf-16-be"``
    (detected without a byte-order mark) or ``"cp1252"``; the last three are also reported as a
    :class:`LogEncodingWarning`.
    """
    name = str(path)
    enc = None
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        enc = "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    elif b"\x00" in data[:65536]:
        enc = _utf16_without_bom(data)
        if enc is None:
            raise InputError("not a text file (it holds NUL bytes, and is not UTF-16 text)", source=path,
                             hint="give the CSV or JSON log itself; " + UTF8_HINT)
    if enc is not None:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid {enc.upper()} text (byte {exc.start})", source=path, hint=UTF8_HINT) from None
        text = text.removeprefix("\ufeff")
        if "\x00" in text:
            raise InputError(f"not a text file (NUL characters after decoding it as {enc.upper()})", source=path,
                             hint=UTF8_HINT)
        if enc in ("utf-16-le", "utf-16-be"):
            warnings.warn(f"{name}: UTF-16 text without a byte-order mark; read as {enc.upper()} — "
                          f"{UTF8_HINT}", LogEncodingWarning, stacklevel=3)
        return text, enc
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        bad = data[exc.start]
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(f"not UTF-8 text (byte 0x{bad:02x} on line {line}), and not Windows-1252/Latin-1 either",
                         source=path, hint=UTF8_HINT) from None
    warnings.warn(f"{name}: not UTF-8 (byte 0x{bad:02x} on line {line}); read as Windows-1252 (Western European, "
                  f"Latin-1): check its accented letters, or {UTF8_HINT}", LogEncodingWarning, stacklevel=3)
    return text, "cp1252"
