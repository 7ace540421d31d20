"""The results panel names the weighted sum of squares once (no "SSE" and "χ²"
showing the same number)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # before any Qt import

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")

from lsqfit_app.core.problem import FitProblem  # noqa: E402
from lsqfit_app.models.formula import FormulaModel  # noqa: E402
from lsqfit_app.solvers import fit  # noqa: E402


def _fit(**kw):
    rng = np.random.default_rng(61)
    x = np.linspace(1.0, 10.0, 20)
    sigma = 0.1 * x
    y = 3.0 * x + 2.0 + rng.normal(0.0, 1.0, x.size) * sigma
    return fit(FitProblem.create(FormulaModel("a*x + b", ("x",)), x, y,
                                 sigma=sigma if kw.pop("with_sigma", False) else None, **kw))


def test_results_panel_shows_the_weighted_sum_once(qapp):
    from lsqfit_app.gui.results_panel import ResultsPanelWidget
    from lsqfit_app.report.text import fmt

    panel = ResultsPanelWidget()
    result = _fit(with_sigma=True)
    panel.set_result(result)
    text = panel.statistics_label.text()
    assert "χ² (weighted SSE)" in text and "SSE " not in text.replace("(weighted SSE) ", "")
    assert text.count(fmt(result.statistics.sse, 6)) == 1
    assert "reduced χ²" in text
    panel.set_result(_fit(weights="relative"))
    text = panel.statistics_label.text()
    assert "weighted SSE" in text and "χ²" not in text
    panel.set_result(_fit())
    text = panel.statistics_label.text()
    assert text.startswith("points used") and "\nSSE " in text and "weighted" not in text
    panel.deleteLater()
