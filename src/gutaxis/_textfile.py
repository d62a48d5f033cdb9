"""One decoder for the text files users give: profiles, tables and metadata (:mod:`gutaxis.io`), meal
and symptom logs and diary exports (:mod:`gutaxis.lifestyle`).

Order:

1. a byte-order mark decides: UTF-32, UTF-16, or UTF-8 (the mark is dropped);
2. NUL bytes in the first 64 KiB: UTF-16 without a byte-order mark when they sit where UTF-16 puts
   them for Latin text (at least 30 % of the high bytes, at most 2 % of the low ones), else the file
   is binary;
3. UTF-8;
4. the caller's 8-bit ``fallback`` (``"cp1252"``, ``"latin-1"``), when it decodes the bytes (and with
   ``fallback_when_sparse``, only when the first 64 KiB hold no control characters and at most 2 %
   non-ASCII bytes: accented text from a spreadsheet, not some other encoding or binary data).

UTF-16/32 text that holds NUL characters, or control characters in more than 1 % of its first 64 Ki
characters, is binary too. A reading that is a guess (UTF-16 without a byte-order mark, the 8-bit
fallback) is reported as the caller's ``warning`` class naming the file, the encoding and the fix;
without one it is logged (``gutaxis.text``, INFO), as is UTF-16/32 with a byte-order mark. Every
refusal is an :class:`~gutaxis.errors.InputError` naming the file (and, for UTF-8, the byte and line)
with the caller's ``hint``.
"""

from __future__ import annotations

import codecs
import logging
import warnings

from .errors import InputError

__all__ = ["FALLBACK_NAMES", "decode_text"]

log = logging.getLogger("gutaxis.text")

_HEAD = 65536

#: 8-bit fallbacks: (name in a warning, name in an error)
FALLBACK_NAMES = {
    "cp1252": ("Windows-1252 (Western European, Latin-1)", "Windows-1252/Latin-1"),
    "latin-1": ("Latin-1 (ISO 8859-1)", "Latin-1"),
}


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when the NUL bytes sit where UTF-16 puts them for Latin text."""
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    n_even, n_odd = even.count(0), odd.count(0)
    if n_odd >= 0.3 * len(odd) and n_even <= 0.02 * len(even):
        return "utf-16-le"
    if n_even >= 0.3 * len(even) and n_odd <= 0.02 * len(odd):
        return "utf-16-be"
    return None


def _sparse_8bit(head: bytes) -> bool:
    """Accented text from a spreadsheet: no control characters, at most 2 % bytes above ASCII."""
    high = sum(1 for b in head if b >= 0x80)
    control = sum(1 for b in head if b < 0x20 and b not in (9, 10, 13))
    return control == 0 and high <= max(1, len(head) // 50)


def decode_text(
    data: bytes,
    source,
    *,
    partial: bool = False,
    fallback: str | None = None,
    fallback_when_sparse: bool = False,
    warning: type[Warning] | None = None,
    hint: str | None = None,
    binary_hint: str | None = None,
    what: str = "a text file",
    stacklevel: int = 2,
) -> tuple[str, str]:
    """``(text, encoding)`` of a file's bytes (see the module docstring).

    ``encoding`` is ``"utf-8"``, ``"utf-16"``/``"utf-32"`` (byte-order mark), ``"utf-16-le"``/
    ``"utf-16-be"`` (detected without one) or ``fallback``.

    Parameters
    ----------
    source
        The file, named in errors and warnings.
    partial
        ``data`` is the head of a longer file: a multi-byte character cut at its end is no error.
    fallback, fallback_when_sparse
        The 8-bit encoding tried when the bytes are not UTF-8 (None: none), and whether only for
        text with few non-ASCII bytes.
    warning
        Warning class for a guessed encoding (None: logged at INFO instead).
    hint, binary_hint, what
        The fix said with an undecodable file, with a binary one, and what the file should be
        (``"this is a binary file, not {what}"``).
    stacklevel
        Of the warning, as for :func:`warnings.warn` called from the caller.
    """
    name = str(source)
    head = data[:_HEAD]
    enc = guessed = None
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        enc = "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    elif b"\x00" in head:
        enc = guessed = _utf16_without_bom(head)
        if enc is None:
            raise InputError(
                f"this is a binary file, not {what} (it holds NUL bytes, and is not UTF-16 text)",
                source=source,
                hint=binary_hint,
            )
    if enc is not None:
        label = enc.upper()
        try:
            text = codecs.getincrementaldecoder(enc)().decode(data, final=not partial)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not valid {label} text (undecodable bytes at position {exc.start})", source=source, hint=hint
            ) from None
        text = text.removeprefix("\ufeff")
        first = text[:_HEAD]
        control = sum(1 for ch in first if ch < " " and ch not in "\t\n\r")
        if "\x00" in text or control > len(first) // 100:  # zeros in every other place, but binary numbers
            raise InputError(
                f"this is a binary file, not {what} (control characters after decoding it as {label})",
                source=source,
                hint=binary_hint,
            )
        if guessed and warning is not None:
            warnings.warn(
                f"{name}: UTF-16 text without a byte-order mark; read as {label} — {hint}",
                warning,
                stacklevel=stacklevel + 1,
            )
        else:
            log.info("%s: read as %s text", name, label)
        return text, enc
    try:
        if partial:  # a character cut at the end of the head is not an error
            return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False), "utf-8"
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start]
    where = f"byte 0x{bad:02x} on line {line}"
    if fallback is not None and (not fallback_when_sparse or _sparse_8bit(head)):
        decoded: str | None
        try:
            decoded = data.decode(fallback)
        except UnicodeDecodeError:
            decoded = None
        if decoded is not None:
            if warning is not None:
                warnings.warn(
                    f"{name}: not UTF-8 ({where}); read as {FALLBACK_NAMES.get(fallback, (fallback,))[0]}: "
                    f"check its accented letters, or {hint}",
                    warning,
                    stacklevel=stacklevel + 1,
                )
            else:
                log.info("%s: not UTF-8 (%s); read as %s", name, where, fallback)
            return decoded, fallback
        either = f", and not {FALLBACK_NAMES.get(fallback, (fallback, fallback))[1]} either"
    else:
        either = ""
    raise InputError(f"not UTF-8 text ({where}){either}", source=source, hint=hint)
