"""Levenberg-Marquardt on K curves at once: :func:`fit_batch`.

Every curve is its own least-squares problem, but all share the model and
the parameter settings, so one iteration advances every unfinished curve
with a few numpy operations on (K, n) arrays:

1. the model and its Jacobian rows at the trial points of all active curves
   (:func:`~lsqfit_app.batch.evaluate.batch_rows`: the single fit's code,
   broadcast);
2. weighted residuals r = (y - f) w and the normal equations A = J^T J,
   g = J^T r per curve (w = 1/sigma, 0 at masked and padded points);
3. the Marquardt step (A + lambda D^2) delta = g per curve, solved by a
   Cholesky factorisation vectorised over the curves
   (:mod:`~lsqfit_app.batch.linalg`), D^2 the running maximum of diag(A)
   (MINPACK's scaling, mode 1);
4. per curve: accept when the actual reduction is at least 1e-4 of the
   predicted one, lambda updated by Nielsen's rule (shrink by
   max(1/3, 1 - (2 rho - 1)^3) on success, double the growth on failure).

Convergence is MINPACK lmder's, curve by curve: relative actual and
predicted reductions of the sum of squares below ftol (with ratio <= 2),
the scaled step below xtol times the scaled parameters, or the cosine
between the residuals and any Jacobian column below gtol; tolerances below
machine precision mean "nothing more can be gained" and count as converged,
as in the single fit.  A curve that meets a test, hits a limit, or is
cancelled leaves the active set; the arrays of the active curves are
compacted when a tenth of them has left, so finished curves cost nothing.

Bounds: the model's own hints (a width > 0) are treated as the single LM
treats them: unconstrained steps, and a curve whose minimum is not strictly
inside them is reported as not converged.  Bounds the user set are kept by
projection: a parameter on a bound with the gradient pointing outward is
held for the step, and trial points are clipped into the box.

Curves are fitted in chunks (``chunk_size``), so memory is bounded by a
chunk's arrays, not by K; two chunks run at once in threads (numpy releases
the GIL in its loops).  Progress is reported after each chunk and, at most
every quarter second, during one; a cancel is seen at the next iteration.

Statistics per curve are those of the single fit (:mod:`lsqfit_app.batch.uncertainty`).
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lsqfit_app.batch.curves import CurveSet
from lsqfit_app.batch.evaluate import batch_rows
from lsqfit_app.batch.linalg import cholesky, cholesky_solve, normal_equations, vecdot
from lsqfit_app.batch.result import BatchProgress, BatchResult
from lsqfit_app.batch.starts import curve_starts, single_problem
from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import _merge_params, default_params
from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import SolverOptions

_EPS = float(np.finfo(float).eps)
#: status codes of the curves (index into KEYS); KEYS are solvers.MESSAGES keys
KEYS = ("active", "converged", "max_iterations", "max_evaluations", "cancelled",
        "nonfinite", "bad_start", "lm_bounds_active", "refused")
ACTIVE, CONVERGED, MAX_IT, MAX_EV, CANCELLED, NONFINITE, BAD_START, HINTS, REFUSED = range(9)
#: points x parameters per chunk: the chunk's largest arrays stay a few MB
_CHUNK_VALUES = 1 << 21
_REPORT_EVERY = 0.25


@dataclass
class _Setup:
    """What every chunk shares: the model, data, weights and settings."""

    model: object
    curves: CurveSet
    settings: tuple
    weighting: str
    absolute: bool
    W: np.ndarray              # (K, n) 1/sigma, 0 where a point is not used
    free_idx: np.ndarray
    lower: np.ndarray          # enforced bounds of the free parameters (the user's)
    upper: np.ndarray
    hint_lo: np.ndarray        # the model's own hints (checked at the end, as single LM)
    hint_hi: np.ndarray
    options: SolverOptions
    max_nfev: int
    max_iter: int | None
    cancel: CancelToken | None


def _weights(curves: CurveSet, weights: str) -> tuple[str, np.ndarray, bool]:
    if curves.sigma is not None:
        weighting, sigma = "sigma", curves.sigma
    elif weights == "poisson":
        weighting, sigma = weights, np.sqrt(np.maximum(curves.y, 1.0))
    elif weights == "relative":
        weighting, sigma = weights, np.abs(curves.y)
    elif weights == "none":
        weighting, sigma = weights, None
    else:
        raise InputError(f"unknown weighting {weights!r}; choose none, poisson or relative")
    with np.errstate(divide="ignore"):
        W = curves.used.astype(float) if sigma is None else \
            np.where(curves.used, 1.0 / np.where(curves.used, sigma, 1.0), 0.0)
    return weighting, W, weighting in ("sigma", "poisson")


def _bounds(model, settings, free_idx):
    hints = default_params(model)[0]
    lo = np.array([settings[i].min for i in free_idx], dtype=float)
    hi = np.array([settings[i].max for i in free_idx], dtype=float)
    h_lo = np.array([hints[settings[i].name].min for i in free_idx], dtype=float)
    h_hi = np.array([hints[settings[i].name].max for i in free_idx], dtype=float)
    own_lo, own_hi = lo == h_lo, hi == h_hi
    return (np.where(own_lo, -np.inf, lo), np.where(own_hi, np.inf, hi),
            np.where(own_lo, h_lo, -np.inf), np.where(own_hi, h_hi, np.inf))


def _evaluate(setup: _Setup, P, X, Y, W, used):
    """(S, A, g, finite) at full parameters P (k, p) of k curves."""
    F, rows = batch_rows(setup.model, P, X)
    r = Y - F
    # W None: every point used with weight 1 (the multiplications are skipped)
    if W is not None:
        r *= W
    if setup.free_idx.size == P.shape[1]:
        Jw = rows
        if W is not None:
            Jw *= W
    else:
        Jw = rows[setup.free_idx] if W is None else rows[setup.free_idx] * W
    S = vecdot(r, r)
    bad = ~np.isfinite(S)
    if bad.any():
        # a model that is not finite at a point that is not used must not count
        r[bad] = np.where(used[bad], r[bad], 0.0)
        Jw[:, bad] = np.where(used[bad], Jw[:, bad], 0.0)
        S[bad] = np.einsum("kn,kn->k", r[bad], r[bad])
    A, g = normal_equations(Jw, r)
    finite = np.isfinite(S) & np.isfinite(A).all(axis=(1, 2)) & np.isfinite(g).all(axis=1)
    return S, A, g, finite


def _lm(setup: _Setup, idx: np.ndarray, P0: np.ndarray, tick: Callable[[int], None]):
    """Fit the curves ``idx`` from full starts P0 (k, p); see the module docstring.

    Returns (P, S, A, status, iterations, evaluations) of the accepted points.
    The state of the active curves is held compacted (``w``: working rows,
    ``pos`` their places in the chunk) and written back as curves leave.
    """
    cs, opt, free = setup.curves, setup.options, setup.free_idx
    k, q = idx.size, free.size
    lo, hi = setup.lower, setup.upper
    bounded = bool(np.isfinite(lo).any() or np.isfinite(hi).any())
    P = P0.copy()
    P[:, free] = np.clip(P[:, free], lo, hi)
    X = {name: v[idx] for name, v in cs.x.items()}
    Y, W, used = cs.y[idx], setup.W[idx], cs.used[idx]
    if setup.weighting == "none" and used.all():
        W = None
    S, A, g, finite = _evaluate(setup, P, X, Y, W, used)
    status = np.where(finite, ACTIVE, BAD_START).astype(np.int8)
    iters = np.zeros(k, dtype=np.int64)
    nfev = np.ones(k, dtype=np.int64)
    ftol, xtol, gtol = max(opt.ftol, _EPS), max(opt.xtol, _EPS), max(opt.gtol, _EPS)
    eye = np.eye(q)

    pos = np.flatnonzero(status == ACTIVE)
    # working copies of the active curves (compacted)
    Xw = {n: v[pos] for n, v in X.items()}
    Yw, Ww, Uw, Pw = Y[pos], None if W is None else W[pos], used[pos], P[pos]
    th, Sw, Aw, gw = Pw[:, free], S[pos], A[pos], g[pos]
    diag = np.einsum("kii->ki", Aw)
    D2w = np.where(diag > 0, diag, 1.0)
    lw, nuw = np.full(pos.size, 1e-3), np.full(pos.size, 2.0)
    stw, itw, evw = status[pos], iters[pos], nfev[pos]
    while pos.size:
        live = stw == ACTIVE
        if setup.cancel is not None and setup.cancel.cancelled:
            stw[live] = CANCELLED
            break
        # MINPACK's gradient test: the largest cosine between r and a column of J
        cols = np.sqrt(np.einsum("kii->ki", Aw))
        if bounded:
            blocked = ((th <= lo) & (gw < 0)) | ((th >= hi) & (gw > 0))
            gp = np.where(blocked, 0.0, gw)
        else:
            blocked, gp = None, gw
        cosine = np.where(cols > 0, np.abs(gp) / (cols * np.sqrt(Sw)[:, None]), 0.0).max(1)
        done_g = live & ((Sw == 0) | (cosine <= gtol))
        stw[done_g] = CONVERGED
        live &= ~done_g
        M = Aw + (lw[:, None] * D2w)[:, :, None] * eye
        if blocked is not None and blocked.any():
            hold = blocked[:, :, None] | blocked[:, None, :]
            M = np.where(hold, eye, M)
        L, ok = cholesky(M)
        delta = cholesky_solve(L, gp)
        ok &= np.isfinite(delta).all(axis=1)
        delta[~ok] = 0.0
        trial = np.clip(th + delta, lo, hi) if bounded else th + delta
        delta = trial - th
        Pt = Pw.copy()
        Pt[:, free] = trial
        St, At, gt, fin = _evaluate(setup, Pt, Xw, Yw, Ww, Uw)
        evw += live
        prered = (2.0 * _dot(delta, gw) - _dot(delta, np.einsum("kij,kj->ki", Aw, delta))) / Sw
        shrink = fin & (0.1 * np.sqrt(St) < np.sqrt(Sw))
        actred = np.where(shrink, 1.0 - St / Sw, -1.0)
        ratio = np.where(prered != 0, actred / prered, 0.0)
        accept = live & ok & fin & (ratio >= 1e-4)
        # Nielsen's damping update, per curve
        lw = np.clip(np.where(accept, lw * np.maximum(1.0 / 3.0, 1.0 - (2.0 * ratio - 1.0) ** 3),
                              lw * nuw), 1e-300, 1e300)
        nuw = np.where(accept, 2.0, 2.0 * nuw)
        if accept.any():
            Pw[accept] = Pt[accept]
            th = Pw[:, free]
            Sw = np.where(accept, St, Sw)
            Aw = np.where(accept[:, None, None], At, Aw)
            gw = np.where(accept[:, None], gt, gw)
            D2w = np.where(accept[:, None], np.maximum(D2w, np.einsum("kii->ki", Aw)), D2w)
            itw += accept
        d = np.sqrt(D2w)
        dd, dt = d * delta, d * th
        pnorm, xnorm = np.sqrt(_dot(dd, dd)), np.sqrt(_dot(dt, dt))
        done_f = (np.abs(actred) <= ftol) & (prered <= ftol) & (0.5 * ratio <= 1.0)
        done_x = ok & (pnorm <= xtol * xnorm)
        done = live & (done_f | done_x)
        stw[done] = CONVERGED
        live &= ~done
        stw[live & (evw >= setup.max_nfev)] = MAX_EV
        if setup.max_iter is not None:
            stw[(stw == ACTIVE) & (itw >= setup.max_iter)] = MAX_IT
        live = stw == ACTIVE
        tick(k - pos.size + int(np.count_nonzero(~live)))
        if live.sum() < 0.9 * pos.size:
            gone = ~live
            at = pos[gone]
            P[at], S[at], A[at], g[at] = Pw[gone], Sw[gone], Aw[gone], gw[gone]
            status[at], iters[at], nfev[at] = stw[gone], itw[gone], evw[gone]
            pos = pos[live]
            Xw = {n: v[live] for n, v in Xw.items()}
            Yw, Uw, Pw = Yw[live], Uw[live], Pw[live]
            Ww = None if Ww is None else Ww[live]
            th, Sw, Aw, gw = Pw[:, free], Sw[live], Aw[live], gw[live]
            D2w, lw, nuw = D2w[live], lw[live], nuw[live]
            stw, itw, evw = stw[live], itw[live], evw[live]
    if pos.size:
        P[pos], S[pos], A[pos], g[pos] = Pw, Sw, Aw, gw
        status[pos], iters[pos], nfev[pos] = stw, itw, evw
    # the single LM's rule for the model's own hints: a minimum not strictly inside
    th = P[:, free]
    outside = ~((th > setup.hint_lo) & (th < setup.hint_hi)).all(axis=1)
    status[(status == CONVERGED) & outside] = HINTS
    return P, S, A, status, iters, nfev


def _dot(a, b):
    """Row-wise dot products of (k, m) arrays."""
    return np.einsum("ki,ki->k", a, b)


def fit_batch(model, curves: CurveSet, params=None, *, weights: str = "none",
              method: str = "lm", starts="guess", options: SolverOptions | None = None,
              on_progress: Callable[[BatchProgress], None] | None = None,
              cancel: CancelToken | None = None, chunk_size: int | None = None) -> BatchResult:
    """Fit ``model`` to every curve of ``curves`` (see the module docstring).

    ``params``: settings (start, bounds, fixed) shared by every curve.
    ``starts``: "guess" (each curve's single-fit start), "previous" (each
    curve from the result of the one before it; the first from its guess),
    or a (K, p) array of start values.
    """
    from lsqfit_app.batch.uncertainty import statistics

    if method not in ("lm", "auto"):
        raise InputError(f"the batch fit runs Levenberg-Marquardt; method {method!r} is not "
                         "available for many curves (use lm)")
    options = options or SolverOptions()
    t0 = time.perf_counter()
    settings = _merge_params(model, params)
    weighting, W, absolute = _weights(curves, weights)
    free_idx = np.array([i for i, s in enumerate(settings) if not s.fixed], dtype=np.intp)
    lower, upper, h_lo, h_hi = _bounds(model, settings, free_idx)
    q = free_idx.size
    setup = _Setup(model, curves, settings, weighting, absolute, W, free_idx, lower, upper,
                   h_lo, h_hi, options, options.max_evaluations or 200 * (max(q, 1) + 1) * 10,
                   options.max_iterations, cancel)
    K, p = curves.n_curves, len(model.param_names)
    out_P = np.full((K, p), np.nan)
    out_S = np.full(K, np.nan)
    out_A = np.full((K, q, q), np.nan)
    out_status = np.full(K, REFUSED, dtype=np.int8)
    out_it = np.zeros(K, dtype=np.int64)
    out_ev = np.zeros(K, dtype=np.int64)
    P0 = np.full((K, p), np.nan)
    refused: dict[int, str] = {}
    if isinstance(starts, str):
        if starts not in ("guess", "previous"):
            raise InputError(f"unknown starts {starts!r}; choose guess or previous")
        rows = np.arange(K)
        if starts == "previous":
            rows = rows[:1]
        # "previous": the later curves' starts are set as the curves before them finish
        P0[rows], refused = curve_starts(model, curves, settings, weighting, rows, cancel)
    else:
        P0[:] = np.asarray(starts, dtype=float).reshape(K, p)
        for s_i, s in enumerate(settings):
            if s.fixed:
                P0[:, s_i] = s.value
    n_used = curves.n_used
    few = n_used < max(q, 1)
    for i in np.flatnonzero(few).tolist():
        refused.setdefault(i, f"too few points: {int(n_used[i])} usable points for {q} free "
                              "parameters")
    if weighting == "relative":
        zero = (curves.y == 0) & curves.used
        for i in np.flatnonzero(zero.any(axis=1)).tolist():
            rows_text = ", ".join(str(r + 1) for r in np.flatnonzero(zero[i])[:8])
            refused.setdefault(i, f"relative weights need y != 0; y is 0 in rows {rows_text}")
    fit_rows = np.array([i for i in range(K) if i not in refused], dtype=np.intp)

    progress = _Progress(K, on_progress, len(refused))

    def run(idx):
        tick = progress.ticker(idx.size)
        with np.errstate(all="ignore"):
            res = _lm(setup, idx, P0[idx], tick)
        P_, S_, A_, st, it, ev = res
        out_P[idx], out_S[idx], out_A[idx] = P_, S_, A_
        out_status[idx], out_it[idx], out_ev[idx] = st, it, ev
        progress.finish(idx.size, st, S_)

    if isinstance(starts, str) and starts == "previous":
        for i in fit_rows.tolist():
            if i > fit_rows[0]:
                prev = i - 1
                if prev not in refused and out_status[prev] == CONVERGED:
                    P0[i] = out_P[prev]
                else:
                    P0[i:i + 1] = curve_starts(model, curves, settings, weighting, [i], cancel)[0]
            run(np.array([i]))
    else:
        n = max(curves.n_points, 1)
        size = chunk_size or int(np.clip(_CHUNK_VALUES // (n * (p + 4)), 16, 8192))
        chunks = [fit_rows[s:s + size] for s in range(0, fit_rows.size, size)]
        workers = min(len(chunks), os.cpu_count() or 1, 2)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                for f in [pool.submit(run, c) for c in chunks]:
                    f.result()
        else:
            for c in chunks:
                run(c)
    if refused:
        out_P[list(refused)] = P0[list(refused)]
    with np.errstate(all="ignore"):
        stats = statistics(setup, out_P, out_S, out_A, out_status, out_it, out_ev, P0, refused)
    keys = tuple(KEYS[s] for s in out_status.tolist())
    return BatchResult(
        model=model, ids=curves.ids, sources=curves.sources, param_names=model.param_names,
        fixed=np.array([s.fixed for s in settings]), iterations=out_it, evaluations=out_ev,
        elapsed=time.perf_counter() - t0, starts=P0, settings=settings, weighting=weighting,
        status_keys=keys, options=options, **stats)


class _Progress:
    """Counts finished curves across chunks and calls the callback, throttled."""

    def __init__(self, total, callback, refused):
        self.total, self.callback = total, callback
        self.lock = threading.Lock()
        self.done, self.failed = refused, refused
        self.best, self.worst = math.inf, -math.inf
        self.partial: dict[int, int] = {}
        self.last = 0.0

    def ticker(self, size):
        key = object()

        def tick(finished):
            if self.callback is None:
                return
            with self.lock:
                self.partial[id(key)] = finished
                now = time.perf_counter()
                if now - self.last < _REPORT_EVERY:
                    return
                self.last = now
                snapshot = self._snapshot()
            self.callback(snapshot)
        tick.key = key
        self._keys = getattr(self, "_keys", [])
        self._keys.append(key)
        return tick

    def _snapshot(self):
        done = self.done + sum(self.partial.values())
        best = self.best if math.isfinite(self.best) else math.nan
        worst = self.worst if math.isfinite(self.worst) else math.nan
        return BatchProgress(done=min(done, self.total), failed=self.failed, total=self.total,
                             best_sse=best, worst_sse=worst)

    def finish(self, size, status, S):
        with self.lock:
            self.partial.clear()
            self.done += size
            self.failed += int(np.count_nonzero(status != CONVERGED))
            good = S[np.isfinite(S)]
            if good.size:
                self.best = min(self.best, float(good.min()))
                self.worst = max(self.worst, float(good.max()))
            self.last = time.perf_counter()
            snapshot = self._snapshot()
        if self.callback is not None:
            self.callback(snapshot)


def single_result(model, curves, i, settings, weighting, values, starts, key, message,
                  iterations, evaluations, options):
    """Curve ``i`` as the single fit's FitResult at ``values``, every derived
    quantity computed by the single fit's code (``solvers.restore_result``)."""
    from lsqfit_app.solvers import restore_result

    problem = single_problem(model, curves, i, settings, weighting)
    status = {"lm_bounds_active": "not_converged", "max_evaluations": "max_iterations",
              "nonfinite": "failed", "bad_start": "failed", "refused": "failed",
              "active": "not_converged"}.get(key, key)
    saved = {"parameters": [{"name": n, "value": float(v), "start": float(s)}
                            for n, v, s in zip(model.param_names, values, starts)],
             "status": status, "message": message, "iterations": iterations,
             "evaluations": evaluations, "solver": "lm",
             "options": {"ftol": options.ftol, "xtol": options.xtol, "gtol": options.gtol}}
    return restore_result(problem, saved)
