"""The fit loops, compiled, for fits that evaluate through the lineshape kernels.

Once a process has loaded the compiled kernels (``models.kernels``), a small
fit of a library model spends little of its time in arithmetic: most of it
goes to crossing between Python and compiled code, a few microseconds each
time, dozens of times per fit.  So for those fits the loops themselves run
here, in numba, with the model evaluated by ``evaluate_plan`` inside them:

- ``lm_slice``: MINPACK's Levenberg-Marquardt (Moré's lmder: QR with column
  pivoting, the lmpar trust-region parameter by qrsolv's Givens rotations,
  MINPACK's scaling, step-bound updates and eight stopping tests), step for
  step and in the same order of operations as the lmder ``_lm`` calls in
  scipy.  Its iterates, evaluation counts and history equal scipy's to
  rounding.  It runs in slices: it returns to Python after ``budget``
  accepted steps (one when someone watches: a progress callback, a cancel
  token or an iteration limit; otherwise as many as the history buffer
  holds) and when it stops, leaving the accepted points' objectives in
  ``history`` for the Objective to record.
- ``settle_loop``: what ``_auto._settle`` does at LM's end point (factorise
  [Jr | r], decide the rank, Gauss-Newton polish), with the rules and limits
  of ``_auto``; ``polish_loop`` the polish alone.
- ``factor`` and ``_curvature``: the QR of ``_linearize`` and the
  well-conditioned covariance and leverages of ``core.statistics``.

Each has its numpy or scipy counterpart, which numpy-only fits use, and
``tests/solvers/test_compiled.py`` checks that the two agree.  This module
imports numba: it is imported only where the kernels are loaded, and
``load_all`` loads it with them.

numba's on-disk cache checks only this file for changes: after editing
``models/_lineshape_kernels.py``, whose kernels these loops inline, clear
the cached ``_compiled.*.nbi/.nbc`` in ``__pycache__`` (a release rewrites
every file, so users never meet stale code).
"""
from __future__ import annotations

import math

import numpy as np
# the kernels' numba settings (cached, nogil, numpy's error model), for the same reasons
from lsqfit_app.models._lineshape_kernels import evaluate_plan, jit
from lsqfit_app.solvers._linearize import Linearization
from lsqfit_app.solvers._objective import Evaluation

_EPSMCH = 2.220446049250313e-16
_DWARF = 2.2250738585072014e-308
_RGIANT = 2.0 ** 63.5
_RDWARF = 0.5 / _RGIANT
_FACTOR = 100.0

#: slots of the float state: step bound, LM parameter, |r| and |D x| at x,
#: the scaled gradient norm, r @ r (the kernels' sum) at x, at the best
#: point and at the trial point
DELTA, PAR, FNORM, XNORM, GNORM, OBJECTIVE, BEST, TRIAL = range(8)
#: slots of the int state: MINPACK's iter (1 before the first Jacobian), its
#: nfev, info (0 while running), which buffer holds x, steps in history, the
#: model evaluations made (fewer than nfev: a trial point equal to the point
#: evaluated last, as when a step rounds to nothing, is not evaluated again,
#: as the Objective's cache would not), and whether that point is x
ITER, NFEV, INFO, CURRENT, STEPS, EVALS, LAST_AT_X = range(7)
#: rows of the work array
WA1, WA2, WA3, DIAG, QTF, RDIAG, ACNORM, WAQ = range(8)   # WAQ: lmpar's sdiag


@jit
def _enorm(v, start, stop):
    """Euclidean norm of v[start:stop], without destructive under/overflow (MINPACK)."""
    s1 = s2 = s3 = 0.0
    x1max = x3max = 0.0
    agiant = _RGIANT / (stop - start)
    for i in range(start, stop):
        xabs = abs(v[i])
        if xabs <= _RDWARF or xabs >= agiant:
            if xabs > _RDWARF:
                if xabs > x1max:
                    s1 = 1.0 + s1 * (x1max / xabs) ** 2
                    x1max = xabs
                else:
                    s1 += (xabs / x1max) ** 2
            elif xabs > x3max:
                s3 = 1.0 + s3 * (x3max / xabs) ** 2
                x3max = xabs
            elif xabs != 0.0:
                s3 += (xabs / x3max) ** 2
        else:
            s2 += xabs * xabs
    if s1 != 0.0:
        return x1max * math.sqrt(s1 + (s2 / x1max) / x1max)
    if s2 != 0.0:
        if s2 >= x3max:
            return math.sqrt(s2 * (1.0 + (x3max / s2) * (x3max * s3)))
        return math.sqrt(x3max * ((s2 / x3max) + (x3max * s3)))
    return x3max * math.sqrt(s3)


@jit
def _qrfac(a, pivot, steps, ipvt, rdiag, acnorm, wa):
    """Householder QR, with column pivoting if ``pivot``, of a (n columns x m
    rows, each a row of ``a``), over its first ``steps`` columns: R's strict
    upper triangle at a[j, i], i < j; R's diagonal in rdiag; the Householder
    vectors below; acnorm the column norms."""
    n, m = a.shape
    for j in range(n):
        acnorm[j] = _enorm(a[j], 0, m)
        rdiag[j] = acnorm[j]
        wa[j] = rdiag[j]
        ipvt[j] = j
    for j in range(min(m, steps)):
        kmax = j
        if pivot:
            for k in range(j, n):
                if rdiag[k] > rdiag[kmax]:
                    kmax = k
        if kmax != j:
            for i in range(m):
                temp = a[j, i]
                a[j, i] = a[kmax, i]
                a[kmax, i] = temp
            rdiag[kmax] = rdiag[j]
            wa[kmax] = wa[j]
            k = ipvt[j]
            ipvt[j] = ipvt[kmax]
            ipvt[kmax] = k
        ajnorm = _enorm(a[j], j, m)
        if ajnorm != 0.0:
            if a[j, j] < 0.0:
                ajnorm = -ajnorm
            for i in range(j, m):
                a[j, i] /= ajnorm
            a[j, j] += 1.0
            for k in range(j + 1, n):
                s = 0.0
                for i in range(j, m):
                    s += a[j, i] * a[k, i]
                temp = s / a[j, j]
                for i in range(j, m):
                    a[k, i] -= temp * a[j, i]
                if pivot and rdiag[k] != 0.0:
                    temp = a[k, j] / rdiag[k]
                    rdiag[k] *= math.sqrt(max(0.0, 1.0 - temp * temp))
                    if 0.05 * (rdiag[k] / wa[k]) ** 2 <= _EPSMCH:
                        rdiag[k] = _enorm(a[k], j + 1, m)
                        wa[k] = rdiag[k]
        rdiag[j] = -ajnorm


@jit
def _qrsolv(r, ipvt, diag, qtb, x, sdiag, wa):
    """Least-squares solution of R z = Q^T b, D P z = 0 by Givens rotations.

    ``r[j, i]`` holds R(i, j) for i <= j (as _qrfac leaves it); S^T goes to
    the strict lower part r[j, i], i > j, and S's diagonal to sdiag.
    """
    n = qtb.size
    for j in range(n):
        for i in range(j, n):
            r[j, i] = r[i, j]
        x[j] = r[j, j]
        wa[j] = qtb[j]
    for j in range(n):
        l = ipvt[j]
        if diag[l] != 0.0:
            for k in range(j, n):
                sdiag[k] = 0.0
            sdiag[j] = diag[l]
            qtbpj = 0.0
            for k in range(j, n):
                if sdiag[k] != 0.0:
                    if abs(r[k, k]) < abs(sdiag[k]):
                        cotan = r[k, k] / sdiag[k]
                        sin = 0.5 / math.sqrt(0.25 + 0.25 * cotan ** 2)
                        cos = sin * cotan
                    else:
                        tan = sdiag[k] / r[k, k]
                        cos = 0.5 / math.sqrt(0.25 + 0.25 * tan ** 2)
                        sin = cos * tan
                    r[k, k] *= cos
                    r[k, k] += sin * sdiag[k]
                    temp = cos * wa[k] + sin * qtbpj
                    qtbpj = -sin * wa[k] + cos * qtbpj
                    wa[k] = temp
                    for i in range(k + 1, n):
                        temp = cos * r[k, i] + sin * sdiag[i]
                        sdiag[i] = -sin * r[k, i] + cos * sdiag[i]
                        r[k, i] = temp
        sdiag[j] = r[j, j]
        r[j, j] = x[j]
    nsing = n
    for j in range(n):
        if sdiag[j] == 0.0 and nsing == n:
            nsing = j
        if nsing < n:
            wa[j] = 0.0
    for k in range(1, nsing + 1):
        j = nsing - k
        s = 0.0
        for i in range(j + 1, nsing):
            s += r[j, i] * wa[i]
        wa[j] = (wa[j] - s) / sdiag[j]
    for j in range(n):
        x[ipvt[j]] = wa[j]


@jit
def _lmpar(r, ipvt, diag, qtb, delta, par, x, sdiag, wa1, wa2):
    """The LM parameter for which the step x solves the scaled trust-region
    subproblem |D x| ~ delta (Moré 1978); returns the new parameter."""
    n = qtb.size
    nsing = n
    for j in range(n):
        wa1[j] = qtb[j]
        if r[j, j] == 0.0 and nsing == n:
            nsing = j
        if nsing < n:
            wa1[j] = 0.0
    for k in range(1, nsing + 1):
        j = nsing - k
        wa1[j] /= r[j, j]
        temp = wa1[j]
        for i in range(j):
            wa1[i] -= r[j, i] * temp
    for j in range(n):
        x[ipvt[j]] = wa1[j]
    iteration = 0
    for j in range(n):
        wa2[j] = diag[j] * x[j]
    dxnorm = _enorm(wa2, 0, n)
    fp = dxnorm - delta
    if fp <= 0.1 * delta:
        return 0.0
    parl = 0.0
    if nsing == n:
        for j in range(n):
            l = ipvt[j]
            wa1[j] = diag[l] * (wa2[l] / dxnorm)
        for j in range(n):
            s = 0.0
            for i in range(j):
                s += r[j, i] * wa1[i]
            wa1[j] = (wa1[j] - s) / r[j, j]
        temp = _enorm(wa1, 0, n)
        parl = ((fp / delta) / temp) / temp
    for j in range(n):
        s = 0.0
        for i in range(j + 1):
            s += r[j, i] * qtb[i]
        wa1[j] = s / diag[ipvt[j]]
    gnorm = _enorm(wa1, 0, n)
    paru = gnorm / delta
    if paru == 0.0:
        paru = _DWARF / min(delta, 0.1)
    par = min(max(par, parl), paru)
    if par == 0.0:
        par = gnorm / dxnorm
    while True:
        iteration += 1
        if par == 0.0:
            par = max(_DWARF, paru * 0.001)
        temp = math.sqrt(par)
        for j in range(n):
            wa1[j] = temp * diag[j]
        _qrsolv(r, ipvt, wa1, qtb, x, sdiag, wa2)
        for j in range(n):
            wa2[j] = diag[j] * x[j]
        dxnorm = _enorm(wa2, 0, n)
        temp = fp
        fp = dxnorm - delta
        if abs(fp) <= 0.1 * delta or (parl == 0.0 and fp <= temp and temp < 0.0) \
                or iteration == 10:
            return par
        for j in range(n):
            l = ipvt[j]
            wa1[j] = diag[l] * (wa2[l] / dxnorm)
        for j in range(n):
            wa1[j] /= sdiag[j]
            temp = wa1[j]
            for i in range(j + 1, n):
                wa1[i] -= r[j, i] * temp
        temp = _enorm(wa1, 0, n)
        parc = ((fp / delta) / temp) / temp
        if fp > 0.0:
            parl = max(parl, par)
        if fp < 0.0:
            paru = min(paru, par)
        par = max(parl, par + parc)


@jit
def _factor_into(jac, rows, r, R, qtr):
    """R and Q^T r (first p entries) of the QR of [Jr | r] into ``R`` and
    ``qtr``, Jr^T being rows ``rows`` of ``jac``; False (and nothing
    written) when they are not all finite.

    What ``_linearize`` computes with LAPACK's dgeqrf, here by the same
    Householder reflections (_qrfac without pivoting; R's diagonal has
    LAPACK's signs), in compiled code instead of several numpy calls.
    """
    p, m = rows.size, r.size
    a = np.empty((p + 1, m))
    for j in range(p):
        row = jac[rows[j]]
        for i in range(m):
            value = row[i]
            if not math.isfinite(value):
                return False
            a[j, i] = value
    for i in range(m):
        if not math.isfinite(r[i]):
            return False
        a[p, i] = r[i]
    rdiag = np.empty(p + 1)
    acnorm = np.empty(p + 1)
    wa = np.empty(p + 1)
    ipvt = np.empty(p + 1, dtype=np.int64)
    _qrfac(a, False, p, ipvt, rdiag, acnorm, wa)
    for j in range(p):
        for k in range(j):
            R[j, k] = 0.0
        R[j, j] = rdiag[j]
        for k in range(j + 1, p):
            R[j, k] = a[k, j]
        qtr[j] = a[p, j]
    return True


@jit
def factor(jac_rows, r):
    """(R, Q^T r) of [Jr | r] from the rows of Jr^T (p x m), or empty arrays
    when they are not all finite (``_factor_into``)."""
    p = jac_rows.shape[0]
    R = np.empty((p, p))
    qtr = np.empty(p)
    if _factor_into(jac_rows, np.arange(p), r, R, qtr):
        return R, qtr
    return np.empty((0, 0)), np.empty(0)


@jit
def _gauss_newton_step(R, qtr, step):
    """step = -R^-1 Q^T r, by columns as LAPACK's dtrtrs; False when R has a zero diagonal."""
    n = qtr.size
    for j in range(n):
        if R[j, j] == 0.0:
            return False
        step[j] = qtr[j]
    for j in range(n - 1, -1, -1):
        if step[j] != 0.0:
            step[j] /= R[j, j]
            temp = step[j]
            for i in range(j):
                step[i] -= temp * R[i, j]
    for j in range(n):
        step[j] = -step[j]
    return True


@jit
def _polish_slots(plan, x, y, w, p, free_idx, lower, upper, thetas, fs, rs, jacs, Rs, qtrs,
                  objectives, factored, best, state, noise, rtol, max_steps):
    """``_auto.polish`` in compiled code, from the linearisation in slot 0
    (theta, R, Q^T r, objective); trial points go to the other slot, which
    becomes the current one when accepted.  The same rules: a Gauss-Newton
    step, stop when it is not contracting or below ``rtol`` relative, accept
    while the objective stays within ``noise`` of the best and the point
    strictly inside the bounds.  ``state``: [best objective seen,
    evaluations, accepted steps, ...]; returns the slot of the result.
    """
    cur = 0
    f_best = objectives[0]
    last_step = np.inf
    n = thetas.shape[1]
    step = np.empty(n)
    for _ in range(max_steps):
        if not factored[cur] or not _gauss_newton_step(Rs[cur], qtrs[cur], step):
            break
        theta = thetas[cur]
        size = 0.0
        for j in range(n):
            if not math.isfinite(step[j]):
                size = np.inf
                break
            size = max(size, abs(step[j]) / max(abs(theta[j]), 1e-300))
        if not size < last_step or size <= rtol:
            break
        trial = 1 - cur
        inside = True
        for j in range(n):
            thetas[trial, j] = theta[j] + step[j]
            inside = inside and lower[j] < thetas[trial, j] < upper[j]
        value = _evaluate(plan, x, y, w, p, free_idx, thetas[trial], fs[trial], rs[trial],
                          jacs[trial])
        state[1] += 1
        if value < state[0]:
            state[0] = value
            best[:] = thetas[trial]
        objectives[trial] = value
        factored[trial] = _factor_into(jacs[trial], free_idx, rs[trial], Rs[trial], qtrs[trial])
        if not value <= f_best + noise or not inside:   # also False for NaN
            break
        cur, f_best, last_step = trial, min(value, f_best), size
        state[2] += 1
    return cur


@jit
def polish_loop(plan, x, y, w, p, free_idx, lower, upper, thetas, fs, rs, jacs, Rs, qtrs,
                objectives, factored, best, state, noise, rtol, max_steps):
    """The polish from a linearisation already in slot 0 (``_polish_slots``)."""
    return _polish_slots(plan, x, y, w, p, free_idx, lower, upper, thetas, fs, rs, jacs, Rs,
                         qtrs, objectives, factored, best, state, noise, rtol, max_steps)


@jit
def _condition_bound(R, theta):
    """|A|_F |A^-1|_F for A = R with columns scaled by |theta| (1 where theta
    is 0): what ``_auto._rank_deficient`` bounds cond_2(A) with; inf when A
    has a zero diagonal."""
    n = theta.size
    A = np.empty((n, n))
    for j in range(n):
        weight = abs(theta[j]) or 1.0
        for i in range(n):
            A[i, j] = R[i, j] * weight
    inverse = np.zeros((n, n))
    if not _upper_inverse(A, inverse):
        return np.inf
    a2 = 0.0
    inv2 = 0.0
    for j in range(n):
        for i in range(j + 1):
            a2 += A[i, j] * A[i, j]
            inv2 += inverse[i, j] * inverse[i, j]
    return math.sqrt(a2 * inv2)


@jit
def _upper_inverse(R, inverse):
    """The inverse of upper triangular R into ``inverse`` (zero below the
    diagonal on entry), column by column; False when R has a zero diagonal."""
    n = R.shape[0]
    for j in range(n):
        if R[j, j] == 0.0:
            return False
        inverse[j, j] = 1.0 / R[j, j]
        for i in range(j - 1, -1, -1):
            s = 0.0
            for k in range(i + 1, j + 1):
                s += R[i, k] * inverse[k, j]
            inverse[i, j] = -s / R[i, i]
    return True


@jit
def settle_loop(plan, x, y, w, p, free_idx, lower, upper, thetas, fs, rs, jacs, Rs, qtrs,
                objectives, factored, best, state, limits, noise_factors, rtol, max_steps):
    """What ``_auto._settle`` does at LM's end point, in slot 0 (theta, f, r,
    jac, objective): factorise, decide the rank from the condition bound
    (``limits``: below the first, full rank; above the second, deficient;
    between, ``state[3]`` = 2 and the caller asks the SVD), and when of full
    rank polish (``max_steps`` > 0) with the noise level of ``_auto.polish``
    (``noise_factors``: its two multipliers).  ``state[3]``: 0 full rank, 1
    deficient, 2 undecided.  Returns the slot of the result."""
    factored[0] = _factor_into(jacs[0], free_idx, rs[0], Rs[0], qtrs[0])
    if not factored[0]:
        state[3] = 1
        return 0
    k = _condition_bound(Rs[0], thetas[0])
    if k < limits[0]:
        state[3] = 0
    else:
        state[3] = 1 if limits[1] < k < np.inf else 2
        return 0
    if max_steps == 0 or not math.isfinite(objectives[0]):
        return 0
    r = rs[0]
    s = 0.0
    for i in range(r.size):
        s += abs(r[i]) * (abs(y[i]) * w[i] if w.size else abs(y[i]))
    noise = noise_factors[0] * s + noise_factors[1] * objectives[0]
    return _polish_slots(plan, x, y, w, p, free_idx, lower, upper, thetas, fs, rs, jacs, Rs,
                         qtrs, objectives, factored, best, state, noise, rtol, max_steps)


@jit
def _curvature(jac_rows, R):
    """(R^-1 R^-T, leverages |J_i R^-1|^2), J^T = ``jac_rows``, or empty
    arrays when R has a zero diagonal or fails the conditioning bound of
    ``core.statistics.curvature_from_r`` (whose numpy version this is)."""
    p, m = jac_rows.shape
    r_inv = np.zeros((p, p))
    if not _upper_inverse(R, r_inv):
        return np.empty((0, 0)), np.empty(0)
    cov = np.empty((p, p))
    for i in range(p):
        for k in range(p):
            s = 0.0
            for j in range(max(i, k), p):
                s += r_inv[i, j] * r_inv[k, j]
            cov[i, k] = s
    bound = 0.0
    for i in range(p):
        for j in range(p):
            bound += R[i, j] * R[i, j] * cov[j, j]
    bound *= 4.0 * p
    if not bound * (max(m, p) * _EPSMCH) ** 2 < 1.0:
        return np.empty((0, 0)), np.empty(0)
    lev = np.zeros(m)
    for j in range(p):
        for i in range(m):
            s = 0.0
            for k in range(j + 1):
                s += jac_rows[k, i] * r_inv[k, j]
            lev[i] += s * s
    return cov, lev


def well_conditioned_curvature(J, R):
    """``core.statistics.well_conditioned_curvature`` in compiled code."""
    cov, lev = _curvature(np.ascontiguousarray(J.T), R)
    return (cov, lev) if lev.size else None


@jit
def _evaluate(plan, x, y, w, p, free_idx, theta, f, r, jac):
    """The model at free parameters theta (fixed ones stay in p); r @ r."""
    kinds, starts, stops, offsets, ones = plan
    for j in range(free_idx.size):
        p[free_idx[j]] = theta[j]
    return evaluate_plan(kinds, starts, stops, offsets, ones, x, p, f, jac, y, w, r)


@jit
def lm_slice(plan, x, y, w, p, free_idx, thetas, fs, rs, jacs, a, work, ipvt, best,
             tol, maxfev, fstate, istate, history, budget):
    """Run lmder from where ``fstate``/``istate`` left it, for at most
    ``budget`` accepted steps; the point x is ``thetas[CURRENT]`` with its
    evaluation in ``fs``, ``rs``, ``jacs`` of the same index (the other
    index holds the trial point).  ``istate[INFO]`` turns nonzero (MINPACK's
    info) when it stops.  The caller evaluates the start and sets ITER = 1.
    """
    ftol, xtol, gtol = tol[0], tol[1], tol[2]
    n = a.shape[0]
    m = a.shape[1]
    wa1, wa2, wa3 = work[WA1], work[WA2], work[WA3]
    diag, qtf, rdiag, acnorm, sdiag = work[DIAG], work[QTF], work[RDIAG], work[ACNORM], work[WAQ]
    delta, par = fstate[DELTA], fstate[PAR]
    fnorm, xnorm, gnorm = fstate[FNORM], fstate[XNORM], fstate[GNORM]
    steps = 0
    info = 0
    if fnorm == 0.0 and istate[NFEV] == 1:   # the start, evaluated by the caller
        fnorm = _enorm(rs[0], 0, m)
    while True:
        cur = istate[CURRENT]
        xc, rc, jc = thetas[cur], rs[cur], jacs[cur]
        # the Jacobian of the residuals at x, a copy to factorise
        for j in range(n):
            row = jc[free_idx[j]]
            for i in range(m):
                a[j, i] = row[i]
        _qrfac(a, True, n, ipvt, rdiag, acnorm, wa1)
        if istate[ITER] == 1:
            for j in range(n):
                diag[j] = acnorm[j] if acnorm[j] != 0.0 else 1.0
            for j in range(n):
                wa3[j] = diag[j] * xc[j]
            xnorm = _enorm(wa3, 0, n)
            delta = _FACTOR * xnorm
            if delta == 0.0:
                delta = _FACTOR
        # Q^T r: MINPACK's qtf needs an m-vector; wa4 (length n) is too short
        qtr = rs[1 - cur]   # the trial buffer is free until the next evaluation
        for i in range(m):
            qtr[i] = rc[i]
        for j in range(n):
            if a[j, j] != 0.0:
                s = 0.0
                for i in range(j, m):
                    s += a[j, i] * qtr[i]
                temp = -s / a[j, j]
                for i in range(j, m):
                    qtr[i] += a[j, i] * temp
            a[j, j] = rdiag[j]
            qtf[j] = qtr[j]
        gnorm = 0.0
        if fnorm != 0.0:
            for j in range(n):
                l = ipvt[j]
                if acnorm[l] != 0.0:
                    s = 0.0
                    for i in range(j + 1):
                        s += a[j, i] * (qtf[i] / fnorm)
                    gnorm = max(gnorm, abs(s / acnorm[l]))
        if gnorm <= gtol:
            info = 4
            break
        for j in range(n):
            diag[j] = max(diag[j], acnorm[j])
        accepted = False
        while True:
            par = _lmpar(a, ipvt, diag, qtf, delta, par, wa1, sdiag, wa2, wa3)
            trial = 1 - cur
            xt = thetas[trial]
            last = xc if istate[LAST_AT_X] == 1 else xt
            same = True
            for j in range(n):
                wa1[j] = -wa1[j]
                wa2[j] = xc[j] + wa1[j]
                wa3[j] = diag[j] * wa1[j]
                same = same and wa2[j] == last[j]
            pnorm = _enorm(wa3, 0, n)
            if istate[ITER] == 1:
                delta = min(delta, pnorm)
            xt[:] = wa2
            if same:
                if istate[LAST_AT_X] == 1:
                    fs[trial][:] = fs[cur]
                    rs[trial][:] = rs[cur]
                    jacs[trial][:] = jacs[cur]
                    fstate[TRIAL] = fstate[OBJECTIVE]
                value = fstate[TRIAL]
            else:
                value = _evaluate(plan, x, y, w, p, free_idx, xt, fs[trial], rs[trial],
                                  jacs[trial])
                istate[EVALS] += 1
                fstate[TRIAL] = value
            istate[NFEV] += 1
            if value < fstate[BEST]:   # the best point seen, as the Objective keeps it
                fstate[BEST] = value
                best[:] = xt
            fnorm1 = _enorm(rs[trial], 0, m)
            actred = -1.0
            if 0.1 * fnorm1 < fnorm:
                actred = 1.0 - (fnorm1 / fnorm) ** 2
            for j in range(n):
                wa3[j] = 0.0
                temp = wa1[ipvt[j]]
                for i in range(j + 1):
                    wa3[i] += a[j, i] * temp
            temp1 = _enorm(wa3, 0, n) / fnorm
            temp2 = (math.sqrt(par) * pnorm) / fnorm
            prered = temp1 ** 2 + temp2 ** 2 / 0.5
            dirder = -(temp1 ** 2 + temp2 ** 2)
            ratio = 0.0
            if prered != 0.0:
                ratio = actred / prered
            if ratio <= 0.25:
                if actred >= 0.0:
                    temp = 0.5
                else:
                    temp = 0.5 * dirder / (dirder + 0.5 * actred)
                if 0.1 * fnorm1 >= fnorm or temp < 0.1:
                    temp = 0.1
                delta = temp * min(delta, pnorm / 0.1)
                par = par / temp
            elif par == 0.0 or ratio >= 0.75:
                delta = pnorm / 0.5
                par = 0.5 * par
            istate[LAST_AT_X] = 0
            if ratio >= 1e-4:
                accepted = True
                istate[LAST_AT_X] = 1
                cur = istate[CURRENT] = trial
                xc, rc, jc = thetas[cur], rs[cur], jacs[cur]
                for j in range(n):
                    wa2[j] = diag[j] * xc[j]
                xnorm = _enorm(wa2, 0, n)
                fnorm = fnorm1
                fstate[OBJECTIVE] = value
                istate[ITER] += 1
            small = abs(actred) <= ftol and prered <= ftol and 0.5 * ratio <= 1.0
            if small:
                info = 1
            if delta <= xtol * xnorm:
                info = 3 if small else 2
            if info == 0:
                if istate[NFEV] >= maxfev:
                    info = 5
                if abs(actred) <= _EPSMCH and prered <= _EPSMCH and 0.5 * ratio <= 1.0:
                    info = 6
                if delta <= _EPSMCH * xnorm:
                    info = 7
                if gnorm <= _EPSMCH:
                    info = 8
            if info != 0 or accepted:
                break
        if info != 0:
            break
        # an accepted step that continues: an iteration to report
        history[istate[STEPS]] = fstate[OBJECTIVE]
        istate[STEPS] += 1
        steps += 1
        if steps >= budget:
            break
    istate[INFO] = info
    fstate[DELTA], fstate[PAR] = delta, par
    fstate[FNORM], fstate[XNORM], fstate[GNORM] = fnorm, xnorm, gnorm


#: accepted steps per slice when nobody watches the fit (the history buffer)
_UNWATCHED_BUDGET = 64


def _put_evaluation(obj, evaluation, fs, rs, jacs) -> None:
    """An Objective's evaluation into slot 0 of the buffers the compiled loops
    work on (its Jacobian as rows of the full parameters; rows of fixed
    parameters are never read)."""
    fs[0] = evaluation.f
    rs[0] = evaluation.r
    if obj.all_free:
        jacs[0] = evaluation.Jr.T
    else:
        jacs[0][obj.free_idx] = evaluation.Jr.T


def _adopt(obj, theta, f, r, jac_rows, objective: float, keep: bool = False):
    """Hand a compiled loop's evaluation at theta to the Objective as its last
    (its cache, as its own evaluations are); returns the Jacobian Jr."""
    Jr = jac_rows.T if obj.all_free else jac_rows[obj.free_idx].T
    obj.adopt(Evaluation(theta.tobytes(), r, Jr, objective, f), keep)
    return Jr


def _account(obj, evaluations: int, best_objective: float, best) -> None:
    """Count a compiled loop's evaluations (each with its Jacobian) and hand
    its best point over to the Objective when it beats the Objective's."""
    obj.nfev += evaluations
    obj.njev += evaluations
    if best_objective < obj.best_objective:
        obj.best_objective = float(best_objective)
        obj.best_theta = best.copy()


def run_lm(obj, options, start, inputs, maxfev: int):
    """lmder through ``lm_slice`` from the Objective's start point; (theta, info).

    ``start`` is the fused evaluation at the start (already reported),
    ``inputs`` the Objective's ``compiled_inputs()``.  Leaves the final
    point's evaluation in the Objective's cache, as the Python path does,
    and unwinds on cancel or the iteration limit from ``obj.report`` with
    the best point already handed to the Objective.
    """
    plan, x, y, w = inputs
    n, m = obj.n_free, y.size
    free_idx = obj.free_idx
    # points: the two buffers of thetas (x and the trial), the best point, and
    # the full parameters the kernels read (fixed ones stay as they are)
    points = np.empty((3, n))
    points[0] = points[2] = obj.theta0
    p = obj.full.copy()
    fs = np.empty((2, m))
    rs = np.empty((2, m))
    jacs = np.empty((2, p.size, m))
    _put_evaluation(obj, start, fs, rs, jacs)
    fstate = np.zeros(8)
    fstate[OBJECTIVE] = fstate[BEST] = start.objective if math.isfinite(start.objective) else np.inf
    istate = np.zeros(7, dtype=np.int64)
    istate[ITER] = istate[NFEV] = istate[LAST_AT_X] = 1
    tol = np.array([options.ftol, options.xtol, options.gtol])
    watched = obj.on_iteration is not None or obj.cancel is not None \
        or obj.max_iterations is not None
    budget = 1 if watched else _UNWATCHED_BUDGET
    history = np.empty(budget)
    a = np.empty((n, m))
    work = np.empty((8, n))
    ipvt = np.empty(n, dtype=np.int64)
    thetas, best = points[:2], points[2]
    evaluations = 0
    while True:
        istate[STEPS] = 0
        lm_slice(plan, x, y, w, p, free_idx, thetas, fs, rs, jacs, a, work, ipvt, best,
                 tol, maxfev, fstate, istate, history, budget)
        _account(obj, int(istate[EVALS]) - evaluations, fstate[BEST], best)
        evaluations = int(istate[EVALS])
        cur = int(istate[CURRENT])
        if istate[STEPS]:
            if watched:   # one step: report it (polls the cancel; may raise to stop)
                obj.report(thetas[cur].copy(), float(history[0]))
            else:
                obj.record_iterations(history[:istate[STEPS]].tolist())
        if istate[INFO]:
            break
    theta = thetas[cur]
    _adopt(obj, theta, fs[cur], rs[cur], jacs[cur], float(fstate[OBJECTIVE]), keep=True)
    return theta, int(istate[INFO])


class _Slots:
    """The two points (current and trial) the compiled polish works on, each
    with its evaluation and factorisation, for a fit with n free parameters."""

    def __init__(self, obj, m: int):
        n, size = obj.n_free, obj.full.size
        self.thetas = np.empty((2, n))
        self.fs = np.empty((2, m))
        self.rs = np.empty((2, m))
        self.jacs = np.empty((2, size, m))
        self.Rs = np.empty((2, n, n))
        self.qtrs = np.empty((2, n))
        self.objectives = np.full(2, np.nan)
        self.factored = np.zeros(2, dtype=np.bool_)
        self.best = np.empty(n)
        # best objective seen, evaluations, accepted steps, rank case
        self.state = np.array([obj.best_objective, 0.0, 0.0, 0.0])

    def arrays(self):
        return (self.thetas, self.fs, self.rs, self.jacs, self.Rs, self.qtrs, self.objectives,
                self.factored, self.best, self.state)

    def linearization(self, obj, slot: int, evaluation=None):
        """The Linearization in ``slot``; also the Objective's last evaluation
        (its cache) unless ``evaluation`` already is."""
        theta, f, r = self.thetas[slot], self.fs[slot], self.rs[slot]
        objective = float(self.objectives[slot])
        if evaluation is not None:
            Jr = evaluation.Jr
        else:
            Jr = _adopt(obj, theta, f, r, self.jacs[slot], objective)
        R, qtr = (self.Rs[slot], self.qtrs[slot]) if self.factored[slot] else (None, None)
        return Linearization(theta, f, r, Jr, R, qtr, objective, compiled=True)

    def account(self, obj) -> None:
        """Hand the evaluations and the best point seen over to the Objective."""
        _account(obj, int(self.state[1]), self.state[0], self.best)


def settle(obj, theta, max_steps: int, rtol: float, limits, noise_factors, rank_deficient,
           polish_python):
    """``_auto._settle`` for a fit through the kernels: (Linearization, rank
    deficient?) at LM's end point theta, polished when of full rank (up to
    ``max_steps``), through ``settle_loop``; where its condition bound cannot
    decide, ``rank_deficient`` (the SVD) does and ``polish_python`` polishes."""
    obj.check_cancel()
    plan, x, y, w = obj.compiled_inputs()
    evaluation = obj.fused_evaluation(theta)   # cached: LM's last point
    slots = _Slots(obj, y.size)
    slots.thetas[0] = theta
    _put_evaluation(obj, evaluation, slots.fs, slots.rs, slots.jacs)
    slots.objectives[0] = evaluation.objective
    cur = settle_loop(plan, x, y, w, obj.full.copy(), obj.free_idx, obj.lower, obj.upper,
                      *slots.arrays(), limits, noise_factors, rtol, max_steps)
    slots.account(obj)
    case = int(slots.state[3])
    if slots.state[2]:   # polish steps were accepted
        lin = slots.linearization(obj, cur)
    else:
        lin = slots.linearization(obj, 0, evaluation)
    if case == 2:   # the condition bound could not tell: the SVD decides
        if rank_deficient(lin):
            return lin, True
        return (polish_python(obj, lin) if max_steps else lin), False
    return lin, case == 1


def polish(obj, lin, noise: float, rtol: float, max_steps: int):
    """``_auto.polish`` for a fit through the kernels: the same loop in
    compiled code (``polish_loop``); returns the final Linearization."""
    obj.check_cancel()
    plan, x, y, w = obj.compiled_inputs()
    slots = _Slots(obj, y.size)
    slots.thetas[0] = lin.theta
    slots.Rs[0] = lin.R
    slots.qtrs[0] = lin.qtr
    slots.objectives[0] = lin.objective
    slots.factored[0] = True
    cur = polish_loop(plan, x, y, w, obj.full.copy(), obj.free_idx, obj.lower, obj.upper,
                      *slots.arrays(), noise, rtol, max_steps)
    slots.account(obj)
    if not slots.state[2]:   # no step accepted: the start as it was
        return lin
    return slots.linearization(obj, cur)


def load_all(loaded_kernels: dict) -> None:
    """Compile (or load from numba's cache) every function here now, by one
    small fit through the real call paths, so that they are loaded with the
    argument types fits use (``models.kernels`` calls this as it loads)."""
    from lsqfit_app.core.problem import FitProblem
    from lsqfit_app.core.result import FitStatus
    from lsqfit_app.models import make_model
    from lsqfit_app.solvers import SolverOptions
    from lsqfit_app.solvers._auto import _NOISE, POLISH_RTOL, run_auto
    from lsqfit_app.solvers._finish import build_result
    from lsqfit_app.solvers._linearize import linearize
    from lsqfit_app.solvers._objective import Objective

    model = make_model("gaussian+poly0")
    x = np.linspace(-3.0, 3.0, 12)
    y = 2.0 * np.exp(-0.5 * (x - 0.2) ** 2) + 0.1 + 0.01 * np.cos(7.0 * x)
    problem = FitProblem.create(model, x, y, dict(zip(model.param_names, (1.5, 0.0, 1.3, 0.0))))
    start = np.array([p.value for p in problem.params])
    obj = Objective(problem, start, solver="auto")
    # the kernels are loading (the caller holds their lock): hand them over directly
    obj.attach_kernels(loaded_kernels)
    with np.errstate(all="ignore"):
        outcome = run_auto(obj, SolverOptions())                 # lm_slice, settle_loop
        lin = outcome.extra["linearization"]
        build_result(problem, obj, lin.theta, FitStatus.CONVERGED, "", "lm", start, 0.0,
                     {"linearization": lin})                      # _curvature
        lin = linearize(obj, lin.theta * 1.001)                   # factor
        polish(obj, lin, _NOISE[1] * lin.objective, POLISH_RTOL, 2)   # polish_loop
