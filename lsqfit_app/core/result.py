"""Fit results: frozen values that cross from a worker thread to any client.

A :class:`FitResult` holds the parameter estimates with their uncertainties
and the reasons when an uncertainty is missing, the goodness-of-fit
statistics, the solver's status and message, the options it ran with and
what it reported, the objective history and the per-point fitted values and
residuals.  Nothing in it can change: the dataclasses are frozen and its
arrays are read-only views (the arrays they view, such as the problem's
predictors, stay as writeable as they were).

``to_dict`` gives the JSON of DESIGN.md 4.2.  It is derived from the
dataclass fields: every field of :class:`ParameterResult` and
:class:`FitStatistics` is a key under its own name, and every field of
:class:`FitResult` too, except the per-row arrays and the model (see
``_NOT_IN_JSON``) and the few that DESIGN.md names otherwise
(``_JSON_NAMES``).  A field added later therefore appears in the JSON
without any change here.
"""
from __future__ import annotations

import dataclasses
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
class SolverOptions:
    """Tolerances and limits of a fit.  Defaults are tight: they meet the NIST StRD targets."""

    ftol: float = 1e-15
    xtol: float = 1e-15
    gtol: float = 1e-15
    gtol_lbfgs: float = 1e-12
    ftol_gd: float = 1e-12
    max_iterations: int | None = None     # None: each solver's own default
    max_evaluations: int | None = None
    refine: bool = True                   # double-double refinement of the closed form
    polish: bool = True                   # Gauss-Newton polish after LM (auto)


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


#: FitResult's per-row arrays (and the model): for plots, bands and exports, not the JSON
_NOT_IN_JSON = frozenset({"param_names", "model", "fitted", "residuals",
                          "standardized_residuals", "used", "row_sigma", "data_x"})
#: FitResult fields whose JSON key DESIGN.md names differently
_JSON_NAMES = {"elapsed": "elapsed_seconds", "uncertainty_note": "uncertainty"}
#: FitResult's array fields, made read-only views in ``__post_init__``
_ARRAYS = ("covariance", "correlation", "fitted", "residuals", "standardized_residuals",
           "used", "row_sigma")


def _read_only(values) -> np.ndarray:
    """A read-only view of ``values`` (the array viewed keeps its own flags),
    or ``values`` itself when it is a read-only array already."""
    if isinstance(values, np.ndarray):
        if not values.flags.writeable:
            return values
        view = values.view()
    else:
        view = np.asarray(values)
    view.setflags(write=False)
    return view


def _json(value):
    """A field's value as JSON: non-finite floats become None, tuples and
    arrays lists, enums their value, dataclasses objects of their fields."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _clean(value)
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, (tuple, list)):
        return [_json(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    raise TypeError(f"no JSON form for {type(value).__name__}")


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
    standardized_residuals: np.ndarray
    used: np.ndarray                # rows in the fit
    uncertainty_note: str
    weighting: str
    model: object = field(repr=False, default=None)   # the Model, for bands and plots
    #: the tolerances and limits the solver ran with
    options: SolverOptions = field(default_factory=SolverOptions)
    #: MINPACK lmder's info code when LM gave the result (1-4 converged, 5 the
    #: evaluation limit, 6-8 a tolerance below machine precision)
    minpack_info: int | None = None
    #: scipy least_squares' status when TRF gave the result
    scipy_status: int | None = None
    #: passes of double-double iterative refinement (closed form)
    refinement_passes: int | None = None
    #: closed form from normal equations streamed over the data (a polynomial
    #: on millions of points), not from a QR of the design matrix
    streamed: bool = False
    #: rebuilt from a saved result at its values (``solvers.restore_result``), not refitted
    restored: bool = False
    #: sigma_i of every row as the fit weighted it (None when unweighted), for bands
    row_sigma: np.ndarray | None = field(repr=False, default=None)
    #: the predictors of every row (read-only views of the problem's arrays), for bands
    data_x: dict | None = field(repr=False, default=None)

    def __post_init__(self):
        for name in _ARRAYS:
            values = getattr(self, name)
            if values is not None:
                object.__setattr__(self, name, _read_only(values))
        x = self.data_x
        if x is not None:
            views = {k: _read_only(v) for k, v in x.items()}
            if any(view is not v for view, v in zip(views.values(), x.values())):
                object.__setattr__(self, "data_x", views)

    @property
    def converged(self) -> bool:
        return self.status.converged

    @property
    def weighted_residuals(self) -> np.ndarray:
        """(y - fitted) / sigma_i of every row (the residuals themselves when unweighted).

        Computed when asked, not stored: on big data a row array is megabytes,
        and the app's own outputs do not need this one.
        """
        if self.row_sigma is None:
            return self.residuals
        return _read_only(self.residuals / self.row_sigma)

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
        """The JSON result of DESIGN.md 4.2, derived from the fields (see the module docstring)."""
        out = {"model": {"name": self.model_name, "formula": self.formula},
               "converged": self.converged}
        for f in dataclasses.fields(self):
            name = f.name
            if name in _NOT_IN_JSON or name in ("model_name", "formula"):
                continue
            value = getattr(self, name)
            if name == "parameters":
                out[name] = [_parameter_json(p) for p in value]
            elif name == "elapsed":
                out[_JSON_NAMES[name]] = round(value, 6)
            else:
                out[_JSON_NAMES.get(name, name)] = _json(value)
        return out


def _parameter_json(p: ParameterResult) -> dict:
    entry = _json(p)
    entry["stderr_note"] = p.stderr_note or None   # no note: null, not ""
    return entry
