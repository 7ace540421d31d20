"""The compare/race dialog: background runs, ranking, live race, cancel, choose a model."""
import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.models import make_model

RNG = np.random.default_rng(11)
X = np.linspace(-3, 3, 80)
Y = 1.0 + 0.5 * X - 0.8 * X**2 + RNG.normal(0, 0.3, X.size)


@pytest.fixture
def dialog(qtbot):
    from lsqfit_app.gui.compare_dialog import CompareDialog

    def make(spec):
        return FitProblem.create(make_model(spec), X, Y)

    t = np.linspace(0, 10, 300)

    def current():
        return FitProblem.create(make_model("a*exp(-x/tau)+c"), t, 4 * np.exp(-t / 2) + 1,
                                 {"a": 1.0, "tau": 20.0, "c": 0.0})

    dlg = CompareDialog(make, current, models=("poly1", "poly2", "poly5"))
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg.shutdown()


def test_comparison_ranks_and_offers_the_best(qtbot, dialog):
    with qtbot.waitSignal(dialog.running_changed, timeout=30000, check_params_cb=lambda r: not r):
        assert dialog.run_models()
    assert dialog.ranking.rowCount() == 3
    assert dialog.ranking.item(0, 0).text() == "poly2"
    assert "prefer poly2" in dialog.f_tests.text()
    with qtbot.waitSignal(dialog.model_chosen, timeout=2000) as blocker:
        dialog.use_button.click()
    spec, result = blocker.args
    assert spec == "poly2" and result.model_name == "poly2"


def test_race_shows_every_solver_and_its_history(qtbot, dialog):
    dialog.tabs.setCurrentIndex(1)
    with qtbot.waitSignal(dialog.running_changed, timeout=60000, check_params_cb=lambda r: not r):
        assert dialog.run_race()
    solvers = [dialog.race_table.item(r, 0).text() for r in range(dialog.race_table.rowCount())]
    assert solvers == ["gradient-descent", "lbfgs", "lm", "trf", "closed-form"]
    lm = dialog.race_results[2]
    x, y = dialog._race_curves[2].getData()
    assert len(x) == len(lm.history)
    assert lm.iterations < dialog.race_results[0].iterations   # LM beats gradient descent


def test_cancel_stops_the_race(qtbot, dialog):
    dialog.race_limit.setValue(1_000_000)
    dialog.race_checks["lm"].setChecked(False)
    dialog.race_checks["trf"].setChecked(False)
    dialog.race_checks["lbfgs"].setChecked(False)
    assert dialog.run_race()
    qtbot.wait(50)
    with qtbot.waitSignal(dialog.running_changed, timeout=5000, check_params_cb=lambda r: not r):
        dialog.run_race_button.click()          # the button is Cancel while running
    assert dialog.race_results[0].status.value in ("cancelled", "converged")


def test_bad_model_is_reported_not_raised(dialog):
    dialog.model_list.addItem("a*foo(x)")
    assert not dialog.run_models()
    assert "unknown function" in dialog.status.text()


def test_ranking_headers_explain_themselves_and_all_rows_show(qtbot, dialog):
    from lsqfit_app.gui.compare_dialog import RANKING_COLUMNS
    header = [dialog.ranking.horizontalHeaderItem(c) for c in range(dialog.ranking.columnCount())]
    assert all(item.toolTip() for item in header)
    runs = next(item for item in header if "runs" in item.text())
    assert "runs test" in runs.toolTip() and "residuals" in runs.toolTip()
    assert len(header) == len(RANKING_COLUMNS)
    dialog.resize(1280, 720)
    for spec in ("poly0", "poly3", "poly4", "gaussian"):
        dialog.model_list.addItem(spec)
    with qtbot.waitSignal(dialog.running_changed, timeout=60000, check_params_cb=lambda r: not r):
        assert dialog.run_models()
    table = dialog.ranking
    assert table.rowCount() == 7
    qtbot.wait(50)
    last = table.visualRect(table.model().index(6, 0))
    assert table.viewport().rect().contains(last)           # the 7th row is in sight
    assert not dialog.curve_legend.moved_by_user and dialog.curve_legend.isVisible()


def test_race_names_the_model_and_says_why_closed_form_is_left_out(qtbot, dialog):
    from lsqfit_app.gui.compare_dialog import CLOSED_FORM_NA
    dialog.tabs.setCurrentIndex(1)
    dialog.race_checks["gradient-descent"].setChecked(False)
    with qtbot.waitSignal(dialog.running_changed, timeout=60000, check_params_cb=lambda r: not r):
        assert dialog.run_race()
    assert "a*exp(-x/tau) + c" in dialog.race_model_label.text()
    table = dialog.race_table
    rows = {table.item(r, 0).text(): table.item(r, 5).text() for r in range(table.rowCount())}
    assert rows["closed-form"] == CLOSED_FORM_NA
    assert set(rows) == {"closed-form", "lbfgs", "lm", "trf"}
    assert dialog.race_legend.names() == ["lbfgs", "lm", "trf"]
