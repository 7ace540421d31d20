"""The Qt-free document: events, stale results, project round trips, problems."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.table import Table
from lsqfit_app.io.project import Project, load_project, project_to_dict, save_project
from lsqfit_app.session import events as ev
from lsqfit_app.session.document import Document
from lsqfit_app.session.state import Source
from lsqfit_app.session.roles import Roles, make_problem, parse_param
from lsqfit_app.session.settings import ParameterSetting, SolverSettings, apply_specs
from lsqfit_app.solvers import fit


def _decay_table(seed: int, n: int = 40) -> Table:
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 8.0, n)
    y = 5.0 * np.exp(-t / 1.7) + 0.4 + rng.normal(0, 0.05, n)
    return Table([("t (s)", t), ("signal", y), ("sigma", np.full(n, 0.05))])


def _doc(seed: int) -> tuple[Document, list]:
    doc = Document(_decay_table(seed))
    changes: list = []
    doc.connect(changes.append)
    return doc, changes


def _run(doc: Document):
    ticket = doc.begin_run()
    result = fit(ticket.problem, ticket.method, options=ticket.options)
    doc.finish_run(ticket, result)
    return result


def test_a_new_document_has_default_roles_and_is_not_modified():
    doc = Document(_decay_table(1))
    assert doc.role_names() == ("t (s)", "signal", "sigma")
    assert not doc.modified and doc.result is None and doc.model is None
    assert len(doc.datasets) == 1 and len(doc.fits) == 1 and doc.current == 0


def test_each_change_fires_an_event_that_names_it():
    doc, changes = _doc(2)

    def kinds():
        out = [c.kind for c in changes if c.kind != ev.MODIFIED]
        changes.clear()
        return out

    doc.set_model("a*exp(-t/tau)+c")
    assert kinds() == [ev.MODEL, ev.PARAMETERS]
    assert [s.name for s in doc.parameters] == ["a", "tau", "c"]
    doc.edit_parameter("tau", value=2.0)
    assert changes[0].kind == ev.PARAMETERS and changes[0].detail == ("tau",)
    kinds()
    doc.set_solver(method="lm", max_iterations=50)
    assert kinds() == [ev.SOLVER]
    doc.set_fit_range((1.0, 6.0))
    assert kinds() == [ev.FIT_RANGE]
    doc.set_roles("t (s)", "signal", None)
    assert kinds() == [ev.ROLES]
    doc.table.set_mask([3], "outlier")
    assert kinds() == [ev.MASK]
    doc.table.set_values("signal", doc.table.values("signal") + 1.0)
    assert kinds() == [ev.TABLE]
    doc.set_source(Source("decay.csv", None))
    assert kinds() == [ev.SOURCE]
    # no change, no event
    doc.set_solver(method="lm")
    doc.set_fit_range((1.0, 6.0))
    doc.set_model("a*exp(-t/tau)+c")
    assert kinds() == []
    # every event names the fit or the dataset it concerns
    doc.edit_parameter("a", value=4.0)
    assert changes[0].fit == 0 and changes[0].dataset == 0


@pytest.mark.parametrize("change", [
    lambda d: d.table.set_values("signal", d.table.values("signal") * 1.01),
    lambda d: d.table.set_mask([5], "outlier"),
    lambda d: d.set_roles("t (s)", "signal", "sigma"),
    lambda d: d.set_model("exp_decay+poly0"),
    lambda d: d.edit_parameter("c", min=0.0),
    lambda d: d.set_solver(loss="huber"),
    lambda d: d.set_fit_range((0.5, 7.5)),
])
def test_the_result_goes_stale_after_any_change_of_what_it_was_computed_from(change):
    doc = Document(_decay_table(3))
    doc.set_roles("t (s)", "signal", None)
    doc.set_model("a*exp(-t/tau)+c")
    result = _run(doc)
    assert doc.result is result and doc.result_current
    stale = []
    doc.connect(lambda c: stale.append(c), kinds=[ev.RESULT])
    change(doc)
    assert not doc.result_current and doc.result is result
    assert [c.detail for c in stale] == ["stale"]
    _run(doc)
    assert doc.result_current


def test_a_result_of_a_run_whose_setup_changed_meanwhile_is_not_current():
    doc = Document(_decay_table(4))
    doc.set_model("a*exp(-t/tau)+c")
    ticket = doc.begin_run()
    doc.edit_parameter("tau", value=1.0)          # typed while the fit runs
    doc.finish_run(ticket, fit(ticket.problem, ticket.method))
    assert doc.result is not None and not doc.result_current
    assert len(doc.runs) == 1 and doc.runs[0].model == "a*exp(-t/tau)+c"


def test_moving_x_to_another_column_drops_the_result():
    doc = Document(_decay_table(5))
    doc.set_model("line")
    _run(doc)
    doc.set_roles("t (s)", "signal", "sigma")     # same x: kept, stale
    assert doc.result is not None
    doc.set_roles("sigma", "signal", None)
    assert doc.result is None and doc.result_problem is None


def test_switching_models_and_back_keeps_the_parameter_settings():
    doc = Document(_decay_table(6))
    doc.set_model("gaussian+line")
    doc.edit_parameter("gaussian_center", value=3.0)
    doc.edit_parameter("gaussian_sigma", min=0.5)
    doc.set_model("lorentzian+line")
    assert doc.parameters[0].name == "lorentzian_amplitude"
    doc.set_model("gaussian+line")
    by_name = {s.name: s for s in doc.parameters}
    assert by_name["gaussian_center"].value == 3.0 and by_name["gaussian_sigma"].min == 0.5


def test_parameter_edits_follow_the_rules_and_name_the_parameter():
    doc = Document(_decay_table(7))
    doc.set_model("a*exp(-t/tau)+c")
    with pytest.raises(ParameterError, match="tau: give a start value before fixing"):
        doc.edit_parameter("tau", fixed=True)
    doc.edit_parameter("tau", min=0.0, max=5.0)
    with pytest.raises(ParameterError, match="tau: start 9 is outside"):
        doc.edit_parameter("tau", value=9.0)
    with pytest.raises(ParameterError, match="tau: min must not exceed max"):
        doc.edit_parameter("tau", min=6.0)
    with pytest.raises(ParameterError, match="unknown parameter 'k'"):
        doc.edit_parameter("k", value=1.0)
    doc.edit_parameter("tau", value=4.0)
    doc.edit_parameter("tau", max=3.0)              # a new bound pulls the start inside
    assert doc.parameters[1] == ParameterSetting("tau", 3.0, False, 0.0, 3.0)
    doc.edit_parameter("tau", value=None)           # cleared: the engine guesses
    assert doc.parameters[1].value is None


def test_an_invalid_model_keeps_its_text_and_says_why():
    doc = Document(_decay_table(8))
    doc.set_model("a*exp(-t/tau)+c")
    doc.set_model("a*exp(-t/tau+")
    assert doc.model is None and doc.model_spec == "a*exp(-t/tau+"
    assert doc.model_error is not None
    assert [s.name for s in doc.parameters] == ["a", "tau", "c"]   # settings stay
    with pytest.raises(InputError, match="not valid"):
        doc.build_problem()


def test_build_problem_equals_the_command_line_problem_with_masks_and_range():
    doc = Document(_decay_table(9))
    doc.set_roles("t (s)", "signal", "sigma")
    doc.set_model("a*exp(-t/tau)+c")
    doc.edit_parameter("tau", value=1.5)
    doc.edit_parameter("tau", min=0.1, max=10.0)
    doc.edit_parameter("c", value=0.4)
    doc.edit_parameter("c", fixed=True)
    doc.table.set_mask([0, 1], "outlier")
    doc.set_fit_range((0.5, 7.0))
    problem = doc.build_problem()
    x = doc.table.values("t (s)")
    expected_excluded = doc.table.mask | (x < 0.5) | (x > 7.0)
    np.testing.assert_array_equal(problem.excluded, expected_excluded)
    specs = [parse_param("tau=1.5:0.1:10"), parse_param("c=0.4", fixed=True)]
    cli = make_problem(doc.table, Roles(x=("t (s)",), y="signal", sigma="sigma"),
                       "a*exp(-t/tau)+c", specs)
    assert [(p.name, p.value, p.fixed, p.min, p.max) for p in problem.params] == \
        [(p.name, p.value, p.fixed, p.min, p.max) for p in cli.params]
    # the problem is a snapshot: a later edit does not reach it
    before = problem.y.copy()
    doc.table.set_values("signal", doc.table.values("signal") * 2)
    np.testing.assert_array_equal(problem.y, before)


def test_default_fit_range_leaves_a_tenth_at_each_end():
    doc = Document(_decay_table(10))
    assert doc.default_fit_range() == pytest.approx((0.8, 7.2))
    assert Document(Table()).default_fit_range() is None


def test_modified_counts_changes_outside_an_undo_history():
    doc = Document(_decay_table(11))
    assert not doc.modified
    with doc.recorded():
        doc.set_fit_range((1.0, 2.0))
    assert not doc.modified
    doc.set_model("line")
    assert doc.modified
    doc.mark_saved("/tmp/work.lsqfit")
    assert not doc.modified and doc.name == "work.lsqfit"
    doc.table.set_mask([2], "outlier")
    assert doc.modified


def _set_up(doc: Document) -> None:
    doc.set_roles("t (s)", "signal", "sigma")
    doc.set_model("a*exp(-t/tau)+c")
    doc.edit_parameter("a", value=4.5)
    doc.edit_parameter("tau", min=0.2, max=20.0)
    doc.edit_parameter("c", value=0.4)
    doc.edit_parameter("c", fixed=True)
    doc.set_solver(method="trf", loss="soft_l1", f_scale=0.2, max_iterations=500, xtol=1e-12)
    doc.table.set_mask([4, 7], "spike")
    doc.set_fit_range((0.3, 7.9))
    doc.set_source(Source("/data/decay.csv", "Sheet1", {"decimal": ","}))


def test_project_round_trip_keeps_settings_range_masks_and_result(tmp_path):
    doc = Document(_decay_table(12))
    _set_up(doc)
    result = _run(doc)
    path = tmp_path / "decay.lsqfit"
    save_project(doc.to_project(), path)
    back = Document.from_project(load_project(path), path)
    assert back.parameters == doc.parameters
    assert back.solver == doc.solver
    assert back.fit_range == doc.fit_range
    assert back.roles == doc.roles and back.model_spec == doc.model_spec
    assert back.table == doc.table
    assert back.table.mask_reasons() == {4: "spike", 7: "spike"}
    assert (back.source.path, back.source.sheet, back.source.options) == \
        ("/data/decay.csv", "Sheet1", {"decimal": ","})
    # the saved result comes back without a refit, at the saved values
    assert back.result is not None and back.result_current
    np.testing.assert_array_equal(back.result.values, result.values)
    assert back.result.statistics.n_used == result.statistics.n_used
    assert not back.modified and back.name == "decay.lsqfit"
    # and the problem is the same one
    p, q = doc.build_problem(), back.build_problem()
    np.testing.assert_array_equal(p.y, q.y)
    assert p.params == q.params
    np.testing.assert_array_equal(p.excluded, q.excluded)


def test_a_stale_result_is_saved_as_stale():
    doc = Document(_decay_table(13))
    doc.set_model("line")
    _run(doc)
    doc.edit_parameter("slope", value=1.0)
    back = Document.from_project(doc.to_project())
    assert back.result is not None and not back.result_current


def test_an_older_project_file_opens():
    # written by the window before the document existed: solver with three keys,
    # the range in metadata, parameters with null bounds
    t = _decay_table(14)
    t.set_mask([2], "outlier")
    old = Project(t, roles={"x": ["t (s)"], "y": "signal", "sigma": None},
                  model="exp_decay+poly0",
                  parameters=[{"name": "exp_decay_amplitude", "value": 5.0, "fixed": False,
                               "min": None, "max": None}],
                  solver={"method": "lm", "loss": "linear", "max_iterations": 0},
                  result=None, metadata={"fit_range": [1.0, 7.0]})
    doc = Document.from_project(old)
    assert doc.solver == SolverSettings(method="lm")
    assert doc.fit_range == (1.0, 7.0)
    assert doc.parameters[0] == ParameterSetting("exp_decay_amplitude", 5.0)
    assert doc.table.mask[2]
    # and what the document writes an older reader understands the same way
    d = project_to_dict(doc.to_project())
    assert d["version"] == 1 and d["roles"] == {"x": ["t (s)"], "y": "signal", "sigma": None}
    assert d["solver"]["method"] == "lm" and d["metadata"]["fit_range"] == [1.0, 7.0]


@pytest.mark.parametrize("solver, metadata, message", [
    ({"method": "newton"}, {}, "unknown solver method 'newton'"),
    ({"loss": "l1"}, {}, "unknown loss 'l1'"),
    ({}, {"fit_range": [1.0]}, "fit_range must be two numbers"),
    ({"max_iterations": "many"}, {}, "solver settings"),
])
def test_settings_a_project_cannot_hold_are_refused_naming_the_file(solver, metadata, message):
    bad = Project(_decay_table(15), roles={"x": ["t (s)"], "y": "signal"}, model="line",
                  solver=solver, metadata=metadata)
    doc = Document(_decay_table(16))
    before = doc.table
    with pytest.raises(InputError, match=message) as info:
        doc.apply_project(bad, "bad.lsqfit")
    assert "bad.lsqfit" in str(info.value)
    assert doc.table is before                     # nothing was changed


def test_a_saved_result_that_no_longer_fits_is_not_restored():
    doc = Document(_decay_table(17))
    doc.set_model("line")
    _run(doc)
    project = doc.to_project()
    project.model = "poly2"                        # the result has no value for a2
    back = Document()
    assert not back.apply_project(project)
    assert back.result is None


def test_command_line_specs_override_the_settings():
    doc = Document(_decay_table(18))
    doc.set_model("a*exp(-t/tau)+c")
    doc.edit_parameter("tau", min=0.1, max=10.0)
    out = apply_specs(doc.parameters, [parse_param("tau=2"), parse_param("c=0.3", fixed=True),
                                       parse_param("a=:0:9")], "a*exp(-t/tau)+c")
    assert out == (ParameterSetting("a", None, False, 0.0, 9.0),
                   ParameterSetting("tau", 2.0, False, 0.1, 10.0),
                   ParameterSetting("c", 0.3, True))
    with pytest.raises(ParameterError, match="tau: start 50 is outside the bounds"):
        apply_specs(doc.parameters, [parse_param("tau=50")])
    with pytest.raises(ParameterError, match="unknown parameter 'k'"):
        apply_specs(doc.parameters, [parse_param("k=1")])


def test_several_fits_of_one_dataset_keep_their_own_settings():
    doc, changes = _doc(19)
    doc.set_model("line")
    second = doc.add_fit()
    assert [(c.kind, c.fit) for c in changes][-1] == (ev.FITS, second)
    doc.set_model("poly2", fit=second)
    doc.set_fit_range((1.0, 5.0), fit=second)
    assert doc.model_spec == "line" and doc.fit_range is None
    assert doc.fits[second].model_spec == "poly2" and doc.fits[second].fit_range == (1.0, 5.0)
    assert {c.fit for c in changes if c.kind == ev.FIT_RANGE} == {second}
    doc.select_fit(second)
    assert doc.model_spec == "poly2" and changes[-1].kind == ev.CURRENT
    # a table edit makes both fits' results stale
    doc.select_fit(0)
    _run(doc)
    doc.select_fit(second)
    _run(doc)
    doc.table.set_mask([1], "outlier")
    assert not doc.fits[0].result_current and not doc.fits[second].result_current
    assert math.isfinite(doc.fits[0].result.values[0])
