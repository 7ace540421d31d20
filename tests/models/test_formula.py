"""Formula language: whitelist parser, printing, derivatives, FormulaModel."""
import math
import pickle

import numpy as np
import pytest

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.expression import FUNCTIONS, Const
from lsqfit_app.core.expression_dag import Program
from lsqfit_app.core.expression_parser import compile_column_expression, parse_expression
from lsqfit_app.models.formula import FormulaModel


# -- whitelist --------------------------------------------------------------

@pytest.mark.parametrize("text, position, words", [
    ("__import__('os')", 0, "'__'"),
    ("x.real", 1, "attribute"),
    ("a*x.__class__", 3, "attribute"),
    ("x[0]", 1, "indexing"),
    ("lambda: 1", 0, "lambda"),
    ("'a'", 0, "strings"),
    ("a + 'a'", 4, "strings"),
    ("[i for i in x]", 0, "comprehension"),
    ("(i for i in x)", 0, "comprehension"),
    ("a if b else c", 0, "conditional"),
    ("a<b", 0, "comparison"),
    ("a and b", 0, "'and'/'or'"),
    ("a or b", 0, "'and'/'or'"),
    ("foo(x)", 0, "unknown function 'foo'"),
    ("exp(x, y)", 7, "exactly one argument"),
    ("exp()", 0, "exactly one argument"),
    ("exp(x=1)", 4, "keyword"),
    ("exp(*x)", 4, "starred"),
    ("a*exp", 2, "'exp' is a function"),
    ("x +* 2", 3, "syntax error"),
    ("a*(x", 2, "syntax error"),
    ("x // 2", 2, "'//'"),
    ("x % 2", 2, "'%'"),
    ("not x", 0, "'not'"),
    ("(x, a)", 0, "tuple"),
    ("{1: 2}", 0, "dictionaries"),
    ("x:=1", 1, "syntax error"),
    ("True*x", 0, "'True'"),
    ("1j*x", 0, "complex"),
    ("f'{x}'", 0, "strings"),
    ("exp(x)(2)", 0, "only the named functions"),
    ("np.exp(x)", 2, "attribute"),
    ("pi(2)", 0, "constant"),
    ("1e999*x", 0, "too large"),
])
def test_forbidden_constructs_are_refused_with_position(text, position, words):
    with pytest.raises(FormulaError) as info:
        parse_expression(text)
    err = info.value
    assert words in err.reason
    assert err.position == position
    assert err.text == text


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_formula(text):
    with pytest.raises(FormulaError, match="empty"):
        parse_expression(text)


def test_unknown_function_lists_allowed():
    with pytest.raises(FormulaError) as info:
        parse_expression("gamma(x)")
    assert "allowed: exp, log" in info.value.reason


def test_variable_called_like_a_function():
    with pytest.raises(FormulaError) as info:
        FormulaModel("a*x(2)", ("x",))
    assert "'x' is a column" in info.value.reason
    assert info.value.position == 2


def test_positions_account_for_caret_and_leading_space():
    with pytest.raises(FormulaError) as info:
        parse_expression("  x^2 + y.imag")
    assert info.value.position == 9
    with pytest.raises(FormulaError) as info:
        parse_expression("x^2^3 + foo(1)")
    assert info.value.position == 8


def test_never_evaluates_user_text(monkeypatch):
    import ast
    import builtins

    real_compile = builtins.compile

    def boom(*args, **kwargs):
        raise AssertionError("eval/exec called")

    def ast_only_compile(source, filename, mode, flags=0, *args, **kwargs):
        # ast.parse goes through compile() but only builds a syntax tree
        assert flags & ast.PyCF_ONLY_AST, "compiled to bytecode"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    expr = parse_expression("a*exp(-x/tau) + c")
    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    monkeypatch.setattr(builtins, "compile", ast_only_compile)
    model = FormulaModel("a*exp(-x/tau) + c", ("x",))
    x = {"x": np.linspace(0, 1, 5)}
    model.eval_and_jacobian(np.array([1.0, 2.0, 3.0]), x)
    expr.derivative("tau").evaluate({"a": 1.0, "tau": 2.0, "c": 0.0, "x": 1.0})


# -- structure and printing ----------------------------------------------------

def test_caret_is_power_with_power_precedence():
    expr = parse_expression("a*x^2+b")
    assert str(expr) == "a*x**2 + b"
    assert expr.evaluate({"a": 2.0, "x": 3.0, "b": 1.0}) == 19.0


@pytest.mark.parametrize("text", [
    "a*exp(-(x - b)**2/(2*c**2)) + d", "-x**2", "(-x)**2", "2**-x", "a - (b - c)",
    "a/(b*c)", "a/b/c", "a*(b/c)", "x**y**z", "(x**y)**z", "-(a + b)", "a + -b",
    "-(-x)", "1e-05*x", "2.5*x + pi*e", "-2**x", "(-2)**x", "a - -3", "abs(x)/-2",
])
def test_printing_round_trips_to_the_same_tree(text):
    expr = parse_expression(text)
    again = parse_expression(str(expr))
    assert again is expr  # nodes are interned: identity is structural equality
    env = {n: 1.3 + 0.1 * i for i, n in enumerate(sorted(expr.names))}
    np_env = {k: np.float64(v) for k, v in env.items()}
    with np.errstate(all="ignore"):
        expected = eval(text, {"exp": np.exp, "abs": abs,  # test oracle only
                               "pi": math.pi, "e": math.e}, np_env)
    assert expr.evaluate(env) == pytest.approx(expected, rel=1e-14, nan_ok=True)


def test_names_exclude_constants_and_keep_order():
    expr = parse_expression("tau*exp(-x/tau) + pi*c + e")
    assert expr.names == frozenset({"tau", "x", "c"})
    assert expr.ordered_names == ("tau", "x", "c")


def test_nodes_are_immutable_and_pickle():
    expr = parse_expression("a*sin(w*x)")
    with pytest.raises(AttributeError):
        expr.left = Const(1.0)
    assert pickle.loads(pickle.dumps(expr)) is expr


def test_evaluate_missing_name():
    with pytest.raises(FormulaError, match="no value given for 'b'"):
        parse_expression("a + b").evaluate({"a": 1.0})


def test_evaluate_vectorised_and_silent():
    expr = parse_expression("sqrt(x) - sqrt(x) + 1/x")
    with np.errstate(all="raise"):
        out = expr.evaluate({"x": np.array([-1.0, 0.0, 1.0])})
    assert np.isnan(out[0]) and np.isinf(out[1]) and out[2] == 1.0


# -- derivatives ----------------------------------------------------------------

FORMULAS = [
    ("a*exp(-x/tau) + c", {"tau": (0.5, 2.0)}),
    ("a*exp(-(x - b)**2/(2*c**2)) + d", {"c": (0.5, 2.0)}),
    ("a*sin(w*x + phi) + c*cos(w*x)", {}),
    ("A/(1 + exp(-(x - x0)/w))", {}),
    ("a*x**n", {"x": (0.5, 3.0)}),
    ("log(a*x) + log10(b*x)", {"x": (0.5, 3.0), "a": (0.5, 2), "b": (0.5, 2)}),
    ("sqrt(a*x + b)", {"x": (0.5, 3.0), "a": (0.5, 2), "b": (0.5, 2)}),
    ("abs(a - x)*b", {"a": (5.0, 6.0)}),
    ("tan(a*x) + arctan(b*x)", {"x": (0.1, 0.5), "a": (0.1, 1.0)}),
    ("arcsin(a*x) + arccos(b*x)", {"x": (0.1, 0.5), "a": (0.1, 1.0), "b": (0.1, 1.0)}),
    ("sinh(a*x) + cosh(b*x) + tanh(c*x)", {}),
    ("erf((x - m)/s) + erfc(a*x)", {"s": (0.5, 2.0)}),
    ("a**x*b^2", {"a": (0.5, 2.0)}),
    ("(a*x)**(b*x)", {"x": (0.5, 2.0), "a": (0.5, 2.0)}),
    ("(b1 + b2*x + b3*x**2)/(1 + b4*x + b5*x**2)", {"x": (0.1, 1.0)}),
    ("b1*(1 - (1 + b2*x/2)**(-2))", {"x": (0.1, 1.0), "b2": (0.1, 1.0)}),
    ("b1 - b2*x - arctan(b3/(x - b4))/pi", {"b4": (5.0, 6.0)}),
    ("-a/(x + b)^3 + 2*pi*e*c", {"b": (3.0, 4.0)}),
    ("exp(exp(a*x)/b)", {"x": (0.0, 0.5), "b": (1.0, 2.0)}),
]


@pytest.mark.parametrize("text, ranges", FORMULAS)
def test_derivatives_match_central_differences(text, ranges):
    rng = np.random.default_rng(abs(hash(text)) % 2**32)
    expr = parse_expression(text)
    lo_hi = {n: ranges.get(n, (-1.5, 1.5)) for n in expr.names}
    for _ in range(5):
        env = {n: rng.uniform(*lo_hi[n]) for n in expr.names}
        for name in expr.names:
            d = expr.derivative(name)
            assert len(str(d)) < 40 * len(text)  # simplification keeps trees small
            h = 1e-6 * max(1.0, abs(env[name]))
            up = dict(env, **{name: env[name] + h})
            down = dict(env, **{name: env[name] - h})
            numeric = (expr.evaluate(up) - expr.evaluate(down)) / (2 * h)
            exact = d.evaluate(env)
            roundoff = 1e-9 * abs(expr.evaluate(env)) / h  # cancellation in the difference
            assert exact == pytest.approx(numeric, rel=1e-5, abs=1e-6 + roundoff), \
                (text, name, str(d))
            # the derivative prints as a valid formula with the same value
            assert parse_expression(str(d)).evaluate(env) == pytest.approx(exact, rel=1e-12)


def test_every_function_is_covered():
    used = set()
    for text, _ in FORMULAS:
        used.update(f for f in FUNCTIONS if f + "(" in text)
    assert used == set(FUNCTIONS)


@pytest.mark.parametrize("text, name, expected", [
    ("a*x + b", "a", "x"),
    ("a*x + b", "b", "1"),
    ("a*x + b", "c", "0"),
    ("a*x**2", "a", "x**2"),
    ("(a + 0)*x*1", "a", "x"),
    ("a*x**3", "x", "3*a*x**2"),
    ("a - a*x", "a", "1 - x"),
])
def test_derivative_simplification(text, name, expected):
    assert str(parse_expression(text).derivative(name)) == expected


def test_constant_zero():
    expr = parse_expression("a*x + b")
    assert expr.derivative("a").derivative("a").is_constant_zero
    assert not expr.derivative("a").is_constant_zero


def test_program_shares_subexpressions():
    expr = parse_expression("a*exp(-x/tau) + c")
    roots = [expr, *(expr.derivative(n) for n in ("a", "tau", "c"))]
    # exp(-x/tau) appears in f, df/da and df/dtau but is one slot
    program = Program(roots)
    separate = sum(Program([r]).size for r in roots)
    assert program.size < separate


# -- compile_column_expression ----------------------------------------------

def test_column_expression():
    expr = compile_column_expression("log(y)", ["x", "y"])
    assert expr.evaluate({"y": np.array([1.0, math.e])}) == pytest.approx([0.0, 1.0])


def test_column_expression_unknown_name():
    with pytest.raises(FormulaError) as info:
        compile_column_expression("x1*x2 + yy", ["x1", "x2", "y"])
    err = info.value
    assert "'yy'" in err.reason and "x1, x2, y" in err.reason
    assert err.position == 8


def test_column_expression_forbidden():
    with pytest.raises(FormulaError, match="attribute"):
        compile_column_expression("y.sum()", ["y"])


# -- FormulaModel -----------------------------------------------------------

def test_formula_model_basics():
    model = FormulaModel("a * exp(-x/tau)+c", ("x", "y"))
    assert model.name == model.formula == "a*exp(-x/tau) + c"
    assert model.param_names == ("a", "tau", "c")
    assert model.independent_vars == ("x",)
    assert model.linear_params == frozenset({"a", "c"})
    assert not model.is_linear
    assert model.param_hints() == {}


@pytest.mark.parametrize("text, linear, is_linear", [
    ("a*exp(-x/tau)+c", {"a", "c"}, False),
    ("a*x+b", {"a", "b"}, True),
    ("a*b*x", {"a"}, False),
    ("(a + b)*x + c*x**2", {"a", "b", "c"}, True),
    ("a*sin(w*x + phi) + c", {"a", "c"}, False),
    ("(b1 + b2*x)/(1 + b3*x)", {"b1", "b2"}, False),
    ("b1*(1 - exp(-b2*x))", {"b1"}, False),
    ("a**2*x", set(), False),
    ("exp(a)*x + b", {"b"}, False),
])
def test_linear_params(text, linear, is_linear):
    model = FormulaModel(text, ("x",))
    assert model.linear_params == frozenset(linear)
    assert model.is_linear is is_linear


def test_eval_jacobian_shapes_and_constant_columns():
    model = FormulaModel("a*x + b", ("x",))
    x = np.linspace(0, 1, 7)
    jac = model.jacobian(np.array([2.0, 3.0]), x)
    assert jac.shape == (7, 2)
    np.testing.assert_allclose(jac[:, 0], x)
    np.testing.assert_allclose(jac[:, 1], 1.0)
    f, j2 = model.eval_and_jacobian(np.array([2.0, 3.0]), {"x": x})
    np.testing.assert_allclose(f, 2 * x + 3)
    np.testing.assert_array_equal(j2, jac)
    jac[:, 0] = 0  # the Jacobian must not alias the caller's x
    assert x[1] != 0


def test_eval_does_not_return_input_array():
    model = FormulaModel("x + 0*a", ("x",))
    x = np.linspace(0, 1, 3)
    out = model.eval(np.array([1.0]), x)
    assert out is not x and out.shape == (3,)


def test_multivariable_nelson():
    model = FormulaModel("b1 - b2*x1 * exp(-b3*x2)", ("x1", "x2", "y"))
    assert model.independent_vars == ("x1", "x2")
    assert model.param_names == ("b1", "b2", "b3")
    assert model.linear_params == frozenset({"b1", "b2"})
    rng = np.random.default_rng(0)
    xs = {"x1": rng.uniform(1, 5, 9), "x2": rng.uniform(1, 5, 9)}
    p = np.array([2.5, 0.5, -0.08])
    jac = model.jacobian(p, xs)
    for j in range(3):
        h = 1e-6 * abs(p[j])
        dp = np.zeros(3)
        dp[j] = h
        numeric = (model.eval(p + dp, xs) - model.eval(p - dp, xs)) / (2 * h)
        np.testing.assert_allclose(jac[:, j], numeric, rtol=1e-6, atol=1e-12)
    with pytest.raises(ValueError):
        model.eval(p, np.ones(9))  # two predictors need a mapping


@pytest.mark.parametrize("text, variables, words", [
    ("a*t + b", ("x",), "none of the columns x"),
    ("2*x + 1", ("x",), "no parameters"),
    ("a*exp + x", ("x",), "'exp' is a function"),
])
def test_formula_model_errors(text, variables, words):
    with pytest.raises(FormulaError, match=words):
        FormulaModel(text, variables)


def test_guess_is_finite():
    model = FormulaModel("a*exp(-x/tau) + c", ("x",))
    x = np.linspace(0, 5, 40)
    guess = model.guess(x, 3 * np.exp(-x / 1.5) + 0.5)
    assert set(guess) == {"a", "tau", "c"}
    assert all(math.isfinite(v) for v in guess.values())
    assert guess["tau"] == pytest.approx(1.5, rel=1e-6)


@pytest.mark.parametrize("text, words", [
    ("9" * 400 + "*x", "too large"),
    ("+".join(f"a{i}*x" for i in range(900)), "too long"),
    ("(" * 300 + "x" + ")" * 300, "syntax error|nested|cannot be read"),
])
def test_pathological_text_gives_formula_error(text, words):
    with pytest.raises(FormulaError, match=words):
        parse_expression(text)


def test_long_sum_still_works():
    text = " + ".join(f"a{i}*x**{i}" for i in range(60))
    model = FormulaModel(text, ("x",))
    assert model.is_linear and len(model.param_names) == 60
