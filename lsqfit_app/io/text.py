"""Delimited text: detect delimiter, decimal and header, and read the table.

The bytes become text first (:mod:`lsqfit_app.io.decoding`: binary files,
encoding, line endings).  Detection works on the content, never on the suffix:

* **Delimiter.**  Each candidate (tab, semicolon, comma, pipe, runs of
  blanks) splits a sample of lines; the table is located in each split
  (:mod:`lsqfit_app.io.layout`) and the candidate whose table holds the most
  numbers, minus twice the text cells, wins.  Ties go to tab, then semicolon,
  comma, pipe, blanks.  Quotes (``"my;x"``) are honoured.
* **Numbers.**  The decimal separator and thousands separator are chosen the
  same way among the pairs that can occur (``1.5``, ``1,5``, ``1,234.5``,
  ``1.234,5``, ``1 234,5``); ties prefer a thousands comma in comma-separated
  files and a decimal comma elsewhere.
* **Escaped text.**  A cell ``'=...`` (a quote before ``=``, ``+``, ``-``,
  ``@``...) is OWASP's escape against formula injection, which the app's own
  CSV writers use; header and text cells are read without that quote
  (:func:`lsqfit_app.core.spreadsheet.unescape_text_cell`).

Two paths read the data.  Files up to :data:`FAST_PATH_MIN_BYTES` are parsed
here in Python (one split per line, one regex per cell), which handles every
oddity.  Bigger files are handed to pandas' C parser once the dialect is known
from a sample of its first lines (32 KB, else 256 KB) and its last 16 KB, and the
first rows it returns are checked
against this module's own parse of the same lines; any disagreement (quotes
spanning lines, comment lines inside the data, a footer) falls back to the
Python path, so both paths give the same table.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.table import Table
from lsqfit_app.io.build import build_table
from lsqfit_app.io.decoding import (check_text, decode_with_notes, line_ending, mixed_utf8,
                                    normalise_newlines, sniff_binary, sniff_encoding)
from lsqfit_app.io.dialect import Dialect, ReadResult
from lsqfit_app.io.layout import EMPTY, NEUTRAL, NUMBER, TEXT, Layout, Row, find_layout
from lsqfit_app.io.numbers import convert_column, is_neutral, number_pattern, parse_number

#: Files at least this big go through pandas' C parser (module attribute so
#: tests can force either path).
FAST_PATH_MIN_BYTES = 2_000_000

#: Lines used to detect the dialect.
SAMPLE_LINES = 1000

#: Bytes read from the start of a big file for detection: a small sample first
#: (cheap), a bigger one when the preamble does not fit in it.
HEAD_BYTES = (32 * 1024, 256 * 1024)
TAIL_BYTES = 16 * 1024

DELIMITERS = ("\t", ";", ",", "|", " ")
COMMENT_CHARS = "#%;"


# ---------------------------------------------------------------------- tokenising
@dataclass
class Record:
    number: int          # 1-based line where the record starts
    fields: list[str]
    comment: bool


def _comment_char(line: str, delimiter: str) -> str | None:
    s = line.lstrip()
    if s and s[0] in COMMENT_CHARS and not (s[0] == ";" and delimiter == ";"):
        return s[0]
    return None


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == " ":
        return line.split()
    return [f.strip() for f in line.split(delimiter)]


def tokenize(text: str, delimiter: str, *, max_lines: int | None = None,
             first_line: int = 1) -> list[Record]:
    """Split normalised text into records (quote-aware for one-character delimiters)."""
    lines = text.split("\n", max_lines) if max_lines else text.split("\n")
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
    if lines and lines[-1] == "":
        lines.pop()
    records: list[Record] = []
    quoted = delimiter != " " and '"' in text[: 10_000_000]
    if not quoted:
        for n, line in enumerate(lines, first_line):
            c = _comment_char(line, delimiter)
            if c:
                records.append(Record(n, _split(line.lstrip()[1:].lstrip(c), delimiter), True))
            else:
                records.append(Record(n, _split(line, delimiter), False))
        return records
    # csv handles quoted fields holding the delimiter, quotes or line breaks
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', skipinitialspace=True,
                        strict=False)
    start = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error:
            # an unbalanced quote: read the rest of that line without quoting
            fields = _split(lines[reader.line_num - 1], delimiter)
        number = start + first_line
        start = reader.line_num
        line = lines[number - first_line] if number - first_line < len(lines) else ""
        c = _comment_char(line, delimiter)
        if c and len(fields) <= 1 + line.count(delimiter):
            records.append(Record(number, _split(line.lstrip()[1:].lstrip(c), delimiter), True))
        else:
            records.append(Record(number, [f.strip() for f in fields], False))
    return records


# ---------------------------------------------------------------------- classification
def _classifier(decimal: str, thousands: str | None) -> Callable[[str], int]:
    pattern = number_pattern(decimal, thousands)

    def kind(cell: str) -> int:
        if not cell:
            return EMPTY
        if pattern.fullmatch(cell):
            return NUMBER
        if parse_number(cell, decimal, thousands) is not None:
            return NUMBER
        return NEUTRAL if is_neutral(cell) else TEXT

    return kind


_PERMISSIVE = [number_pattern(".", None), number_pattern(",", None),
               number_pattern(".", ","), number_pattern(",", ".")]


def _permissive_kind(cell: str) -> int:
    if not cell:
        return EMPTY
    for p in _PERMISSIVE:
        if p.fullmatch(cell):
            return NUMBER
    if parse_number(cell) is not None:
        return NUMBER
    return NEUTRAL if is_neutral(cell) else TEXT


def to_rows(records: list[Record], kind: Callable[[str], int]) -> list[Row]:
    """Classify every cell of every record."""
    return [Row(r.number, r.fields, [kind(c) for c in r.fields], r.comment, len(r.fields))
            for r in records]


def _score(rows: list[Row]) -> tuple[int, Layout | None]:
    layout = find_layout(rows)
    if layout is None:
        # below any table, even one whose label column costs more than its
        # numbers score ("name,y" / "n0,0"): a split with no table is never right
        return -math.inf, None
    text = sum(rows[k].n_text for k in layout.data)
    return layout.score - 2 * text, layout


def detect_delimiter(text: str) -> str:
    """The delimiter whose split of the first lines holds the best table."""
    sample = text[: 400_000]
    best, best_score = " ", -math.inf
    for d in DELIMITERS:
        if d != " " and d not in sample:
            continue
        rows = to_rows(tokenize(sample, d, max_lines=SAMPLE_LINES), _permissive_kind)
        score, _ = _score(rows)
        if score > best_score:
            best, best_score = d, score
    return best


def detect_numbers(records: list[Record], delimiter: str, sample_text: str
                   ) -> tuple[str, str | None]:
    """(decimal, thousands) that make the most cells of the table numbers."""
    if delimiter == ",":
        combos = [(".", None), (".", ","), (",", None), (",", "."), (".", " "), (",", " "),
                  (".", "'"), (",", "\u00a0"), (".", "\u00a0")]
    else:
        combos = [(".", None), (",", None), (",", "."), (".", ","), (",", " "), (".", " "),
                  (".", "'"), (",", "\u00a0"), (".", "\u00a0")]
    best, best_score = (".", None), -math.inf
    plain = to_rows(records, _classifier(".", None))
    layout = find_layout(plain)
    if layout is not None:
        used = set(layout.data) | set(layout.header) | set(layout.skipped)
        if (all(plain[k].n_text == 0 and NEUTRAL not in plain[k].kinds for k in layout.data)
                and all(r.blank or r.comment for i, r in enumerate(plain) if i not in used)
                and '"' not in sample_text):
            return ".", None  # every cell is a plain number: nothing to choose
    for decimal, thousands in combos:
        if thousands and thousands not in sample_text:
            continue
        if thousands == " " and delimiter in (" ", "\t"):
            continue
        if decimal not in sample_text and decimal != ".":
            continue
        score, _ = _score(to_rows(records, _classifier(decimal, thousands)))
        if score > best_score:
            best, best_score = (decimal, thousands), score
    return best


# ---------------------------------------------------------------------- options
@dataclass(frozen=True)
class TextOptions:
    delimiter: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    header_rows: int | None = None
    skip_rows: int | None = None
    encoding: str | None = None


def read_text(text: str, *, source: str = "<text>", options: TextOptions = TextOptions(),
              encoding: str | None = None, progress: Callable[[float], None] | None = None
              ) -> ReadResult:
    """Read a table from already decoded text (a file's content or the clipboard)."""
    check_text(text, source)
    if text.startswith("\ufeff"):
        text = text[1:]
    ending = line_ending(text)
    norm = normalise_newlines(text)
    if not norm.strip():
        raise InputError(f"{source}: the file is empty")
    detected = []
    delimiter = options.delimiter
    if delimiter is None:
        delimiter = detect_delimiter(norm)
        detected.append("delimiter")
    sample_records = tokenize(norm, delimiter, max_lines=SAMPLE_LINES)
    decimal, thousands = options.decimal, options.thousands
    if decimal is None or (thousands is None and "thousands" not in _given(options)):
        found = detect_numbers(sample_records, delimiter, norm[:400_000]) if decimal is None else None
        if decimal is None:
            decimal, auto_thousands = found
            detected.append("decimal")
        else:
            auto_thousands = _thousands_for(sample_records, delimiter, decimal, norm[:400_000])
        if thousands is None:
            thousands = auto_thousands
            detected.append("thousands")
    if decimal == thousands:
        raise InputError(f"{source}: the decimal and thousands separators are both {decimal!r}")
    if progress:
        progress(0.1)
    records = tokenize(norm, delimiter)
    rows = to_rows(records, _classifier(decimal, thousands))
    if progress:
        progress(0.6)
    first_row = None
    if options.skip_rows is not None:
        first_row = next((i for i, r in enumerate(rows) if r.number > options.skip_rows), len(rows))
    layout = find_layout(rows, header_rows=options.header_rows, first_row=first_row)
    if layout is None or not layout.data:
        raise InputError(_no_table_message(source, rows))
    table, problems, n_problems, data_rows = build_table(
        rows, layout, lambda cells: convert_column(cells, decimal, thousands), letters=False,
        escaped=True)
    if progress:
        progress(1.0)
    first_table_row = layout.header[0] if layout.header else layout.data[0]
    comment = next((_comment_char_of(norm, r.number) for r in records if r.comment), None)
    quote = '"' if delimiter != " " and '"' in norm[:1_000_000] else None
    dialect = Dialect(
        encoding=encoding, delimiter=delimiter, decimal=decimal, thousands=thousands,
        header_rows=len(layout.header), skip_rows=rows[first_table_row].number - 1,
        comment=comment, line_ending=ending, quote=quote, sheet=None,
        detected=tuple(detected + [f for f in ("header_rows", "skip_rows")
                                   if getattr(options, f) is None]
                       + (["encoding"] if options.encoding is None and encoding else [])),
        overridden=tuple(f for f in ("encoding", "delimiter", "decimal", "thousands",
                                     "header_rows", "skip_rows")
                         if getattr(options, f) is not None))
    notes = _notes(rows, layout)
    return ReadResult(table=table, dialect=dialect, problems=tuple(problems), sheet=None,
                      source=source, data_rows=data_rows, notes=tuple(notes),
                      n_problems=n_problems)


def _given(options: TextOptions) -> set[str]:
    return {f for f in ("thousands",) if getattr(options, f) is not None}


def _thousands_for(records, delimiter, decimal, sample_text) -> str | None:
    best, best_score = None, _score(to_rows(records, _classifier(decimal, None)))[0]
    for t in (",", ".", " ", "'", "\u00a0"):
        if t == decimal or t not in sample_text or (t == " " and delimiter in (" ", "\t")):
            continue
        score = _score(to_rows(records, _classifier(decimal, t)))[0]
        if score > best_score:
            best, best_score = t, score
    return best


def _comment_char_of(norm: str, number: int) -> str | None:
    line = norm.split("\n", number)[number - 1] if number >= 1 else ""
    s = line.lstrip()
    return s[0] if s and s[0] in COMMENT_CHARS else None


def _no_table_message(source: str, rows: list[Row]) -> str:
    content = [r for r in rows if not r.blank and not r.comment]
    if not content:
        return f"{source}: the file holds no data (only blank or comment lines)"
    if all(r.n_num == 0 for r in content):
        if len(content) == 1:
            return f"{source}: the file has a header line but no data rows"
        return (f"{source}: no numbers found: all {len(content)} non-blank lines are text "
                f"(line {content[0].number}: {' | '.join(content[0].fields)[:60]!r})")
    return f"{source}: no table of numbers found"


def _notes(rows: list[Row], layout: Layout) -> list[str]:
    notes = []
    last = layout.data[-1]
    after = [r for r in rows[last + 1:] if not r.blank and not r.comment]
    if after:
        notes.append(f"lines {after[0].number} to {after[-1].number} after the table were not read")
    inside = [rows[k].number for k in layout.skipped if not rows[k].comment]
    if inside:
        shown = ", ".join(str(n) for n in inside[:10])
        notes.append(f"line{'s' if len(inside) > 1 else ''} {shown}"
                     f"{' ...' if len(inside) > 10 else ''} inside the table "
                     f"{'were' if len(inside) > 1 else 'was'} skipped")
    return notes


# ---------------------------------------------------------------------- files
def read_text_file(path: str | os.PathLike, *, options: TextOptions = TextOptions(),
                   progress: Callable[[float], None] | None = None) -> ReadResult:
    """Read a delimited text file (see the module doc for the two paths)."""
    source = os.fspath(path)
    size = os.path.getsize(source)
    if size == 0:
        raise InputError(f"{source}: the file is empty")
    if size >= FAST_PATH_MIN_BYTES:
        result = _try_fast_path(source, size, options, progress)
        if result is not None:
            return result
    with open(source, "rb") as fh:
        data = fh.read()
    text, encoding, notes = decode_with_notes(data, source, options.encoding)
    del data
    result = read_text(text, source=source, options=options, encoding=encoding,
                       progress=progress)
    if notes:
        result = dataclasses.replace(result, notes=tuple(notes) + result.notes)
    return result


def _try_fast_path(source: str, size: int, options: TextOptions,
                   progress: Callable[[float], None] | None) -> ReadResult | None:
    """pandas' C parser for big regular files; None means "use the Python path"."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return None
    for head_bytes in HEAD_BYTES:
        found = _sample_dialect(source, size, head_bytes, options)
        if found is not None:
            break
    else:
        return None
    sample, head_text, tail_text, encoding, head_len = found
    d = sample.dialect
    n_sample = sample.table.n_rows
    head_lines = head_text.count("\n")
    skip = int(sample.data_rows[0]) - 1
    ncols = sample.table.n_columns
    sep = r"\s+" if d.delimiter == " " else d.delimiter
    kwargs = dict(sep=sep, header=None, skiprows=skip, decimal=d.decimal,
                  thousands=d.thousands, encoding=encoding, engine="c",
                  skip_blank_lines=True, names=range(ncols), index_col=False)
    if any(np.isnan(c.values).any() for c in sample.table.columns()):
        # only empty cells are missing: pandas' default list would also
        # silently swallow "NA", "null"... which the Python path reports
        kwargs.update(keep_default_na=False, na_values=["", "nan", "NaN", "NAN"])
    else:
        # no missing values seen: skip NA matching entirely (much faster); a
        # stray text cell then fails the float parse and we fall back
        kwargs.update(na_filter=False, dtype=np.float64)
    if d.delimiter != " " and (d.delimiter + " ") in head_text:
        kwargs["skipinitialspace"] = True
    try:
        if progress is None:
            frame = pd.read_csv(source, **kwargs)
        else:
            frame = _read_chunks(pd, source, kwargs, size, head_lines, head_len, progress)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError):
        return None
    arrays = []
    for j in range(ncols):
        col = frame[j]
        if col.dtype.kind in "fiu":
            arrays.append(col.to_numpy(dtype=np.float64))
        else:
            return None  # text cells: the Python path reports them
    if any(np.isinf(a).any() for a in arrays):
        return None  # inf or an overflow: let the Python path tell them apart
    if len(arrays[0]) < n_sample:
        return None
    for j in range(ncols):
        expect = sample.table.column(j + 1).values
        if not np.array_equal(arrays[j][:n_sample], expect, equal_nan=True):
            return None
    table = Table.from_columns(sample.table.names, arrays, sample.table.units)
    data_rows = np.arange(skip + 1, skip + 1 + len(arrays[0]), dtype=np.int64)
    if head_text.count("\n\n") or "\n\n" in tail_text:
        data_rows = None  # blank lines inside: line numbers are not a simple range
    if progress:
        progress(1.0)
    return ReadResult(table=table, dialect=d, problems=(), sheet=None, source=source,
                      data_rows=data_rows, notes=(), n_problems=0)


def _sample_dialect(source: str, size: int, head_bytes: int, options: TextOptions):
    """Detect the dialect on the first ``head_bytes``; None when that is not conclusive."""
    with open(source, "rb") as fh:
        head = fh.read(head_bytes)
        fh.seek(max(0, size - TAIL_BYTES))
        tail = fh.read()
    if sniff_binary(head[:64]) and options.encoding is None:
        return None  # let the Python path raise its message
    encoding = options.encoding or sniff_encoding(head)
    if encoding.startswith("utf-16") or encoding.startswith("utf-32"):
        return None  # rare for big files; the Python path handles them
    if options.encoding is None and encoding == "cp1252" and mixed_utf8(head) is not None:
        return None  # UTF-8 with a CP1252 line: the Python path decodes line by line
    # cut the samples at line boundaries so no record is split
    head_cut = head[: head.rfind(b"\n") + 1] if size > len(head) else head
    try:
        head_text = head_cut.decode(encoding)
        tail_text = tail[tail.find(b"\n") + 1:].decode(encoding) if size > len(head) else ""
    except (UnicodeError, LookupError, ValueError):
        return None
    if head_text.startswith("\ufeff"):
        head_text = head_text[1:]
    if "\r" in head_text.replace("\r\n", ""):
        return None  # bare CR or CR CR LF: rare in big files, keep pandas out of it
    try:
        sample = read_text(head_text, source=source, options=options, encoding=encoding)
    except InputError:
        return None
    d = sample.dialect
    if sample.table.n_rows < 10 or sample.notes or d.quote or d.comment:
        return None
    # the table must run to the end of the head sample and of the file
    if int(sample.data_rows[-1]) < head_text.count("\n") - 1:
        return None
    if tail_text and not _tail_is_data(tail_text, d, sample.table.n_columns):
        return None
    if any(not c.numeric for c in sample.table.columns()):
        return None
    return sample, head_text, tail_text, encoding, len(head_cut)


def _tail_is_data(tail_text: str, d: Dialect, ncols: int) -> bool:
    norm = normalise_newlines(tail_text)
    records = tokenize(norm, d.delimiter)
    rows = to_rows(records, _classifier(d.decimal, d.thousands))
    content = [r for r in rows if not r.blank]
    if not content:
        return True
    return all(r.data_like and r.n_text == 0 and r.width <= ncols for r in content[-50:])


def _read_chunks(pd, source, kwargs, size, head_lines, head_bytes, progress):
    per_line = max(1.0, head_bytes / max(1, head_lines))
    expected = max(1.0, size / per_line)
    chunks = []
    done = 0
    with pd.read_csv(source, chunksize=200_000, **kwargs) as reader:
        for chunk in reader:
            chunks.append(chunk)
            done += len(chunk)
            progress(min(0.99, done / expected))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=range(
        len(kwargs["names"])))
