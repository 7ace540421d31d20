"""Models: library lineshapes, sums of them, and formulas typed by the user.

:func:`make_model` is the one place that turns what a user typed ("gaussian",
"gaussian+line", "a*exp(-t/tau)+c") into a :class:`Model`.
"""
from __future__ import annotations

from typing import Iterable

from lsqfit_app.core.model import Model, ParamHint

__all__ = ["Model", "ParamHint", "make_model"]


def make_model(spec: str, variables: Iterable[str] = ("x",)) -> Model:
    """A library model, a sum of library models, or a formula.

    Parameters
    ----------
    spec : str
        A library name ("poly3"), a sum of names ("gaussian+gaussian+line"),
        or a formula in the formula language.
    variables : names a formula may use as predictors (column names).

    Library models always take their predictor as ``x``.
    """
    from lsqfit_app.core.errors import InputError
    from lsqfit_app.models.formula import FormulaModel
    from lsqfit_app.models.library import is_library_spec, library_model_from_spec

    text = (spec or "").strip()
    if not text:
        raise InputError("no model given: name a library model or type a formula")
    if is_library_spec(text):
        return library_model_from_spec(text)
    variables = tuple(variables)
    names = [part.strip() for part in text.split("+")]
    if all(n.isidentifier() for n in names) and not any(n in variables for n in names):
        # looks like library names, none of which exists: let the library
        # say so (with a suggestion) instead of a puzzling formula error
        return library_model_from_spec(text)
    return FormulaModel(text, variables)
