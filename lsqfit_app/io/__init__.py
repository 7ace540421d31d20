"""Reading data (text tables, workbooks, clipboard text), writing tables, .lsqfit projects.

The public API::

    from lsqfit_app.io import read_table, read_text
    result = read_table("data.csv")           # detects the dialect
    result.table, result.dialect, result.problems, result.sheet

Readers live in one registry (:mod:`lsqfit_app.io.registry`) that the CLI, the
GUI's Open dialog and the API share; a table is written back as CSV or XLSX by
:mod:`lsqfit_app.io.writers`.  Nothing here imports Qt.
"""
from lsqfit_app.io.dialect import CellProblem, Dialect, ReadResult
from lsqfit_app.io.registry import (Reader, file_filters, find_reader, read_table, read_text,
                                    readers, register_reader)

__all__ = ["CellProblem", "Dialect", "ReadResult", "Reader", "file_filters", "find_reader",
           "read_table", "read_text", "readers", "register_reader"]
