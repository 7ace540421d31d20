"""Double-double design matrices for affine formulas (what Filip needs)."""
from fractions import Fraction

import numpy as np

from lsqfit_app.models.formula import FormulaModel


def test_powers_are_exact_to_double_double():
    model = FormulaModel("b0 + b1*x + b2*x**2 + b10*x**10", ("x",))
    x = np.array([-8.781464495, -3.1320, 0.1, 7.0])
    hi, lo = model.jacobian_dd(np.ones(4), {"x": x})
    for i, xv in enumerate(x):
        for j, k in enumerate((0, 1, 2, 10)):
            exact = Fraction(float(xv)) ** k
            got = Fraction(float(hi[i, j])) + Fraction(float(lo[i, j]))
            assert abs(got - exact) <= abs(exact) * Fraction(1, 2**100)


def test_non_polynomial_derivatives_give_none():
    model = FormulaModel("a*exp(-x) + b", ("x",))
    assert model.jacobian_dd(np.ones(2), {"x": np.arange(3.0)}) is None
