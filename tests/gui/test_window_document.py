"""The window is a view of its document: widgets write to it and follow it, undo included."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from lsqfit_app.io.project import save_project
from lsqfit_app.session.document import Document


def _loaded(window, peak_csv):
    window.open_path(str(peak_csv), ask=False)
    window.set_roles("wavelength (nm)", "intensity (counts/s)", "sigma (counts/s)")
    window.set_model("gaussian+line")
    return window


def _ctrl_z(qtbot, w):
    w.activateWindow()
    qtbot.keyClick(w, Qt.Key_Z, Qt.ControlModifier)


def test_ctrl_z_undoes_parameter_setting_edits_in_the_document_and_the_table(qtbot, window,
                                                                           peak_csv):
    w = _loaded(window, peak_csv)
    doc, params = w.document, w.fit_panel.parameters
    assert params.setData(params.index(1, 1), "480")                 # gaussian_center start
    assert params.setData(params.index(1, 3), "450")                 # its min
    assert params.setData(params.index(1, 2), Qt.Checked, Qt.CheckStateRole)
    center = doc.parameters[1]
    assert (center.name, center.value, center.min, center.fixed) == \
        ("gaussian_center", 480.0, 450.0, True)
    _ctrl_z(qtbot, w)                                                # un-fix
    assert not doc.parameters[1].fixed
    assert params.data(params.index(1, 2), Qt.CheckStateRole) == Qt.Unchecked
    _ctrl_z(qtbot, w)                                                # min back
    assert doc.parameters[1].min == -np.inf and params.data(params.index(1, 3)) == ""
    _ctrl_z(qtbot, w)                                                # start back
    assert doc.parameters[1].value is None and params.data(params.index(1, 1)) == ""
    qtbot.keyClick(w, Qt.Key_Y, Qt.ControlModifier)
    assert doc.parameters[1].value == 480.0 and params.data(params.index(1, 1)) == "480"


def test_ctrl_z_undoes_a_fit_range_change_and_the_widgets_follow(qtbot, window, peak_csv):
    w = _loaded(window, peak_csv)
    doc = w.document
    with qtbot.waitSignal(w.controller.fit_finished, timeout=30000):
        w.start_fit()
    assert doc.result_current
    w.fit_panel.range_check.setChecked(True)
    first = doc.fit_range
    assert first == pytest.approx(doc.default_fit_range())
    w.plots.region.setRegion((460.0, 540.0))
    assert doc.fit_range == pytest.approx((460.0, 540.0))
    assert not doc.result_current                  # the shown result is of another range
    _ctrl_z(qtbot, w)
    assert doc.fit_range == pytest.approx(first)
    assert tuple(w.plots.region.getRegion()) == pytest.approx(first)
    _ctrl_z(qtbot, w)
    assert doc.fit_range is None
    assert not w.fit_panel.range_check.isChecked() and not w.plots.region.isVisible()
    # what a fit now uses is the document's range: none
    assert w.build_problem().excluded.sum() == 0


def test_undo_back_to_the_saved_state_leaves_nothing_to_save(qtbot, window, peak_csv, tmp_path):
    w = _loaded(window, peak_csv)
    assert w.save_to(str(tmp_path / "p.lsqfit"))
    assert not w.is_modified
    params = w.fit_panel.parameters
    assert params.setData(params.index(0, 1), "11")
    assert w.is_modified and w.windowTitle().endswith("*")
    _ctrl_z(qtbot, w)
    assert not w.is_modified and w.windowTitle() == "lsqfit-app - p.lsqfit"
    # a change no undo records (the model) stays a change until saved
    w.set_model("lorentzian+line")
    assert w.is_modified


def test_an_opened_project_shows_its_settings_and_make_project_reads_the_document(
        qtbot, window, tmp_path):
    rng = np.random.default_rng(8)
    from lsqfit_app.core.table import Table
    x = np.linspace(0, 10, 50)
    doc = Document(Table([("x", x), ("y", 2 * x + 1 + rng.normal(0, 0.1, x.size))]))
    doc.set_model("poly2")
    doc.edit_parameter("c1", value=2.0)
    doc.set_solver(method="trf", loss="huber", max_iterations=250)
    doc.set_fit_range((1.0, 9.0))
    doc.table.set_mask([4], "outlier")
    path = tmp_path / "saved.lsqfit"
    save_project(doc.to_project(), path)

    assert window.open_path(str(path), ask=False)
    panel = window.fit_panel
    assert panel.model_edit.text() == "poly2"
    assert panel.solver_combo.currentData() == "trf"
    assert panel.loss_combo.currentData() == "huber"
    assert panel.iterations_spin.value() == 250
    assert panel.range_check.isChecked()
    assert tuple(window.plots.region.getRegion()) == pytest.approx((1.0, 9.0))
    assert panel.parameters.starts()[1] == 2.0 and window.table.mask[4]
    assert not window.is_modified
    # widgets write to the document ...
    panel.set_method("lm")
    panel.iterations_spin.setValue(0)
    assert window.document.solver.method == "lm"
    assert window.document.solver.max_iterations is None
    # ... and follow it when it changes by other ways
    window.document.set_solver(loss="linear")
    assert panel.loss_combo.currentData() == "linear"
    project = window.make_project()
    assert project.solver["method"] == "lm" and project.solver["loss"] == "linear"
    assert project.metadata["fit_range"] == [1.0, 9.0]
    assert project.parameters[1]["value"] == 2.0


def test_the_parameter_table_adapter_passes_qtmodeltester(qtmodeltester, window, peak_csv):
    w = _loaded(window, peak_csv)
    params = w.fit_panel.parameters
    qtmodeltester.check(params)
    w.set_model("lorentzian+gaussian+line")       # a new set of names resets the rows
    qtmodeltester.check(params)
    assert [r.name for r in params.rows] == [s.name for s in w.document.parameters]
