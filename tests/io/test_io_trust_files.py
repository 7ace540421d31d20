"""Hostile input files: far cells, odd codecs, deep projects, FIFOs, mixed encodings,
orphaned temporaries, projects given as data.

The risky reads run in a subprocess, so a regression that aborts (a Rust
allocation failure) or hangs (a FIFO) fails one test instead of pytest.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lsqfit_app.core.errors import InputError
from lsqfit_app.io import read_table
from lsqfit_app.io.build import column_letter

# ---------------------------------------------------------------------- hand-made xlsx
_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
       'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
       'spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns='
         '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
         'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns='
       '"http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
       'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
       'name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WBRELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns='
           '"http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
           'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
           'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')


def _cell(r: int, c: int, v) -> str:
    ref = f"{column_letter(c)}{r}"
    if isinstance(v, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'
    return f'<c r="{ref}"><v>{v!r}</v></c>'


def write_xlsx(path, rows, *, dimension="A1", doctype="") -> None:
    """rows: [(1-based row, [(0-based col, value), ...]), ...]"""
    body = "".join(f'<row r="{r}">' + "".join(_cell(r, c, v) for c, v in cells) + "</row>"
                   for r, cells in rows)
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + doctype +
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<dimension ref="{dimension}"/><sheetData>{body}</sheetData></worksheet>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WBRELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)


def _table_rows(rng, n=12):
    x = np.round(rng.uniform(0, 10, n), 6)
    y = np.round(rng.normal(0, 1, n), 6)
    rows = [(1, [(0, "x"), (1, "y")])] + [(i + 2, [(0, float(x[i])), (1, float(y[i]))])
                                         for i in range(n)]
    return x, y, rows


_CHILD = textwrap.dedent("""
    import json, resource, sys
    from lsqfit_app.io import read_table
    from lsqfit_app.core.errors import InputError
    out = {}
    try:
        res = read_table(sys.argv[1])
        out["names"] = res.table.names
        out["columns"] = [res.table.column(j + 1).values.tolist()
                          for j in range(res.table.n_columns)]
        out["notes"] = list(res.notes)
    except InputError as exc:
        out["error"] = str(exc)
    # VmHWM: this process's own peak.  ru_maxrss would also carry the peak of
    # the pytest process this child was forked from (Linux keeps it across exec).
    try:
        with open("/proc/self/status") as fh:
            hwm = [l for l in fh if l.startswith("VmHWM:")][0]
        out["maxrss_mb"] = int(hwm.split()[1]) / 1024
    except (OSError, IndexError):
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def _read_in_child(path, timeout=300) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"the reader died (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: Python + numpy + calamine take ~100 MB; the dense grids these files ask
#: for are 600 GB (XFD1048576) and 1.7 GB (ZZ60000).
_MEMORY_BOUND_MB = 600


@pytest.mark.parametrize("far", [(1048576, 16383), (60000, 701)], ids=["XFD1048576", "ZZ60000"])
def test_far_cell_does_not_build_a_dense_grid(tmp_path, far):
    rng = np.random.default_rng(101)
    x, y, rows = _table_rows(rng)
    rows.append((far[0], [(far[1], 7.5)]))
    path = tmp_path / "far.xlsx"
    write_xlsx(path, rows)
    assert path.stat().st_size < 4000
    out = _read_in_child(path)
    assert "error" not in out, out
    assert out["names"] == ["x", "y"]
    np.testing.assert_array_equal(out["columns"][0], x)
    np.testing.assert_array_equal(out["columns"][1], y)
    assert any(str(far[0]) in note for note in out["notes"])  # the far cell is reported
    assert out["maxrss_mb"] < _MEMORY_BOUND_MB, out["maxrss_mb"]


def test_lying_dimension_and_far_cells_next_to_the_data(tmp_path):
    """A far column filled on every row: the table is read, the far cells are noted."""
    rng = np.random.default_rng(102)
    x, y, rows = _table_rows(rng, 30)
    rows = [(r, cells + [(16383, 1.0)]) if r > 1 else (r, cells) for r, cells in rows]
    path = tmp_path / "wide.xlsx"
    write_xlsx(path, rows, dimension="A1:B2")
    out = _read_in_child(path)
    assert "error" not in out, out
    assert out["maxrss_mb"] < _MEMORY_BOUND_MB
    # every data row reaches XFD: the rows are read as they are (the far column
    # is one more column) or the far cells are dropped with a note
    np.testing.assert_array_equal(out["columns"][0], x)
    np.testing.assert_array_equal(out["columns"][1], y)


def test_sparse_reader_matches_calamine_on_a_normal_sheet(tmp_path):
    """The cell-by-cell reader gives what calamine gives (values, text, positions)."""
    from lsqfit_app.io import sheets
    import python_calamine as pc

    rng = np.random.default_rng(103)
    x, y, rows = _table_rows(rng, 20)
    rows.append((25, [(3, "note"), (4, True)]))
    path = tmp_path / "normal.xlsx"
    write_xlsx(path, rows)
    with zipfile.ZipFile(path) as zf:
        cells = sheets.read_xlsx_cells(zf, "xl/worksheets/sheet1.xml")
        extent = sheets.xlsx_extent(zf, "xl/worksheets/sheet1.xml")
    grid = pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Data").to_python()
    expected = {(r, c): v for r, row in enumerate(grid) for c, v in enumerate(row) if v != ""}
    mine = {(r, c): v for r, row in cells.items() for c, v in row.items()}
    assert mine == expected
    assert (extent.min_row, extent.max_row, extent.min_col, extent.max_col) == (0, 24, 0, 4)
    assert extent.exact and extent.dense_ok()


def test_doctype_in_a_sheet_is_refused(tmp_path):
    """No DTD, so no entity expansion ("billion laughs")."""
    rng = np.random.default_rng(104)
    _, _, rows = _table_rows(rng)
    rows.append((1048576, [(16383, 1.0)]))  # force the cell-by-cell reader
    lol = ('<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>')
    path = tmp_path / "dtd.xlsx"
    write_xlsx(path, rows, doctype=lol)
    out = _read_in_child(path)
    assert "error" in out and "far" not in out
    assert "dtd.xlsx" in out["error"] and "DTD" in out["error"]


def test_too_sparse_ods_names_file_and_sheet(tmp_path):
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office='
               '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:'
               'names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:'
               'opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               '<office:spreadsheet><table:table table:name="Far">'
               + "".join(f'<table:table-row><table:table-cell office:value-type="float" '
                         f'office:value="{i}"><text:p>{i}</text:p></table:table-cell>'
                         '</table:table-row>' for i in range(5))
               + '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
               'table:number-columns-repeated="16384"/></table:table-row><table:table-row>'
               '<table:table-cell table:number-columns-repeated="16000"/><table:table-cell '
               'office:value-type="float" office:value="1"><text:p>1</text:p>'
               '</table:table-cell></table:table-row></table:table></office:spreadsheet>'
               '</office:body></office:document-content>')
    path = tmp_path / "far.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
    out = _read_in_child(path)
    assert "far.ods" in out["error"] and "'Far'" in out["error"] and "sparse" in out["error"]
    assert out["maxrss_mb"] < _MEMORY_BOUND_MB


def test_too_sparse_xls_names_file_and_sheet(tmp_path):
    """A corpus .xls with one cell record moved to IV65536 (the last BIFF8 cell)."""
    import struct
    from lsqfit_app.io import ole

    src = str(Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "files"
              / "xlrd__profiles.xls")
    if not os.path.exists(src):
        pytest.skip("the corpus is not here")
    data = bytearray(open(src, "rb").read())
    wb = ole.workbook_stream(bytes(data))
    pos, first_sheet = 0, None
    while pos + 4 <= len(wb):
        t, n = struct.unpack_from("<HH", wb, pos)
        if t == 0x85 and first_sheet is None:
            first_sheet = struct.unpack_from("<I", wb, pos + 4)[0]
        if t == 0x0A:
            break
        pos += 4 + n
    pos = first_sheet
    while True:
        t, n = struct.unpack_from("<HH", wb, pos)
        rec = wb[pos:pos + 4 + n]
        if t in (0x0203, 0x027E, 0x00FD) and bytes(data).count(rec) == 1:
            break
        pos += 4 + n
    at = bytes(data).find(rec)
    struct.pack_into("<HH", data, at + 4, 65535, 255)
    path = tmp_path / "far.xls"
    path.write_bytes(bytes(data))
    out = _read_in_child(path)
    assert "far.xls" in out["error"] and "'PROFILEDEF'" in out["error"]
    assert out["maxrss_mb"] < 400, out


# ---------------------------------------------------------------------- codecs, projects
@pytest.mark.parametrize("codec", ["rot13", "base64", "hex", "zlib"])
def test_non_text_encoding_is_refused(tmp_path, codec):
    path = tmp_path / "a.csv"
    path.write_text("x,y\n1,2\n2,3\n")
    with pytest.raises(InputError, match="--encoding") as info:
        read_table(path, encoding=codec)
    assert codec in str(info.value)


def test_deeply_nested_project_is_an_input_error(tmp_path):
    from lsqfit_app.io.project import load_project

    path = tmp_path / "deep.lsqfit"
    path.write_text('{"format":"lsqfit-project","version":1,"table":{"rows":0,"columns":[]},'
                    '"metadata":' + '{"a":' * 900 + "1" + "}" * 900 + "}")
    with pytest.raises(InputError, match="deep.lsqfit.*nested"):
        load_project(path)
    # a list nest too, with brackets inside strings that must not count
    path.write_text('{"format":"lsqfit-project","version":1,"metadata":{"s":"[[[[{{{{"},'
                    '"x":' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InputError, match="nested"):
        load_project(path)


def test_project_given_as_data_says_so(tmp_path):
    from lsqfit_app.core.table import Table
    from lsqfit_app.io.project import Project, save_project

    rng = np.random.default_rng(105)
    t = Table.from_columns(["x", "y"], [rng.normal(size=5), rng.normal(size=5)])
    path = tmp_path / "p.lsqfit"
    save_project(Project(table=t), path)
    for target in (path, tmp_path / "p.json"):
        if target != path:
            target.write_bytes(path.read_bytes())  # a project by content, any name
        with pytest.raises(InputError, match="lsqfit-app project") as info:
            read_table(target)
        assert str(target) in str(info.value) and f"lsqfit-app {target}" in str(info.value)


# ---------------------------------------------------------------------- detection
def test_label_column_next_to_numbers_is_detected(tmp_path):
    rng = np.random.default_rng(106)
    y = rng.integers(0, 100, 15)
    path = tmp_path / "labels.csv"
    path.write_text("name,y\n" + "".join(f"n{i},{v}\n" for i, v in enumerate(y)))
    res = read_table(path)
    assert res.dialect.delimiter == ","
    assert res.table.names == ["name", "y"]
    name, ycol = res.table.columns()
    assert not name.numeric and list(name.text) == [f"n{i}" for i in range(15)]
    assert ycol.numeric and np.array_equal(ycol.values, y.astype(float))
    assert res.problems == ()


def test_one_cp1252_line_keeps_the_utf8_headers(tmp_path):
    rng = np.random.default_rng(107)
    vals = rng.normal(size=(8, 2)).round(4)
    lines = ["Zeit µs,Größe Å"] + [f"{a},{b}" for a, b in vals]
    data = [line.encode("utf-8") + b"\n" for line in lines]
    data.insert(5, "# Messung café\n".encode("cp1252"))  # file line 6
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(data))
    res = read_table(path)
    assert res.table.names == ["Zeit µs", "Größe Å"]
    assert res.dialect.encoding == "utf-8"
    assert any("line 6" in n and "CP1252" in n for n in res.notes), res.notes
    np.testing.assert_array_equal(res.table.column(1).values, vals[:, 0])


def test_pure_cp1252_file_is_still_cp1252(tmp_path):
    path = tmp_path / "cp.csv"
    path.write_bytes("Temp °C;Wert µ\n1,5;2\n2,5;3\n3,5;4\n".encode("cp1252"))
    res = read_table(path)
    assert res.table.names == ["Temp °C", "Wert µ"]
    assert res.dialect.encoding == "cp1252" and not res.notes


# ---------------------------------------------------------------------- not regular files
_OPEN_CHILD = textwrap.dedent("""
    import sys
    from lsqfit_app.core.errors import InputError
    from lsqfit_app.io import read_table
    from lsqfit_app.io.project import load_project
    for fn in (read_table, load_project):
        try:
            fn(sys.argv[1])
        except InputError as exc:
            print(exc)
""")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-c", _OPEN_CHILD, str(fifo)], capture_output=True,
                          text=True, timeout=60)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert all(str(fifo) in line and "FIFO" in line for line in lines)


def test_device_and_folder_are_refused(tmp_path):
    from lsqfit_app.io.project import load_project

    for fn in (read_table, load_project):
        with pytest.raises(InputError, match="folder"):
            fn(tmp_path)
        if os.path.exists("/dev/zero"):
            with pytest.raises(InputError, match="/dev/zero.*device"):
                fn("/dev/zero")


# ---------------------------------------------------------------------- atomic writes
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("writer", ["project", "report", "csv"])
def test_orphan_of_a_dead_writer_is_removed_on_the_next_save(tmp_path, writer):
    from lsqfit_app.core.atomic import PREFIX, SUFFIX
    from lsqfit_app.core.table import Table
    from lsqfit_app.io.project import Project, load_project, save_project
    from lsqfit_app.report.files import write_text_atomic

    rng = np.random.default_rng(108)
    t = Table.from_columns(["x", "y"], [rng.normal(size=6), rng.normal(size=6)])
    target = tmp_path / {"project": "a.lsqfit", "report": "r.html", "csv": "t.csv"}[writer]
    dead = _dead_pid()
    orphan = tmp_path / f"{PREFIX}{target.name}.{dead}.abc123{SUFFIX}"
    orphan.write_text("half a file")
    live = tmp_path / f"{PREFIX}{target.name}.{os.getppid()}.def456{SUFFIX}"
    live.write_text("a live writer's file")
    other = tmp_path / f"{PREFIX}other.csv.{dead}.x{SUFFIX}"
    other.write_text("another target's orphan")
    if writer == "project":
        save_project(Project(table=t), target)
        assert load_project(target).table.n_rows == 6
    elif writer == "report":
        write_text_atomic(target, "<html></html>")
    else:
        from lsqfit_app.io.writers import write_csv

        write_csv(t, target)
        assert read_table(target).table.n_rows == 6
    assert not orphan.exists()
    assert live.exists() and other.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(PREFIX)]
    assert sorted(leftovers) == sorted([live.name, other.name])


def test_clean_orphans_for_a_folder(tmp_path):
    from lsqfit_app.core.atomic import PREFIX, SUFFIX, clean_orphans

    dead = _dead_pid()
    a = tmp_path / f"{PREFIX}autosave.lsqfit.{dead}.q{SUFFIX}"
    b = tmp_path / f"{PREFIX}x.csv.{dead}.r{SUFFIX}"
    keep = tmp_path / "autosave.lsqfit"
    for p in (a, b, keep):
        p.write_text("x")
    removed = clean_orphans(tmp_path)
    assert sorted(removed) == sorted([str(a), str(b)])
    assert keep.exists()


def test_kill_mid_save_leaves_the_old_file_and_the_next_save_tidies(tmp_path):
    from lsqfit_app.core.atomic import PREFIX

    target = tmp_path / "t.csv"
    target.write_text("old\n")
    child = textwrap.dedent(f"""
        import os, signal
        from lsqfit_app.core.atomic import write_atomic
        def write(fh):
            fh.write(b"new, half")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write_atomic({str(target)!r}, write)
    """)
    proc = subprocess.run([sys.executable, "-c", child], timeout=60)
    assert proc.returncode != 0
    assert target.read_text() == "old\n"
    assert any(p.name.startswith(PREFIX) for p in tmp_path.iterdir())
    from lsqfit_app.core.atomic import write_text_atomic
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert not any(p.name.startswith(PREFIX) for p in tmp_path.iterdir())
