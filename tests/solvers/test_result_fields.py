"""FitResult cannot change, and its JSON follows its fields.

Its arrays are read-only (without making the problem's arrays read-only),
the solver's report is in typed fields, and ``to_dict`` carries every field
of the statistics and parameters, the keys of DESIGN.md 4.2 included.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.result import FitStatistics, ParameterResult
from lsqfit_app.models import make_model
from lsqfit_app.solvers import SolverOptions, fit, restore_result

#: the keys the JSON has always had (DESIGN.md 4.2 and those added since)
TOP_KEYS = {"model", "solver", "loss", "converged", "status", "message", "iterations",
            "evaluations", "elapsed_seconds", "parameters", "statistics", "weighting",
            "uncertainty", "covariance", "correlation", "history"}
PARAMETER_KEYS = {"name", "value", "stderr", "ci95", "fixed", "at_bound", "t_value", "p_value",
                  "start", "min", "max", "stderr_note"}
STATISTICS_KEYS = {"n", "n_used", "n_missing", "n_excluded", "n_free", "rank", "dof", "sse",
                   "rmse", "residual_sd", "r_squared", "adj_r_squared", "r_squared_centered",
                   "chi_squared", "reduced_chi_squared", "aic", "aicc", "bic",
                   "log_likelihood", "objective"}
ARRAYS = ("covariance", "correlation", "fitted", "residuals", "weighted_residuals",
          "standardized_residuals", "used", "row_sigma")


def _peak_problem(seed: int, **kw) -> FitProblem:
    rng = np.random.default_rng(seed)
    x = np.linspace(-5, 5, 80)
    y = 3 * np.exp(-(x - 0.4) ** 2 / 2) + 0.5 + rng.normal(0, 0.05, x.size)
    return FitProblem.create(make_model("gaussian+poly0"), x, y, **kw)


def test_every_statistic_and_parameter_field_is_in_the_json():
    result = fit(_peak_problem(1))
    out = json.loads(json.dumps(result.to_dict()))
    assert {f.name for f in dataclasses.fields(FitStatistics)} <= set(out["statistics"])
    for entry in out["parameters"]:
        assert {f.name for f in dataclasses.fields(ParameterResult)} <= set(entry)
    assert TOP_KEYS <= set(out)
    assert STATISTICS_KEYS <= set(out["statistics"])
    assert all(PARAMETER_KEYS <= set(entry) for entry in out["parameters"])
    assert out["model"] == {"name": result.model_name, "formula": result.formula}
    assert out["status"] == "converged" and out["converged"] is True
    assert out["statistics"]["chi_squared"] is None          # no sigma
    assert out["parameters"][0]["stderr_note"] is None       # no note: null
    assert out["parameters"][0]["max"] is None                # inf: null
    assert out["covariance"] == result.covariance.tolist()


def test_a_statistic_added_later_reaches_the_json_without_a_mapping():
    result = fit(_peak_problem(2))
    Extended = dataclasses.make_dataclass("Extended", [("durbin_watson", float)],
                                          bases=(FitStatistics,), frozen=True)
    stats = Extended(**dataclasses.asdict(result.statistics), durbin_watson=1.9)
    out = dataclasses.replace(result, statistics=stats).to_dict()
    assert out["statistics"]["durbin_watson"] == 1.9


def test_every_result_field_but_the_per_row_arrays_is_in_the_json():
    result = fit(_peak_problem(3))
    out = result.to_dict()
    per_row = {"param_names", "model", "fitted", "residuals", "weighted_residuals",
               "standardized_residuals", "used", "row_sigma", "data_x"}
    renamed = {"model_name": "model", "formula": "model", "elapsed": "elapsed_seconds",
               "uncertainty_note": "uncertainty"}
    for f in dataclasses.fields(result):
        if f.name not in per_row:
            assert renamed.get(f.name, f.name) in out, f.name


def test_result_arrays_are_read_only_and_the_problems_stay_writeable():
    rng = np.random.default_rng(4)
    x = np.linspace(0, 4, 50)
    sigma = 0.05 + 0.01 * rng.random(x.size)
    y = 2 * np.exp(-x / 1.3) + 0.1 + rng.normal(0, sigma)
    excluded = np.zeros(x.size, dtype=bool)
    excluded[3] = True
    problem = FitProblem.create(make_model("exp_decay"), x, y, sigma=sigma, excluded=excluded)
    result = fit(problem)
    for name in ARRAYS:
        array = getattr(result, name)
        assert not array.flags.writeable, name
        with pytest.raises(ValueError):
            array[0] = 0
    assert all(not v.flags.writeable for v in result.data_x.values())
    with pytest.raises(ValueError):
        result.data_x["x"][0] = 1.0
    # the result shares the problem's arrays: they stay as they were
    assert problem.x["x"].flags.writeable and problem.y.flags.writeable
    assert problem.sigma.flags.writeable and problem.used.flags.writeable
    assert np.shares_memory(result.data_x["x"], problem.x["x"])
    # a copy of the result (dataclasses.replace) keeps the same read-only arrays
    again = dataclasses.replace(result)
    assert again.covariance is result.covariance and again.data_x is result.data_x


def test_the_solvers_report_is_in_typed_fields():
    options = SolverOptions(max_iterations=200, ftol=1e-12)
    lm = fit(_peak_problem(5), "lm", options=options)
    assert lm.solver == "lm" and lm.minpack_info in (1, 2, 3, 4, 6, 7, 8)
    assert lm.scipy_status is None and lm.refinement_passes is None
    assert lm.options == options
    trf = fit(_peak_problem(5), "trf")
    assert trf.scipy_status in (1, 2, 3, 4) and trf.minpack_info is None
    rng = np.random.default_rng(6)
    x = np.linspace(-1, 1, 40)
    closed = fit(FitProblem.create(make_model("poly2"), x, 1 + x - x**2 + rng.normal(0, .1, 40)))
    assert closed.solver == "closed-form"
    assert isinstance(closed.refinement_passes, int) and closed.refinement_passes >= 1
    assert closed.streamed is False and closed.restored is False


def test_a_restored_result_keeps_the_options_and_codes_it_was_saved_with():
    problem = _peak_problem(7)
    original = fit(problem, "lm", options=SolverOptions(max_iterations=77, xtol=1e-13))
    saved = json.loads(json.dumps(original.to_dict()))
    restored = restore_result(problem, saved)
    assert restored.restored and not original.restored
    assert restored.options == original.options
    assert restored.minpack_info == original.minpack_info
    assert np.array_equal(restored.values, original.values)
    assert not restored.covariance.flags.writeable
    # an older file without them: the defaults
    del saved["options"], saved["minpack_info"]
    older = restore_result(problem, saved)
    assert older.options == SolverOptions() and older.minpack_info is None


def test_weighted_residuals_are_the_residuals_over_each_rows_sigma():
    rng = np.random.default_rng(9)
    x = np.linspace(-5, 5, 60)
    sigma = rng.uniform(0.02, 0.1, x.size)
    y = 3 * np.exp(-(x - 0.4) ** 2 / 2) + 0.5 + rng.normal(0, 1, x.size) * sigma
    weighted = fit(FitProblem.create(make_model("gaussian+poly0"), x, y, sigma=sigma))
    np.testing.assert_array_equal(weighted.weighted_residuals, weighted.residuals / sigma)
    assert not weighted.weighted_residuals.flags.writeable
    plain = fit(FitProblem.create(make_model("gaussian+poly0"), x, y))
    assert plain.weighted_residuals is plain.residuals
