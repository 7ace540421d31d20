"""Models: library lineshapes, sums of them, and formulas typed by the user.

:func:`make_model` is the one place that turns what a user typed ("gaussian",
"gaussian+line", "a*exp(-t/tau)+c") into a :class:`Model`.

Modules
-------
lineshapes    the library's functions and their exact Jacobians
library       LibraryModel, the base class that pairs a lineshape with names,
              hints and a guess, and registers each model class by its name
guesses       shared steps of the start-value guesses (data preparation,
              variable projection scans, peak features, polynomial fits)
polynomials, growth, peaks, sigmoids, periodic
              the model families
registry      LIBRARY (name -> class), look-up and specs such as "gaussian+line"
composite     SumModel, a sum of models with prefixed parameter names
formula       FormulaModel, a model given in the formula language
starts        start values for any model (multi-start search)
peakfind      peak search used to seed the peaks of a sum

Adding a library model
----------------------
Two files change, as in lmfit:

1. ``lineshapes.py``: the function ``shape(x, p1=..., p2=...)`` and
   ``shape_and_jacobian(x, p1=..., p2=..., out=None) -> (values, J)`` with the
   exact partial derivatives, J[:, j] = d shape / d p_j in keyword order.
2. The family module (``peaks.py``, ``growth.py``, ...): a subclass of
   :class:`~lsqfit_app.models.library.LibraryModel` (or of the family's base,
   such as :class:`~lsqfit_app.models.peaks.PeakModel`) that sets ``name``,
   ``formula``, ``param_names``, ``description``, ``_hints``, ``_linear``,
   ``_defaults``, ``_shape = staticmethod(ls.shape)`` and
   ``_shape_jac = staticmethod(ls.shape_and_jacobian)``, and implements
   ``_guess(x, y)`` (sorted finite data -> dict of start values).

Setting ``name`` in the class body registers the class when it is defined:
``make_model("shape")``, sums such as ``"shape+line"``, ``lsqfit-app models``
and the window's model list find it with no other edit.  A new family module
is listed once in ``registry.FAMILIES``, which fixes the listing order.
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
    from lsqfit_app.models.registry import is_library_spec, library_model_from_spec

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
