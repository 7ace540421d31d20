"""Safe formula expressions: parser, immutable expression tree, symbolic derivatives.

Users type model formulas ("a*exp(-x/tau) + c") and column expressions
("log(y)").  Such text must never reach ``eval``/``exec``: it is parsed with
``ast.parse(text, mode="eval")`` and every AST node is checked against a short
whitelist (numbers, ``+ - * / **`` and ``^``, unary signs, names, calls of the
functions in :data:`FUNCTIONS` with one positional argument, the constants
``pi`` and ``e``).  Anything else raises :class:`FormulaError` pointing at the
offending character.

The checked AST becomes a tree of immutable, *hash-consed* nodes: building a
node that already exists returns the existing object, so structural equality is
identity and shared subexpressions are shared objects.  That makes two things
cheap:

* symbolic derivatives (:meth:`Expression.derivative`) built with simplifying
  constructors (constant folding, ``u + 0``, ``u*1``, ``u*0``, ``u**1`` ...)
  stay small and reuse the nodes of the original formula;
* evaluation of a formula together with all its derivatives
  (:class:`Program`) walks the union of the trees once, computing each distinct
  node once per call (``exp(-x/tau)`` appears in f and in df/da but is
  evaluated once).

Evaluation is plain numpy on a precomputed, topologically sorted list of
ufunc calls; floating-point warnings are silenced and results may hold nan or
inf, which callers check.
"""
from __future__ import annotations

import ast
import math
import threading
import weakref
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import special

from lsqfit_app.core.errors import FormulaError

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

_ALLOWED = ", ".join(FUNCTIONS)

#: deepest AST accepted (each binary operator or call adds a level)
_MAX_DEPTH = 400

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
        full_key = (cls, *key)
        with _intern_lock:
            node = _interned.get(full_key)
            if node is None:
                node = object.__new__(cls)
                object.__setattr__(node, "_key", key)
                object.__setattr__(node, "_names", None)
                object.__setattr__(node, "_program", None)
                init(node)
                try:
                    _interned[full_key] = node
                except TypeError:  # unhashable key (cannot happen for floats/str)
                    pass
        return node

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self):
        # Pickling (projects, worker processes) goes through the text form.
        return (parse_expression, (str(self),))

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

def _d_func(name: str, u: Expression) -> Expression:
    """d name(u) / du."""
    if name == "exp":
        return Func("exp", u)
    if name == "log":
        return div(ONE, u)
    if name == "log10":
        return div(ONE, mul(Func("log", Const(10.0)), u))
    if name == "sqrt":
        return div(Const(0.5), Func("sqrt", u))
    if name == "abs":
        # sign(u) is not in the language; u/abs(u) is (nan only at u == 0).
        return div(u, Func("abs", u))
    if name == "sin":
        return func("cos", u)
    if name == "cos":
        return neg(func("sin", u))
    if name == "tan":
        return div(ONE, pow_(func("cos", u), TWO))
    if name == "arcsin":
        return div(ONE, func("sqrt", sub(ONE, pow_(u, TWO))))
    if name == "arccos":
        return neg(div(ONE, func("sqrt", sub(ONE, pow_(u, TWO)))))
    if name == "arctan":
        return div(ONE, add(ONE, pow_(u, TWO)))
    if name == "sinh":
        return func("cosh", u)
    if name == "cosh":
        return func("sinh", u)
    if name == "tanh":
        return div(ONE, pow_(func("cosh", u), TWO))
    if name in ("erf", "erfc"):
        scale = Const(2.0 / math.sqrt(math.pi))
        d = mul(scale, func("exp", neg(pow_(u, TWO))))
        return d if name == "erf" else neg(d)
    raise AssertionError(name)  # pragma: no cover


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
        result = mul(_d_func(node.name, node.arg), d(node.arg, name, memo))
    else:  # pragma: no cover
        raise AssertionError(type(node))
    memo[node] = result
    return result


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------

class Program:
    """Evaluate several expressions in one pass over their shared nodes.

    The distinct nodes of all trees are put in topological order once; each
    call then fills a list of values slot by slot, so a node shared between the
    model and its derivatives is computed once per call.

    Parameters
    ----------
    roots : sequence of Expression
        The expressions to evaluate; :meth:`run` returns their values in order.
    """

    def __init__(self, roots: Sequence[Expression]):
        order: list[Expression] = []
        slot_of: dict[Expression, int] = {}
        consts: list[Expression] = []
        variables: list[Var] = []
        ops: list[Expression] = []
        seen: set[int] = set()
        # Iterative post-order DFS: deep formulas must not hit the recursion limit.
        for root in roots:
            stack = [(root, False)]
            while stack:
                node, expanded = stack.pop()
                if id(node) in seen:
                    continue
                if expanded or not node.children:
                    seen.add(id(node))
                    (consts if isinstance(node, Const) else variables if isinstance(node, Var) else ops).append(node)
                    continue
                stack.append((node, True))
                for child in reversed(node.children):
                    if id(child) not in seen:
                        stack.append((child, False))
        for node in (*consts, *variables, *ops):
            slot_of[node] = len(order)
            order.append(node)
        self.names: tuple[str, ...] = tuple(v.name for v in variables)
        self._consts = [c.value for c in consts]
        self._ops = []
        for node in ops:
            kids = node.children
            self._ops.append((node.ufunc, slot_of[kids[0]], slot_of[kids[1]] if len(kids) == 2 else -1))
        self._roots = [slot_of[r] for r in roots]
        self.size = len(order)

    def run(self, env: Mapping[str, float | np.ndarray]) -> list:
        """Values of the roots for the names in ``env``."""
        values = list(self._consts)
        try:
            values.extend([env[name] for name in self.names])
        except KeyError as exc:
            raise FormulaError(f"no value given for {exc.args[0]!r}") from None
        append = values.append
        with np.errstate(all="ignore"):
            for f, a, b in self._ops:
                append(f(values[a]) if b < 0 else f(values[a], values[b]))
        return [values[i] for i in self._roots]


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_FORBIDDEN = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "indexing is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "conditional expressions (if/else) are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed (a stray comma?)",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}

_BINOPS = {ast.Add: Add, ast.Sub: Sub, ast.Mult: Mul, ast.Div: Div, ast.Pow: Pow, ast.BitXor: Pow}
_BINOP_NAMES = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
                ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&"}


_RESERVED_MESSAGE = "names beginning or ending with '__' are not allowed ({name!r})"


def _reserved(name: str) -> bool:
    """Dunder-like names (``__class__``, ``__import__``, ``__x``, ``x__``).

    Nothing is ever evaluated by Python, so such a name could do no harm as a
    parameter; it is refused because it is never a column or a parameter a
    user means, and a formula that looks like Python internals must not be
    taken for one (DESIGN.md 4.1).  ``ast`` has already applied NFKC to
    ``name``, so look-alike characters (a fullwidth low line) are caught too.
    """
    return name.startswith("__") or name.endswith("__")


class _Parser:
    """Turns checked Python AST into Expression nodes, tracking positions."""

    def __init__(self, original: str, parsed: str, caret_shifts: list[int], lead: int,
                 variables: frozenset[str]):
        self.original = original
        self.parsed = parsed
        self.caret_shifts = caret_shifts  # positions in `parsed` where "^" became "**"
        self.lead = lead
        self.variables = variables
        self._encoded = parsed.encode("utf-8")

    def position(self, col_offset: int | None) -> int | None:
        """Map an AST byte column in the parsed text to a character in the user's text."""
        if col_offset is None:
            return None
        chars = len(self._encoded[:col_offset].decode("utf-8", errors="ignore"))
        return self.char_position(chars)

    def char_position(self, chars: int) -> int:
        shift = sum(1 for p in self.caret_shifts if p <= chars)
        return max(0, chars - shift + self.lead)

    def fail(self, message: str, node_or_col) -> FormulaError:
        col = node_or_col if isinstance(node_or_col, int) or node_or_col is None \
            else getattr(node_or_col, "col_offset", None)
        return FormulaError(message, self.original, self.position(col))

    def build(self, node: ast.AST) -> Expression:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = "strings" if isinstance(value, (str, bytes)) else f"{type(value).__name__} values"
                if value is None or isinstance(value, bool):
                    kind = f"'{value}'"
                    raise self.fail(f"{kind} is not allowed", node)
                raise self.fail(f"{kind} are not allowed", node)
            try:
                value = float(value)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                raise self.fail("number too large", node)
            return Const(value)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                sym = _BINOP_NAMES.get(type(node.op), type(node.op).__name__)
                raise self.fail(f"operator '{sym}' is not allowed; use + - * / ** ^",
                                self._operator_col(node))
            return op(self.build(node.left), self.build(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return Neg(self.build(node.operand))
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            sym = "not" if isinstance(node.op, ast.Not) else "~"
            raise self.fail(f"operator '{sym}' is not allowed", node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Attribute):
            raise self.fail("attribute access is not allowed", node.value.end_col_offset)
        if isinstance(node, ast.Subscript):
            raise self.fail("indexing is not allowed", node.value.end_col_offset)
        message = _FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.fail(message, node)

    def _operator_col(self, node: ast.BinOp) -> int | None:
        # Point at the operator itself, not the start of the left operand.
        end = node.left.end_col_offset
        if end is None:
            return node.col_offset
        rest = self._encoded[end:node.right.col_offset].decode("utf-8", errors="ignore")
        stripped = len(rest) - len(rest.lstrip(" ()"))
        return end + len(rest[:stripped].encode("utf-8"))

    def _name(self, node: ast.Name) -> Expression:
        name = node.id
        if _reserved(name):
            raise self.fail(_RESERVED_MESSAGE.format(name=name), node)
        if name in FUNCTIONS:
            raise self.fail(f"{name!r} is a function; call it as {name}(...)", node)
        if name in CONSTANTS:
            return PI if name == "pi" else E
        return Var(name)

    def _call(self, node: ast.Call) -> Expression:
        target = node.func
        if not isinstance(target, ast.Name):
            if isinstance(target, ast.Attribute):
                raise self.fail("attribute access is not allowed", target.value.end_col_offset)
            raise self.fail("only the named functions can be called", node)
        name = target.id
        if _reserved(name):
            raise self.fail(_RESERVED_MESSAGE.format(name=name), target)
        if name not in FUNCTIONS:
            if name in CONSTANTS or name in self.variables:
                what = "a constant" if name in CONSTANTS else "a column"
                raise self.fail(f"{name!r} is {what}, not a function (a missing '*'?)", target)
            raise self.fail(f"unknown function {name!r}; allowed: {_ALLOWED}", target)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("starred arguments are not allowed", arg)
        if node.keywords:
            kw = node.keywords[0]
            raise self.fail(f"keyword arguments are not allowed in {name}(...)", kw)
        if len(node.args) != 1:
            where = node.args[1] if len(node.args) > 1 else node
            raise self.fail(f"{name}() takes exactly one argument, got {len(node.args)}", where)
        return Func(name, self.build(node.args[0]))


def parse_expression(text: str, variables: Iterable[str] = ()) -> Expression:
    """Parse formula text into an :class:`Expression`, refusing anything unsafe.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"a*exp(-x/tau) + c"``; ``^`` means power.
    variables : iterable of str, optional
        Known column names, only used to word error messages ("'x' is a
        column, not a function").

    Returns
    -------
    Expression
        The tree exactly as typed (no simplification, so ``str`` shows the
        user's formula in normalised spacing).

    Raises
    ------
    FormulaError
        With the 0-based ``position`` of the offending character.
    """
    if not isinstance(text, str):
        raise FormulaError("a formula must be text")
    original = text
    # Newlines/tabs would make ast report line numbers; spaces keep the offsets.
    flat = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    body = flat.lstrip()
    lead = len(flat) - len(body)
    if not body.strip():
        raise FormulaError("the formula is empty", original, None)
    # "^" must become "**" *before* parsing: as Python's xor it would bind
    # looser than + ("a*x^2+b" would mean (a*x) ^ (2+b)).
    caret_shifts: list[int] = []
    parsed = ""
    for ch in body:
        if ch == "^":
            caret_shifts.append(len(parsed) + 1)  # the second "*" of the pair
            parsed += "**"
        else:
            parsed += ch
    parser = _Parser(original, parsed, caret_shifts, lead, frozenset(variables))
    try:
        tree = ast.parse(parsed, mode="eval")
    except SyntaxError as exc:
        offset = (exc.offset or 1) - 1
        offset = min(max(offset, 0), len(parsed))
        reason = "syntax error: too many nested parentheses" if "nested" in (exc.msg or "") \
            else "syntax error"
        raise FormulaError(reason, original, parser.char_position(offset)) from None
    except (ValueError, MemoryError, RecursionError):
        raise FormulaError("the formula cannot be read", original, None) from None
    # Printing, derivatives and names recurse over the tree: bound its depth
    # (a 200-term sum is still fine) rather than fail later with a RecursionError.
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise FormulaError("the formula is too long or nested too deeply", original, None)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    try:
        return parser.build(tree.body)
    except RecursionError:
        raise FormulaError("the formula is nested too deeply", original, None) from None


def compile_column_expression(text: str, columns: Iterable[str]) -> Expression:
    """Parse an expression of table columns ("log(y)", "x1*x2", "1/sigma").

    Parameters
    ----------
    text : str
        The expression.
    columns : iterable of str
        Names of the available columns; every free name must be one of them.

    Raises
    ------
    FormulaError
        When a name is not a column (naming it, where it is, and the columns),
        or the text is not a valid formula.
    """
    columns = tuple(columns)
    expr = parse_expression(text, columns)
    known = set(columns)
    for name in expr.ordered_names:
        if name not in known:
            raise FormulaError(
                f"unknown column {name!r}; available columns: {', '.join(columns) or '(none)'}",
                text, _name_position(text, name))
    return expr


def _name_position(text: str, name: str) -> int | None:
    """Character position of the first whole-word occurrence of ``name``."""
    start = 0
    while True:
        i = text.find(name, start)
        if i < 0:
            return None
        before = text[i - 1] if i > 0 else " "
        after = text[i + len(name)] if i + len(name) < len(text) else " "
        if not (before.isalnum() or before in "_.") and not (after.isalnum() or after == "_"):
            return i
        start = i + 1
