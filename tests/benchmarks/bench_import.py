"""Import speed against named baselines measured in the same run.

* 1,000,000 rows x 3 columns CSV: ``lsqfit_app.io.read_table`` vs
  ``pandas.read_csv`` on the same file (target: ratio <= 1.3).
* 100,000 rows x 3 columns XLSX: ``read_table`` vs python-calamine's raw
  ``to_python()`` of the same sheet (target: ratio <= 1.2).

Run: ``python tests/benchmarks/bench_import.py [--rows N] [--xlsx-rows N] [--repeat K]``.
Prints the best of K timings for each and the ratios.  Not collected by
pytest (speed is measured, never asserted).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def best_of_pair(baseline, ours, repeat: int) -> tuple[float, float]:
    """Best times of two functions run alternately, so load changes hit both."""
    tb, to = [], []
    for _ in range(repeat):
        for fn, times in ((baseline, tb), (ours, to)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return min(tb), min(to)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import pandas as pd
    import python_calamine as pc

    from lsqfit_app.io import read_table

    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, "big.csv")
        data = rng.standard_normal((args.rows, 3))
        pd.DataFrame(data, columns=["x", "y", "sigma"]).to_csv(csv_path, index=False)
        size = os.path.getsize(csv_path) / 1e6

        check = read_table(csv_path).table
        assert check.n_rows == args.rows and np.array_equal(check.column("y").values, data[:, 1])
        t_pandas, t_ours = best_of_pair(lambda: pd.read_csv(csv_path),
                                        lambda: read_table(csv_path), args.repeat)
        print(f"CSV  {args.rows} x 3 ({size:.1f} MB): pandas.read_csv {t_pandas:.3f} s, "
              f"read_table {t_ours:.3f} s, ratio {t_ours / t_pandas:.2f} (target <= 1.3)")

        from openpyxl import Workbook

        xlsx_path = os.path.join(tmp, "big.xlsx")
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Data")
        ws.append(["x", "y", "sigma"])
        xdata = rng.standard_normal((args.xlsx_rows, 3))
        for row in xdata.tolist():
            ws.append(row)
        wb.save(xlsx_path)

        def raw_calamine():
            wb = pc.CalamineWorkbook.from_path(xlsx_path)
            return wb.get_sheet_by_name("Data").to_python()

        check = read_table(xlsx_path).table
        raw_y = np.array([r[1] for r in raw_calamine()[1:]])  # what calamine itself reads
        assert check.n_rows == args.xlsx_rows and np.array_equal(check.column("y").values, raw_y)
        t_raw, t_ours = best_of_pair(raw_calamine, lambda: read_table(xlsx_path), args.repeat)
        print(f"XLSX {args.xlsx_rows} x 3: calamine to_python {t_raw:.3f} s, "
              f"read_table {t_ours:.3f} s, ratio {t_ours / t_raw:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
