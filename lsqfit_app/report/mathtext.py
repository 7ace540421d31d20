"""Model formulas as typeset math (matplotlib mathtext), for reports.

The formula is parsed with the safe formula parser and its expression tree is
translated to mathtext: fractions for ``/``, superscripts for ``**``, Greek
letters for parameter names such as ``tau`` or ``sigma``, prefixes of summed
models (``gaussian_center``) as subscripts.  Long sums are broken into lines
at top-level ``+``/``-``.  Rendering goes through
:func:`matplotlib.mathtext.math_to_image`, which needs no display; any
failure falls back to the plain formula text, so a report never fails on a
formula.
"""
from __future__ import annotations

import functools
import io
import re

from lsqfit_app.core import expression as ex
from lsqfit_app.core.expression_parser import parse_expression

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
          "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
          "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi",
          "Psi", "Omega"}
_FUNC = {"exp": r"\exp", "log": r"\ln", "log10": r"\log_{10}", "sin": r"\sin", "cos": r"\cos",
         "tan": r"\tan", "arcsin": r"\arcsin", "arccos": r"\arccos", "arctan": r"\arctan",
         "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "erf": r"\mathrm{erf}",
         "erfc": r"\mathrm{erfc}"}
_TRAILING_DIGITS = re.compile(r"^(.*?[A-Za-z])(\d+)$")


@functools.lru_cache(maxsize=512)
def is_valid_math(text: str) -> bool:
    """True when matplotlib would typeset ``text`` as math and can parse it.

    matplotlib treats a string with an even, non-zero number of unescaped
    ``$`` as mathtext and raises while drawing when it does not parse, which
    would stop every report over one odd column header.
    """
    from matplotlib import cbook
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    if not cbook.is_math_text(text):
        return False
    try:
        MathTextParser("path").parse(text, dpi=72, prop=FontProperties(size=9))
    except Exception:  # any parse or layout error: the text is not usable math
        return False
    return True


def label_text(text) -> str:
    """A header, unit or name as matplotlib text: math only when it is valid math.

    Anything else has each ``$`` escaped as ``\\$``, which matplotlib shows as a
    plain ``$`` (so ``a$b``, ``$$`` and ``$\\frac{$`` read as typed).
    """
    from lsqfit_app.core.spreadsheet import clean_text

    # controls have no glyph (a warning each) and surrogates stop the drawing
    text = clean_text(text).replace("\t", " ").replace("\r", " ")
    if "$" not in text or is_valid_math(text):
        return text
    return text.replace("$", r"\$")


def name_to_math(name: str) -> str:
    """``tau1`` -> ``\\tau_{1}``, ``gaussian_center`` -> ``\\mathrm{center}_{\\mathrm{gaussian}}``."""
    if "_" in name.strip("_"):
        prefix, _, rest = name.strip("_").partition("_")
        return f"{{{name_to_math(rest)}}}_{{{_word(prefix)}}}"
    m = _TRAILING_DIGITS.match(name)
    if m:
        return f"{{{_word(m.group(1))}}}_{{{m.group(2)}}}"
    return _word(name)


def _word(word: str) -> str:
    if word in _GREEK:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + word.replace("_", r"\_") + "}"


def _number(v: float) -> str:
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant}\times10^{{{int(exp)}}}"
    return text


def to_mathtext(node) -> str:
    """Mathtext (without the surrounding $) of an expression tree."""
    return _tex(node)[0]


_ATOM, _POW, _MUL, _NEG, _ADD = 5, 4, 3, 2, 1


def _paren(text: str) -> str:
    return rf"\left({text}\right)"


def _tex(node) -> tuple[str, int]:
    """(text, precedence) of a node."""
    if isinstance(node, ex.Const):
        if node.symbol == "pi":
            return r"\pi", _ATOM
        if node.symbol == "e":
            return "e", _ATOM
        text = _number(node.value)
        return text, (_NEG if node.value < 0 else _ATOM)
    if isinstance(node, ex.Var):
        return name_to_math(node.name), _ATOM
    if isinstance(node, ex.Func):
        arg = to_mathtext(node.arg)
        if node.name == "sqrt":
            return rf"\sqrt{{{arg}}}", _ATOM
        if node.name == "abs":
            return rf"\left|{arg}\right|", _ATOM
        return rf"{_FUNC[node.name]}{_paren(arg)}", _ATOM
    if isinstance(node, ex.Neg):
        text, prec = _tex(node.operand)
        return "-" + (_paren(text) if prec <= _NEG else text), _NEG
    if isinstance(node, ex.Div):
        return rf"\frac{{{to_mathtext(node.left)}}}{{{to_mathtext(node.right)}}}", _ATOM
    if isinstance(node, ex.Pow):
        base, bprec = _tex(node.left)
        if bprec < _ATOM or base.startswith(r"\frac"):
            base = _paren(base)
        return f"{{{base}}}^{{{to_mathtext(node.right)}}}", _POW
    if isinstance(node, ex.Mul):
        left, lprec = _tex(node.left)
        right, rprec = _tex(node.right)
        # a leading minus reads naturally on the left factor ("-b x"), not on the right
        if lprec < _NEG:
            left = _paren(left)
        if rprec < _MUL:
            right = _paren(right)
        # a number on the right needs a visible product sign
        sep = r" \cdot " if right[:1].isdigit() else r"\,"
        return left + sep + right, _MUL
    if isinstance(node, (ex.Add, ex.Sub)):
        left, _ = _tex(node.left)
        right, rprec = _tex(node.right)
        if rprec <= _ADD or (isinstance(node, ex.Sub) and rprec == _NEG):
            right = _paren(right)
        op = " + " if isinstance(node, ex.Add) else " - "
        return left + op + right, _ADD
    raise TypeError(f"unknown node {node!r}")


def _terms(node) -> list[tuple[str, object]]:
    """Top-level summands with their signs, left to right."""
    if isinstance(node, ex.Add):
        return _terms(node.left) + [("+", node.right)]
    if isinstance(node, ex.Sub):
        return _terms(node.left) + [("-", node.right)]
    return [("", node)]


def formula_lines(formula: str, variables=("x",), max_chars: int = 70) -> list[str] | None:
    """Mathtext lines for a formula, or None when it is not in the formula language.

    ``max_chars`` limits each line's length in the plain formula text.
    """
    try:
        tree = parse_expression(formula, tuple(variables))
    except Exception:
        return None
    lines, current, width = [], "", 0
    for sign, term in _terms(tree):
        text, prec = _tex(term)
        if sign == "-" and prec <= _ADD:
            text = _paren(text)
        plain = len(str(term))
        piece = (f" {sign} " if current else (f"{sign} " if sign == "-" else "")) + text
        if current and width + plain > max_chars:
            lines.append(current)
            piece = f"{sign} {text}"
            current, width = "", 0
        current += piece
        width += plain
    if current:
        lines.append(current)
    lines[0] = "y = " + lines[0]
    return [f"${line}$" for line in lines]


def render_lines(lines: list[str], fmt: str = "svg", dpi: int = 200,
                 fontsize: float = 13) -> list[bytes] | None:
    """Each mathtext line as an image (svg or png bytes); None if rendering fails."""
    from matplotlib import font_manager, mathtext

    out = []
    try:
        prop = font_manager.FontProperties(size=fontsize)
        for line in lines:
            buf = io.BytesIO()
            mathtext.math_to_image(line, buf, prop=prop, dpi=dpi, format=fmt)
            out.append(buf.getvalue())
    except Exception:
        return None
    return out


def model_variables(model) -> tuple[str, ...]:
    return tuple(getattr(model, "independent_vars", ("x",)) or ("x",))


def formula_math(result) -> list[str] | None:
    """Mathtext lines for a result's model formula (None: show it as text)."""
    model = result.model
    if model is not None and getattr(model, "formula_is_exact", True) is False:
        return None
    return formula_lines(result.formula, model_variables(model) if model is not None else ("x",))

