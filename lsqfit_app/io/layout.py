"""Find the table in a grid of cells: where the data is, which rows are headers.

Text files and worksheets both arrive here as rows of cells, each cell
classified as empty, number or text.  Real files put titles, key/value
preambles, comments, unit rows, blank rows, repeated headers and footnotes
around the numbers (see ``../shared/corpus/NOTES.md``), so the table is found
from the numbers outwards rather than assumed to start on line 1:

1. **Core.**  The longest run (by count of numeric cells) of consecutive
   *data-like* rows of one width.  A row is data-like when it has at least one
   number and no more text cells than numbers; its width is the position of
   its last non-empty cell.
2. **Extension.**  Downwards the block takes data-like rows of compatible
   width (ragged rows and rows with only the first columns filled included),
   steps over blank and comment rows, skips a repeated header row, keeps a
   single broken row when data follows it, and ends at a blank row followed by
   text (a second table, footnotes) or at two text rows.  Upwards it takes
   data-like rows of compatible width (a "Total" row above a blank line), but
   never a row that looks like a header of years ("Year,2000,2001,...").
3. **Header.**  Among the few non-blank rows just above the block, the nearest
   text row as wide as the data anchors the header; up to two more text rows
   of that width directly above it join it.  A lone row gives names; a names
   row followed by a row gives names and units (unless the first is a sparse
   group/title row, then the second gives names); three rows give names from
   the top (the others are type/flag rows as in Orange's .tab).  A comment line
   (``#  t  y``, ``# ColumnLabels: energy counts/s``) can give the names when
   nothing else does, and a leading ``Key:`` token is dropped when it makes
   the count match (NIST's ``Data:   y   x``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

EMPTY, NUMBER, TEXT, NEUTRAL = 0, 1, 2, 3
"""Cell kinds.  NEUTRAL cells (dates, times, missing-value markers such as
``***`` or ``n/a``) are neither numbers nor text when deciding whether a row
is data: a GISTEMP row that is mostly ``***`` is still a data row, and a row
"03.05.2022, 10:05:00, 1, 865,54" is data with two numbers."""

#: How many non-blank rows above the data are searched for a header.
HEADER_WINDOW = 4


@dataclass
class Row:
    """One row of cells with their classification.

    ``number`` is the 1-based line of a text file or row of a sheet where the
    row starts; ``kinds`` holds EMPTY/NUMBER/TEXT/NEUTRAL per cell; ``comment`` marks a
    text line that starts with a comment character (its ``fields`` are the
    tokens after that character); ``count`` is the number of fields the
    delimiter made (-1 when that says nothing, as for sheets): ``"0.5,"`` has
    two fields even though only the first is filled.
    """

    number: int
    fields: list
    kinds: list[int]
    comment: bool = False
    count: int = -1
    width: int = 0
    n_num: int = 0
    n_text: int = 0

    def __post_init__(self) -> None:
        w = len(self.kinds)
        while w and self.kinds[w - 1] == EMPTY:
            w -= 1
        self.width = w
        self.n_num = self.kinds.count(NUMBER)
        self.n_text = self.kinds.count(TEXT)

    @property
    def shape(self) -> int:
        """What rows of one table share: the field count, else the width."""
        return self.count if self.count >= 0 else self.width

    @property
    def blank(self) -> bool:
        return self.width == 0

    @property
    def data_like(self) -> bool:
        return (not self.comment and self.n_num >= 1 and self.n_num >= self.n_text
                and not _years_like(self))

    @property
    def text_like(self) -> bool:
        return self.width > 0 and (self.n_text > self.n_num or _years_like(self))


@dataclass
class Layout:
    """Where the table is in a list of rows (indices into that list)."""

    data: list[int]
    header: list[int]
    names: list[str]
    units: list[str]
    ncols: int
    skipped: list[int] = field(default_factory=list)
    score: int = 0

    @property
    def last(self) -> int:
        return self.data[-1] if self.data else -1


def _years_like(row: Row) -> bool:
    """A header whose names are consecutive years ("Year,2000,2001,..."), with a label."""
    if row.n_text < 1 or row.n_num < 3:
        return False
    nums = []
    for cell, kind in zip(row.fields, row.kinds):
        if kind == NUMBER:
            try:
                v = float(str(cell).strip())
            except ValueError:
                return False
            if not 1000 <= v <= 2999 or v != int(v):
                return False
            nums.append(int(v))
    return all(b - a == 1 for a, b in zip(nums, nums[1:]))


def _tolerance(ncols: int) -> int:
    return max(1, ncols // 4)


def _core(rows: list[Row]) -> tuple[int, int, int] | None:
    """(start, stop index inclusive, score) of the best run of same-width data rows."""
    best = None
    start = None
    width = -1
    score = 0
    last = None
    for i, row in enumerate(rows):
        if row.blank or row.comment:
            continue
        if row.data_like and row.shape == width and start is not None:
            score += row.n_num
            last = i
        else:
            if start is not None and (best is None or score > best[2]):
                best = (start, last, score)
            if row.data_like and row.width >= 1:
                start, last, width, score = i, i, row.shape, row.n_num
            else:
                start, width, score = None, -1, 0
    if start is not None and (best is None or score > best[2]):
        best = (start, last, score)
    return best


def find_layout(rows: list[Row], *, header_rows: int | None = None,
                first_row: int | None = None) -> Layout | None:
    """Locate the table in ``rows``; None when there is no numeric data.

    Parameters
    ----------
    rows : list of Row
    header_rows : int, optional
        Force this many header rows (0-3) directly above the data.
    first_row : int, optional
        Index into ``rows`` where the header (or the data when
        ``header_rows`` is 0) starts: the user's ``--skip-rows``.
    """
    if first_row is not None:
        return _forced_layout(rows, first_row, header_rows)
    core = _core(rows)
    if core is None:
        return None
    start, stop, score = core
    ncols = max(rows[k].width for k in range(start, stop + 1))
    count = rows[start].count if rows[start].count >= 2 else -2
    tol = _tolerance(ncols)
    data = list(range(start, stop + 1))
    data = [i for i in data if not rows[i].blank and not rows[i].comment]
    skipped: list[int] = [i for i in range(start, stop + 1)
                          if rows[i].comment]

    # -- upwards
    i = start - 1
    pending_skip: list[int] = []
    while i >= 0:
        row = rows[i]
        if row.blank or row.comment:
            if row.comment:
                pending_skip.append(i)
            i -= 1
            continue
        if row.data_like and (row.width <= ncols + tol or row.count == count):
            full = row.width >= max(2, ncols - tol) or row.count == count
            if not full:
                # a short row (only the first values filled) counts when data
                # continues above it; a lone number above a table does not
                j = _previous_content(rows, i - 1)
                while (j is not None and rows[j].data_like
                       and rows[j].width < max(2, ncols - tol)):
                    j = _previous_content(rows, j - 1)
                full = j is not None and (
                    (rows[j].data_like and max(2, ncols - tol) <= rows[j].width <= ncols + tol)
                    or _header_fit(rows[j], ncols, count) is not None)  # first row under a header
            if full:
                data.insert(0, i)
                skipped.extend(pending_skip)
                pending_skip = []
                i -= 1
                continue
        break
    first = data[0]

    # -- downwards
    i = stop + 1
    n = len(rows)
    seen_blank = False
    tail: list[int] = []
    while i < n:
        row = rows[i]
        if row.blank:
            seen_blank = True
            i += 1
            continue
        if row.comment:
            tail.append(i)
            i += 1
            continue
        if row.data_like and (row.width <= ncols + tol or row.count == count):
            data.append(i)
            skipped.extend(tail)
            tail = []
            seen_blank = False
            ncols = max(ncols, row.width)
            i += 1
            continue
        # a non-data row: a second table or footnotes after a blank row
        if seen_blank:
            break
        j = _next_content(rows, i + 1)
        if j is not None and rows[j].data_like and rows[j].width <= ncols + tol:
            # one odd row inside the data: a repeated header (dropped below once
            # the header is known) or a broken row, kept so its cells are reported
            if row.width <= ncols + tol:
                data.append(i)
            else:
                skipped.append(i)
            i += 1
            continue
        break
    ncols = max(rows[k].width for k in data)

    # -- header
    header, names, units = _find_header(rows, first, ncols, header_rows, count)
    if names:
        ncols = max(ncols, len(names))
        names += [""] * (ncols - len(names))
        units += [""] * (ncols - len(units))
        key = _normal(names)
        kept = []
        for k in data:
            if not rows[k].data_like and _normal(_cells_text(rows[k].fields)[:ncols]) == key:
                skipped.append(k)  # the header repeated (report page break)
            else:
                kept.append(k)
        data = kept
    else:
        names = [""] * ncols
        units = [""] * ncols
    return Layout(data=data, header=header, names=names, units=units, ncols=ncols,
                  skipped=sorted(set(skipped)),
                  score=sum(rows[k].n_num for k in data))


def _forced_layout(rows: list[Row], first_row: int, header_rows: int | None) -> Layout | None:
    """The user said where the table starts (``--skip-rows``, maybe ``--header-rows``).

    Without ``header_rows``, the text rows (up to two: names, units) that
    start the table are its header.
    """
    content = [i for i in range(first_row, len(rows)) if not rows[i].blank and not rows[i].comment]
    if header_rows is None:
        header_rows = 0
        while header_rows < min(2, len(content)) and not rows[content[header_rows]].data_like:
            header_rows += 1
    header = content[:header_rows]
    data = content[header_rows:]
    if not data:
        return None
    ncols = max(rows[k].width for k in data + header)
    names = _cells_text(rows[header[0]].fields)[:ncols] if header else []
    units = _cells_text(rows[header[1]].fields)[:ncols] if len(header) >= 2 else []
    names += [""] * (ncols - len(names))
    units += [""] * (ncols - len(units))
    return Layout(data=data, header=header, names=names, units=units, ncols=ncols,
                  score=sum(rows[k].n_num for k in data))


def _previous_content(rows: list[Row], i: int) -> int | None:
    while i >= 0:
        if not rows[i].blank and not rows[i].comment:
            return i
        i -= 1
    return None


def _next_content(rows: list[Row], i: int) -> int | None:
    while i < len(rows):
        if not rows[i].blank and not rows[i].comment:
            return i
        i += 1
    return None


def _cells_text(cells: list) -> list[str]:
    out = []
    for c in cells:
        if c is None:
            out.append("")
        elif isinstance(c, float) and c.is_integer():
            out.append(str(int(c)))
        else:
            out.append(str(c).strip())
    return out


def _normal(names: list[str]) -> tuple[str, ...]:
    return tuple(n.strip().casefold() for n in names)


def _header_fit(row: Row, ncols: int, count: int = -2) -> tuple[list[str], bool] | None:
    """Header names from ``row`` when it can head ``ncols`` columns (``count`` fields)."""
    if not row.text_like:
        return None
    cells = _cells_text(row.fields)[:row.width]
    if row.width == ncols or row.count == count:
        return cells, False
    if row.width == ncols + 1 and cells and cells[0].endswith(":"):
        return cells[1:], True
    return None


def _loose_fit(row: Row, ncols: int) -> list[str] | None:
    if not row.text_like:
        return None
    if max(2, ncols - _tolerance(ncols)) <= row.width <= ncols:
        return _cells_text(row.fields)[:row.width]
    return None


def _find_header(rows: list[Row], first: int, ncols: int, header_rows: int | None,
                 count: int = -2) -> tuple[list[int], list[str], list[str]]:
    window: list[int] = []
    i = first - 1
    while i >= 0 and len(window) < HEADER_WINDOW:
        if not rows[i].blank:
            window.append(i)
        i -= 1
    if header_rows == 0:
        return [], [], []
    plain = [k for k in window if not rows[k].comment]

    anchor = None
    from_key = False
    names: list[str] = []
    for k in plain:
        fit = _header_fit(rows[k], ncols, count)
        if fit is not None:
            anchor, (names, from_key) = k, fit
            break
    if anchor is None and plain and plain[0] == window[0]:
        loose = _loose_fit(rows[plain[0]], ncols)
        if loose is not None:
            anchor, names = plain[0], loose
    if anchor is None:
        # names in the nearest comment line: "#  t  y", "# ColumnLabels: a b c"
        for k in window:
            if not rows[k].comment:
                break
            fit = _header_fit(rows[k], ncols, count)
            if fit is not None:
                anchor, (names, from_key) = k, fit
                break
            if rows[k].width:
                break
    if anchor is None:
        return [], [], []

    run = [anchor]
    k = anchor - 1
    limit = 3 if header_rows is None else header_rows
    while k >= 0 and len(run) < limit and not rows[anchor].comment:
        row = rows[k]
        if row.blank and len(row.fields) <= 1:
            k -= 1  # an empty line (CR CR LF files have one after every line)
            continue
        if row.blank or row.comment or _header_fit(row, ncols, count) is None:
            if header_rows is None or row.blank or row.comment:
                break
        run.insert(0, k)
        k -= 1
    if header_rows is not None and len(run) > header_rows:
        run = run[-header_rows:]
    # text rows between the names and the data that head no column themselves
    # (Orange's type-code and flag rows, a sparse units row) belong to the
    # header: the row under the names is then one of them, not the data's first
    after = sorted(k for k in plain if k > anchor)
    if (header_rows is None and after and not rows[anchor].comment
            and all(rows[k].text_like for k in after) and len(run) + len(after) <= 3):
        run = run + after

    span = max(ncols, count, len(names))
    top = _cells_text(rows[run[0]].fields)
    units: list[str] = []
    if len(run) == 2:
        nonempty = sum(1 for c in top[:span] if c)
        if nonempty * 2 >= ncols or header_rows == 2:
            if not from_key:
                names = top[:span]
            units = _cells_text(rows[run[1]].fields)[:span]
            if from_key and units and rows[run[1]].width == len(names) + 1:
                units = units[1:]
        else:
            run = run[1:]  # a sparse group/title row above the names
    elif len(run) == 3:
        names = top[:span]
    return run, names, units
