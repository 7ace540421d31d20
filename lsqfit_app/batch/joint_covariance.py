r"""The covariance of a global fit from its block-arrow Jacobian, without the full matrix.

For curve k, a QR factorisation of its columns [B_k, A_k] (local first, then
shared; columns scaled by powers of two, exact) gives

    [B_k A_k] = Q_k [[R_bb, R_ba], [0, R_aa]],

so V_k = R_bb^T R_bb, W_k^T = R_bb^T R_ba, and the Schur complement of the
local blocks is S = sum_k R_aa^T R_aa: the R factor of the stacked R_aa
(a second QR) is that of the whole problem's shared part.  Then, with
Y_k = V_k^-1 W_k^T = R_bb^-1 R_ba,

    C_ss      = S^-1
    C_{s,k}   = -C_ss Y_k^T
    C_{k,k}   = V_k^-1 + Y_k C_ss Y_k^T
    C_{k,j}   = Y_k C_ss Y_j^T        (k != j)

so the whole (J^T J)^-1 is Z C_ss Z^T + blockdiag(0, V_1^-1, ..., V_K^-1),
Z = [I; -Y_1; ...; -Y_K], built only when it is small.  Working from J (QR),
not from J^T J, keeps the accuracy of the single fit's covariance.

Rank: the shared part goes through :func:`core.statistics.svd_curvature`
(its notes name parameters the data cannot separate); a curve whose R_bb has
singular values below s_max * max(n, p_l) * eps gets NaN for its local
parameters.  Parameters held at a bound are left out (NaN), as in a single fit;
curves are grouped by which local parameters are held.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsqfit_app.core.statistics import column_scale, svd_curvature

_EPS = float(np.finfo(float).eps)


@dataclass
class JointCurvature:
    """(J^T J)^-1 in blocks, unscaled (multiply by s2), NaN where not defined."""

    shared: np.ndarray        # (p_s, p_s)
    cross: np.ndarray         # (K, p_s, p_l): C_{s,k}
    local: np.ndarray         # (K, p_l, p_l): C_{k,k}
    Y: np.ndarray             # (K, p_l, p_s), for the off-diagonal curve blocks
    local_inverse: np.ndarray  # (K, p_l, p_l): V_k^-1
    shared_notes: list        # per shared unknown, "" when determined
    local_ok: np.ndarray      # (K, p_l) bool: determined (and not held)
    deficiency: int           # parameters the data do not determine

    def full(self) -> np.ndarray:
        """The whole covariance, shared unknowns first, then each curve's."""
        K, pl, ps = self.Y.shape
        Z = np.concatenate([np.eye(ps), -self.Y.reshape(K * pl, ps)], axis=0)
        C = Z @ self.shared @ Z.T
        for k in range(K):
            rows = slice(ps + k * pl, ps + (k + 1) * pl)
            C[rows, rows] += self.local_inverse[k]
        # an undetermined (or held) unknown has no covariance with anything, as in a single fit
        bad = ~np.concatenate([np.isfinite(self.shared.diagonal()), self.local_ok.ravel()])
        C[bad, :] = np.nan
        C[:, bad] = np.nan
        return C


def joint_curvature(Jr: np.ndarray, ps: int, active_s: np.ndarray, active_l: np.ndarray,
                    n_used: np.ndarray, shared_names: list[str]) -> JointCurvature:
    """The blocks of (J^T J)^-1 for Jr (K, n, p_s + p_l), over active unknowns."""
    K, n, pf = Jr.shape
    pl = pf - ps
    A, B = Jr[:, :, :ps], Jr[:, :, ps:]
    sc_s = column_scale(A.reshape(K * n, ps))
    sc_l = column_scale(B.transpose(1, 0, 2).reshape(n, K * pl)).reshape(K, pl)
    act_s = np.flatnonzero(active_s)
    pa = act_s.size
    As = A[:, :, act_s] / sc_s[act_s]
    local_inv = np.full((K, pl, pl), np.nan)
    Yhat = np.zeros((K, pl, ps))
    ok = np.zeros((K, pl), dtype=bool)
    raa = np.zeros((K, pa, pa))
    deficiency = 0
    patterns, which = np.unique(active_l, axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        rows = np.flatnonzero(which.ravel() == g)
        cols = np.flatnonzero(pattern)
        q = cols.size
        Bs = B[rows][:, :, cols] / sc_l[rows][:, None, cols]
        M = np.concatenate([Bs, As[rows]], axis=2)
        if n < q + pa:   # mode "r" of a wide matrix is not square: pad with zero rows
            M = np.concatenate([M, np.zeros((rows.size, q + pa - n, q + pa))], axis=1)
        R = np.linalg.qr(M, mode="r") if q + pa else np.zeros((rows.size, 0, 0))
        raa[rows] = R[:, q:, q:]
        if q == 0:
            continue
        Rbb, Rba = R[:, :q, :q], R[:, :q, q:]
        sv = np.linalg.svd(Rbb, compute_uv=False) if np.isfinite(Rbb).all() else \
            np.zeros((rows.size, q))
        tol = sv[:, :1] * np.maximum(n_used[rows], q)[:, None] * _EPS
        full_rank = (sv[:, -1:] > tol)[:, 0] & (sv[:, 0] > 0)
        deficiency += int(np.count_nonzero(sv <= tol))
        good = rows[full_rank]
        if good.size:
            Rinv = np.linalg.inv(Rbb[full_rank])
            Vinv = Rinv @ Rinv.transpose(0, 2, 1)
            Y = Rinv @ Rba[full_rank]                       # scaled V^-1 W^T
            scl = sc_l[good][:, cols]
            local_inv[np.ix_(good, cols, cols)] = Vinv / (scl[:, :, None] * scl[:, None, :])
            Yhat[np.ix_(good, cols, act_s)] = Y / scl[:, :, None] * sc_s[act_s]
            ok[np.ix_(good, cols)] = True
    C_ss = np.full((ps, ps), np.nan)
    notes = [""] * ps
    if pa:
        curv = svd_curvature(raa.reshape(K * pa, pa), [shared_names[i] for i in act_s])
        C_ss[np.ix_(act_s, act_s)] = curv.covariance / (sc_s[act_s][:, None] * sc_s[act_s])
        for i, note in zip(act_s.tolist(), curv.notes):
            notes[i] = note
        deficiency += pa - (curv.rank if curv.rank is not None else pa)
    C_sub = np.where(np.isfinite(C_ss), C_ss, 0.0)
    cross = -np.einsum("ij,klj->kil", C_sub, Yhat)
    local = local_inv + Yhat @ C_sub @ Yhat.transpose(0, 2, 1)
    bad_s = ~np.isfinite(C_ss.diagonal()) & active_s
    if bad_s.any():
        # locals that depend on an undetermined shared parameter are undetermined too
        leaks = np.abs(Yhat[:, :, bad_s]).sum(axis=2) > 0
        ok &= ~leaks
    local[~ok] = np.nan
    local.transpose(0, 2, 1)[~ok] = np.nan
    cross.transpose(0, 2, 1)[~ok] = np.nan
    cross[:, ~np.isfinite(C_ss.diagonal()), :] = np.nan
    return JointCurvature(C_ss, cross, local, Yhat, np.where(ok[:, :, None] & ok[:, None, :],
                                                             local_inv, np.nan),
                          notes, ok, deficiency)
