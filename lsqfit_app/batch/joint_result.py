"""The result of a global fit, its JSON (DESIGN.md 4.4) and its comparison with separate fits.

Parameter entries come in one order, used by ``parameters``, ``covariance``
and the progress snapshots: the shared parameters (and the fixed ones, which
also take one value for all curves) in model order with ``curve`` None, then
for each curve its per-curve parameters in model order.

Covariance.  The whole joint covariance has (p_s + K p_l)^2 entries (9
million for 1,000 curves with 3 local parameters), so it is kept only for at
most :data:`FULL_COVARIANCE_LIMIT` entries; otherwise ``covariance`` is None.
The shared block (``covariance_shared``, over the shared entries) and each
curve's local block (``covariance_local``) are always kept; they are exact
blocks of the joint inverse, so every standard error is exact either way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special as _sp

from lsqfit_app.core.result import FitStatistics, FitStatus, SolverOptions, _clean, _json
from lsqfit_app.core.statistics import goodness_of_fit

#: entries up to which the whole joint covariance is kept (and written to JSON)
FULL_COVARIANCE_LIMIT = 200
#: the significance level of the F test's preference
ALPHA = 0.05


@dataclass(frozen=True)
class GlobalParameter:
    name: str
    curve: str | None        # None: one value for every curve (shared or fixed)
    value: float
    stderr: float
    ci95: tuple[float, float]
    fixed: bool
    at_bound: bool
    t_value: float
    p_value: float
    start: float
    min: float = -math.inf
    max: float = math.inf
    stderr_note: str = ""


@dataclass(frozen=True, eq=False)
class GlobalResult:
    model_name: str
    formula: str
    param_names: tuple[str, ...]
    shared_names: tuple[str, ...]
    ids: tuple[str, ...]
    sources: tuple[str, ...]
    parameters: tuple[GlobalParameter, ...]
    values: np.ndarray         # (K, p) every parameter per curve (shared ones repeated)
    stderrs: np.ndarray        # (K, p)
    ci_low: np.ndarray
    ci_high: np.ndarray
    fixed: np.ndarray          # (p,) bool
    shared: np.ndarray         # (p,) bool: one value for all curves (shared or fixed)
    status: FitStatus
    message: str
    iterations: int
    evaluations: int
    elapsed: float
    history: tuple[float, ...]
    statistics: FitStatistics  # of the joint fit, over the stacked residuals
    covariance: np.ndarray | None       # over the entries, None when too large
    covariance_shared: np.ndarray       # over the entries with curve None
    covariance_local: np.ndarray        # (K, q, q) over each curve's entries
    curve_sse: np.ndarray
    curve_n_used: np.ndarray
    curve_dof: np.ndarray
    curve_r_squared: np.ndarray
    curve_aicc: np.ndarray
    fitted: np.ndarray = field(repr=False)      # (K, n) model at every point
    residuals: np.ndarray = field(repr=False)   # (K, n) y - fitted, NaN where not used
    used: np.ndarray = field(repr=False)
    row_sigma: np.ndarray | None = field(repr=False, default=None)  # (K, n) sigma_i, weighted fits
    uncertainty_note: str = ""
    weighting: str = "none"
    solver: str = "global-lm"
    loss: str = "linear"
    options: SolverOptions = field(default_factory=SolverOptions)

    @property
    def converged(self) -> bool:
        return self.status.converged

    @property
    def n_curves(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict:
        """DESIGN.md 4.4's global JSON: the 4.2 result, each parameter with "curve",
        plus "curves" and "per_curve" (and a few extra keys)."""
        params = []
        for p in self.parameters:
            entry = _json(p)
            entry["stderr_note"] = p.stderr_note or None
            params.append(entry)
        return {
            "model": {"name": self.model_name, "formula": self.formula},
            "solver": self.solver, "loss": self.loss, "converged": self.converged,
            "status": self.status.value, "message": self.message,
            "iterations": self.iterations, "evaluations": self.evaluations,
            "elapsed_seconds": round(self.elapsed, 6),
            "shared": list(self.shared_names),
            "parameters": params,
            "statistics": _json(self.statistics),
            "covariance": None if self.covariance is None else _json(self.covariance),
            "covariance_shared": _json(self.covariance_shared),
            "covariance_shared_names": [p.name for p in self.parameters if p.curve is None],
            "history": _json(self.history),
            "curves": list(self.ids),
            "per_curve": [{"id": i, "source": src, "sse": _clean(sse), "n_used": int(n),
                           "dof": int(d), "r_squared": _clean(r2), "aicc": _clean(a)}
                          for i, src, sse, n, d, r2, a in zip(
                              self.ids, self.sources, self.curve_sse.tolist(),
                              self.curve_n_used.tolist(), self.curve_dof.tolist(),
                              self.curve_r_squared.tolist(), self.curve_aicc.tolist())],
            "uncertainty": self.uncertainty_note, "weighting": self.weighting,
            "options": _json(self.options),
        }

    def table(self) -> tuple[list[str], list[list]]:
        """(header, rows): one row per curve, ``id, status, <param>, <param>_stderr,
        ..., sse, r_squared, aicc`` (shared parameters repeat their value)."""
        header = ["id", "status"]
        for name in self.param_names:
            header += [name, f"{name}_stderr"]
        header += ["sse", "r_squared", "aicc"]
        rows = []
        for k, curve_id in enumerate(self.ids):
            row = [curve_id, self.status.value]
            for v, e in zip(self.values[k].tolist(), self.stderrs[k].tolist()):
                row += [_clean(v), _clean(e)]
            row += [_clean(self.curve_sse[k]), _clean(self.curve_r_squared[k]),
                    _clean(self.curve_aicc[k])]
            rows.append(row)
        return header, rows

    def compare_separate(self, batch) -> dict:
        """Global against separate fits of the same curves (a BatchResult):
        see :func:`global_vs_separate`."""
        ids = tuple(getattr(batch, "ids", self.ids))
        if ids != self.ids:
            raise ValueError("the separate fits are of other curves than the global fit")
        sse = np.asarray(batch.sse, dtype=float)
        n_params = np.asarray(batch.n_used, dtype=float) - np.asarray(batch.dof, dtype=float)
        return global_vs_separate(self, float(sse.sum()), int(n_params.sum()))


def global_vs_separate(result: GlobalResult, separate_sse: float, separate_params: int) -> dict:
    """Extra-sum-of-squares F test and AICc of the global fit against separate fits.

    The global fit is the restricted model (its shared parameters are one
    value where the separate fits have K): with SSE_g, df_g = its dof and
    SSE_s, df_s = n - ``separate_params`` of the separate fits,
    F = ((SSE_g - SSE_s) / (df_g - df_s)) / (SSE_s / df_s), p = P(F' >= F).
    A small p (< ALPHA) rejects sharing.  AICc compares both as models of all
    the data with one common error variance, as the F test assumes and as
    GraphPad Prism compares them; so the separate fits' AICc here is not the
    sum of their per-curve AICc.  It is computed by ``goodness_of_fit``
    itself: the criteria depend on the residuals only through their sum of
    squares, so a residual vector with that sum stands in.
    """
    stats = result.statistics
    n = stats.n_used
    df_g = stats.dof
    df_s = n - int(separate_params)
    sse_g = stats.sse
    sse_s = float(separate_sse)
    df_num = df_g - df_s
    f = p = math.nan
    if df_num > 0 and df_s > 0 and sse_s > 0:
        f = max((sse_g - sse_s) / df_num / (sse_s / df_s), 0.0)
        p = float(_sp.fdtrc(df_num, df_s, f))
    used = result.used
    y = np.asarray(result.fitted + np.nan_to_num(result.residuals))[used]
    sigma = np.ones_like(y) if result.row_sigma is None else result.row_sigma[used]
    w = None if result.weighting == "none" else 1.0 / sigma ** 2
    weighted = result.weighting != "none"

    def aicc(sse, k):
        r = np.zeros(n)
        r[0] = math.sqrt(max(sse, 0.0))
        return goodness_of_fit(y, w, r, k, stats.absolute_sigma, weighted, True, sigma)["aicc"]

    aicc_g, aicc_s = aicc(sse_g, stats.rank), aicc(sse_s, int(separate_params))
    delta = aicc_s - aicc_g
    # Akaike weight of the global model: exp(-AICc/2) normalised over the two
    prob_g = 1.0 / (1.0 + math.exp(-0.5 * delta)) if math.isfinite(delta) else math.nan
    return {
        "f": f, "df_numerator": df_num, "df_denominator": df_s, "p_value": p, "alpha": ALPHA,
        "f_test_prefers": ("global" if p >= ALPHA else "separate") if math.isfinite(p) else None,
        "global": {"sse": sse_g, "dof": df_g, "n_params": stats.rank, "aicc": aicc_g},
        "separate": {"sse": sse_s, "dof": df_s, "n_params": int(separate_params),
                     "aicc": aicc_s},
        "delta_aicc": delta, "probability_global": prob_g,
        "aicc_prefers": ("global" if delta >= 0 else "separate") if math.isfinite(delta) else None,
        "n": n,
    }
