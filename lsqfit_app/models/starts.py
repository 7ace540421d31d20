r"""Start values for any model from the data: variable projection and multi-start.

A model given with no start values must still fit, so the engine has to find a
point in the basin of the global least-squares minimum by itself.

Method
------
Split the free parameters into the linear ones :math:`c` (``model.linear_params``:
the model is jointly affine in them) and the nonlinear ones :math:`\theta`:

.. math::  f(x; \theta, c) = g_0(x; \theta) + \sum_j c_j\, g_j(x; \theta),
           \qquad g_j = \partial f / \partial c_j .

For fixed :math:`\theta` the best :math:`c` solves a linear weighted
least-squares problem exactly (Golub & Pereyra's *variable projection*):

.. math::  \hat c(\theta) = \arg\min_c \lVert W (y - g_0 - G c) \rVert^2,
           \qquad S(\theta) = \lVert W (y - g_0 - G \hat c) \rVert^2 ,

with :math:`W = \mathrm{diag}(1/\sigma_i)`.  One model evaluation (value and
Jacobian at :math:`c = 0`) gives :math:`g_0` and :math:`G`, so a trial costs one
``eval_and_jacobian`` plus a small ``lstsq``.  Only :math:`\theta` is searched,
which removes amplitudes and offsets, the usual cause of bad starts, from the
search entirely.

The search over :math:`\theta` uses candidate values derived from the data:
signed powers of ten, the x range :math:`R_x`, :math:`\max|x|`, their
reciprocals (rates), multiples of these, the x deciles (locations) and the y
scale.  Parameters inside ``sin``/``cos`` that multiply x (detected
structurally in formula models) are scanned on a frequency grid from
:math:`\pi/R_x` to the Nyquist frequency :math:`\pi/\Delta x` with spacing
:math:`2\pi/(3R_x)` -- a periodogram computed through :math:`S(\theta)`.

Peak terms are recognised structurally too: a parameter b in ``x - b`` is a
*location* (candidates: 41 x quantiles and the x of the data's largest
values), a parameter c in the denominator over such a difference
(``(x-b)**2/c**2``, ``(x-b)/c``) is its *width* (candidates: fractions of
:math:`R_x`), and the pair is scanned jointly in the sweeps.

1. One nonlinear parameter: every candidate is tried.
2. Several: a seeded random sample of candidate combinations, then coordinate
   sweeps (each parameter scanned over its candidates with the others held,
   a location with its width over the 2-D grid) from the best trials.
3. The best few distinct trials are polished by a local Levenberg-Marquardt /
   trust-region fit of all free parameters (``scipy.optimize.least_squares``);
   the lowest weighted SSE wins.

References
----------
G. H. Golub and V. Pereyra, "The differentiation of pseudo-inverses and
nonlinear least squares problems whose variables separate", SIAM J. Numer.
Anal. 10 (1973) 413-432.
"""
from __future__ import annotations

import itertools
import math
import time
from typing import Any, Mapping

import numpy as np
from scipy.optimize import least_squares

from lsqfit_app.core.model import Model, as_predictors

#: random combinations tried when there are several nonlinear parameters
_RANDOM_TRIALS = 200
#: coordinate sweeps per refined start, and how many starts get refined
_SWEEPS = 2
_REFINED = 2
#: distinct trials polished by a local fit
_POLISHED = 4
#: safety cap on the search (seconds): trial counts, not time, set the result
_TIME_CAP = 3.0
#: most points of a frequency grid
_MAX_FREQUENCIES = 400
_SEED = 20240531


def find_starts(model: Model, x, y, sigma=None,
                fixed: Mapping[str, float] | None = None,
                given: Mapping[str, float] | None = None,
                bounds: Mapping[str, tuple[float, float]] | None = None,
                cancel: Any = None) -> dict[str, float]:
    """Find start values for every parameter of ``model`` from data.

    Parameters
    ----------
    model : Model
        Any model; ``eval_and_jacobian``, ``jacobian`` and ``linear_params``
        are used.
    x : mapping of str to array, or array
        Predictors (a bare array for one-variable models).
    y : array
        Responses.
    sigma : array, optional
        Per-point standard deviations; residuals are divided by them.
    fixed, given : mapping of str to float, optional
        Parameters held at these values during the search and returned
        unchanged (``fixed``: held in the fit; ``given``: start values the
        user typed).
    bounds : mapping of str to (min, max), optional
        Bounds per parameter; the model's ``param_hints`` fill in the rest.
    cancel : object with a ``cancelled`` attribute, optional
        Polled between trials; when set, the best point so far is returned.

    Returns
    -------
    dict of str to float
        Finite start values for every name in ``model.param_names``, inside
        the bounds.
    """
    search = _Search(model, x, y, sigma, fixed or {}, given or {}, bounds or {}, cancel)
    with np.errstate(all="ignore"):
        return search.run()


class _Search:
    """State of one start-value search (data, split of parameters, trials)."""

    def __init__(self, model, x, y, sigma, fixed, given, bounds, cancel):
        self.model = model
        self.cancel = cancel
        names = tuple(model.param_names)
        self.names = names
        xs = as_predictors(x, tuple(model.independent_vars))
        y = np.asarray(y, dtype=float).ravel()
        w = np.ones_like(y) if sigma is None else 1.0 / np.asarray(sigma, dtype=float).ravel()
        ok = np.isfinite(y) & np.isfinite(w) & (w > 0)
        for v in xs.values():
            ok &= np.isfinite(v)
        self.x = {k: np.ascontiguousarray(v[ok]) for k, v in xs.items()}
        self.y = y[ok]
        self.w = w[ok]
        self.wy = self.y * self.w

        hints = model.param_hints()
        lo = np.full(len(names), -np.inf)
        hi = np.full(len(names), np.inf)
        for i, n in enumerate(names):
            if n in hints:
                lo[i], hi[i] = hints[n].min, hints[n].max
            if n in bounds:
                b_lo, b_hi = bounds[n]
                lo[i] = -np.inf if b_lo is None else float(b_lo)
                hi[i] = np.inf if b_hi is None else float(b_hi)
        self.lo, self.hi = lo, hi

        held = {**{k: float(v) for k, v in given.items()}, **{k: float(v) for k, v in fixed.items()}}
        self.held = {k: v for k, v in held.items() if k in names}
        linear = model.linear_params
        # Index arrays (not lists): fancy indexing with lists is slow per trial.
        self.free = np.array([i for i, n in enumerate(names) if n not in self.held], dtype=int)
        self.lin = np.array([i for i in self.free if names[i] in linear], dtype=int)
        self.nonlin = np.array([i for i in self.free if names[i] not in linear], dtype=int)
        self.lin_bounded = bool(np.any(np.isfinite(lo[self.lin])) or np.any(np.isfinite(hi[self.lin])))
        self.base = np.array([self.held.get(n, 0.0) for n in names], dtype=float)
        self.trials: list[tuple[float, np.ndarray]] = []
        self.deadline = time.perf_counter() + _TIME_CAP
        # peak terms: location name -> its width name (None when it has none)
        self.peaks = _peak_roles(model, names, self.x)
        self.peak_grids = self._peak_grids()

    # -- helpers -----------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return bool(getattr(self.cancel, "cancelled", False)) or time.perf_counter() > self.deadline

    def project(self, theta: np.ndarray, exact: bool = False) -> tuple[float, np.ndarray]:
        """Solve the linear parameters for nonlinear values ``theta``; (SSE, p).

        Trials solve scaled normal equations (a few microseconds, accurate
        enough to rank trials); ``exact`` uses an SVD least-squares solve.
        """
        p = self.base.copy()
        p[self.nonlin] = theta
        p[self.lin] = 0.0
        try:
            f, jac = self.model.eval_and_jacobian(p, self.x)
        except (ArithmeticError, ValueError):
            return math.inf, p
        r = self.wy - f * self.w
        if self.lin.size:
            a = jac[:, self.lin] * self.w[:, None]
            if not math.isfinite(float(a.sum()) + float(r.sum())):
                return math.inf, p
            c = self._linear_solve(a, r, exact)
            if c is None:
                return math.inf, p
            if self.lin_bounded:
                c = np.clip(c, self.lo[self.lin], self.hi[self.lin])
            p[self.lin] = c
            r = r - a @ c
        sse = float(r @ r)
        if not math.isfinite(sse):
            sse = math.inf
        self.trials.append((sse, p))
        return sse, p

    @staticmethod
    def _linear_solve(a: np.ndarray, r: np.ndarray, exact: bool) -> np.ndarray | None:
        if not exact:
            c = _normal_solve((a.T @ a).tolist(), (a.T @ r).tolist())
            if c is not None:
                return np.array(c)
        try:
            return np.linalg.lstsq(a, r, rcond=None)[0]
        except (np.linalg.LinAlgError, ValueError):
            return None

    def residuals(self, q: np.ndarray) -> np.ndarray:
        p = self.base.copy()
        p[self.free] = q
        with np.errstate(all="ignore"):
            r = (self.y - self.model.eval(p, self.x)) * self.w
        return np.where(np.isfinite(r), r, 1e150)

    def jac(self, q: np.ndarray) -> np.ndarray:
        p = self.base.copy()
        p[self.free] = q
        j = -self.model.jacobian(p, self.x)[:, self.free] * self.w[:, None]
        return np.where(np.isfinite(j), j, 0.0)

    # -- candidates --------------------------------------------------------
    def candidates(self) -> list[np.ndarray]:
        """Candidate values for each nonlinear parameter, from data scales."""
        mags = {10.0 ** k for k in range(-4, 5)} | {0.5, 2.0, 3.0}
        locations = set()
        for v in self.x.values():
            if v.size == 0:
                continue
            rx = float(np.ptp(v))
            ax = float(np.max(np.abs(v)))
            for s in (rx, ax):
                if s > 0 and math.isfinite(s):
                    mags.update(s * f for f in (0.1, 0.3, 1.0, 3.0, 10.0))
                    mags.update(f / s for f in (0.1, 0.3, 1.0, 3.0, 10.0))
            locations.update(np.quantile(v, np.linspace(0, 1, 11)).tolist())
        if self.y.size:
            for s in (float(np.ptp(self.y)), float(np.max(np.abs(self.y)))):
                if s > 0 and math.isfinite(s):
                    mags.update((0.1 * s, s, 10 * s))
        base = sorted({0.0, *mags, *(-m for m in mags), *locations})
        periodic = _periodic_roles(self.model, self.names, self.x)
        out = []
        for i in self.nonlin:
            # a peak's location or width may still lie outside the data's
            # scales (a location beyond the x range): its grid comes first
            values = self.peak_grids.get(self.names[i], []) + list(base)
            role = periodic.get(self.names[i])
            if role is not None:
                values = role + values if role[0] != "phase" else [0.0, math.pi / 4, math.pi / 2,
                                                                  3 * math.pi / 4, math.pi,
                                                                  -math.pi / 2] + values
            values = [v for v in values if isinstance(v, float)]
            lo, hi = self.lo[i], self.hi[i]
            if math.isfinite(lo) and math.isfinite(hi):
                values += np.linspace(lo, hi, 9).tolist()
                if lo > 0:
                    values += np.geomspace(lo, hi, 9).tolist()
            arr = np.array([v for v in values if lo <= v <= hi and math.isfinite(v)])
            if arr.size == 0:
                arr = np.array([_inside(1.0, lo, hi)])
            # Drop near-duplicates while keeping the (grid-first) order.
            _, first = np.unique(np.round(arr, 12), return_index=True)
            out.append(arr[np.sort(first)])
        return out

    def _peak_grids(self) -> dict[str, list[float]]:
        """Candidate values for the locations and widths of peak terms."""
        if not self.peaks or len(self.x) != 1:
            return {}
        (xv,) = self.x.values()
        if xv.size < 3:
            return {}
        span = float(np.ptp(xv))
        if not span > 0:
            return {}
        locations = np.quantile(xv, np.linspace(0, 1, 41)).tolist()
        # the x of the largest |y - median| (peaks or dips), thinned to distinct places
        dev = np.abs(self.y - np.median(self.y))
        for j in np.argsort(dev)[::-1][:8].tolist():
            locations.append(float(xv[j]))
        widths = [span * f for f in (0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5)]
        grids = {}
        for loc, width in self.peaks.items():
            grids[loc] = sorted(set(locations))
            if width is not None:
                grids[width] = widths
        return grids

    # -- search ------------------------------------------------------------
    def run(self) -> dict[str, float]:
        if not self.free.size:
            return {n: float(self.base[i]) for i, n in enumerate(self.names)}
        if self.y.size == 0:
            return self._finish(self._default())
        if not self.nonlin.size:
            sse, p = self.project(np.empty(0), exact=True)
            return self._finish(p if math.isfinite(sse) else self._default())

        cands = self.candidates()
        if len(cands) == 1:
            for v in cands[0]:
                if self.stopped:
                    break
                self.project(np.array([v]))
        else:
            rng = np.random.default_rng(_SEED)
            for _ in range(_RANDOM_TRIALS):
                if self.stopped:
                    break
                self.project(np.array([c[rng.integers(len(c))] for c in cands]))
            for start in self._distinct(_REFINED):
                self._sweep(start, cands)

        finite = [t for t in self.trials if math.isfinite(t[0])]
        if not finite:
            return self._finish(self._default())
        best_sse, best = min(finite, key=lambda t: t[0])
        if getattr(self.cancel, "cancelled", False):
            return self._finish(best)
        for sse, p in self._polished(self._distinct(_POLISHED)):
            if sse < best_sse:
                best_sse, best = sse, p
        return self._finish(best)

    def _sweep(self, start: np.ndarray, cands: list[np.ndarray]) -> None:
        theta = start[self.nonlin].copy()
        best, _ = self.project(theta)
        for _ in range(_SWEEPS):
            improved = False
            for block, grids in self._blocks(cands):
                for values in itertools.product(*grids):
                    if self.stopped:
                        return
                    trial = theta.copy()
                    trial[list(block)] = values
                    sse, _ = self.project(trial)
                    if sse < best:
                        best, theta, improved = sse, trial, True
            if not improved:
                break

    def _blocks(self, cands: list[np.ndarray]) -> list[tuple[tuple[int, ...], list]]:
        """(positions in theta, their grids) scanned together: a peak's location
        with its width over their own grids, every other parameter alone."""
        position = {self.names[i]: j for j, i in enumerate(self.nonlin)}
        blocks, used = [], set()
        for loc, width in self.peaks.items():
            if loc in position and width in position:
                pair = (position[loc], position[width])
                blocks.append((pair, [self.peak_grids[loc], self.peak_grids[width]]))
                used.update(pair)
        blocks += [((j,), [cands[j]]) for j in range(len(self.nonlin)) if j not in used]
        return blocks

    def _distinct(self, count: int) -> list[np.ndarray]:
        """The best trials whose nonlinear values differ from each other."""
        chosen: list[np.ndarray] = []
        for sse, p in sorted((t for t in self.trials if math.isfinite(t[0])), key=lambda t: t[0]):
            theta = p[self.nonlin]
            if all(not np.allclose(theta, q[self.nonlin], rtol=1e-3, atol=1e-12) for q in chosen):
                chosen.append(p)
                if len(chosen) == count:
                    break
        return chosen

    def _polished(self, starts: list[np.ndarray]):
        lo, hi = self.lo[self.free], self.hi[self.free]
        bounded = bool(np.any(np.isfinite(lo)) or np.any(np.isfinite(hi)))
        method = "trf" if bounded or self.y.size < len(self.free) else "lm"
        for p in starts:
            if self.stopped:
                return
            q0 = np.clip(p[self.free], lo, hi)
            try:
                res = least_squares(self.residuals, q0, jac=self.jac, method=method,
                                    bounds=(lo, hi) if bounded else (-np.inf, np.inf),
                                    x_scale="jac", max_nfev=100 * (len(q0) + 1))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                continue
            out = self.base.copy()
            out[self.free] = res.x
            sse = float(2 * res.cost)
            if math.isfinite(sse) and np.all(np.isfinite(res.x)):
                yield sse, out

    def _default(self) -> np.ndarray:
        p = self.base.copy()
        for i in self.free:
            p[i] = _inside(1.0, self.lo[i], self.hi[i])
        return p

    def _finish(self, p: np.ndarray) -> dict[str, float]:
        out = {}
        for i, n in enumerate(self.names):
            if n in self.held:
                out[n] = self.held[n]
                continue
            v = float(p[i])
            if not math.isfinite(v):
                v = 1.0
            out[n] = _inside(v, self.lo[i], self.hi[i])
        return out


def _normal_solve(gram: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Solve the scaled normal equations by Cholesky in plain Python.

    For the few linear parameters of a trial this is several times quicker
    than a numpy call (whose fixed overhead dominates at this size), and
    accurate enough to rank trials.  Returns None when the matrix is
    numerically singular; the caller then falls back to an SVD solve.
    """
    k = len(rhs)
    if k > 8:
        return None
    scale = [math.sqrt(gram[i][i]) for i in range(k)]
    if not all(s > 0 and math.isfinite(s) for s in scale):
        return None
    g = [[gram[i][j] / (scale[i] * scale[j]) for j in range(k)] for i in range(k)]
    b = [rhs[i] / scale[i] for i in range(k)]
    low = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1):
            acc = g[i][j] - sum(low[i][m] * low[j][m] for m in range(j))
            if i == j:
                if acc <= 1e-12:  # rank deficient at this trial
                    return None
                low[i][i] = math.sqrt(acc)
            else:
                low[i][j] = acc / low[j][j]
    z = [0.0] * k
    for i in range(k):
        z[i] = (b[i] - sum(low[i][m] * z[m] for m in range(i))) / low[i][i]
    c = [0.0] * k
    for i in reversed(range(k)):
        c[i] = (z[i] - sum(low[m][i] * c[m] for m in range(i + 1, k))) / low[i][i]
    return [c[i] / scale[i] for i in range(k)]


def _inside(v: float, lo: float, hi: float) -> float:
    """``v`` clipped into [lo, hi], finite even for one-sided bounds."""
    v = min(max(v, lo), hi)
    if not math.isfinite(v):
        v = lo if math.isfinite(lo) else hi if math.isfinite(hi) else 0.0
    return float(v)


def _periodic_roles(model: Model, names: tuple[str, ...], x: Mapping[str, np.ndarray]) -> dict:
    """Frequency grids and phase markers for parameters inside sin/cos.

    Only models exposing an ``expression`` (formula models) are analysed: a
    parameter q in the argument u of sin/cos is a *frequency* when du/dq
    depends on a predictor, a *phase* otherwise.  For a frequency the angular
    frequency omega = |du/dx| is probed at q = 1 and q = 2 to learn whether
    omega grows like q (``w*x``) or like 1/q (``2*pi*x/period``), and the
    omega grid is mapped back to q values.

    Returns
    -------
    dict
        name -> list of q values (frequency grid), or ``["phase"]``.
    """
    from lsqfit_app.core.expression import Expression, Func

    expr = getattr(model, "expression", None)
    if not isinstance(expr, Expression) or len(x) != 1:
        return {}
    (xname, xv), = x.items()
    if xv.size < 3:
        return {}
    xs = np.unique(xv)
    span = float(xs[-1] - xs[0])
    if not span > 0:
        return {}
    step = float(np.median(np.diff(xs)))
    w_lo, w_hi = math.pi / span, math.pi / step
    dw = 2 * math.pi / (3 * span)
    count = int(min(_MAX_FREQUENCIES, max(2, (w_hi - w_lo) / dw)))
    omegas = np.linspace(w_lo, w_hi, count)

    roles: dict[str, list] = {}
    stack = [expr]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.children)
        if not (isinstance(node, Func) and node.name in ("sin", "cos")):
            continue
        u = node.arg
        du_dx = u.derivative(xname)
        for q in u.names:
            if q == xname or q not in names or q in roles:
                continue
            if xname not in u.derivative(q).names:
                roles[q] = ["phase"]
                continue
            env = {n: 1.0 for n in u.names}
            env[xname] = float(np.median(xs))
            try:
                k1 = abs(float(du_dx.evaluate(env)))
                env[q] = 2.0
                k2 = abs(float(du_dx.evaluate(env)))
            except Exception:  # noqa: BLE001 - any failure just means "no grid"
                continue
            if not (k1 > 0 and math.isfinite(k1) and math.isfinite(k2)):
                continue
            ratio = k2 / k1
            if abs(ratio - 2) < 1e-6:
                roles[q] = (omegas / k1).tolist()
            elif abs(ratio - 0.5) < 1e-6:
                roles[q] = (k1 / omegas).tolist()
    return roles


def _peak_roles(model: Model, names: tuple[str, ...], x: Mapping[str, np.ndarray]) -> dict:
    """Locations and widths of peak terms in a formula: {location: width or None}.

    A parameter b is a location when the formula contains ``x - b`` or
    ``b - x`` (x the only predictor); a parameter c is that location's width
    when it is the only other parameter in the denominator of a quotient
    with the difference on either side: ``exp(-(x-b)**2/(2*c**2))``,
    ``(x-b)/c``, or ``c**2/((x-b)**2+c**2)`` (a Lorentzian).
    """
    from lsqfit_app.core.expression import Div, Expression, Sub, Var

    expr = getattr(model, "expression", None)
    if not isinstance(expr, Expression) or len(x) != 1:
        return {}
    (xname,) = x
    params = set(names)
    nodes, stack, seen = [], [expr], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.children)

    def location_of(node) -> str | None:
        if isinstance(node, Sub):
            a, b = node.left, node.right
            for u, v in ((a, b), (b, a)):
                if isinstance(u, Var) and u.name == xname and isinstance(v, Var) \
                        and v.name in params:
                    return v.name
        return None

    roles: dict[str, str | None] = {}
    for node in nodes:
        loc = location_of(node)
        if loc is not None:
            roles.setdefault(loc, None)
    for node in nodes:
        if not isinstance(node, Div):
            continue
        # the difference over a width, (x-b)/c; or beside a width under the
        # bar, g/((x-b)**2 + g**2) (a Lorentzian)
        for side in (node.left, node.right):
            inside = [location_of(n) for n in _subtree(side)]
            for loc in (name for name in inside if name is not None):
                if roles.get(loc) is not None:
                    continue
                others = [n for n in node.right.names if n in params and n not in (loc, xname)]
                if len(others) == 1:
                    roles[loc] = others[0]
    return roles


def _subtree(node) -> list:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out
