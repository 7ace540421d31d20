"""Start values of a batch fit, per curve, from the single fit's own rules.

Each curve's start is what :func:`lsqfit_app.solvers.resolve_starts` gives
its single fit: the given values, the model's data-driven guess for the rest
(a search for formula models), clipped into the bounds.  The guesses run
curve by curve: the library guesses are short sequences of numpy calls on
one curve's sorted data (and scans, peak searches and the formula start
search are searches), so a curve costs what its single fit's guess costs.
A caller with its own starts passes them as a (K, p) array instead.
"""
from __future__ import annotations

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.problem import FitProblem


def single_problem(model, curves, i: int, settings, weighting: str) -> FitProblem:
    """The single fit of curve ``i`` (padding removed, its mask as the exclusions)."""
    c = curves.curve(i)
    return FitProblem.create(model, c.x, c.y, settings, sigma=c.sigma,
                             weights=weighting if c.sigma is None else "none",
                             excluded=c.excluded)


def curve_starts(model, curves, settings, weighting: str, rows, cancel=None) -> tuple[
        np.ndarray, dict[int, str]]:
    """(starts (len(rows), p), {row: why it cannot be fitted}) for the curves ``rows``.

    A curve whose single problem is refused (too few points, relative weights
    with y = 0) gets NaN starts and the refusal's message.
    """
    from lsqfit_app.solvers import resolve_starts

    p = len(model.param_names)
    given = [s.value for s in settings]
    out = np.empty((len(rows), p))
    refused: dict[int, str] = {}
    if all(v is not None for v in given):
        out[:] = np.array(given, dtype=float)
        return out, refused
    for k, i in enumerate(rows):
        try:
            problem = single_problem(model, curves, int(i), settings, weighting)
        except InputError as exc:
            out[k] = np.nan
            refused[int(i)] = str(exc)
            continue
        out[k] = resolve_starts(problem, cancel)
    return out, refused
