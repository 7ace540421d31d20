"""Parse formula text into an expression tree, refusing anything unsafe.

Users type model formulas ("a*exp(-x/tau) + c") and column expressions
("log(y)").  Such text must never reach ``eval``/``exec``: it is parsed with
``ast.parse(text, mode="eval")`` and every AST node is checked against a short
whitelist (numbers, ``+ - * / **`` and ``^``, unary signs, names, calls of the
functions in :data:`~lsqfit_app.core.expression.FUNCTIONS` with one positional
argument, the constants ``pi`` and ``e``).  Anything else raises
:class:`FormulaError` with the position of the offending character in the
user's text.  The result is a tree of :mod:`lsqfit_app.core.expression` nodes,
exactly as typed (no simplification).
"""
from __future__ import annotations

import ast
import math
from typing import Iterable

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.expression import (
    CONSTANTS, E, FUNCTIONS, PI, Add, Const, Div, Expression, Func, Mul, Neg, Pow, Sub, Var)

_ALLOWED = ", ".join(FUNCTIONS)

#: deepest AST accepted (each binary operator or call adds a level)
_MAX_DEPTH = 400

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

# No entry for ast.BitXor: parse_expression turns "^" into "**" before ast sees it.
_BINOPS = {ast.Add: Add, ast.Sub: Sub, ast.Mult: Mul, ast.Div: Div, ast.Pow: Pow}
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


def _syntax_problem(parsed: str, exc: SyntaxError, typed: str) -> tuple[str, int]:
    """What is wrong with text Python cannot parse, and the 0-based offset to point at.

    Parentheses first, named by where they are: Python reports an unclosed
    "(" at the place it gave up, often far from the parenthesis.  A formula
    that stops where more must follow ("a*x+") points past its last
    character, where Python points at the start.  ``typed``: the formula as
    the user typed it (``parsed`` has "**" for "^").
    """
    if "nested" in (exc.msg or ""):
        return "syntax error: too many nested parentheses", 0
    open_at: list[int] = []
    for i, ch in enumerate(parsed):
        if ch == "(":
            open_at.append(i)
        elif ch == ")":
            if not open_at:
                return "syntax error: this ')' closes no '('", i
            open_at.pop()
    if open_at:
        more = len(open_at) - 1
        which = f"this '(' and {more} before it are" if more else "this '(' is"
        return f"syntax error: {which} never closed", open_at[-1]
    end = len(parsed.rstrip())
    offset = (exc.offset or 0) - 1
    if offset < 0 or offset >= end:
        last = typed.rstrip()[-1:]
        return f"syntax error: the formula ends after '{last}', where more must follow", end
    return "syntax error", offset


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
        reason, offset = _syntax_problem(parsed, exc, original)
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
