"""Files written by LibreOffice read back equal to their source, with no options."""
from pathlib import Path

import numpy as np
import pytest

from lsqfit_app.io import read_table

DATA = Path(__file__).resolve().parents[1] / "data" / "libreoffice"


def _source():
    rows = [line.split(",") for line in (DATA / "lo_source.csv").read_text().splitlines()[1:]]
    return np.array(rows, dtype=float)


@pytest.mark.parametrize("name", ["lo_source.xlsx", "lo_source.ods", "lo_source.xls",
                                  "lo_de_semicolon_comma.csv"])
def test_libreoffice_output_reads_as_the_source(name):
    expected = _source()
    read = read_table(DATA / name)
    table = read.table
    assert table.n_rows == expected.shape[0]
    assert [n.split(" (")[0] for n in table.names[:3]] == ["time", "signal", "sigma"]
    assert table.units[:3] == ["s", "mV", "mV"]
    got = np.column_stack([table.column(i).values for i in (1, 2, 3)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert not read.problems
    if name.endswith(".csv"):
        assert read.dialect.delimiter == ";" and read.dialect.decimal == ","
