"""Bytes to text: what kind of file this is, its encoding, its line endings.

* **Binary files.**  Images, archives, programs and databases are named from
  their first bytes (:func:`sniff_binary`); text with many control
  characters is refused as binary (:func:`check_text`).
* **Encoding.**  A BOM decides (UTF-8, UTF-16 LE/BE, UTF-32); without one,
  NUL bytes at every other position mean UTF-16; otherwise strict UTF-8 is
  tried, then CP1252, then Latin-1 (which decodes anything).  A UTF-8 file
  with a few CP1252 lines keeps its UTF-8 lines right.
* **Lines.**  LF, CRLF, bare CR (classic Mac) and the CR CR LF of some Windows
  exporters all end lines (:func:`normalise_newlines`).
"""
from __future__ import annotations

import codecs
import re

from lsqfit_app.core.errors import InputError

_BINARY_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"SQLite format 3", "an SQLite database"),
)

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def sniff_binary(head: bytes) -> str | None:
    """Name the kind of a binary file from its first bytes, or None."""
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            # "MZ"/"BZh" are also plausible starts of text: demand binary bytes too
            if what in ("a Windows program", "a bzip2 archive") and b"\x00" not in head[:512]:
                continue
            return what
    return None


def sniff_encoding(head: bytes) -> str:
    """Guess the encoding of a file from its first bytes (see module doc)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:8192]
    if len(sample) >= 4 and b"\x00" in sample:
        even = sample[0::2].count(0)
        odd = sample[1::2].count(0)
        half = len(sample) // 2
        if odd > 0.3 * half and even < 0.05 * half:
            return "utf-16-le"
        if even > 0.3 * half and odd < 0.05 * half:
            return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason.startswith("unexpected end"):
            return "utf-8"  # a character cut by the sample's end
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def check_encoding(name: str, option: str = "--encoding") -> str:
    """The codec name, or InputError naming ``option`` when it is no text encoding.

    ``rot13`` (text to text) and ``base64`` (bytes to bytes) are codecs too,
    but decoding a file with them fails deep inside Python.
    """
    try:
        info = codecs.lookup(name)
    except (LookupError, TypeError, ValueError):
        raise InputError(f"{option}: unknown encoding {name!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(f"{option}: {name!r} is not a text encoding; give one such as "
                         "utf-8, cp1252, latin-1 or utf-16")
    return info.name


_LINE_BREAK = re.compile(rb"(\r\n|\r|\n)")


def decode_with_notes(data: bytes, source: str, encoding: str | None = None
                      ) -> tuple[str, str, list[str]]:
    """Decode file bytes; returns (text, encoding used, notes for people).

    A UTF-8 file with a few lines in CP1252 (a line pasted from an old
    Windows program) keeps its UTF-8 lines right: each line that is not
    valid UTF-8 is decoded as CP1252 (Latin-1 where CP1252 has no
    character) and a note names those lines.

    Raises
    ------
    InputError
        When a given encoding cannot decode the file (naming the line), is
        not a text encoding, or the content is binary.
    """
    what = sniff_binary(data[:64])
    if what and encoding is None:
        raise InputError(f"{source}: this is {what}, not a data table")
    notes: list[str] = []
    if encoding is None:
        encoding = sniff_encoding(data[:65536])
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            text = None
        if text is None or encoding == "cp1252":
            mixed = mixed_utf8(data)
            if mixed is not None:
                text, bad = mixed
                encoding = "utf-8"
                shown = ", ".join(str(n) for n in bad[:10]) + (" ..." if len(bad) > 10 else "")
                notes.append(f"line{'s' if len(bad) > 1 else ''} {shown} "
                             f"{'are' if len(bad) > 1 else 'is'} not valid UTF-8 and "
                             f"{'were' if len(bad) > 1 else 'was'} decoded as CP1252")
        if text is None:
            encoding = "cp1252"
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                encoding = "latin-1"
                text = data.decode(encoding)
    else:
        check_encoding(encoding, "--encoding")
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise InputError(f"{source}: line {line} cannot be decoded as {encoding} "
                             f"({exc.reason})") from None
        except (UnicodeError, ValueError, TypeError) as exc:
            raise InputError(f"{source}: cannot be decoded as {encoding} ({exc})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, source)
    return text, encoding, notes


def mixed_utf8(data: bytes) -> tuple[str, list[int]] | None:
    """Per-line decoding of a UTF-8 file with some lines in another encoding.

    None unless some line with non-ASCII bytes is valid UTF-8 (then the file
    is UTF-8 and the others are the odd ones) and some line is not.  Lines
    are counted like the reader counts them (CR, LF and CRLF end a line).
    """
    parts = _LINE_BREAK.split(data)
    good_utf8 = False
    bad: list[int] = []
    out: list[str] = []
    line = 1
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part.decode("ascii"))
            line += 1
            continue
        if part.isascii():
            out.append(part.decode("ascii"))
            continue
        try:
            out.append(part.decode("utf-8"))
            good_utf8 = True
        except UnicodeDecodeError:
            bad.append(line)
            try:
                out.append(part.decode("cp1252"))
            except UnicodeDecodeError:
                out.append(part.decode("latin-1"))
    if not good_utf8 or not bad:
        return None
    return "".join(out), bad


def check_text(text: str, source: str) -> None:
    """Refuse content that is mostly control characters (binary data)."""
    sample = text[:65536]
    if not sample:
        return
    controls = len(_CONTROL.findall(sample))
    if controls > max(8, 0.05 * len(sample)):
        raise InputError(f"{source}: the file holds binary data, not a text table "
                         f"({controls} control characters in its first {len(sample)} characters)")


def line_ending(text: str) -> str | None:
    """Name the line endings of ``text``: LF, CRLF, CR, CR CR LF or mixed."""
    sample = text[:200_000]
    crcrlf = sample.count("\r\r\n")
    crlf = sample.count("\r\n") - crcrlf
    cr = sample.count("\r") - crlf - 2 * crcrlf
    lf = sample.count("\n") - crlf - crcrlf
    kinds = {name: n for name, n in (("CR CR LF", crcrlf), ("CRLF", crlf), ("CR", cr), ("LF", lf))
             if n > 0}
    if not kinds:
        return None
    if len(kinds) == 1:
        return next(iter(kinds))
    best = max(kinds, key=kinds.get)
    return best if kinds[best] >= 0.95 * sum(kinds.values()) else "mixed"


def normalise_newlines(text: str) -> str:
    """Every line ending becomes ``\\n`` (CR CR LF gives a blank line, ignored later)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text
