"""The formula language across its modules: caret, pickling, one-pass evaluation."""
import pickle

import numpy as np
import pytest

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.expression import Add, Const, Neg, Var
from lsqfit_app.core.expression_dag import Program, flatten, rebuild, topological
from lsqfit_app.core.expression_parser import parse_expression


@pytest.mark.parametrize("caret, stars", [
    ("a^b", "a**b"), ("x^2^3", "x**2**3"), ("-x^2", "-x**2"), ("a*x^-1 + b", "a*x**-1 + b"),
    ("(a + b)^c", "(a + b)**c")])
def test_caret_is_the_power_operator_and_never_xor(caret, stars):
    assert parse_expression(caret) is parse_expression(stars)
    env = {"a": 2.0, "b": 3.0, "c": 2.0, "x": 1.5}
    assert parse_expression(caret).evaluate(env) == parse_expression(stars).evaluate(env)
    assert parse_expression("a^b").evaluate({"a": 2.0, "b": 3.0}) == 8.0  # 2 xor 3 would be 1


def test_other_bitwise_operators_are_refused_naming_the_operator():
    for text, op in [("a | b", "|"), ("a & b", "&"), ("a << b", "<<"), ("a % b", "%")]:
        with pytest.raises(FormulaError) as info:
            parse_expression(text)
        assert f"'{op}'" in info.value.reason and "^" in info.value.reason
        assert info.value.position == 2


def test_derivative_trees_pickle_node_for_node():
    # -2.0 as a constant prints as "-2", which parses back as a negation: the
    # pickled form must keep the tree, not go through the text.
    expr = parse_expression("a*exp(-x/tau) + c*x^2")
    for name in ("a", "tau", "c", "x"):
        d = expr.derivative(name)
        assert pickle.loads(pickle.dumps(d)) is d
    minus_two = Const(-2.0)
    assert parse_expression(str(minus_two)) is Neg(Const(2.0))
    assert pickle.loads(pickle.dumps(minus_two)) is minus_two


def test_a_tree_deeper_than_the_recursion_limit_pickles_and_evaluates():
    rng = np.random.default_rng(41)
    values = rng.normal(size=3000)
    node = Var("p0")
    for i in range(1, values.size):
        node = Add(node, Var(f"p{i}"))
    env = {f"p{i}": v for i, v in enumerate(values)}
    assert pickle.loads(pickle.dumps(node)) is node
    assert Program([node]).run(env)[0] == pytest.approx(values.sum(), rel=1e-12)


def test_flatten_lists_each_shared_node_once_children_first():
    expr = parse_expression("exp(-x/tau)*a + exp(-x/tau)*b")
    table = flatten(expr)
    assert len(table) == len(topological([expr]))
    assert len(table) == 10  # x tau x/tau -(x/tau) exp(...) a product b product sum
    for i, (_, _, children) in enumerate(table):
        assert all(c < i for c in children)
    assert rebuild(table) is expr


@pytest.mark.parametrize("text, position, words", [
    ("a*exp(-x/tau)+", 14, "ends after '+'"),
    ("3*", 2, "ends after '*'"),
    ("a^ ", 2, "ends after '^'"),
    ("(a*x+b", 0, "this '(' is never closed"),
    ("a*exp(-x/tau", 5, "this '(' is never closed"),
    ("a*(x+(b", 5, "this '(' and 1 before it are never closed"),
    ("a*x+b)", 5, "this ')' closes no '('"),
    ("  a*x)", 5, "this ')' closes no '('"),
])
def test_syntax_errors_point_where_the_formula_goes_wrong(text, position, words):
    with pytest.raises(FormulaError) as info:
        parse_expression(text, ["x"])
    assert words in info.value.reason
    assert info.value.position == position
