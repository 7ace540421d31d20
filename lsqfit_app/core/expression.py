"""The formula language's expression tree: immutable nodes and symbolic derivatives.

Formula text becomes a tree in :mod:`lsqfit_app.core.expression_parser`; the
functions a formula may call are :data:`FUNCTIONS`, its named constants
:data:`CONSTANTS`.  The nodes are immutable and *hash-consed*: building a node
that already exists returns the existing object, so structural equality is
identity and shared subexpressions are shared objects.  That makes two things
cheap:

* symbolic derivatives (:meth:`Expression.derivative`) built with simplifying
  constructors (constant folding, ``u + 0``, ``u*1``, ``u*0``, ``u**1`` ...)
  stay small and reuse the nodes of the original formula;
* evaluation of a formula together with all its derivatives
  (:class:`~lsqfit_app.core.expression_dag.Program`) computes each distinct
  node once per call.
"""
from __future__ import annotations

import math
import threading
import weakref
from typing import Callable, Mapping

import numpy as np
from scipy import special

from lsqfit_app.core.expression_dag import Program, flatten, rebuild

#: function name -> numpy ufunc; the only callables a formula may use
FUNCTIONS: dict[str, Callable] = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "erf": special.erf,
    "erfc": special.erfc,
}

#: named constants of the language
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

# Precedence levels used when printing (higher binds tighter).
_P_ADD, _P_MUL, _P_NEG, _P_POW, _P_ATOM = 1, 2, 3, 4, 5


# ---------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------

_intern_lock = threading.Lock()
_interned: "weakref.WeakValueDictionary[tuple, Expression]" = weakref.WeakValueDictionary()


class Expression:
    """An immutable node of a formula tree (and the public expression type).

    Nodes are interned: constructing a node equal to an existing one returns
    the existing object, so ``==`` and ``hash`` are identity based and cheap.
    Subclasses: :class:`Const`, :class:`Var`, :class:`Add`, :class:`Sub`,
    :class:`Mul`, :class:`Div`, :class:`Pow`, :class:`Neg`, :class:`Func`.
    """

    __slots__ = ("_key", "_names", "_program", "__weakref__")

    #: printing precedence of this node
    precedence = _P_ATOM

    @classmethod
    def _interned(cls, key: tuple, init: Callable[["Expression"], None]) -> "Expression":
        # ``key``: the node's fields, then its children, in the order of the
        # constructor's arguments (expression_dag.flatten rebuilds nodes from it).
        full_key = (cls, *key)
        with _intern_lock:
            node = _interned.get(full_key)
            if node is None:
                node = object.__new__(cls)
                object.__setattr__(node, "_key", key)
                object.__setattr__(node, "_names", None)
                object.__setattr__(node, "_program", None)
                init(node)
                _interned[full_key] = node
        return node

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self):
        return (rebuild, (flatten(self),))

    # -- structure ---------------------------------------------------------
    @property
    def children(self) -> tuple["Expression", ...]:
        return ()

    @property
    def names(self) -> frozenset[str]:
        """Free names (variables and parameters); ``pi`` and ``e`` excluded."""
        if self._names is None:
            names = frozenset().union(*(c.names for c in self.children)) if self.children else frozenset()
            object.__setattr__(self, "_names", names)
        return self._names

    @property
    def constants(self) -> frozenset[str]:
        """The named constants used (``pi``, ``e``): a column of that name cannot be meant."""
        found: set[str] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Const) and node.symbol is not None:
                found.add(node.symbol)
            stack.extend(node.children)
        return frozenset(found)

    @property
    def ordered_names(self) -> tuple[str, ...]:
        """Free names in order of first appearance in the printed formula."""
        seen: dict[str, None] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Var):
                seen.setdefault(node.name, None)
            else:
                stack.extend(reversed(node.children))
        return tuple(seen)

    @property
    def is_constant(self) -> bool:
        """True for a number or a named constant (how an evaluator tells leaves apart)."""
        return isinstance(self, Const)

    @property
    def is_constant_zero(self) -> bool:
        """True when the node is the constant 0 (after simplification)."""
        return isinstance(self, Const) and self.value == 0.0

    # -- calculus and evaluation -------------------------------------------
    def derivative(self, name: str) -> "Expression":
        """Symbolic partial derivative with respect to ``name``, simplified."""
        return _differentiate(self, name, {})

    def evaluate(self, env: Mapping[str, float | np.ndarray]) -> np.ndarray | float:
        """Numeric value for the names in ``env`` (numpy, vectorised).

        Raises
        ------
        FormulaError
            When ``env`` lacks a value for a free name.
        """
        program = self._program
        if program is None:
            program = Program([self])
            object.__setattr__(self, "_program", program)
        return program.run(env)[0]

    # -- printing ----------------------------------------------------------
    def _format(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def __str__(self) -> str:
        return self._format()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def _wrap(self, child: "Expression", min_precedence: int, strict: bool = False) -> str:
        text = child._format()
        prec = child.precedence
        if prec < min_precedence or (strict and prec == min_precedence):
            return f"({text})"
        return text


class Const(Expression):
    """A number, or a named constant (``pi``, ``e``) when ``symbol`` is set."""

    __slots__ = ("value", "symbol")

    def __new__(cls, value: float, symbol: str | None = None):
        value = float(value)

        def init(node):
            object.__setattr__(node, "value", value)
            object.__setattr__(node, "symbol", symbol)

        return cls._interned((value, symbol), init)

    @property
    def precedence(self) -> int:  # negative numbers print like a unary minus
        return _P_NEG if self.symbol is None and (self.value < 0 or math.copysign(1, self.value) < 0) else _P_ATOM

    def _format(self) -> str:
        if self.symbol is not None:
            return self.symbol
        v = self.value
        if v.is_integer() and abs(v) < 1e16:
            return str(int(v)) if v != 0 else "0"
        return repr(v)


class Var(Expression):
    """A free name: a predictor column or a parameter."""

    __slots__ = ("name",)

    def __new__(cls, name: str):
        def init(node):
            object.__setattr__(node, "name", name)
            object.__setattr__(node, "_names", frozenset((name,)))

        return cls._interned((name,), init)

    def _format(self) -> str:
        return self.name


class _Binary(Expression):
    __slots__ = ("left", "right")
    symbol = "?"
    ufunc: Callable = None  # type: ignore[assignment]

    def __new__(cls, left: Expression, right: Expression):
        def init(node):
            object.__setattr__(node, "left", left)
            object.__setattr__(node, "right", right)

        return cls._interned((left, right), init)

    @property
    def children(self) -> tuple[Expression, ...]:
        return (self.left, self.right)


class Add(_Binary):
    __slots__ = ()
    symbol, precedence, ufunc = "+", _P_ADD, np.add

    def _format(self) -> str:
        return f"{self._wrap(self.left, _P_ADD)} + {self._wrap(self.right, _P_ADD, strict=True)}"


class Sub(_Binary):
    __slots__ = ()
    symbol, precedence, ufunc = "-", _P_ADD, np.subtract

    def _format(self) -> str:
        return f"{self._wrap(self.left, _P_ADD)} - {self._wrap(self.right, _P_ADD, strict=True)}"


class Mul(_Binary):
    __slots__ = ()
    symbol, precedence, ufunc = "*", _P_MUL, np.multiply

    def _format(self) -> str:
        # A negative factor on the right prints as "a*-2", valid but odd: bracket it.
        return f"{self._wrap(self.left, _P_MUL)}*{self._wrap(self.right, _P_POW)}"


class Div(_Binary):
    __slots__ = ()
    symbol, precedence, ufunc = "/", _P_MUL, np.true_divide

    def _format(self) -> str:
        return f"{self._wrap(self.left, _P_MUL)}/{self._wrap(self.right, _P_POW)}"


class Pow(_Binary):
    __slots__ = ()
    symbol, precedence, ufunc = "**", _P_POW, np.power

    def _format(self) -> str:
        # ** is right-associative and binds tighter than a unary minus on its left.
        left = self._wrap(self.left, _P_POW, strict=True)
        right = self.right
        if isinstance(right, Neg) or (isinstance(right, Const) and right.precedence == _P_NEG):
            return f"{left}**({right._format()})"
        return f"{left}**{self._wrap(right, _P_POW)}"


class Neg(Expression):
    """Unary minus."""

    __slots__ = ("operand",)
    precedence = _P_NEG
    ufunc = np.negative

    def __new__(cls, operand: Expression):
        def init(node):
            object.__setattr__(node, "operand", operand)

        return cls._interned((operand,), init)

    @property
    def children(self) -> tuple[Expression, ...]:
        return (self.operand,)

    def _format(self) -> str:
        return f"-{self._wrap(self.operand, _P_POW)}" if isinstance(self.operand, (Neg, Const)) \
            else f"-{self._wrap(self.operand, _P_NEG)}"


class Func(Expression):
    """A call of one of :data:`FUNCTIONS`."""

    __slots__ = ("name", "arg", "ufunc")

    def __new__(cls, name: str, arg: Expression):
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {name!r}")

        def init(node):
            object.__setattr__(node, "name", name)
            object.__setattr__(node, "arg", arg)
            object.__setattr__(node, "ufunc", FUNCTIONS[name])

        return cls._interned((name, arg), init)

    @property
    def children(self) -> tuple[Expression, ...]:
        return (self.arg,)

    def _format(self) -> str:
        return f"{self.name}({self.arg._format()})"


# Interning keys hold the child nodes themselves; node hashing and equality are
# by identity, which is structural equality because every node is interned.

ZERO = Const(0.0)
ONE = Const(1.0)
TWO = Const(2.0)
PI = Const(math.pi, "pi")
E = Const(math.e, "e")


# ---------------------------------------------------------------------------
# Simplifying constructors (used by derivatives; the parser keeps user text)
# ---------------------------------------------------------------------------

def _fold(value: float, fallback: Callable[[], Expression]) -> Expression:
    # Folding must not turn log(-1) or 1/0 into a nan/inf constant that prints
    # as invalid text; keep the unevaluated node instead.
    return Const(value) if math.isfinite(value) else fallback()


def _is(node: Expression, value: float) -> bool:
    return isinstance(node, Const) and node.value == value


def _num(a: Expression, b: Expression) -> bool:
    return isinstance(a, Const) and isinstance(b, Const)


def add(a: Expression, b: Expression) -> Expression:
    if _is(a, 0):
        return b
    if _is(b, 0):
        return a
    if _num(a, b):
        return _fold(a.value + b.value, lambda: Add(a, b))
    if isinstance(b, Neg):
        return sub(a, b.operand)
    if isinstance(b, Const) and b.value < 0 and b.symbol is None:
        return sub(a, Const(-b.value))
    if a is b:
        return mul(TWO, a)
    return Add(a, b)


def sub(a: Expression, b: Expression) -> Expression:
    if _is(b, 0):
        return a
    if _is(a, 0):
        return neg(b)
    if a is b:
        return ZERO
    if _num(a, b):
        return _fold(a.value - b.value, lambda: Sub(a, b))
    if isinstance(b, Neg):
        return add(a, b.operand)
    return Sub(a, b)


def neg(a: Expression) -> Expression:
    if isinstance(a, Const) and a.symbol is None:
        return Const(-a.value) if a.value != 0 else ZERO
    if isinstance(a, Neg):
        return a.operand
    if isinstance(a, Mul) and isinstance(a.left, Const) and a.left.symbol is None:
        return mul(Const(-a.left.value), a.right)
    if isinstance(a, Sub):
        return Sub(a.right, a.left)
    return Neg(a)


def mul(a: Expression, b: Expression) -> Expression:
    if _is(a, 0) or _is(b, 0):
        return ZERO
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    if _is(a, -1):
        return neg(b)
    if _is(b, -1):
        return neg(a)
    if _num(a, b):
        return _fold(a.value * b.value, lambda: Mul(a, b))
    if isinstance(b, Const) and not isinstance(a, Const):
        return mul(b, a)  # constants first: "2*x", and lets them fold
    if isinstance(a, Neg):
        return neg(mul(a.operand, b))
    if isinstance(b, Neg):
        return neg(mul(a, b.operand))
    if not isinstance(a, Const) and isinstance(b, Mul) and isinstance(b.left, Const):
        return mul(mul(b.left, a), b.right)  # a*(3*u) -> 3*a*u: constants lead and fold
    if isinstance(a, Const) and isinstance(b, Mul) and isinstance(b.left, Const):
        return mul(Const(a.value * b.left.value), b.right) if math.isfinite(a.value * b.left.value) \
            else Mul(a, b)
    if isinstance(a, Const) and isinstance(b, Div) and isinstance(b.left, Const):
        return div(_fold(a.value * b.left.value, lambda: Mul(a, b.left)), b.right)
    if isinstance(b, Div) and _is(b.left, 1):
        return div(a, b.right)
    if isinstance(a, Div) and _is(a.left, 1):
        return div(b, a.right)
    if a is b:
        return pow_(a, TWO)
    return Mul(a, b)


def div(a: Expression, b: Expression) -> Expression:
    if _is(a, 0):
        return ZERO
    if _is(b, 1):
        return a
    if _is(b, -1):
        return neg(a)
    if a is b:
        return ONE
    if _num(a, b) and b.value != 0:
        return _fold(a.value / b.value, lambda: Div(a, b))
    if isinstance(a, Neg):
        return neg(div(a.operand, b))
    if isinstance(b, Neg):
        return neg(div(a, b.operand))
    if isinstance(b, Const) and b.value != 0 and b.symbol is None and not isinstance(a, Const):
        inv = 1.0 / b.value
        if math.isfinite(inv) and abs(math.frexp(inv)[0]) == 0.5:
            return mul(Const(inv), a)  # exact reciprocal (powers of two): a/2 -> 0.5*a
    if isinstance(a, Div):
        return div(a.left, mul(a.right, b))
    return Div(a, b)


def pow_(a: Expression, b: Expression) -> Expression:
    if _is(b, 0):
        return ONE
    if _is(b, 1):
        return a
    if _is(a, 1):
        return ONE
    if _num(a, b):
        try:
            value = a.value ** b.value
        except (OverflowError, ZeroDivisionError):
            value = math.nan
        if isinstance(value, complex):
            return Pow(a, b)
        return _fold(value, lambda: Pow(a, b))
    if isinstance(a, Pow) and isinstance(a.right, Const) and isinstance(b, Const) \
            and float(b.value).is_integer():
        # (u**c)**k == u**(c*k) for integer k, whatever the sign of u
        return pow_(a.left, Const(a.right.value * b.value))
    return Pow(a, b)


def func(name: str, a: Expression) -> Expression:
    if isinstance(a, Const) and a.symbol is None:
        with np.errstate(all="ignore"):
            value = float(FUNCTIONS[name](a.value))
        return _fold(value, lambda: Func(name, a))
    return Func(name, a)


# ---------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------

def _d_erf(u: Expression) -> Expression:
    return mul(Const(2.0 / math.sqrt(math.pi)), func("exp", neg(pow_(u, TWO))))


#: d f(u) / du for each function of the language
_D_FUNC: dict[str, Callable[[Expression], Expression]] = {
    "exp": lambda u: Func("exp", u),
    "log": lambda u: div(ONE, u),
    "log10": lambda u: div(ONE, mul(Func("log", Const(10.0)), u)),
    "sqrt": lambda u: div(Const(0.5), Func("sqrt", u)),
    # sign(u) is not in the language; u/abs(u) is (nan only at u == 0).
    "abs": lambda u: div(u, Func("abs", u)),
    "sin": lambda u: func("cos", u),
    "cos": lambda u: neg(func("sin", u)),
    "tan": lambda u: div(ONE, pow_(func("cos", u), TWO)),
    "arcsin": lambda u: div(ONE, func("sqrt", sub(ONE, pow_(u, TWO)))),
    "arccos": lambda u: neg(div(ONE, func("sqrt", sub(ONE, pow_(u, TWO))))),
    "arctan": lambda u: div(ONE, add(ONE, pow_(u, TWO))),
    "sinh": lambda u: func("cosh", u),
    "cosh": lambda u: func("sinh", u),
    "tanh": lambda u: div(ONE, pow_(func("cosh", u), TWO)),
    "erf": _d_erf,
    "erfc": lambda u: neg(_d_erf(u)),
}


def _differentiate(node: Expression, name: str, memo: dict) -> Expression:
    if name not in node.names:
        return ZERO
    hit = memo.get(node)
    if hit is not None:
        return hit
    d = _differentiate
    if isinstance(node, Var):
        result = ONE
    elif isinstance(node, Add):
        result = add(d(node.left, name, memo), d(node.right, name, memo))
    elif isinstance(node, Sub):
        result = sub(d(node.left, name, memo), d(node.right, name, memo))
    elif isinstance(node, Neg):
        result = neg(d(node.operand, name, memo))
    elif isinstance(node, Mul):
        a, b = node.left, node.right
        result = add(mul(d(a, name, memo), b), mul(a, d(b, name, memo)))
    elif isinstance(node, Div):
        a, b = node.left, node.right
        da, db = d(a, name, memo), d(b, name, memo)
        # da/b - a*db/b**2, written so that the a-independent part stays apart
        result = sub(div(da, b), div(mul(a, db), pow_(b, TWO)))
    elif isinstance(node, Pow):
        a, b = node.left, node.right
        if name not in b.names:
            # c*a**(c-1)*da; the exponent may hold other names (x**n)
            result = mul(mul(b, pow_(a, sub(b, ONE))), d(a, name, memo))
        elif name not in a.names:
            result = mul(mul(node, func("log", a)), d(b, name, memo))
        else:
            da, db = d(a, name, memo), d(b, name, memo)
            result = mul(node, add(mul(db, func("log", a)), div(mul(b, da), a)))
    elif isinstance(node, Func):
        result = mul(_D_FUNC[node.name](node.arg), d(node.arg, name, memo))
    else:  # pragma: no cover
        raise AssertionError(type(node))
    memo[node] = result
    return result

