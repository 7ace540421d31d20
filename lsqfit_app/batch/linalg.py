"""Small dense linear algebra on stacks of K systems, vectorised over K.

A batch fit solves one p x p system per curve and iteration, with p a
handful of parameters and K thousands of curves.  LAPACK called per matrix
(``np.linalg.solve`` on a stack) pays its call overhead K times; here the
loops run over the p rows and columns instead, each step one numpy
operation on K values, so the cost per curve is a few dozen flops.

* :func:`normal_equations`: J^T J and J^T r of K curves from the Jacobian
  rows (q, K, n), one dot product per pair of rows;
* :func:`cholesky`: the lower factor of K symmetric matrices, with a flag
  per matrix that is False where one is not positive definite;
* :func:`cholesky_solve`, :func:`cholesky_inverse`: solves and inverses
  from that factor.
"""
from __future__ import annotations

import numpy as np

#: row-wise dot products along the last axis (numpy >= 2 has a fast gufunc for it)
vecdot = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("...i,...i->...", a, b))


def normal_equations(rows: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, g) with A[k] = J_k^T J_k (K, q, q) and g[k] = J_k^T r_k (K, q), where
    J_k[:, j] = rows[j, k]."""
    q, K = rows.shape[0], rows.shape[1]
    A = np.empty((K, q, q))
    g = np.empty((K, q))
    for i in range(q):
        ri = rows[i]
        g[:, i] = vecdot(ri, r)
        for j in range(i + 1):
            A[:, i, j] = vecdot(ri, rows[j])
            if j != i:
                A[:, j, i] = A[:, i, j]
    return A, g


def cholesky(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, ok): L[k] L[k]^T = M[k] for each of the K symmetric matrices M (K, q, q);
    ok[k] False where M[k] is not (numerically) positive definite, L[k] then
    garbage but finite."""
    K, q = M.shape[0], M.shape[1]
    L = np.zeros_like(M)
    ok = np.ones(K, dtype=bool)
    for j in range(q):
        s = M[:, j, j] - np.einsum("kl,kl->k", L[:, j, :j], L[:, j, :j])
        good = s > 0
        ok &= good
        d = np.sqrt(np.where(good, s, 1.0))
        L[:, j, j] = d
        if j + 1 < q:
            below = M[:, j + 1:, j] - np.einsum("kil,kl->ki", L[:, j + 1:, :j], L[:, j, :j])
            L[:, j + 1:, j] = below / d[:, None]
    return L, ok


def cholesky_solve(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with L L^T x = b for each of K factors L (K, q, q) and right-hand sides b (K, q)."""
    q = b.shape[1]
    z = np.empty_like(b)
    for i in range(q):
        z[:, i] = (b[:, i] - np.einsum("kl,kl->k", L[:, i, :i], z[:, :i])) / L[:, i, i]
    x = np.empty_like(b)
    for i in range(q - 1, -1, -1):
        x[:, i] = (z[:, i] - np.einsum("kl,kl->k", L[:, i + 1:, i], x[:, i + 1:])) / L[:, i, i]
    return x


def cholesky_inverse(L: np.ndarray) -> np.ndarray:
    """(L L^T)^-1 for each of K factors L (K, q, q): (L^-1)^T L^-1."""
    q = L.shape[1]
    inv = np.zeros_like(L)          # L^-1, lower triangular
    for j in range(q):
        inv[:, j, j] = 1.0 / L[:, j, j]
        for i in range(j + 1, q):
            inv[:, i, j] = -np.einsum("kl,kl->k", L[:, i, j:i], inv[:, j:i, j]) / L[:, i, i]
    return np.einsum("kli,klj->kij", inv, inv)
