"""The Qt-free Table: lookup, edits, masks, events, computed columns, export."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lsqfit_app.core.errors import FormulaError, InputError
from lsqfit_app.core.table import Table, TableEvent, split_unit
from lsqfit_app.io import read_table
from lsqfit_app.io.writers import write_csv, write_xlsx


@pytest.fixture
def table():
    return Table([("t (s)", [0.0, 1.0, 2.0, 3.0]), ("y", [1.0, 2.0, np.nan, 8.0], "mV")])


def test_lookup_by_name_index_and_base_name(table):
    assert table.column("y").index == 1
    assert table.column(1).name == "t (s)"
    assert table.column("2").name == "y"
    assert table.column("t").name == "t (s)"  # the name without its unit
    assert table.column("Y").name == "y"      # case-insensitive when unique


@pytest.mark.parametrize("key", ["z", 0, 3, "7"])
def test_unknown_column_lists_the_columns(table, key):
    with pytest.raises(InputError) as info:
        table.column(key)
    assert "t (s)" in str(info.value) and "y" in str(info.value)


def test_numeric_header_matches_by_name_first():
    t = Table([("2000", [1.0]), ("2001", [2.0])])
    assert t.column("2000").index == 0
    assert t.column(2).name == "2001"


def test_values_are_read_only_views_and_float64(table):
    col = table.column("y")
    assert col.values.dtype == np.float64
    with pytest.raises(ValueError):
        col.values[0] = 5.0


def test_set_cell_and_events(table):
    events: list[TableEvent] = []
    table.add_listener(events.append)
    table.set_cell(2, "y", "4,5")
    assert table.cell(2, "y") == 4.5
    table.set_cell(0, "y", None)
    assert math.isnan(table.cell(0, "y"))
    assert events[0] == TableEvent("cells_changed", 2, 2, (1,))
    with pytest.raises(InputError, match="row 1, column 'y'"):
        table.set_cell(0, "y", "abc")
    with pytest.raises(InputError, match="outside"):
        table.set_cell(10, "y", 1.0)
    table.remove_listener(events.append)
    table.set_cell(1, "y", 3.0)
    assert len(events) == 2


def test_insert_and_remove_rows_keep_masks_aligned(table):
    table.set_mask([3], "outlier")
    events = []
    table.add_listener(events.append)
    table.insert_rows(1, 2)
    assert table.n_rows == 6
    assert np.isnan(table.values("y")[1:3]).all()
    assert table.mask_reasons() == {5: "outlier"}
    table.remove_rows(0, 2)
    assert table.n_rows == 4
    assert table.mask_reasons() == {3: "outlier"}
    assert [e.kind for e in events] == ["rows_inserted", "rows_removed"]
    assert (events[0].first_row, events[0].last_row) == (1, 2)


def test_columns_insert_remove_rename_unique(table):
    assert table.add_column("y", [1, 2, 3, 4], unit="V") == "y_2"
    table.rename_column("y_2", "z")
    table.set_unit("z", "kV")
    assert table.column("z").unit == "kV"
    table.insert_column(0, "first")
    assert table.names[0] == "first" and np.isnan(table.values("first")).all()
    table.remove_column("first")
    assert table.names == ["t (s)", "y", "z"]
    with pytest.raises(InputError):
        table.add_column("bad", [1, 2])


def test_masks_with_reasons(table):
    table.set_mask([0, 2], "bad probe")
    table.set_mask(1)
    assert table.mask.tolist() == [True, True, True, False]
    assert table.mask_reason(0) == "bad probe"
    assert table.mask_reason(1) == "masked by user"
    table.clear_mask([0])
    assert table.mask_reason(0) == ""
    table.clear_mask()
    assert not table.mask.any()
    with pytest.raises(InputError):
        table.set_mask([9])


def test_snapshot_is_independent(table):
    snap = table.snapshot()
    table.set_cell(0, "y", 100.0)
    table.set_mask([1], "x")
    assert snap.cell(0, "y") == 1.0
    assert not snap.mask.any()
    assert snap != table


def test_computed_columns_follow_their_sources(table):
    events = []
    table.add_listener(events.append)
    name = table.add_computed_column("ly", "log(y) + t")
    i = table.column_index(name)
    assert table.column(name).formula == "log(y) + t"
    np.testing.assert_allclose(table.values("ly"), np.log(table.values("y")) + [0, 1, 2, 3])
    table.set_cell(0, "y", math.e)
    assert table.cell(0, "ly") == pytest.approx(1.0)
    assert any(e.kind == "cells_changed" and e.columns == (i,) for e in events)
    with pytest.raises(InputError, match="computed"):
        table.set_cell(0, "ly", 1.0)
    with pytest.raises(FormulaError):
        table.add_computed_column("bad", "__import__('os')")
    with pytest.raises(FormulaError, match="unknown column"):
        table.add_computed_column("bad", "q * 2")


def test_split_unit():
    assert split_unit("Elapsed Time (s)") == ("Elapsed Time", "s")
    assert split_unit("RT [min]") == ("RT", "min")
    assert split_unit("Re(Z)/Ohm") == ("Re(Z)", "Ohm")
    assert split_unit("DryCal smL/min") == ("DryCal smL/min", "")
    assert split_unit("plain") == ("plain", "")


def test_export_csv_and_xlsx_read_back(tmp_path, table):
    table.set_mask([1], "outlier")
    for name, writer in (("t.csv", write_csv), ("t.xlsx", write_xlsx)):
        path = tmp_path / name
        writer(table, path)
        back = read_table(path).table
        assert back.names == table.names
        assert back.units == ["s", "mV"]
        for j in (1, 2):
            assert np.array_equal(back.column(j).values, table.column(j).values, equal_nan=True)
    write_csv(table, tmp_path / "de.csv", delimiter=";", decimal=",", masks=True)
    back = read_table(tmp_path / "de.csv")
    assert back.dialect.decimal == "," and back.table.column("y").values[3] == 8.0


def test_million_rows_hold_no_python_objects():
    n = 1_000_000
    t = Table({"x": np.arange(n, dtype=float), "y": np.zeros(n)})
    for col in t.columns():
        assert col.values.dtype == np.float64
        assert col.values.nbytes == 8 * n
    t.set_mask(np.arange(0, n, 2), "even")
    assert t.mask.sum() == n // 2
    assert len(t._reasons) == 2  # one reason string, not one per row
