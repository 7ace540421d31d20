"""Names a formula may not use: dunders, and the named constants it reports (DESIGN 4.1)."""
import pytest

from lsqfit_app.core.errors import FormulaError
from lsqfit_app.core.expression_parser import compile_column_expression, parse_expression
from lsqfit_app.models.formula import FormulaModel

# bare names only: none of these is a call, an attribute or an indexing, so
# nothing but the dunder check itself can refuse them
DUNDERS = [
    ("__class__", 0),
    ("__import__", 0),
    ("__builtins__", 0),
    ("a*__dict__ + x", 2),
    ("x/__x", 2),
    ("_x__*x", 0),
    ("x + b__", 4),
]


@pytest.mark.parametrize("text, position", DUNDERS)
def test_dunder_bare_names_are_refused_by_the_parser(text, position):
    with pytest.raises(FormulaError) as info:
        parse_expression(text, ("x",))
    assert "'__'" in info.value.reason
    assert info.value.position == position


@pytest.mark.parametrize("text, position", DUNDERS)
def test_dunder_bare_names_are_refused_as_parameters_and_columns(text, position):
    with pytest.raises(FormulaError, match="'__'"):
        FormulaModel(text, ("x",))
    # a column expression must not accept them as column names either
    with pytest.raises(FormulaError, match="'__'"):
        compile_column_expression(text, ("x", "a", "b__", "__x", "_x__", "__dict__"))


def test_dunder_call_is_refused_with_its_name():
    with pytest.raises(FormulaError, match="'__import__'"):
        parse_expression("__import__('os')")


@pytest.mark.parametrize("text", ["a_b*x", "_a*x + c", "x_1*k", "a__b*x"])
def test_underscores_inside_names_stay_allowed(text):
    model = FormulaModel(text, ("x", "x_1"))
    assert model.param_names and model.independent_vars


def test_named_constants_are_reported():
    assert parse_expression("a*exp(-x/e) + pi*b").constants == {"e", "pi"}
    assert parse_expression("a*x + 2.718").constants == frozenset()
