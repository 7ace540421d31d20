"""`lsqfit-app fit` does not hold the imported table through the fit and the report."""
import gc
import weakref

import numpy as np
import pytest

import lsqfit_app.io as lio
import lsqfit_app.solvers as solvers
from lsqfit_app.cli import main


@pytest.mark.parametrize("extra", [[], ["--report", "out.md"], ["--solver", "all"]])
def test_table_is_released_before_the_fit(tmp_path, monkeypatch, extra):
    rng = np.random.default_rng(31)
    x = np.linspace(0.0, 5.0, 200)
    y = 2.0 * x + 1.0 + rng.normal(0.0, 0.1, x.size)
    data = tmp_path / "d.csv"
    data.write_text("x,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y)), encoding="utf-8")
    refs = []
    real_read, real_fit, real_race = lio.read_table, solvers.fit, None

    def read(*a, **k):
        out = real_read(*a, **k)
        refs.append(weakref.ref(out.table))
        return out

    alive = []

    def fit(*a, **k):
        gc.collect()
        alive.append(refs[0]() is not None)
        return real_fit(*a, **k)

    monkeypatch.setattr(lio, "read_table", read)
    monkeypatch.setattr(solvers, "fit", fit)
    monkeypatch.chdir(tmp_path)
    rc = main(["fit", str(data), "-x", "x", "-y", "y", "--model", "a*x+b", *extra])
    assert rc == 0
    assert refs and alive and not any(alive)
    if extra[:1] == ["--report"]:
        text = (tmp_path / "out.md").read_text(encoding="utf-8")
        assert "d.csv" in text  # the context still names the input
