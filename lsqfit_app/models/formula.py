"""A model given as a formula the user typed, with exact symbolic derivatives.

``FormulaModel("a*exp(-x/tau) + c", variables=("x",))`` parses the text with
the safe parser of :mod:`lsqfit_app.core.expression_parser`; names that are
predictor columns become ``independent_vars``, all other names parameters.
The Jacobian comes from symbolic derivatives, evaluated together with the
model in one pass over the shared nodes.  Parameters in which the formula is
jointly affine (all mixed second derivatives identically zero) are reported as
``linear_params`` so variable projection and the closed-form solver can treat
them exactly.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.model import Model, Predictors, as_predictors
from lsqfit_app.core.expression import Expression
from lsqfit_app.core.expression_dag import Program
from lsqfit_app.core.expression_parser import parse_expression


class FormulaModel(Model):
    """Model defined by formula text.

    Parameters
    ----------
    text : str
        The formula in the formula language (see DESIGN 4.1), e.g.
        ``"a*exp(-x/tau) + c"`` or ``"b1 - b2*x1*exp(-b3*x2)"``.
    variables : iterable of str
        Names of the predictor columns that may appear.  Those used by the
        formula become ``independent_vars`` (in order of appearance).

    Raises
    ------
    FormulaError
        When the text is not a valid formula, uses none of ``variables`` or
        has no parameter left to fit.
    """

    def __init__(self, text: str, variables: Iterable[str] = ("x",)):
        variables = tuple(variables)
        expr = parse_expression(text, variables)
        names = expr.ordered_names
        known = set(variables)
        independent = tuple(n for n in names if n in known)
        params = tuple(n for n in names if n not in known)
        normalised = str(expr)
        if not independent:
            raise FormulaError(
                f"the formula uses none of the columns {', '.join(variables) or '(none)'}",
                text, None)
        if not params:
            raise FormulaError("the formula has no parameters to fit", text, None)
        self.expression: Expression = expr
        self.name = normalised
        self.formula = normalised
        self.param_names = params
        self.independent_vars = independent
        self.derivatives: tuple[Expression, ...] = tuple(expr.derivative(p) for p in params)
        self._eval_program = Program([expr])
        self._jac_program = Program(list(self.derivatives))
        self._both_program = Program([expr, *self.derivatives])
        self._linear: frozenset[str] | None = None

    # -- evaluation --------------------------------------------------------
    def _env(self, p: np.ndarray, x: Predictors) -> tuple[dict, int]:
        p = np.asarray(p, dtype=float).ravel()
        if p.size != len(self.param_names):
            raise ValueError(f"expected {len(self.param_names)} parameter values, got {p.size}")
        xs = as_predictors(x, self.independent_vars)
        env: dict = dict(xs)
        n = len(next(iter(xs.values())))
        # Python floats: numpy scalar arithmetic on them is the cheapest path.
        env.update(zip(self.param_names, p.tolist()))
        return env, n

    def _column(self, value, n: int, inputs: dict) -> np.ndarray:
        out = np.asarray(value, dtype=float)
        if out.shape != (n,):
            return np.broadcast_to(out, (n,)).copy()
        if any(out is v for v in inputs.values()):
            return out.copy()  # never hand back the caller's own array
        return out

    def eval(self, p: np.ndarray, x: Predictors) -> np.ndarray:
        env, n = self._env(p, x)
        return self._column(self._eval_program.run(env)[0], n, env)

    def jacobian(self, p: np.ndarray, x: Predictors) -> np.ndarray:
        env, n = self._env(p, x)
        return self._fill(self._jac_program.run(env), n)

    def eval_and_jacobian(self, p: np.ndarray, x: Predictors) -> tuple[np.ndarray, np.ndarray]:
        env, n = self._env(p, x)
        values = self._both_program.run(env)
        return self._column(values[0], n, env), self._fill(values[1:], n)

    def eval_and_jacobian_batch(self, P: np.ndarray, X: Predictors, rows: np.ndarray) -> np.ndarray:
        """K curves through the same program: each predictor a (K, n) array and
        each parameter a (K, 1) column, which numpy broadcasts node by node;
        constant derivatives broadcast into their rows of ``rows`` (p, K, n)."""
        env: dict = {k: X[k] for k in self.independent_vars}
        env.update((name, P[:, j:j + 1]) for j, name in enumerate(self.param_names))
        values = self._both_program.run(env)
        shape = rows.shape[1:]
        for j, col in enumerate(values[1:]):
            rows[j] = col
        F = np.empty(shape)
        F[...] = values[0]
        return F

    def jacobian_dd(self, p: np.ndarray, x: Predictors):
        """Double-double Jacobian when every derivative is a polynomial term.

        Affine formulas such as "b0 + b1*x + ... + b10*x**10" have derivatives
        that are products of constants, predictors and their integer powers;
        the closed-form solver needs those beyond double precision.
        """
        from lsqfit_app.core.expression_dd import evaluate_dd

        env, n = self._env(p, x)
        his, los = [], []
        for d in self.derivatives:
            pair = evaluate_dd(d, env, n)
            if pair is None:
                return None
            his.append(pair[0])
            los.append(pair[1])
        return np.column_stack(his), np.column_stack(los)

    def polynomial_powers(self):
        """Powers when the formula is sum_j p_j * x**k_j in its one predictor."""
        from lsqfit_app.core.expression import Const, Pow, Var

        if len(self.independent_vars) != 1 or not self.is_linear:
            return None
        var = self.independent_vars[0]
        powers = []
        for d in self.derivatives:
            if isinstance(d, Const) and d.symbol is None and d.value == 1.0:
                powers.append(0)
            elif isinstance(d, Var) and d.name == var:
                powers.append(1)
            elif (isinstance(d, Pow) and isinstance(d.left, Var) and d.left.name == var
                  and isinstance(d.right, Const) and d.right.symbol is None
                  and float(d.right.value).is_integer() and 0 <= d.right.value <= 64):
                powers.append(int(d.right.value))
            else:
                return None
        # no offset term: the model must vanish when every parameter is 0
        probe = {var: np.array([0.5, 2.0])}
        if np.any(self.eval(np.zeros(len(self.param_names)), probe) != 0):
            return None
        return tuple(powers)

    @staticmethod
    def _fill(columns: list, n: int) -> np.ndarray:
        jac = np.empty((n, len(columns)))
        for j, col in enumerate(columns):
            jac[:, j] = col  # broadcasts constant derivatives
        return jac

    # -- structure ---------------------------------------------------------
    @property
    def linear_params(self) -> frozenset[str]:
        """A maximal set (chosen greedily, in parameter order) of parameters
        whose pairwise second derivatives are all identically zero."""
        if self._linear is None:
            chosen: list[str] = []
            for name, d in zip(self.param_names, self.derivatives):
                if all(d.derivative(q).is_constant_zero for q in (name, *chosen)):
                    chosen.append(name)
            self._linear = frozenset(chosen)
        return self._linear

    def guess(self, x: Predictors, y: np.ndarray) -> dict[str, float]:
        """Start values from the data by variable projection and multi-start."""
        from lsqfit_app.models.starts import find_starts

        return find_starts(self, x, y)
