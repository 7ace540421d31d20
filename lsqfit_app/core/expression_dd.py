"""Evaluate simple expression trees in double-double precision.

The closed-form solver can only reach the last digits of an ill-conditioned
polynomial fit (NIST Filip: cond ~ 1e10 after scaling) when the design matrix
itself is exact beyond double precision: x**10 rounded to a double already
moves the solution in the 7th digit.  Derivatives of affine formulas are
usually monomials - constants, predictors, their integer powers and products -
and those this module evaluates as double-double pairs (hi, lo).  Anything
else returns None, and the caller uses the ordinary float64 Jacobian.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from lsqfit_app.core.ddarith import mul_dd, power_dd, two_sum
from lsqfit_app.core.expression import Add, Const, Expression, Mul, Neg, Pow, Var

MAX_POWER = 64


def evaluate_dd(expr: Expression, env: Mapping[str, np.ndarray], n: int):
    """(hi, lo) arrays of length n, or None when expr is not a polynomial term."""
    if isinstance(expr, Const):
        if expr.symbol is not None:
            return None
        return np.full(n, expr.value), np.zeros(n)
    if isinstance(expr, Var):
        value = env.get(expr.name)
        if value is None:
            return None
        arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).astype(float)
        return arr, np.zeros(n)
    if isinstance(expr, Neg):
        inner = evaluate_dd(expr.operand, env, n)
        return None if inner is None else (-inner[0], -inner[1])
    if isinstance(expr, Pow):
        exponent = expr.right
        if not (isinstance(exponent, Const) and exponent.symbol is None
                and float(exponent.value).is_integer() and 0 <= exponent.value <= MAX_POWER):
            return None
        base = evaluate_dd(expr.left, env, n)
        if base is None or np.any(base[1]):
            return None
        return power_dd(base[0], int(exponent.value))
    if isinstance(expr, Mul):
        a = evaluate_dd(expr.left, env, n)
        b = evaluate_dd(expr.right, env, n) if a is not None else None
        return None if b is None else mul_dd(a[0], a[1], b[0], b[1])
    if isinstance(expr, Add):
        a = evaluate_dd(expr.left, env, n)
        b = evaluate_dd(expr.right, env, n) if a is not None else None
        if b is None:
            return None
        s, e = two_sum(a[0], b[0])
        return s, e + a[1] + b[1]
    return None
