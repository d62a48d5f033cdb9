"""The text of a log or diary export, whatever encoding a spreadsheet or phone app saved it in.

Read by the one decoder of user files (:func:`gutaxis._textfile.decode_text`: a byte-order mark
decides; UTF-16 without one is recognised by its NUL bytes; then UTF-8) with the logs' policy for the
rest: Windows-1252 (Excel's "CSV" on Western European Windows, a superset of Latin-1 for text) for
any file that is not UTF-8, with a warning. A file read as anything but UTF-8 (with or without a
byte-order mark) or UTF-16/32 with a byte-order mark gives a :class:`LogEncodingWarning`
(``warning:`` on the command line) naming the file and the encoding used. A file none of these
decodes is an :class:`~gutaxis.errors.InputError` naming the file and line and saying how to save it
as UTF-8.

:func:`csv_delimiter` reads the separator from the header line: a comma, or the semicolon of
Excel's "CSV" in locales that write decimal commas (most of continental Europe), or the tab of a
range pasted from a spreadsheet or saved as "Text (Tab delimited)".
"""

from __future__ import annotations

from pathlib import Path

from .._textfile import decode_text as _decode

__all__ = ["UTF8_HINT", "LogEncodingWarning", "csv_delimiter", "decode_text"]

UTF8_HINT = (
    "save it as UTF-8 (Excel: Save As 'CSV UTF-8'; LibreOffice: character set 'Unicode (UTF-8)'; "
    "a text editor: encoding UTF-8)"
)


class LogEncodingWarning(UserWarning):
    """A log was not UTF-8 and was read in the encoding the warning names."""


def decode_text(data: bytes, path: str | Path) -> tuple[str, str]:
    """``(text, encoding)`` of a file's bytes; see the module docstring.

    ``encoding`` is ``"utf-8"``, ``"utf-16"``, ``"utf-32"``, ``"utf-16-le"``/``"utf-16-be"``
    (detected without a byte-order mark) or ``"cp1252"``; the last three are also reported as a
    :class:`LogEncodingWarning`.
    """
    return _decode(
        data,
        path,
        fallback="cp1252",
        warning=LogEncodingWarning,
        hint=UTF8_HINT,
        binary_hint="give the CSV or JSON log itself; " + UTF8_HINT,
        stacklevel=3,
    )


def csv_delimiter(text: str) -> str:
    """The separator of a CSV file: the one of comma, semicolon and tab that its header line uses
    most (outside quotes); a comma when none or a tie. Only the header decides, so a semicolon in a
    food name ("soup; bread") never changes how a file is split."""
    end = text.find("\n")  # the header line only, without copying the rest of the file
    header = text if end < 0 else text[:end]
    outside = "".join(part for i, part in enumerate(header.split('"')) if i % 2 == 0)
    counts = {d: outside.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","
