"""The objective every solver sees: free parameters in, weighted residuals out.

It hides fixed parameters, weights and the data selection from the solver
algorithms, counts evaluations, polls the cancel token, keeps the best point
seen so far (so a cancel or a crash mid-way still returns something useful)
and turns per-iteration reports into :class:`IterationState` callbacks.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np

from lsqfit_app.core.losses import loss_objective, loss_terms
from lsqfit_app.core.problem import FitProblem, _rows_text
from lsqfit_app.core.progress import CancelToken, IterationState
from lsqfit_app.core.statistics import row_blocks

if TYPE_CHECKING:
    from lsqfit_app.solvers._linearize import Linearization


_EPS = float(np.finfo(float).eps)
#: the rounding level of the objective: factors of sum rho' |r| |y| and of F
#: (see :meth:`Objective.rounding_level`)
NOISE = (16 * _EPS, 64 * _EPS)


#: relative Gauss-Newton step at which the parameters are right to ~10 digits,
#: the digits anyone reads (see :meth:`Objective.at_rounding_level`)
STEP_RTOL = 1e-10


class Stationarity(NamedTuple):
    """What a Gauss-Newton step from a point would still achieve."""

    decrease: float      # of the objective F (inf where the fit is not finite)
    noise: float         # F's rounding level there
    step: float          # relative size, |D s| / |D theta| with D the column norms

    @property
    def at_rounding_level(self) -> bool:
        """See :meth:`Objective.at_rounding_level`."""
        return self.decrease <= self.noise or self.step <= STEP_RTOL


class Cancelled(Exception):
    """Raised inside a solver's callbacks to unwind it on cancel (never escapes fit())."""


class IterationLimit(Exception):
    """Raised inside a solver's callbacks when the iteration limit is reached."""


class StreamedStatistics(NamedTuple):
    """The streamed closed form's statistics, which stand in for the n x p Jacobian."""

    fitted: np.ndarray
    covariance: np.ndarray     # unscaled, (X^T W X)^-1 over the free parameters
    leverage: np.ndarray
    centered: bool             # R^2 centred (the model has an intercept)


@dataclass
class Outcome:
    """What a solver algorithm hands back to ``fit``: its end point and
    status, the codes its library reported (which the result keeps), and
    what it already computed there for ``build_result`` to reuse."""

    theta: np.ndarray
    status: str                # a key of solvers.MESSAGES
    detail: str = ""
    solver: str | None = None  # the algorithm that gave theta, when auto chose it
    minpack_info: int | None = None
    scipy_status: int | None = None
    refinement_passes: int | None = None
    #: the closed form's refined residuals at theta
    residuals: np.ndarray | None = None
    #: the streamed closed form's statistics (big polynomial data)
    streamed: StreamedStatistics | None = None
    #: the fit linearised at theta (auto, after the polish)
    linearization: "Linearization | None" = None


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
        self._minus_column = None   # -1/sigma as a column, made on first use (:meth:`_minus_inv_sigma`)
        self._core = None           # made on first use (:meth:`_evaluator`)
        #: row slices the model is evaluated in (one for all but big data; see _numpy_core)
        self.row_blocks = row_blocks(self.y.size)
        #: big data: evaluations kept past the next one hold residuals only
        #: (:meth:`_keepable`), so that no more than one Jacobian of all rows
        #: exists at a time besides a solver's own copy
        self.lean = len(self.row_blocks) > 1
        # the free parameters' indices and bounds, in one pass over the settings
        free_idx, lower, upper = [], [], []
        #: (free index, min, max) of the free parameters with a finite bound
        self.bounds = []
        for i, setting in enumerate(problem.params):
            if setting.fixed:
                continue
            lo, hi = setting.min, setting.max
            if lo > -math.inf or hi < math.inf:
                self.bounds.append((len(free_idx), lo, hi))
            free_idx.append(i)
            lower.append(lo)
            upper.append(hi)
        self.all_free = len(free_idx) == len(problem.params)
        self.free = np.array([not setting.fixed for setting in problem.params], dtype=bool)
        self.free_idx = np.array(free_idx, dtype=np.intp)
        self.full = np.array(start, dtype=float)
        self.lower = np.array(lower, dtype=float)
        self.upper = np.array(upper, dtype=float)
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
        self._best: np.ndarray | bytes = self.theta0   # see best_theta
        self.best_objective = math.inf
        # the last evaluation, and the one LM last accepted (see minpack_callbacks())
        self._last: Evaluation | None = None
        self._kept: Evaluation | None = None
        #: key (theta.tobytes()) of the point last reported as an iteration
        self.reported_key: bytes | None = None

    # -- parameters ---------------------------------------------------
    @property
    def theta0(self) -> np.ndarray:
        return self.full.copy() if self.all_free else self.full[self.free]

    @property
    def best_theta(self) -> np.ndarray:
        """The free parameters of the lowest finite objective seen so far (the
        start until one is).  The evaluations keep it as the bytes of their
        cache key, which they have computed anyway: no copy per improving step."""
        best = self._best
        return np.frombuffer(best).copy() if type(best) is bytes else best

    @best_theta.setter
    def best_theta(self, theta: np.ndarray) -> None:
        self._best = theta

    @property
    def n_free(self) -> int:
        return int(self.free_idx.size)

    def outside(self, theta: np.ndarray) -> list[tuple[int, float, float]]:
        """The bounds (free index, min, max) that theta does not lie strictly inside."""
        t = np.asarray(theta, dtype=float).tolist()
        return [(k, lo, hi) for k, lo, hi in self.bounds if not lo < t[k] < hi]

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
        """
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled
        theta = np.asarray(theta, dtype=float)
        if self.lean:
            self._last = None   # see evaluate() in _evaluator
            r = np.empty(self.y.size)
            p = self.expand(theta)
            for rows in self.row_blocks:
                np.subtract(self.y[rows], self.model.eval(p, _rows_of(self.x, rows)), out=r[rows])
                if self.weighted:
                    r[rows] *= self.inv_sigma[rows]
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
        (:meth:`_numpy_core`) evaluates the model, residuals and their
        Jacobian, weighing like :meth:`_weigh_jacobian`.  The closure polls
        the cancel token, counts, remembers the best point like :meth:`_track`
        (inlined: it runs once per LM step) and becomes the last evaluation.
        Built per caller and never stored on the Objective: a stored closure
        over ``self`` would be a reference cycle, left to the cyclic garbage
        collector with all its arrays (measurably slower over many fits).
        The core holds no reference to the Objective, so it is kept.
        """
        expand = None if self.all_free else self.expand
        free_idx = self.free_idx
        objective_of = None if self.loss == "linear" else self.objective_of
        cancel = self.cancel
        # the blocked core takes the free columns itself (_blocked_core)
        selects = self.lean
        core = self._core
        if core is None:
            core = self._core = self._numpy_core()
        lean = self.lean

        def evaluate(theta, key):
            if cancel is not None and cancel.cancelled:
                raise Cancelled
            if lean:
                # nothing asks for the last evaluation once another is made:
                # let its arrays go before this one's are allocated
                self._last = None
            if expand is None:
                f, r, Jr, value = core(theta)
            else:
                f, r, Jr, value = core(expand(theta))
                if not selects:
                    Jr = Jr[:, free_idx]
            self.nfev += 1
            self.njev += 1
            if objective_of is not None:
                value = objective_of(r)
            if value < self.best_objective:   # False for NaN
                self.best_objective = value
                self._best = key   # theta is the solver's buffer: its bytes are its copy
            self._last = evaluation = Evaluation(key, r, Jr, value, f)
            return evaluation

        return evaluate

    def _minus_inv_sigma(self) -> np.ndarray:
        """-1/sigma as an (n, 1) column (weighted fits): weighs and negates J in
        one product.  Made when first needed: a closed-form fit never needs
        it, and on big data it is the size of a data column."""
        if self._minus_column is None:
            self._minus_column = (-self.inv_sigma)[:, None]
        return self._minus_column

    def _numpy_core(self):
        """``core(p) -> (f, r, dr/dp, r @ r)`` at all parameters p, with numpy.

        On big data (:attr:`row_blocks` has several blocks) the model is
        evaluated block by block into arrays of the data's size, weighed and
        reduced to the free columns there: the model's own Jacobian and its
        temporaries then exist only for one block, never for all rows next
        to the weighted one.  The models are elementwise in the rows, so each
        block holds the same numbers as a whole-array evaluation would.
        """
        x, y, inv_sigma, weighted = self.x, self.y, self.inv_sigma, self.weighted
        blocks = self.row_blocks
        if len(blocks) > 1:
            free_idx = None if self.all_free else self.free_idx
            return functools.partial(_blocked_core, self.model.eval_and_jacobian, x, y,
                                     inv_sigma if weighted else None, blocks, free_idx)
        minus_inv_sigma = self._minus_inv_sigma() if weighted else None
        evaluate = self.model.jacobian_at(x)

        def core(p):
            f, J = evaluate(p)
            r = y - f
            if weighted:
                r *= inv_sigma
                Jr = J * minus_inv_sigma
            else:
                Jr = -J
            return f, r, Jr, float(np.dot(r, r))

        return core

    def minpack_callbacks(self):
        """(residuals, jacobian_rows) for MINPACK's lmder.

        lmder asks for the Jacobian only at the point it evaluated last (and
        has just accepted), so ``jacobian_rows`` reads the last evaluation,
        keeps it past the trial steps that follow (LM usually stops at an
        accepted point while its last evaluation is a rejected trial; see
        :meth:`_keepable`), reports the iteration and returns
        the Jacobian transposed: MINPACK's column-major layout, without a copy.
        """
        evaluate = self._evaluator()
        lean = self.lean

        def residuals(theta):
            key = theta.tobytes()
            last = self._last
            if last is not None and last.key == key and last.Jr is not None:
                return last.r            # lmder's first call: the start, evaluated already
            del last   # not held through the next evaluation (on big data it is let go)
            return evaluate(theta, key).r

        def jacobian_rows(theta):
            last = self._last
            if last is None or last.key != theta.tobytes():   # never, with lmder
                last = self.fused_evaluation(theta)
            self._kept = self._keepable(last) if lean else last
            if last.key != self.reported_key:
                # report(), less what this point has been through: lmder asks for
                # the Jacobian right after the residuals, which polled the cancel
                self._record(theta, last.key, last.objective)
            return last.Jr.T

        return residuals, jacobian_rows

    def forget_evaluations(self) -> None:
        """Let go of the cached evaluations (once the result is computed: on big
        data each holds a Jacobian several times the data's size)."""
        self._last = self._kept = None

    def cached(self, theta: np.ndarray) -> Evaluation | None:
        """The evaluation at theta when it was the last one or the last kept
        (the point LM last accepted, :meth:`minpack_callbacks`)."""
        key = np.asarray(theta, dtype=float).tobytes()
        for entry in (self._last, self._kept):
            if entry is not None and entry.key == key:
                return entry
        return None

    def _keepable(self, evaluation: Evaluation | None) -> Evaluation | None:
        """What is kept of an evaluation past later ones: all of it, but on big
        data (:attr:`lean`) only its residuals and objective.  A solver's
        Jacobian there is the size of the data times the parameters: keeping
        one past the next evaluation would double the fit's memory, while
        evaluating it again where the fit ends costs one model call."""
        if not self.lean or evaluation is None or evaluation.Jr is None:
            return evaluation
        return evaluation._replace(Jr=None, f=None)

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
            return J * self._minus_inv_sigma()
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

    # -- convergence at rounding level ---------------------------------
    def rounding_level(self, r: np.ndarray, objective: float) -> float:
        """How well the objective F is known from residuals r.

        Each residual y - f carries an error of a few eps * |y| (cancellation
        when the fit is close), which moves F by |dF/dr_i| = 2 rho' |r_i|
        times that; F's own sum adds a few eps * F.
        """
        abs_y = np.abs(self.y) * self.inv_sigma if self.weighted else np.abs(self.y)
        abs_r = np.abs(r)
        if self.loss != "linear":
            abs_r = abs_r * np.abs(loss_terms(r, self.loss, self.f_scale)[1])
        return NOISE[0] * float(abs_r @ abs_y) + NOISE[1] * abs(objective)

    def predicted_decrease(self, theta: np.ndarray) -> Stationarity:
        """What a Gauss-Newton step from theta would still achieve (:class:`Stationarity`).

        The step is over the free parameters not held at a bound by the
        gradient (the projected gradient: a parameter on its lower bound
        whose gradient points outward stays there).  With the Gauss-Newton
        curvature H = 2 J^T W J, W = rho' (1 for the linear loss) and the
        gradient g = 2 J^T W r, the decrease g^T H^-1 g / 2 is the squared
        norm of the projection of sqrt(W) r onto the columns of sqrt(W) J.
        Where the residuals or the Jacobian are not finite the decrease is
        inf (and LAPACK never sees them).
        """
        theta = np.asarray(theta, dtype=float)
        r, Jr = self.residuals_and_jacobian(theta)
        if not (np.isfinite(r).all() and np.isfinite(Jr).all()):
            return Stationarity(math.inf, math.nan, math.inf)
        objective = self.objective_of(r)
        noise = self.rounding_level(r, objective)
        if self.loss == "linear":
            b, A = r, Jr
        else:
            w = np.maximum(loss_terms(r, self.loss, self.f_scale)[1], 0.0)
            sw = np.sqrt(w)
            b, A = r * sw, Jr * sw[:, None]
        g = A.T @ b      # half the gradient of F; its sign is all the bounds need
        # descent (-g) would leave the box through the bound theta sits on
        blocked = ((theta <= self.lower) & (g > 0)) | ((theta >= self.upper) & (g < 0))
        # columns scaled to unit norm: a zero column (a parameter the data do
        # not see) drops out instead of upsetting the solve
        norms = np.sqrt(np.einsum("ij,ij->j", A, A))
        keep = ~blocked & (norms > 0)
        if not keep.any() or not A.size:
            return Stationarity(0.0, noise, 0.0)
        A = A[:, keep] / norms[keep]
        scaled_step = np.linalg.lstsq(A, b, rcond=None)[0]    # = D s, D the column norms
        decrease = float(np.sum((A @ scaled_step) ** 2))
        size = float(np.linalg.norm(norms[keep] * theta[keep]))
        step = float(np.linalg.norm(scaled_step))
        relative = step / size if size > 0 else (0.0 if step == 0 else math.inf)
        return Stationarity(decrease, noise, relative)

    def at_rounding_level(self, theta: np.ndarray) -> bool:
        """Is theta a minimum as far as rounding lets anyone tell?

        Yes when a Gauss-Newton step would lower F by no more than F's
        rounding level, or would move the parameters by at most STEP_RTOL
        (relative, in the column-scaled norm of MINPACK's xtol test): the
        second covers fits with (nearly) zero residuals, where F falls far
        below the rounding of the parameters that produce it.
        """
        return self.predicted_decrease(theta).at_rounding_level

    def nonfinite_text(self, values: np.ndarray) -> str:
        """Where per-row values (used rows) are not finite: "rows 3, 4 (x = 0.1, 0.2)".

        Rows are numbered as the data rows of the problem (1-based), so that
        they name the same rows as the input errors of ``FitProblem``.
        """
        bad_used = np.flatnonzero(~np.isfinite(values))
        rows = np.flatnonzero(self.problem.used)[bad_used]
        word = "row" if rows.size == 1 else "rows"
        where = f"{word} {_rows_text(rows, 3)}"
        if len(self.x) == 1 and bad_used.size:
            name, xs = next(iter(self.x.items()))
            shown = ", ".join(f"{float(v):.6g}" for v in xs[bad_used[:3]])
            where += f" ({name} = {shown}{', ...' if bad_used.size > 3 else ''})"
        return where

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

    def _record(self, theta: np.ndarray, key: bytes, objective: float) -> None:
        """An iteration at theta (key: its bytes): its objective in the history
        (the start's is not an iteration), the callback, the iteration limit."""
        self.reported_key = key
        if not math.isfinite(objective):
            objective = math.inf   # NaN residuals: the objective is undefined, plotted as inf
        if self.history:
            self.iterations += 1
        objective = float(objective)
        self.history.append(objective)
        if self.on_iteration is not None:
            self.on_iteration(IterationState(
                iteration=self.iterations, objective=objective,
                values=tuple(float(v) for v in self.expand(theta)),
                evaluations=self.nfev, solver=self.solver))
        if self.max_iterations is not None and self.iterations >= self.max_iterations:
            raise IterationLimit


def _rows_of(x: dict, rows: slice) -> dict:
    """The predictors over a block of rows (views)."""
    return {name: values[rows] for name, values in x.items()}


def _blocked_core(eval_and_jacobian, x, y, inv_sigma, blocks, free_idx, p):
    """``Objective._numpy_core``'s core on big data: (f, r, dr/dp over the free
    columns, r @ r), the model evaluated one block of rows at a time.  Each
    block is weighed like the whole-array core: r = (y - f) / sigma and
    dr/dp = J * (-1/sigma), or -J unweighted."""
    n = y.size
    f = np.empty(n)
    r = np.empty(n)
    Jr = None
    for rows in blocks:
        f_b, J_b = eval_and_jacobian(p, _rows_of(x, rows))
        if free_idx is not None:
            J_b = J_b[:, free_idx]
        if Jr is None:
            # column-major like the models' own Jacobians (and LAPACK)
            Jr = np.empty((n, J_b.shape[1]), order="F")
        f[rows] = f_b
        np.subtract(y[rows], f_b, out=r[rows])
        if inv_sigma is None:
            np.negative(J_b, out=Jr[rows])
        else:
            r[rows] *= inv_sigma[rows]
            np.multiply(J_b, (-inv_sigma[rows])[:, None], out=Jr[rows])
    return f, r, Jr, float(np.dot(r, r))
