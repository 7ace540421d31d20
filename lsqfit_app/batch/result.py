"""The result of a batch fit: one row of parameters and statistics per curve.

:class:`BatchResult` holds (K, p) and (K,) arrays; ``to_dict`` gives the batch
JSON of DESIGN.md 4.4 (NaN and infinities as null), ``table`` the rows of the
CSV/XLSX output, and ``curve_result`` the single-fit :class:`FitResult` of one
curve, rebuilt at its values by the single fit's own code
(:func:`lsqfit_app.solvers.restore_result`), for windows and reports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lsqfit_app.core.result import FitResult, FitStatus, SolverOptions


@dataclass(frozen=True)
class BatchProgress:
    """Curves finished so far (``failed``: finished without converging) of
    ``total``, and the lowest and highest SSE among the finished ones."""

    done: int
    failed: int
    total: int
    best_sse: float
    worst_sse: float


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, eq=False)
class BatchResult:
    model: object
    ids: tuple[str, ...]
    sources: tuple[str, ...]
    param_names: tuple[str, ...]
    values: np.ndarray
    stderrs: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    fixed: np.ndarray
    status: tuple[FitStatus, ...]
    messages: tuple[str, ...]
    iterations: np.ndarray
    evaluations: np.ndarray
    n_used: np.ndarray
    dof: np.ndarray
    sse: np.ndarray
    rmse: np.ndarray
    r_squared: np.ndarray
    adj_r_squared: np.ndarray
    aic: np.ndarray
    aicc: np.ndarray
    bic: np.ndarray
    chi_squared: np.ndarray
    reduced_chi_squared: np.ndarray
    converged: np.ndarray
    elapsed: float
    #: start values of every curve, the settings and weighting the fit used
    starts: np.ndarray = field(repr=False, default=None)
    settings: tuple = field(repr=False, default=())
    weighting: str = "none"
    status_keys: tuple[str, ...] = field(repr=False, default=())
    options: SolverOptions = field(repr=False, default_factory=SolverOptions)

    @property
    def n_curves(self) -> int:
        return len(self.ids)

    @property
    def n_converged(self) -> int:
        return int(np.count_nonzero(self.converged))

    def to_dict(self) -> dict:
        """The batch JSON of DESIGN.md 4.4."""
        curves = []
        for i in range(self.n_curves):
            params = [{"name": name, "value": _num(self.values[i, j]),
                       "stderr": _num(self.stderrs[i, j]),
                       "ci95": [_num(self.ci_low[i, j]), _num(self.ci_high[i, j])],
                       "fixed": bool(self.fixed[j])}
                      for j, name in enumerate(self.param_names)]
            curves.append({
                "id": self.ids[i], "source": self.sources[i], "status": self.status[i].value,
                "converged": bool(self.converged[i]), "message": self.messages[i],
                "iterations": int(self.iterations[i]), "evaluations": int(self.evaluations[i]),
                "parameters": params,
                "statistics": {"n_used": int(self.n_used[i]), "dof": int(self.dof[i]),
                               "sse": _num(self.sse[i]), "rmse": _num(self.rmse[i]),
                               "r_squared": _num(self.r_squared[i]),
                               "adj_r_squared": _num(self.adj_r_squared[i]),
                               "aic": _num(self.aic[i]), "aicc": _num(self.aicc[i]),
                               "bic": _num(self.bic[i]),
                               "chi_squared": _num(self.chi_squared[i]),
                               "reduced_chi_squared": _num(self.reduced_chi_squared[i])}})
        model = self.model
        return {"model": {"name": model.name, "formula": model.formula},
                "n_curves": self.n_curves, "n_converged": self.n_converged,
                "weighting": self.weighting, "elapsed_seconds": round(self.elapsed, 6),
                "curves": curves}

    def table(self) -> tuple[list[str], list[list]]:
        """(header, rows): ``id, status, <param>, <param>_stderr, ..., sse, r_squared,
        aicc``, one row per curve (NaN as None)."""
        header = ["id", "status"]
        for name in self.param_names:
            header += [name, f"{name}_stderr"]
        header += ["sse", "r_squared", "aicc"]
        rows = []
        for i in range(self.n_curves):
            row = [self.ids[i], self.status[i].value]
            for j in range(len(self.param_names)):
                row += [_num(self.values[i, j]), _num(self.stderrs[i, j])]
            row += [_num(self.sse[i]), _num(self.r_squared[i]), _num(self.aicc[i])]
            rows.append(row)
        return header, rows

    def curve_result(self, i: int, curves) -> FitResult:
        """Curve ``i`` as a single fit's result (``curves``: the CurveSet fitted)."""
        from lsqfit_app.batch.engine import single_result
        return single_result(self.model, curves, i, self.settings, self.weighting,
                             self.values[i], self.starts[i], self.status_keys[i],
                             self.messages[i], int(self.iterations[i]),
                             int(self.evaluations[i]), self.options)
