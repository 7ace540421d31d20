r"""Levenberg-Marquardt for a global fit: K curves, shared and per-curve parameters.

The unknowns are theta = (s, l_1, ..., l_K): p_s shared values and p_l values
per curve.  Curve k has weighted residuals r_k = (f(P_k; x_k) - y_k) / sigma_k
over its used points (0 elsewhere), P_k holding s, l_k and the fixed values.
With A_k = dr_k/ds and B_k = dr_k/dl_k the Gauss-Newton matrix is block-arrow::

    [ U     W_1 ... W_K ]     U   = sum_k A_k^T A_k     (p_s x p_s)
    [ W_1^T V_1         ]     W_k = A_k^T B_k           (p_s x p_l)
    [  ...      ...     ]     V_k = B_k^T B_k           (p_l x p_l)
    [ W_K^T         V_K ]

and the damped step (J^T J + lambda D^2) delta = -J^T r is solved by
eliminating the local blocks (the Schur complement, as in bundle adjustment)::

    S = U_d - sum_k W_k V_k^-1 W_k^T,   S delta_s = -g_s + sum_k W_k V_k^-1 g_k,
    delta_k = -V_k^-1 (g_k + W_k^T delta_s),

the K small solves vectorised over curves (numpy's stacked linalg) and one
p_s x p_s solve: O(K p_l^2 (p_l + p_s)) per step, not O((p_s + K p_l)^3).

Damping: Marquardt's diagonal D^2 = the largest diag(J^T J) seen so far
(MINPACK's scaling); lambda follows Nielsen's rule (gain ratio rho > 0:
accept, lambda *= max(1/3, 1 - (2 rho - 1)^3); else lambda *= nu, nu *= 2).
Bounds: the trial point is projected onto the box, and a parameter on a bound
whose descent direction leaves the box is held for that step (projected LM).

Stopping as MINPACK's lmder: ftol (actual and predicted relative decrease
<= ftol, rho <= 2), xtol (|D delta| <= xtol |D theta|), gtol (largest cosine
between r and a column of J <= gtol); and, as the single fit, at the rounding
level (``solvers._objective``: no step lowers the objective by more than its
rounding error, or a nearly undamped step moves theta by < STEP_RTOL).

References: D. W. Marquardt, SIAM J. Appl. Math. 11 (1963) 431-441;
J. J. More, "The Levenberg-Marquardt algorithm: implementation and theory",
Lecture Notes in Math. 630 (1978); H. B. Nielsen, "Damping parameter in
Marquardt's method", IMM-REP-1999-05; B. Triggs et al., "Bundle adjustment -
a modern synthesis" (2000), section 6.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lsqfit_app.core.progress import CancelToken
from lsqfit_app.core.result import SolverOptions
from lsqfit_app.solvers._objective import NOISE, STEP_RTOL

#: iterations when the options set no limit (each is one model evaluation of all curves)
DEFAULT_MAX_ITERATIONS = 1000
_LAMBDA_MAX = 1e30
#: damping never falls below this (relative to diag(J^T J)): on a rank-deficient
#: curve an undamped step would amplify rounding along the null direction
_LAMBDA_MIN = 1e-12


@dataclass
class JointProblem:
    """The stacked problem: ``evaluate(P (K, p)) -> (F (K, n), J (K, n, p))``."""

    evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    y: np.ndarray             # (K, n)
    used: np.ndarray          # (K, n) bool
    inv_sigma: np.ndarray     # (K, n), 0 where not used
    template: np.ndarray      # (p,) the fixed values (other entries are overwritten)
    shared_idx: np.ndarray    # model indices of the free shared parameters
    local_idx: np.ndarray     # model indices of the free per-curve parameters
    lower_s: np.ndarray
    upper_s: np.ndarray
    lower_l: np.ndarray
    upper_l: np.ndarray

    def full(self, s: np.ndarray, L: np.ndarray) -> np.ndarray:
        """Every model parameter of every curve, (K, p)."""
        P = np.repeat(self.template[None, :], self.y.shape[0], axis=0)
        P[:, self.shared_idx] = s
        P[:, self.local_idx] = L
        return P

    def linearize(self, s, L):
        """(r (K, n), dr/dtheta (K, n, p_s + p_l), objective, model values (K, n))."""
        F, J = self.evaluate(self.full(s, L))
        cols = np.concatenate([self.shared_idx, self.local_idx])
        w = self.inv_sigma   # 0 where not used
        r = (F - self.y) * w
        Jr = J[:, :, cols] * w[..., None]
        # a model may be NaN or inf on points that are not used (0 * NaN is NaN)
        if not np.isfinite(r).all():
            r = np.where(self.used, r, 0.0)
        if not np.isfinite(Jr).all():
            Jr = np.where(self.used[..., None], Jr, 0.0)
        return r, Jr, float(np.vdot(r, r)), F

    def rounding_level(self, r: np.ndarray, objective: float) -> float:
        """How well the objective is known (as ``Objective.rounding_level``)."""
        return NOISE[0] * float(np.vdot(np.abs(r), np.abs(self.y) * self.inv_sigma)) \
            + NOISE[1] * abs(objective)


@dataclass
class JointOutcome:
    s: np.ndarray
    L: np.ndarray
    status: str          # a key of solvers.MESSAGES
    iterations: int
    evaluations: int
    history: list
    linearization: tuple | None   # linearize() at (s, L), None when not finite


def damped_step(U, W, V, gs, gl, ds, dl, held_s, held_l):
    """Solve the damped block-arrow system by the Schur complement (module docstring).

    ``ds``/``dl`` are lambda D^2 of the shared and local unknowns; ``held_*``
    mark unknowns kept where they are (their row and column become identity).
    Raises LinAlgError when a block is singular.
    """
    ps, pl = U.shape[0], V.shape[1]
    U = U + np.diag(ds)
    V = V.copy()
    idx = np.arange(pl)
    V[:, idx, idx] += dl
    gs, gl, W = gs.copy(), gl.copy(), W.copy()
    if held_s.any():
        U[held_s, :] = 0.0
        U[:, held_s] = 0.0
        U[held_s, held_s] = 1.0
        gs[held_s] = 0.0
        W[:, held_s, :] = 0.0
    if held_l.any():
        k, j = np.nonzero(held_l)
        V[k, j, :] = 0.0
        V[k, :, j] = 0.0
        V[k, j, j] = 1.0
        gl[k, j] = 0.0
        W[k, :, j] = 0.0
    if pl == 0:
        return np.linalg.solve(U, -gs), np.zeros_like(gl)
    rhs = np.concatenate([W.transpose(0, 2, 1), gl[:, :, None]], axis=2)
    X = np.linalg.solve(V, rhs)                # V_k^-1 [W_k^T, g_k]
    if ps == 0:
        return np.zeros(0), -X[:, :, 0]
    S = U - np.einsum("kij,kjm->im", W, X[:, :, :ps])
    b = -gs + np.einsum("kij,kj->i", W, X[:, :, ps])
    delta_s = np.linalg.solve(S, b)
    delta_l = -(X[:, :, ps] + X[:, :, :ps] @ delta_s)
    return delta_s, delta_l


def run_joint_lm(problem: JointProblem, s0: np.ndarray, L0: np.ndarray,
                 options: SolverOptions, report: Callable | None = None,
                 cancel: CancelToken | None = None) -> JointOutcome:
    """Minimise sum r^2 from (s0, L0); ``report(iteration, objective, s, L, nfev)``
    is called at the start and after every iteration."""
    ps = problem.shared_idx.size
    max_it = options.max_iterations if options.max_iterations is not None \
        else DEFAULT_MAX_ITERATIONS
    max_ev = options.max_evaluations if options.max_evaluations is not None else math.inf
    lo_s, hi_s, lo_l, hi_l = problem.lower_s, problem.upper_s, problem.lower_l, problem.upper_l
    s = np.clip(np.asarray(s0, dtype=float), lo_s, hi_s)
    L = np.clip(np.asarray(L0, dtype=float), lo_l, hi_l)
    lin = problem.linearize(s, L)
    nfev, iterations = 1, 0
    r, Jr, F = lin[0], lin[1], lin[2]
    if not (math.isfinite(F) and np.isfinite(Jr).all()):
        return JointOutcome(s, L, "bad_start", 0, nfev, [], None)
    history = [F]
    if report is not None:
        report(0, F, s, L, nfev)
    if ps == 0 and L.size == 0:
        return JointOutcome(s, L, "all_fixed", 0, nfev, history, lin)
    lam, nu = 1e-3, 2.0
    d2s = np.zeros(ps)
    d2l = np.zeros(L.shape)
    status = None
    while status is None:
        Jt = Jr.transpose(0, 2, 1)
        G = Jt @ Jr                                  # (K, p_s + p_l, p_s + p_l)
        g = (Jt @ r[:, :, None])[:, :, 0]
        U, W, V = G[:, :ps, :ps].sum(axis=0), G[:, :ps, ps:], G[:, ps:, ps:]
        gs, gl = g[:, :ps].sum(axis=0), g[:, ps:]
        hs, hl = U.diagonal().copy(), np.diagonal(V, axis1=1, axis2=2).copy()
        d2s, d2l = np.maximum(d2s, hs), np.maximum(d2l, hl)
        ds, dl = np.where(d2s > 0, d2s, 1.0), np.where(d2l > 0, d2l, 1.0)
        # descent (-g) would leave the box through the bound the parameter sits on
        held_s = ((s <= lo_s) & (gs > 0)) | ((s >= hi_s) & (gs < 0))
        held_l = ((L <= lo_l) & (gl > 0)) | ((L >= hi_l) & (gl < 0))
        # gtol: the largest cosine between r and a (free, not held) column of J
        cos = 0.0
        if F > 0:
            for gv, hv, held in ((gs, hs, held_s), (gl, hl, held_l)):
                ok = (hv > 0) & ~held
                if ok.any():
                    cos = max(cos, float(np.max(np.abs(gv[ok]) / np.sqrt(hv[ok]))) / math.sqrt(F))
        if F == 0.0 or cos <= options.gtol:
            status = "converged"
            break
        noise = problem.rounding_level(r, F)
        xnorm = math.sqrt(float(ds @ (s * s)) + float(np.vdot(dl, L * L)))
        while True:
            if cancel is not None and cancel.cancelled:
                status = "cancelled"
                break
            if nfev >= max_ev:
                status = "max_evaluations"
                break
            if lam > _LAMBDA_MAX:
                status = "not_converged"
                break
            lam_used = lam
            try:
                delta_s, delta_l = damped_step(U, W, V, gs, gl, lam * ds, lam * dl, held_s, held_l)
            except np.linalg.LinAlgError:
                lam, nu = lam * nu, nu * 2
                continue
            s_new, L_new = np.clip(s + delta_s, lo_s, hi_s), np.clip(L + delta_l, lo_l, hi_l)
            delta_s, delta_l = s_new - s, L_new - L
            step = np.concatenate([np.broadcast_to(delta_s, (L.shape[0], ps)), delta_l], axis=1)
            Jd = (Jr @ step[:, :, None])[:, :, 0]
            pred = -(2.0 * float(np.vdot(r, Jd)) + float(np.vdot(Jd, Jd)))
            dx = math.sqrt(float(ds @ (delta_s ** 2)) + float(np.vdot(dl, delta_l ** 2)))
            if not (pred > noise) and not (dx > STEP_RTOL * xnorm):
                status = "converged_rounding"   # no step can lower F measurably
                break
            lin_new = problem.linearize(s_new, L_new)
            nfev += 1
            F_new = lin_new[2]
            finite = math.isfinite(F_new) and bool(np.isfinite(lin_new[1]).all())
            rho = (F - F_new) / pred if finite and pred > 0 else -math.inf
            if rho > 0:
                lam = max(lam * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), _LAMBDA_MIN)
                nu = 2.0
                break
            if not (pred > noise):
                status = "converged_rounding"
                break
            lam, nu = lam * nu, nu * 2
        if status is not None:
            break
        actual = F - F_new
        F_old = F
        s, L, lin = s_new, L_new, lin_new
        r, Jr, F = lin[0], lin[1], lin[2]
        iterations += 1
        history.append(F)
        if report is not None:
            report(iterations, F, s, L, nfev)
        if actual <= options.ftol * F_old and pred <= options.ftol * F_old and rho <= 2.0:
            status = "converged"
        elif dx <= options.xtol * xnorm:
            status = "converged"
        elif actual <= noise and pred <= noise:
            status = "converged_rounding"
        elif dx <= STEP_RTOL * xnorm and lam_used <= 1.0:
            status = "converged_rounding"
        elif iterations >= max_it:
            status = "max_iterations"
    return JointOutcome(s, L, status, iterations, nfev, history, lin)
