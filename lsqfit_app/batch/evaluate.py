"""Any model on K curves at once: values and exact Jacobians over a leading curve axis.

The curves' predictors are (K, n) arrays and the parameters a (K, p) array
whose columns reach the model as (K, 1) columns, so numpy broadcasts one
parameter value along each curve.  The models do the work themselves
(:meth:`~lsqfit_app.core.model.Model.eval_and_jacobian_batch`): a library
model calls its one lineshape pair, a sum lets each part fill its rows of
one Jacobian buffer, a formula runs its one expression program on the
arrays.  So a batch fit evaluates exactly the code a single fit does, and
no formula or derivative exists twice.

The Jacobian buffer is (p, K, n), row j holding df/dp_j of every curve
contiguously: that is how the lineshapes write it, and the normal equations
of the batch solver (:mod:`lsqfit_app.batch.linalg`) read it row by row.
:func:`batch_eval_and_jacobian` hands it out as the (K, n, p) view.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lsqfit_app.core.model import Model


def _predictors(model: Model, X) -> dict[str, np.ndarray]:
    if isinstance(X, np.ndarray):
        if len(model.independent_vars) != 1:
            raise ValueError(f"the model {model.name!r} has predictors "
                             f"{model.independent_vars}; give a mapping name -> (K, n) array")
        X = {model.independent_vars[0]: X}
    if not isinstance(X, Mapping):
        raise TypeError("X must map each predictor name to a (K, n) array")
    out = {}
    for name in model.independent_vars:
        v = np.asarray(X[name], dtype=float)
        if v.ndim != 2:
            raise ValueError(f"predictor {name!r} must be a (K, n) array, not shape {v.shape}")
        out[name] = v
    return out


def batch_rows(model: Model, P: np.ndarray, X: Mapping[str, np.ndarray],
               rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(F (K, n), rows (p, K, n)): the values and the Jacobian rows of K curves.

    ``rows`` may be given as a buffer to fill (reused across iterations).
    """
    P = np.asarray(P, dtype=float)
    X = _predictors(model, X)
    shape = next(iter(X.values())).shape
    p = len(model.param_names)
    if P.shape != (shape[0], p):
        raise ValueError(f"P must have shape ({shape[0]}, {p}), not {P.shape}")
    if rows is None:
        rows = np.empty((p, *shape))
    F = model.eval_and_jacobian_batch(P, X, rows)
    if F.shape != shape:
        F = np.broadcast_to(F, shape).copy()
    return F, rows


def batch_eval_and_jacobian(model: Model, P: np.ndarray,
                            X: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(F, J): F (K, n) the model of K curves at parameters P (K, p, in
    ``model.param_names`` order) on predictors X (name -> (K, n)); J (K, n, p)
    the exact derivatives, dF[k, i]/dP[k, j] = J[k, i, j]."""
    F, rows = batch_rows(model, P, X)
    return F, rows.transpose(1, 2, 0)


def batch_eval(model: Model, P: np.ndarray, X: Mapping[str, np.ndarray]) -> np.ndarray:
    """F (K, n): the model of K curves (see :func:`batch_eval_and_jacobian`)."""
    return batch_rows(model, P, X)[0]
