"""Fit results: frozen values that cross from a worker thread to any client.

A :class:`FitResult` holds the parameter estimates with their uncertainties
and the reasons when an uncertainty is missing, the goodness-of-fit
statistics, the solver's status and message, the objective history and the
per-point fitted values and residuals.  ``to_dict`` gives the JSON of
DESIGN.md 4.2 (extra keys allowed, the named ones kept).
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np


class FitStatus(enum.Enum):
    CONVERGED = "converged"
    MAX_ITERATIONS = "max_iterations"
    NOT_CONVERGED = "not_converged"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def converged(self) -> bool:
        return self is FitStatus.CONVERGED


@dataclass(frozen=True)
class ParameterResult:
    name: str
    value: float
    stderr: float            # NaN when it cannot be computed (see stderr_note)
    ci95: tuple[float, float]
    t_value: float
    p_value: float
    fixed: bool
    at_bound: bool
    start: float
    min: float = -math.inf
    max: float = math.inf
    stderr_note: str = ""    # why stderr is missing, empty when it is there


@dataclass(frozen=True)
class FitStatistics:
    n: int                   # rows in the data
    n_used: int              # rows that entered the fit
    n_missing: int           # rows left out because a used value is missing
    n_excluded: int          # rows masked by the user
    n_free: int              # free parameters
    dof: int                 # n_used - rank
    sse: float               # sum of squared (weighted) residuals
    rmse: float              # sqrt(sse / n_used)
    residual_sd: float       # sqrt(sse / dof)
    r_squared: float
    adj_r_squared: float
    r_squared_centered: bool  # False: uncentred R^2 for models without intercept (NIST)
    chi_squared: float | None
    reduced_chi_squared: float | None
    aic: float
    aicc: float
    bic: float
    log_likelihood: float
    weighted: bool
    absolute_sigma: bool
    objective: float         # the minimised objective (differs from sse under a robust loss)
    rank: int                # parameters the data determine: n_free less J's rank deficiency
    #: s^2, the variance of one observation in units of its sigma_i^2: 1 for
    #: absolute sigma, SSE/dof when scaled, the robust scale^2 under a robust loss
    variance_factor: float


def _clean(v):
    """JSON-safe float: NaN and infinities become None."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True, eq=False)
class FitResult:
    model_name: str
    formula: str
    param_names: tuple[str, ...]
    parameters: tuple[ParameterResult, ...]
    status: FitStatus
    message: str
    solver: str
    loss: str
    iterations: int
    evaluations: int
    elapsed: float
    history: tuple[float, ...]
    statistics: FitStatistics
    covariance: np.ndarray          # p x p over all parameters; 0 rows/cols for fixed, NaN if unknown
    correlation: np.ndarray
    fitted: np.ndarray              # model at every row (NaN where x is missing)
    residuals: np.ndarray           # y - fitted, every row
    weighted_residuals: np.ndarray  # (y - fitted) / sigma
    standardized_residuals: np.ndarray
    used: np.ndarray                # rows in the fit
    uncertainty_note: str
    weighting: str
    model: object = field(repr=False, default=None)   # the Model, for bands and plots
    extra: dict = field(default_factory=dict)
    #: sigma_i of every row as the fit weighted it (None when unweighted), for bands
    row_sigma: np.ndarray | None = field(repr=False, default=None)
    #: the predictors of every row (the problem's arrays, shared), for bands
    data_x: dict | None = field(repr=False, default=None)

    @property
    def converged(self) -> bool:
        return self.status.converged

    @property
    def values(self) -> np.ndarray:
        return np.array([p.value for p in self.parameters], dtype=float)

    @property
    def stderrs(self) -> np.ndarray:
        return np.array([p.stderr for p in self.parameters], dtype=float)

    def value(self, name: str) -> float:
        return self.parameters[self.param_names.index(name)].value

    def param(self, name: str) -> ParameterResult:
        return self.parameters[self.param_names.index(name)]

    def to_dict(self) -> dict:
        """The JSON result of DESIGN.md 4.2 (plus extra keys)."""
        s = self.statistics
        params = []
        for p in self.parameters:
            params.append({
                "name": p.name, "value": _clean(p.value), "stderr": _clean(p.stderr),
                "ci95": [_clean(p.ci95[0]), _clean(p.ci95[1])],
                "fixed": p.fixed, "at_bound": p.at_bound,
                "t_value": _clean(p.t_value), "p_value": _clean(p.p_value),
                "start": _clean(p.start), "min": _clean(p.min), "max": _clean(p.max),
                "stderr_note": p.stderr_note or None,
            })
        cov = [[_clean(v) for v in row] for row in np.asarray(self.covariance)]
        corr = [[_clean(v) for v in row] for row in np.asarray(self.correlation)]
        return {
            "model": {"name": self.model_name, "formula": self.formula},
            "solver": self.solver, "loss": self.loss,
            "converged": self.converged, "status": self.status.value,
            "message": self.message, "iterations": self.iterations,
            "evaluations": self.evaluations, "elapsed_seconds": round(self.elapsed, 6),
            "parameters": params,
            "statistics": {
                "n": s.n, "n_used": s.n_used, "n_missing": s.n_missing,
                "n_excluded": s.n_excluded, "n_free": s.n_free, "rank": s.rank, "dof": s.dof,
                "sse": _clean(s.sse), "rmse": _clean(s.rmse),
                "residual_sd": _clean(s.residual_sd), "r_squared": _clean(s.r_squared),
                "adj_r_squared": _clean(s.adj_r_squared),
                "r_squared_centered": s.r_squared_centered,
                "chi_squared": _clean(s.chi_squared),
                "reduced_chi_squared": _clean(s.reduced_chi_squared),
                "aic": _clean(s.aic), "aicc": _clean(s.aicc), "bic": _clean(s.bic),
                "log_likelihood": _clean(s.log_likelihood),
                "objective": _clean(s.objective),
            },
            "weighting": self.weighting,
            "uncertainty": self.uncertainty_note,
            "covariance": cov,
            "correlation": corr,
            "history": [_clean(h) for h in self.history],
        }
