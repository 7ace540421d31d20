"""Polynomials and the straight line: models that linear least squares solves exactly.

Start values are the least-squares solution itself (:func:`~lsqfit_app.models.guesses.poly_fit`,
in x mapped to [-1, 1] as ``numpy.polynomial`` does).  The powers of x are also
given as exact double-double pairs (``jacobian_dd``), which the closed-form
solver needs for ill-conditioned problems such as NIST Filip.
"""
from __future__ import annotations

import numpy as np

from lsqfit_app.core.ddarith import mul_dd
from lsqfit_app.core.model import ParamHint
from lsqfit_app.models import lineshapes as ls
from lsqfit_app.models.guesses import poly_fit, x_of
from lsqfit_app.models.library import LibraryModel


class PolynomialModel(LibraryModel):
    """``c0 + c1*x + ... + cN*x**N``; use the registered classes poly0 ... poly10."""

    degree: int = 0
    kind = "baseline"
    _max_points = None

    def eval(self, p, x):
        xv = x_of(x)
        if self.degree == 0:
            return np.full(xv.shape, float(p[0]))
        return np.polynomial.polynomial.polyval(xv, np.asarray(p, dtype=float))

    def jacobian(self, p, x):
        xv = x_of(x)
        if self.degree == 0:
            return np.ones((xv.size, 1))
        return np.vander(xv, self.degree + 1, increasing=True)

    def eval_and_jacobian(self, p, x):
        xv = x_of(x)
        if self.degree == 0:
            # An offset is the commonest sum component: skip vander and a matrix product.
            return np.full(xv.shape, float(p[0])), np.ones((xv.size, 1))
        jac = np.vander(xv, self.degree + 1, increasing=True)
        return jac @ np.asarray(p, dtype=float), jac

    def eval_and_jacobian_batch(self, P, X, rows):
        """K curves: the powers of x as the Jacobian rows, the values by Horner's rule."""
        xv = X["x"]
        rows[0] = 1.0
        for k in range(1, self.degree + 1):
            np.multiply(rows[k - 1], xv, out=rows[k])
        F = np.empty(xv.shape)
        F[...] = P[:, self.degree:]
        for k in range(self.degree - 1, -1, -1):
            F *= xv
            F += P[:, k:k + 1]
        return F

    def polynomial_powers(self):
        return tuple(range(self.degree + 1))

    def jacobian_dd(self, p, x):
        """The powers x**k as exact double-double pairs (hi, lo), hi + lo = x**k.

        x**10 rounded to double loses digits the NIST Filip problem needs;
        each power is formed from the previous pair by an error-free product.
        """
        xv = np.asarray(x_of(x), dtype=float)
        hi = np.empty((self.degree + 1, xv.size))
        lo = np.zeros_like(hi)
        hi[0] = 1.0
        for k in range(1, self.degree + 1):
            hi[k], lo[k] = mul_dd(hi[k - 1], lo[k - 1], xv, 0.0)
        return hi.T, lo.T

    def _guess(self, x, y):
        c = poly_fit(x, y, self.degree)
        return {f"c{i}": c[i] for i in range(self.degree + 1)}


class LineModel(LibraryModel):
    """Straight line ``slope*x + intercept``."""

    name = "line"
    formula = "slope*x + intercept"
    param_names = ("slope", "intercept")
    description = "straight line"
    kind = "baseline"
    _hints = {"slope": ParamHint(description="change of y per unit x"),
              "intercept": ParamHint(description="y at x = 0")}
    _linear = frozenset(param_names)
    _defaults = {"slope": 0.0, "intercept": 0.0}
    _max_points = None
    _shape = staticmethod(ls.line)
    _shape_jac = staticmethod(ls.line_and_jacobian)

    def polynomial_powers(self):
        return (1, 0)

    def jacobian_dd(self, p, x):
        """[x, 1] is exact in double precision: the low part is zero."""
        jac = self.jacobian(p, x)
        return jac, np.zeros_like(jac)

    def _guess(self, x, y):
        c = poly_fit(x, y, 1)
        return {"slope": c[1], "intercept": c[0]}


def _make_poly(degree: int) -> type[PolynomialModel]:
    names = tuple(f"c{i}" for i in range(degree + 1))
    terms = ["c0"] + ["c1*x"] * (degree >= 1) + [f"c{i}*x**{i}" for i in range(2, degree + 1)]
    return type(f"Poly{degree}Model", (PolynomialModel,), {
        "__doc__": f"Polynomial of degree {degree}: {' + '.join(terms)}.",
        # type() would take the module of the metaclass (abc) otherwise
        "__module__": __name__,
        "name": f"poly{degree}",
        "degree": degree,
        "formula": " + ".join(terms),
        "param_names": names,
        "description": (f"polynomial of degree {degree}" if degree else "constant")
        + "; linear least squares gives the exact solution",
        "_hints": {n: ParamHint(description=f"coefficient of x**{i}") for i, n in enumerate(names)},
        "_linear": frozenset(names),
        "_defaults": {n: 0.0 for n in names},
    })


#: poly0 ... poly10, the classes of the polynomials of each degree
POLYNOMIALS: tuple[type[PolynomialModel], ...] = tuple(_make_poly(d) for d in range(11))
