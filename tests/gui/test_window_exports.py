"""File > Export and Copy results from the window."""
import csv
import subprocess
import sys

import pytest


@pytest.fixture
def fitted(qtbot):
    from lsqfit_app.gui.app import open_example
    from lsqfit_app.gui.main_window import MainWindow

    w = MainWindow()
    w._quiet = True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000):
        open_example(w)
    yield w
    w.controller.shutdown()
    w._closing = True


def test_export_report_script_data_and_plot(fitted, tmp_path):
    w = fitted
    assert w.exports.export_report(str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "peak.csv" in html and html.count("data:image") >= 4
    assert f"{w.result.value('gaussian_center'):.2f}"[:5] in html
    assert w.exports.export_fitted_data(str(tmp_path / "f.csv"))
    rows = list(csv.reader(open(tmp_path / "f.csv", encoding="utf-8")))
    assert len(rows) >= 82
    assert w.exports.export_plot(str(tmp_path / "p.png"), dpi=100)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert w.exports.export_script(str(tmp_path / "s.py"))
    out = subprocess.run([sys.executable, str(tmp_path / "s.py")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "gaussian_center" in out.stdout


def test_copy_results_puts_a_table_on_the_clipboard(fitted, qapp):
    assert fitted.exports.copy_results()
    text = qapp.clipboard().text()
    assert "gaussian_amplitude" in text and "\t" in text


def test_export_without_a_result_says_so(qtbot, tmp_path):
    from lsqfit_app.core.table import Table
    from lsqfit_app.gui.main_window import MainWindow

    w = MainWindow(Table({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    w._quiet = True
    qtbot.addWidget(w)
    target = tmp_path / "never.html"
    assert not w.exports.export_report(str(target))
    assert not target.exists()
    w._closing = True


def test_formula_may_name_a_column_with_a_unit(qtbot):
    """Typing a*exp(-t/tau)+c for the column "t (s)" is valid and fits (found by driving the GUI)."""
    from lsqfit_app.core.table import Table
    from lsqfit_app.gui.main_window import MainWindow
    import numpy as np

    t = np.linspace(0, 10, 30)
    table = Table([("t (s)", t, "s"), ("signal (V)", 3 * np.exp(-t / 2) + 1, "V")])
    w = MainWindow(table)
    w._quiet = True
    qtbot.addWidget(w)
    w.set_roles("t (s)", "signal (V)")
    w.set_model("a*exp(-t/tau)+c")
    assert w.fit_panel.model is not None, w.fit_panel.formula_label.text()
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000):
        assert w.start_fit()
    assert w.result.value("tau") == pytest.approx(2.0, rel=1e-6)
    w.controller.shutdown()
    w._closing = True          # no unsaved-changes prompt when the test closes it


def test_report_includes_a_comparison_run_in_the_dialog(fitted, qtbot, tmp_path):
    w = fitted
    dialog = w.open_compare_dialog()
    dialog = dialog or w._compare_dialog
    dialog.model_list.clear()
    dialog.model_list.addItems(["gaussian+line", "lorentzian+line"])
    with qtbot.waitSignal(dialog.running_changed, timeout=60000, check_params_cb=lambda r: not r):
        assert dialog.run_models()
    assert w.exports.export_report(str(tmp_path / "c.html"))
    html = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "lorentzian+line" in html and "ΔAICc" in html
    dialog.shutdown()
    dialog.close()
