"""The model interface every fit model implements.

A model maps parameter values and predictor arrays to predicted responses:

    f(p; x) with p a 1-D float array in ``param_names`` order and x a mapping
    from each name in ``independent_vars`` to a 1-D float array of length n.

It also gives the exact Jacobian df/dp (n x len(p)), data-driven start values
(:meth:`Model.guess`) and bound hints.  Library models, formula models and sums
of models all implement this class; solvers only ever see this interface.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

Predictors = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class ParamHint:
    """What a model knows about one parameter before seeing data."""

    min: float = -math.inf
    max: float = math.inf
    description: str = ""


class Model(ABC):
    """Abstract base of every model.

    Subclasses set ``name``, ``formula``, ``param_names`` and
    ``independent_vars`` and implement :meth:`eval`, :meth:`jacobian` and
    :meth:`guess`.
    """

    #: short identifier ("gaussian", "poly3", or the formula text)
    name: str = ""
    #: human-readable formula, e.g. "amplitude*exp(-(x-center)**2/(2*sigma**2))"
    formula: str = ""
    param_names: tuple[str, ...] = ()
    independent_vars: tuple[str, ...] = ("x",)

    @abstractmethod
    def eval(self, p: np.ndarray, x: Predictors) -> np.ndarray:
        """Model values, shape (n,)."""

    @abstractmethod
    def jacobian(self, p: np.ndarray, x: Predictors) -> np.ndarray:
        """Exact derivatives df/dp_j, shape (n, len(param_names))."""

    @abstractmethod
    def guess(self, x: Predictors, y: np.ndarray) -> dict[str, float]:
        """Start values for every parameter from the data (finite floats)."""

    def param_hints(self) -> dict[str, ParamHint]:
        """Bound hints per parameter (e.g. widths > 0).  Default: none."""
        return {}

    @property
    def linear_params(self) -> frozenset[str]:
        """Parameters in which the model is jointly affine.

        With the others held fixed, f = sum_j p_j * g_j(x) + g_0(x) over this
        set.  Variable projection and the closed-form solver use it.
        """
        return frozenset()

    @property
    def is_linear(self) -> bool:
        """True when the model is affine in all its parameters."""
        return bool(self.param_names) and self.linear_params == frozenset(self.param_names)

    def jacobian_dd(self, p: np.ndarray, x: Predictors) -> tuple[np.ndarray, np.ndarray] | None:
        """The Jacobian as a double-double pair (hi, lo), or None if not available.

        Only affine models need it: the closed-form solver refines against the
        exact design matrix when it has one (NIST Filip needs x**10 to more
        than double precision).  Default: not available.
        """
        return None

    def polynomial_powers(self) -> tuple[int, ...] | None:
        """Powers k_j when the model is exactly sum_j p_j * x**k_j in one predictor.

        Lets the closed-form solver stream millions of points through small
        normal equations instead of a huge design matrix.  Default: None.
        """
        return None

    def eval_and_jacobian(self, p: np.ndarray, x: Predictors) -> tuple[np.ndarray, np.ndarray]:
        """Both at once; subclasses override when they can share work."""
        return self.eval(p, x), self.jacobian(p, x)

    def jacobian_at(self, x: Predictors) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``evaluate(p) -> eval_and_jacobian(p, x)`` at fixed predictors x.

        Solvers evaluate the same predictors many times: a model that checks
        or prepares them before each evaluation (a sum of lineshapes takes
        its x array out of the mapping) overrides this to do it once.  The
        J returned need only stay valid until the next call (an override may
        reuse one buffer): callers weigh it into arrays of their own at once.
        """
        eval_and_jacobian = self.eval_and_jacobian

        def evaluate(p):
            return eval_and_jacobian(p, x)

        return evaluate

    def eval_and_jacobian_rows(self, p: np.ndarray, x: Predictors, rows: np.ndarray) -> np.ndarray:
        """The values, with the Jacobian written transposed into ``rows``
        (a parameters x points buffer, such as a sum of models' slice of its
        own).  Subclasses that can build J^T in place override this."""
        f, J = self.eval_and_jacobian(p, x)
        rows[...] = J.T
        return f

    def eval_and_jacobian_batch(self, P: np.ndarray, X: Predictors, rows: np.ndarray) -> np.ndarray:
        """Values of K curves at once, with the Jacobian written into ``rows``.

        ``P`` is (K, p) in ``param_names`` order, ``X`` maps each predictor
        to a (K, n) array, ``rows`` is a (p, K, n) buffer: ``rows[j]`` gets
        df/dp_j of every curve.  Returns F, (K, n).  This default runs
        :meth:`eval_and_jacobian` curve by curve, so any model works in a
        batch; the library models, their sums and the formulas override it
        to broadcast over the curves in one call to their own code.
        """
        names = self.independent_vars
        F = np.empty(rows.shape[1:])
        for i in range(F.shape[0]):
            f, J = self.eval_and_jacobian(P[i], {k: X[k][i] for k in names})
            F[i] = f
            rows[:, i, :] = np.asarray(J).T
        return F

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {self.formula}>"


def as_predictors(x, independent_vars: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Accept a bare array for one-variable models; return a name->array dict."""
    # an ndarray is never a Mapping, and the ABC isinstance check is the slow part
    if type(x) is not np.ndarray and isinstance(x, Mapping):
        return {k: np.asarray(x[k], dtype=float) for k in independent_vars}
    arr = np.asarray(x, dtype=float)
    if len(independent_vars) == 1:
        return {independent_vars[0]: arr}
    if arr.ndim == 2 and arr.shape[0] == len(independent_vars):
        return {k: arr[i] for i, k in enumerate(independent_vars)}
    raise ValueError(f"expected predictors {independent_vars}, got an array of shape {arr.shape}")
