"""A standalone numpy/scipy script that reproduces a fit.

The script holds the data (every value as its exact ``repr``, so the floats
are bit-identical), the weights and the mask, defines the model and its exact
Jacobian as numpy code, runs :func:`scipy.optimize.least_squares` from the
same start values with tight tolerances, and computes the standard errors the
way lsqfit-app does:

    C = (J_w^T J_w)^-1 * s2,   s2 = 1 (absolute sigma) or objective/dof,

with J_w the Jacobian of the weighted residuals over the free parameters that
are not at a bound; under a robust loss s2 is Huber's factor E[psi^2]/E[psi']^2
at a robust scale (core/losses.py).

The numpy code is generated from the *expression tree* of the already
validated formula (:mod:`lsqfit_app.core.expression`), never from the text
the user typed: every name becomes a Python identifier checked by the
parser, every function an ``np.``/``special.`` ufunc.  Library models are
written from their ``formula`` (which is in the same language); the Voigt
profile, which has no closed form there, uses ``scipy.special.voigt_profile``
with a finite-difference Jacobian.
"""
from __future__ import annotations

import ast
import keyword
import math
import os
import unicodedata

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core import expression as ex
from lsqfit_app.core.expression_parser import parse_expression

_FUNC_CODE = {name: f"np.{name}" for name in ex.FUNCTIONS}
_FUNC_CODE.update({"erf": "special.erf", "erfc": "special.erfc", "abs": "np.abs"})
#: names the generated functions use locally (parameters must not shadow them)
_LOCAL = {"np", "special", "p", "_n", "_columns", "_c", "voigt_peak", "model", "jacobian"}
#: module-level names of the generated script (predictor arrays must not clash)
_MODULE = _LOCAL | {
    "y", "sigma", "used", "EXCLUDED", "ABSOLUTE_SIGMA", "free", "x_u", "y_u", "s_u", "fit", "r",
    "z", "rho", "drho", "objective", "n_free", "dof", "at_bound", "active", "J", "scale", "sv",
    "vt", "cov_active", "s2", "factor", "psi", "robust_scale", "psi_moments", "s", "e_psi2",
    "e_dpsi", "stderr", "theta0", "RHO", "NAMES", "START", "FIXED",
    "FIXED_VALUES", "LOWER", "UPPER", "LOSS", "F_SCALE", "nan", "residuals",
    "residual_jacobian", "full", "least_squares", "name", "value", "err", "is_fixed", "bound",
    "note", "near", "theta", "DATA_FILE", "SHEET", "DATA_SHA256", "COLUMNS", "MADE_BY",
    "MADE_ON", "MODEL", "FORMULA", "LSQFIT_SETTINGS"}

#: the script's docstring: fixed text, never anything from the data or the user
_DOCSTRING = """Reproduces an lsqfit-app fit with numpy and scipy only.

Where the data came from, the model and the settings of the fit are the
constants DATA_FILE ... LSQFIT_SETTINGS below.
Run: python this_script.py
"""

# Precedence for printing Python code (higher binds tighter).
_ADD, _MUL, _NEG, _POW, _ATOM = 1, 2, 3, 4, 5


def py_literal(value) -> str:
    """Python source for a literal: the one way text enters a generated script.

    Strings are written with ``repr``, which escapes every character that is
    not printable (newlines, U+2028/U+2029, bidi controls, lone surrogates
    from undecodable file names), so a literal is always one line that reads
    back as exactly ``value``.  Containers (list, tuple, dict) and None,
    bool, int and finite floats are written the same way, recursively.
    """
    if value is None or isinstance(value, bool):
        text = repr(value)
    elif isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, (int, np.integer)):
        text = repr(int(value))
    elif isinstance(value, (float, np.floating)) and math.isfinite(value):
        text = repr(float(value))
    elif isinstance(value, (list, tuple)):
        items = [py_literal(v) for v in value]
        if isinstance(value, tuple):
            text = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        else:
            text = "[" + ", ".join(items) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}"
                               for k, v in value.items()) + "}"
    else:
        raise InputError(f"cannot write {type(value).__name__} {value!r} into a script")
    if not text.isprintable():  # repr never gives this; a guard against future edits
        raise InputError(f"cannot write {value!r} into a script as one line")
    return text


def _identifier_key(name: str) -> str:
    # Python compares identifiers after NFKC normalization ("ﬁ" is "fi")
    return unicodedata.normalize("NFKC", name)


class _Namer:
    """Maps formula names to safe Python identifiers (rarely changes them)."""

    def __init__(self, params, predictors):
        self.map = {}
        taken: set[str] = set()
        for i, n in enumerate(list(predictors) + list(params)):
            reserved = _MODULE if n in predictors else _LOCAL
            # the parser only admits identifiers; anything else gets a neutral name
            safe = n if isinstance(n, str) and n.isidentifier() else f"name_{i}"
            while (_identifier_key(safe) in reserved or keyword.iskeyword(safe)
                   or _identifier_key(safe) in taken):
                safe += "_"
            self.map[n] = safe
            taken.add(_identifier_key(safe))

    def __call__(self, name: str) -> str:
        try:
            return self.map[name]
        except KeyError:  # the parser admits no other names; never echo unknown text
            raise InputError(f"cannot write code for the name {name!r}") from None


def expression_code(node, namer) -> str:
    """Python/numpy source for an expression tree."""
    return _code(node, namer)[0]


def _code(node, namer) -> tuple[str, int]:
    if isinstance(node, ex.Const):
        if node.symbol == "pi":
            return "np.pi", _ATOM
        if node.symbol == "e":
            return "np.e", _ATOM
        text = repr(float(node.value))
        return text, (_NEG if text.startswith("-") else _ATOM)
    if isinstance(node, ex.Var):
        return namer(node.name), _ATOM
    if isinstance(node, ex.Func):
        return f"{_FUNC_CODE[node.name]}({_code(node.arg, namer)[0]})", _ATOM
    if isinstance(node, ex.Neg):
        text, prec = _code(node.operand, namer)
        return "-" + (f"({text})" if prec < _POW else text), _NEG
    if isinstance(node, ex.Pow):
        left, lp = _code(node.left, namer)
        right, rp = _code(node.right, namer)
        # ** is right-associative and binds tighter than unary minus on its left
        left = f"({left})" if lp <= _POW else left
        right = f"({right})" if rp < _ATOM else right
        return f"{left}**{right}", _POW
    if isinstance(node, (ex.Mul, ex.Div)):
        left, lp = _code(node.left, namer)
        right, rp = _code(node.right, namer)
        left = f"({left})" if lp < _MUL else left
        right = f"({right})" if rp <= _MUL else right
        return f"{left}{'*' if isinstance(node, ex.Mul) else '/'}{right}", _MUL
    if isinstance(node, (ex.Add, ex.Sub)):
        left, lp = _code(node.left, namer)
        right, rp = _code(node.right, namer)
        left = f"({left})" if lp < _ADD else left
        right = f"({right})" if rp <= _ADD else right
        return f"{left} {'+' if isinstance(node, ex.Add) else '-'} {right}", _ADD
    raise InputError(f"cannot write code for {node!r}")


# ---------------------------------------------------------------------------
def _components(model):
    """(component model, parameter prefix) pairs of a model or a sum."""
    comps = getattr(model, "components", None)
    prefixes = getattr(model, "prefixes", None)
    if comps and prefixes:
        return list(zip(comps, prefixes))
    return [(model, "")]


def _formula_tree(model):
    """The expression tree of a model whose formula is exact (or None)."""
    tree = getattr(model, "expression", None)
    if tree is not None:
        return tree
    if getattr(model, "formula_is_exact", True) is False or not model.formula:
        return None
    try:
        return parse_expression(model.formula, tuple(model.independent_vars))
    except Exception:
        return None


def _model_code(model, namer) -> tuple[list[str], list[str] | None, list[str]]:
    """(model body lines, Jacobian body lines or None, helper definitions)."""
    helpers: list[str] = []
    terms: list[str] = []
    columns: dict[str, str] = {}
    analytic = True
    for comp, prefix in _components(model):
        rename = lambda n, prefix=prefix, comp=comp: namer(prefix + n) if n in \
            comp.param_names else namer(n)  # noqa: E731
        tree = _formula_tree(comp)
        if tree is not None:
            terms.append(expression_code(tree, rename))
            for name in comp.param_names:
                columns[prefix + name] = expression_code(tree.derivative(name), rename)
        elif getattr(comp, "name", "") == "voigt":
            if not helpers:
                helpers = [
                    "def voigt_peak(x, amplitude, center, sigma, gamma):",
                    "    \"\"\"Voigt profile scaled to peak height amplitude at center.\"\"\"",
                    "    return amplitude*special.voigt_profile(x - center, sigma, gamma)"
                    "/special.voigt_profile(0.0, sigma, gamma)",
                    "",
                ]
            args = ", ".join(rename(n) for n in comp.param_names)
            terms.append(f"voigt_peak({namer(comp.independent_vars[0])}, {args})")
            analytic = False
        else:
            raise InputError(f"cannot write a script for the model {model.name!r}: its formula "
                             f"{comp.formula!r} has no numpy translation")
    if len(terms) == 1:
        body = ["    return " + terms[0]]
    else:
        body = ["    return (" + terms[0]] + [f"            + {t}" for t in terms[1:-1]] \
            + [f"            + {terms[-1]})"]
    jac = None
    if analytic:
        # the comment names the parameter by its index only: no user text in comments
        jac = [f"        {columns[name]},  # d/d NAMES[{i}]"
               for i, name in enumerate(model.param_names)]
    return body, jac, helpers


def _array_code(name: str, values) -> str:
    items = [repr(float(v)) for v in np.asarray(values, dtype=float)]
    lines, line = [], "    "
    for item in items:
        piece = item + ", "
        if len(line) + len(piece) > 96:
            lines.append(line.rstrip())
            line = "    "
        line += piece
    lines.append(line.rstrip())
    return f"{name} = np.array([\n" + "\n".join(lines) + "\n])"


def script_text(result, problem, context=None) -> str:
    """The source code of the reproducing script."""
    model = problem.model
    xs = list(problem.x)
    params = list(problem.params)
    pnames = list(model.param_names)
    namer = _Namer(pnames, xs)
    body, jac, helpers = _model_code(model, namer)
    starts = [float(p.start) for p in result.parameters]
    fixed = [bool(p.fixed) for p in params]
    values_fixed = [float(p.value) if p.fixed else starts[i] for i, p in enumerate(params)]
    lower = [p.min for p in params]
    upper = [p.max for p in params]
    bounded = any(math.isfinite(lower[i]) or math.isfinite(upper[i])
                  for i in range(len(params)) if not fixed[i])
    method = "trf" if bounded or problem.loss != "linear" else "lm"

    def flist(values):
        return "[" + ", ".join(repr(float(v)) if math.isfinite(v) else
                               ("np.inf" if v > 0 else "-np.inf") for v in values) + "]"

    src = ['"""' + _DOCSTRING + '"""']
    src += ["import numpy as np", "from scipy import special  # noqa: F401 (used by some models)",
            "from scipy.optimize import least_squares", "", "nan = np.nan", ""]
    # Text from files, headers, formulas or the user goes into code only as
    # literals made by py_literal, never into the docstring or a comment.
    src.append("# ---- provenance ----")
    source = context.source_name if context is not None else None
    src.append(f"DATA_FILE = {py_literal(source)}")
    src.append(f"SHEET = {py_literal(context.sheet if context is not None else None)}")
    src.append(f"DATA_SHA256 = {py_literal(context.sha256 if context is not None else None)}")
    src.append(f"COLUMNS = {py_literal(dict(context.columns) if context is not None else {})}")
    src.append(f"MADE_BY = {py_literal(dict(context.versions) if context is not None else {})}")
    src.append(f"MADE_ON = {py_literal(context.created if context is not None else None)}")
    src.append(f"MODEL = {py_literal(str(result.model_name))}")
    src.append(f"FORMULA = {py_literal('y = ' + str(result.formula))}")
    settings = {"solver": str(result.solver), "loss": str(result.loss),
                "weighting": str(problem.weighting)}
    src.append(f"LSQFIT_SETTINGS = {py_literal(settings)}")
    src.append("")
    src.append("# ---- data (all rows; masked rows are listed in EXCLUDED) ----")
    for name in xs:
        src.append(_array_code(namer(name), problem.x[name]))
    src.append(_array_code("y", problem.y))
    if problem.weighting == "sigma":
        src.append(_array_code("sigma", problem.sigma))
    elif problem.weighting == "poisson":
        src.append("sigma = np.sqrt(np.maximum(y, 1.0))  # Poisson counting errors")
    elif problem.weighting == "relative":
        src.append("sigma = np.abs(y)  # relative weights")
    else:
        src.append("sigma = np.ones_like(y)  # unweighted")
    excluded = [int(i) for i in np.flatnonzero(problem.excluded)]
    src.append(f"EXCLUDED = {excluded!r}  # 0-based rows masked by the user")
    absolute = problem.absolute_sigma
    src.append(f"ABSOLUTE_SIGMA = {absolute!r}  # False: errors scaled by objective/dof")
    src.append("")
    src.append("used = np.isfinite(y) & np.isfinite(sigma)")
    for name in xs:
        src.append(f"used &= np.isfinite({namer(name)})")
    src.append("used[EXCLUDED] = False")
    src.append("")
    src.append("# ---- model ----")
    src.append(f"NAMES = {py_literal(list(map(str, pnames)))}")
    src.append(f"START = {flist(starts)}")
    src.append(f"FIXED = {fixed!r}")
    src.append(f"FIXED_VALUES = {flist(values_fixed)}")
    src.append(f"LOWER = {flist(lower)}")
    src.append(f"UPPER = {flist(upper)}")
    src.append(f"LOSS, F_SCALE = {py_literal(str(problem.loss))}, {float(problem.f_scale)!r}")
    src.append("")
    src += helpers
    args = ", ".join(namer(n) for n in xs)
    unpack = ", ".join(namer(n) for n in pnames)
    comma = "," if len(pnames) == 1 else ""
    src.append(f"def model(p, {args}):")
    src.append(f"    {unpack}{comma} = p")
    src += body
    src.append("")
    if jac is not None:
        src.append(f"def jacobian(p, {args}):")
        src.append(f"    {unpack}{comma} = p")
        src.append(f"    _n = {namer(xs[0])}.size")
        src.append("    _columns = [")
        src += jac
        src.append("    ]")
        src.append("    # constant derivatives are scalars: broadcast them to columns")
        src.append("    return np.column_stack([np.broadcast_to(np.asarray(_c, dtype=float), (_n,))"
                   " for _c in _columns])")
        src.append("")
    xs_used = ", ".join(f"{namer(n)}[used]" for n in xs)
    src += [
        "free = ~np.array(FIXED)",
        "x_u = (" + xs_used + ",)",
        "y_u, s_u = y[used], sigma[used]",
        "",
        "",
        "def full(theta):",
        "    p = np.array(FIXED_VALUES, dtype=float)",
        "    p[free] = theta",
        "    return p",
        "",
        "",
        "def residuals(theta):",
        "    return (y_u - model(full(theta), *x_u))/s_u",
        "",
        "",
    ]
    if jac is not None:
        src += ["def residual_jacobian(theta):",
                "    return -jacobian(full(theta), *x_u)[:, free]/s_u[:, None]", "", ""]
        jac_arg = "residual_jacobian"
    else:
        # central differences with a purely relative step (~eps**(1/3)): derivatives
        # to ~1e-10, enough to land on our optimum to better than 1e-8
        jac_arg = "'3-point', diff_step=6e-6"
    bounds = ("(np.array(LOWER)[free], np.array(UPPER)[free])" if bounded else "(-np.inf, np.inf)")
    src += [
        "theta0 = np.array(START)[free]",
        f"fit = least_squares(residuals, theta0, jac={jac_arg}, method={py_literal(method)},",
        f"                    bounds={bounds}, loss=LOSS, f_scale=F_SCALE,",
        "                    x_scale='jac', ftol=1e-15, xtol=1e-15, gtol=1e-15,",
        "                    max_nfev=100000)",
        "p = full(fit.x)",
        "",
        "# ---- standard errors, as lsqfit-app computes them ----",
        "r = residuals(fit.x)",
        "z = (r/F_SCALE)**2",
        "RHO = {'linear': (lambda z: (z, np.ones_like(z))),",
        "       'huber': (lambda z: (np.where(z <= 1, z, 2*np.sqrt(z) - 1),",
        "                            np.where(z <= 1, 1.0, 1/np.sqrt(np.maximum(z, 1))))),",
        "       'soft_l1': (lambda z: (2*(np.sqrt(1 + z) - 1), 1/np.sqrt(1 + z))),",
        "       'cauchy': (lambda z: (np.log1p(z), 1/(1 + z))),",
        "       'arctan': (lambda z: (np.arctan(z), 1/(1 + z*z)))}",
        "rho, drho = RHO[LOSS](z)",
        "objective = F_SCALE**2*np.sum(rho)",
        "n_free = int(free.sum())",
        "dof = y_u.size - n_free",
        "",
        "",
        "def near(value, bound):",
        "    return np.isfinite(bound) and abs(value - bound) <= 1e-8*max(1.0, abs(bound))",
        "",
        "",
        "# a parameter at an active bound has no standard error (the curvature says nothing)",
        "at_bound = free & np.array([near(v, lo) or near(v, hi) for v, lo, hi in zip(p, LOWER, UPPER)])",
        "active = free & ~at_bound",
    ]
    if jac is not None:
        src.append("J = jacobian(p, *x_u)[:, active]/s_u[:, None]")
    else:
        src += ["J = -np.asarray(least_squares(residuals, fit.x, jac='3-point', diff_step=6e-6,"
                " max_nfev=1).jac)"
                "[:, active[free]]",
                "# (the Jacobian above is the finite-difference one of scipy)"]
    src += [
        "scale = np.linalg.norm(J, axis=0)",
        "scale[scale == 0] = 1.0",
        "_, sv, vt = np.linalg.svd(np.linalg.qr(J/scale, mode='r'))",
        "cov_active = (vt.T/sv**2) @ vt/np.outer(scale, scale)",
    ]
    if problem.loss == "linear":
        src.append("factor = 1.0 if ABSOLUTE_SIGMA else objective/dof")
    else:
        src += _ROBUST_FACTOR
    src += [
        "stderr = np.full(p.size, np.nan)",
        "stderr[active] = np.sqrt(np.diag(cov_active)*factor)",
        "stderr[~free] = 0.0",
        "",
        "print(f'success: {fit.success}  ({fit.message})')",
        "print(f'objective {float(objective)!r}  dof {dof}')",
        "for name, value, err, is_fixed, bound in zip(NAMES, p, stderr, FIXED, at_bound):",
        "    note = '  (fixed)' if is_fixed else ('  (at bound)' if bound else '')",
        "    print(f'{name} = {float(value)!r} +/- {float(err)!r}{note}')",
    ]
    text = "\n".join(src) + "\n"
    # a generation bug must fail here, not later; and the docstring must be ours alone
    tree = ast.parse(text, "<lsqfit script>")
    if ast.get_docstring(tree, clean=False) != _DOCSTRING:
        raise InputError("internal error: the script's docstring was not the fixed text")
    compile(tree, "<lsqfit script>", "exec")
    return text


#: Under a robust loss the covariance is Huber's E[psi^2]/E[psi']^2 (J^T J)^-1,
#: the expectations for r ~ N(0, s^2) at Huber's proposal 2 scale s (1 with
#: absolute sigma): lsqfit_app.core.losses.covariance_factor, written out so
#: the script needs nothing but numpy and scipy.
_ROBUST_FACTOR = [
    "",
    "",
    "def psi(r):",
    "    return RHO[LOSS]((r/F_SCALE)**2)[1]*r",
    "",
    "",
    "def robust_scale(r, n_params, c=1.5):",
    "    # Huber's proposal 2: sum min((r/s)^2, c^2) = (n - p) E[min(u^2, c^2)], from the MAD",
    "    n = r.size",
    "    dof = n - n_params",
    "    beta = ((2*special.ndtr(c) - 1) - 2*c*np.exp(-c**2/2)/np.sqrt(2*np.pi)",
    "            + c**2*2*special.ndtr(-c))",
    "    a = np.abs(r)",
    "    s = 1.482602218505602*float(np.median(a))",
    "    if s == 0.0:",
    "        s = np.sqrt(np.pi/2.0)*float(np.mean(a))",
    "    s *= np.sqrt(n/dof)",
    "    if s == 0.0:",
    "        return 0.0",
    "    for _ in range(100):",
    "        u = np.clip(r/s, -c, c)",
    "        s_new = s*np.sqrt(float(u @ u)/(dof*beta))",
    "        done = abs(s_new - s) <= 1e-12*s",
    "        s = s_new",
    "        if done:",
    "            break",
    "    return s",
    "",
    "",
    "def psi_moments(s, points=2001):",
    "    # E[psi^2] and E[psi'] = E[r psi(r)]/s^2 for r ~ N(0, s^2), trapezoid rule on r >= 0",
    "    g = np.union1d(np.linspace(0.0, min(12.0*s, 40.0*F_SCALE), points),",
    "                   np.linspace(0.0, 12.0*s, points))",
    "    density = np.exp(-0.5*(g/s)**2)*(2.0/(s*np.sqrt(2.0*np.pi)))",
    "    ps = psi(g)",
    "    trapezoid = getattr(np, 'trapezoid', None) or np.trapz",
    "    return (float(trapezoid(density*ps*ps, g)), float(trapezoid(density*ps*g, g))/(s*s))",
    "",
    "",
    "s = 1.0 if ABSOLUTE_SIGMA else robust_scale(r, n_free)",
    "e_psi2, e_dpsi = psi_moments(s) if s > 0 else (0.0, 1.0)",
    "factor = e_psi2/e_dpsi**2",
]


def write_script(result, problem, path, context=None) -> None:
    """Write the reproducing script to ``path`` (any name; ``.py`` recommended).

    Raises
    ------
    InputError
        The model has no numpy translation or the file cannot be written.
    """
    from lsqfit_app.report.files import write_text_atomic

    path = os.fspath(path)
    write_text_atomic(path, script_text(result, problem, context))
