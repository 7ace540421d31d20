"""The objective every solver sees: free parameters in, weighted residuals out.

It hides fixed parameters, weights and the data selection from the solver
algorithms, counts evaluations, polls the cancel token, keeps the best point
seen so far (so a cancel or a crash mid-way still returns something useful)
and turns per-iteration reports into :class:`IterationState` callbacks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from lsqfit_app.core.losses import loss_objective, loss_terms
from lsqfit_app.core.problem import FitProblem
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.models import kernels


class Cancelled(Exception):
    """Raised inside a solver's callbacks to unwind it on cancel (never escapes fit())."""


class IterationLimit(Exception):
    """Raised inside a solver's callbacks when the iteration limit is reached."""


@dataclass
class Outcome:
    """What a solver algorithm hands back to ``fit``."""

    theta: np.ndarray
    status: str                # a key of solvers.MESSAGES
    detail: str = ""
    extra: dict = field(default_factory=dict)


class Evaluation(NamedTuple):
    """One evaluation of the model at free parameters, as the Objective caches it."""

    key: bytes                # theta.tobytes()
    r: np.ndarray             # weighted residuals (y - f)/sigma
    Jr: np.ndarray | None     # d r / d theta (None: residuals only)
    objective: float
    f: np.ndarray | None      # model values (fused evaluations only)

    @property
    def finite(self) -> bool:
        """Are the residuals finite?  A finite sum of squares settles it without
        looking at every residual (it is inf also when finite residuals overflow)."""
        return math.isfinite(self.objective) or bool(np.isfinite(self.r).all())


class Objective:
    def __init__(self, problem: FitProblem, start: np.ndarray, *, solver: str,
                 on_iteration: Callable[[IterationState], None] | None = None,
                 cancel: CancelToken | None = None, max_iterations: int | None = None):
        self.problem = problem
        self.model = problem.model
        self.x, self.y, self.sigma = problem.used_data()
        if problem.weighting == "none":
            self.inv_sigma = self.sigma   # all ones
            self.weighted = False
        else:
            self.inv_sigma = 1.0 / self.sigma
            # unweighted fits skip the multiplications (they dominate small fits)
            self.weighted = not bool((self.inv_sigma == 1.0).all())
        self._minus_inv_sigma = (-self.inv_sigma)[:, None] if self.weighted else None
        free = [not p.fixed for p in problem.params]
        self.all_free = all(free)
        self.free = np.array(free, dtype=bool)
        self.free_idx = np.array([k for k, f in enumerate(free) if f], dtype=np.intp)
        self.full = np.array(start, dtype=float)
        lower = [p.min for p in problem.params if not p.fixed]
        upper = [p.max for p in problem.params if not p.fixed]
        self.lower = np.array(lower, dtype=float)
        self.upper = np.array(upper, dtype=float)
        #: (free index, min, max) of the free parameters with a finite bound
        self.bounds = [(k, lo, hi) for k, (lo, hi) in enumerate(zip(lower, upper))
                       if lo > -math.inf or hi < math.inf]
        self.loss = problem.loss
        self.f_scale = problem.f_scale
        self.solver = solver
        self.on_iteration = on_iteration
        self.cancel = cancel
        self.max_iterations = max_iterations
        self.nfev = 0
        self.njev = 0
        self.iterations = 0
        self.history: list[float] = []
        self.best_theta = self.theta0
        self.best_objective = math.inf
        # the last evaluation, and the one LM last accepted (see keep_last())
        self._last: Evaluation | None = None
        self._kept: Evaluation | None = None
        #: key (theta.tobytes()) of the point last reported as an iteration
        self.reported_key: bytes | None = None
        #: the compiled evaluation (see _compiled), False until first asked
        self._kernel_core = False
        #: what the compiled LM needs to evaluate in its loop (see compiled_inputs)
        self._kernel_inputs = None

    # -- parameters ---------------------------------------------------
    @property
    def theta0(self) -> np.ndarray:
        return self.full.copy() if self.all_free else self.full[self.free]

    @property
    def n_free(self) -> int:
        return int(self.free_idx.size)

    def inside(self, theta: np.ndarray) -> bool:
        """Strictly inside every bound?  (Python floats: a few parameters, every fit.)"""
        if not self.bounds:
            return True
        t = theta.tolist()
        for k, lo, hi in self.bounds:
            if not lo < t[k] < hi:
                return False
        return True

    def expand(self, theta: np.ndarray) -> np.ndarray:
        if self.all_free:
            return np.asarray(theta, dtype=float)
        p = self.full.copy()
        p[self.free] = theta
        return p

    # -- evaluations --------------------------------------------------
    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """Weighted residuals (y - f)/sigma at free parameters theta.

        Floating-point warnings are silenced once around the whole fit (in
        ``fit``), not here: this is the innermost loop of every solver.
        With compiled kernels it evaluates through them too, so that line
        searches compare objectives computed the same way.
        """
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled
        theta = np.asarray(theta, dtype=float)
        core = self._compiled()
        if core is not None:
            r = core(self.expand(theta))[1]
        else:
            r = self.y - self.model.eval(self.expand(theta), self.x)
            if self.weighted:
                r *= self.inv_sigma
        self.nfev += 1
        self._last = Evaluation(theta.tobytes(), r, None, self._track(theta, r), None)
        return r

    def fused_evaluation(self, theta: np.ndarray) -> Evaluation:
        """Residuals, Jacobian and model values at theta from one model call (or the cache)."""
        theta = np.asarray(theta, dtype=float)
        hit = self.cached(theta)
        if hit is not None and hit.Jr is not None:
            return hit
        return self._evaluator()(theta, theta.tobytes())

    def _evaluator(self):
        """The uncached fused evaluation, ``evaluate(theta, key) -> Evaluation``.

        A closure over local names, as LM calls it on every step.  Its core
        evaluates the model, residuals and their Jacobian: compiled kernels
        when this fit has them (:meth:`_compiled`), else numpy, weighing like
        :meth:`_weigh_jacobian`.  The closure polls the cancel token, counts,
        remembers the best point like :meth:`_track` (inlined: calling it
        costs measurably in benchmark (a)) and becomes the last evaluation.
        Built per caller and never stored on the Objective: a stored closure
        over ``self`` would be a reference cycle, left to the cyclic garbage
        collector with all its arrays (measurably slower over many fits).
        """
        expand = None if self.all_free else self.expand
        free_idx = self.free_idx
        objective_of = None if self.loss == "linear" else self.objective_of
        cancel = self.cancel
        core = self._compiled() or self._numpy_core()

        def evaluate(theta, key):
            if cancel is not None and cancel.cancelled:
                raise Cancelled
            if expand is None:
                f, r, Jr, value = core(theta)
            else:
                f, r, Jr, value = core(expand(theta))
                Jr = Jr[:, free_idx]
            self.nfev += 1
            self.njev += 1
            if objective_of is not None:
                value = objective_of(r)
            if value < self.best_objective:   # False for NaN
                self.best_objective = value
                self.best_theta = theta.copy()
            self._last = evaluation = Evaluation(key, r, Jr, value, f)
            return evaluation

        return evaluate

    def _numpy_core(self):
        """``core(p) -> (f, r, dr/dp, r @ r)`` at all parameters p, with numpy."""
        eval_and_jacobian = self.model.eval_and_jacobian
        x, y, inv_sigma, weighted = self.x, self.y, self.inv_sigma, self.weighted
        minus_inv_sigma = self._minus_inv_sigma

        def core(p):
            f, J = eval_and_jacobian(p, x)
            r = y - f
            if weighted:
                r *= inv_sigma
                Jr = J * minus_inv_sigma
            else:
                Jr = -J
            return f, r, Jr, float(np.dot(r, r))

        return core

    def _compiled(self):
        """``core(p) -> (f, r, dr/dp, r @ r)`` from compiled kernels, or
        None when this fit evaluates with numpy (see ``models.kernels`` for
        when a process loads them).  Decided once per fit, at its first
        fused evaluation; the closure holds no reference to the Objective."""
        if self._kernel_core is False:
            self._kernel_core = None
            if self.model.kernel_plan() is not None and tuple(self.x) == ("x",):
                loaded = kernels.note_fit()
                if loaded is not None:
                    self.attach_kernels(loaded)
        return self._kernel_core

    def attach_kernels(self, loaded: dict) -> None:
        """Evaluate through the compiled kernels ``loaded`` (``models.kernels``);
        the model must have a kernel plan and the one predictor x."""
        plan = self.model.kernel_plan()
        self._kernel_inputs = kernels.inputs(
            plan, self.x["x"], self.y, self.inv_sigma if self.weighted else None)
        self._kernel_core = kernels.evaluator(plan, loaded, self._kernel_inputs)

    def compiled_inputs(self):
        """(plan arrays, x, y, weights) for compiled code that evaluates the
        model itself (``solvers/_compiled.py``), or None when this fit uses numpy."""
        self._compiled()
        return self._kernel_inputs

    def minpack_callbacks(self):
        """(residuals, jacobian_rows) for MINPACK's lmder.

        lmder asks for the Jacobian only at the point it evaluated last (and
        has just accepted), so ``jacobian_rows`` reads the last evaluation,
        keeps it (see :meth:`keep_last`), reports the iteration and returns
        the Jacobian transposed: MINPACK's column-major layout, without a copy.
        """
        evaluate = self._evaluator()

        def residuals(theta):
            key = theta.tobytes()
            last = self._last
            if last is not None and last.key == key and last.Jr is not None:
                return last.r            # lmder's first call: the start, evaluated already
            return evaluate(theta, key).r

        def jacobian_rows(theta):
            last = self._last
            if last is None or last.key != theta.tobytes():   # never, with lmder
                last = self.fused_evaluation(theta)
            self._kept = last
            if last.key != self.reported_key:
                # report(), less what this point has been through: lmder asks for
                # the Jacobian right after the residuals, which polled the cancel
                self._record(theta, last.key, last.objective)
            return last.Jr.T

        return residuals, jacobian_rows

    def cached(self, theta: np.ndarray) -> Evaluation | None:
        """The evaluation at theta when it was the last one or the last kept (:meth:`keep_last`)."""
        key = np.asarray(theta, dtype=float).tobytes()
        for entry in (self._last, self._kept):
            if entry is not None and entry.key == key:
                return entry
        return None

    def adopt(self, evaluation: Evaluation, keep: bool = False) -> None:
        """Make an evaluation computed elsewhere (the compiled loops) the last
        one, as if this Objective had made it; also the kept one if ``keep``."""
        self._last = evaluation
        if keep:
            self._kept = evaluation

    def keep_last(self) -> Evaluation | None:
        """Hold on to the last evaluation past later ones, and return it.

        LM calls this at each accepted point, where it usually stops, while
        its last evaluation is often a rejected trial step.
        """
        self._kept = self._last
        return self._last

    def _track(self, theta: np.ndarray, r: np.ndarray) -> float:
        """Remember the best finite point (NaN/inf make the objective non-finite).

        Returns the objective at theta.
        """
        if self.loss == "linear":
            obj = float(np.dot(r, r))   # inline: this runs once per evaluation
        else:
            obj = self.objective_of(r)
        if obj < self.best_objective:   # False for NaN; inf is never below the start's inf
            self.best_objective = obj
            self.best_theta = theta.copy()
        return obj

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """d r / d theta = -J_f / sigma over the free parameters."""
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled
        J = self.model.jacobian(self.expand(np.asarray(theta, dtype=float)), self.x)
        self.njev += 1
        return self._weigh_jacobian(J)

    def _weigh_jacobian(self, J: np.ndarray) -> np.ndarray:
        if not self.all_free:
            J = J[:, self.free_idx]
        if self.weighted:
            return J * self._minus_inv_sigma
        return -J

    def residuals_and_jacobian(self, theta):
        evaluation = self.fused_evaluation(theta)
        return evaluation.r, evaluation.Jr

    def objective_of(self, r: np.ndarray) -> float:
        return loss_objective(r, self.loss, self.f_scale)

    def value(self, theta: np.ndarray) -> float:
        r = self.residuals(theta)
        return self.objective_of(r) if np.all(np.isfinite(r)) else math.inf

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective F = f_scale^2 sum rho(r^2/f_scale^2) and its gradient."""
        r, Jr = self.residuals_and_jacobian(theta)
        if not np.all(np.isfinite(r)):
            return math.inf, np.zeros(self.n_free)
        if self.loss == "linear":
            return float(r @ r), 2.0 * (Jr.T @ r)
        rho, drho = loss_terms(r, self.loss, self.f_scale)
        return float(self.f_scale**2 * rho.sum()), 2.0 * (Jr.T @ (drho * r))

    # -- progress -----------------------------------------------------
    def report(self, theta: np.ndarray, objective: float | None = None) -> None:
        """Called by a solver once per iteration (and once at the start)."""
        self.check_cancel()
        theta = np.asarray(theta, dtype=float)
        if objective is None:
            hit = self.cached(theta)
            if hit is None:
                self.residuals(theta)
                hit = self._last
            objective = hit.objective
        self._record(theta, theta.tobytes(), objective)

    def record_iterations(self, objectives: list[float]) -> None:
        """Iterations a compiled solver ran unwatched: no callback, cancel or
        limit to serve, so only the history (as :meth:`_record` keeps it)."""
        for objective in objectives:
            self._append_history(objective)
        self.reported_key = None

    def _append_history(self, objective: float) -> float:
        """One more iteration's objective in the history (the start's is not an
        iteration); returns it as recorded."""
        if not math.isfinite(objective):
            objective = math.inf   # NaN residuals: the objective is undefined, plotted as inf
        if self.history:
            self.iterations += 1
        objective = float(objective)
        self.history.append(objective)
        return objective

    def _record(self, theta: np.ndarray, key: bytes, objective: float) -> None:
        """An iteration at theta (key: its bytes): history, callback, iteration limit."""
        self.reported_key = key
        objective = self._append_history(objective)
        if self.on_iteration is not None:
            self.on_iteration(IterationState(
                iteration=self.iterations, objective=float(objective),
                values=tuple(float(v) for v in self.expand(theta)),
                evaluations=self.nfev, solver=self.solver))
        if self.max_iterations is not None and self.iterations >= self.max_iterations:
            raise IterationLimit
