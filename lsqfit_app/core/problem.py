"""A fit problem: model, data, weights, parameter settings and loss.

``FitProblem.create`` validates everything the user gave (so solvers can
trust it) and snapshots the arrays, so editing the source table while a fit
runs cannot change the fit.

Weights.  Residuals are weighted as r_i = (y_i - f(x_i)) / sigma_i:

- a sigma column gives absolute standard deviations (errors are not rescaled
  by the residual variance; chi-square is meaningful);
- ``poisson`` counts: sigma_i = sqrt(max(y_i, 1)), also absolute;
- ``relative``: sigma_i = |y_i|, known only up to a common factor, so errors
  are scaled by the residual variance like an unweighted fit;
- ``none``: sigma_i = 1, errors scaled by the residual variance.

Rows whose used values are missing (NaN) are left out and counted; infinite
values are an input error naming the rows; masked rows are left out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from lsqfit_app.core.errors import InputError, ParameterError
from lsqfit_app.core.losses import check_loss
from lsqfit_app.core.parameters import Parameter
from lsqfit_app.core.model import Model, as_predictors

WEIGHTINGS = ("none", "sigma", "poisson", "relative")

_min, _max = np.minimum.reduce, np.maximum.reduce


def _rows_text(rows: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(r) + 1) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"


@dataclass(frozen=True, eq=False)
class FitProblem:
    """Everything a solver needs; build it with :meth:`create`."""

    model: Model
    x: Mapping[str, np.ndarray]
    y: np.ndarray
    params: tuple[Parameter, ...]
    sigma: np.ndarray | None = None
    weighting: str = "none"
    excluded: np.ndarray | None = None
    loss: str = "linear"
    f_scale: float = 1.0
    labels: Mapping[str, str] = field(default_factory=dict)
    used_mask: np.ndarray | None = field(default=None, repr=False)
    #: the number of used rows, counted once by :meth:`create` (None: count when asked)
    used_count: int | None = field(default=None, repr=False)

    # ------------------------------------------------------------------
    @classmethod
    def create(cls, model: Model, x, y, params=None, *, sigma=None, weights: str = "none",
               excluded=None, loss: str = "linear", f_scale: float = 1.0,
               labels: Mapping[str, str] | None = None) -> "FitProblem":
        """Validate and snapshot a problem.

        Parameters
        ----------
        model : Model
        x : array or mapping name -> array
            Predictor values (a bare array for one-predictor models).
        y : array
            Responses.
        params : None, mapping name -> Parameter/float, or iterable of Parameter
            Settings for some or all parameters; the rest get default
            settings with bounds from the model's hints and no start value.
        sigma : array, optional
            Absolute standard deviations per point (must be > 0).
        weights : {"none", "poisson", "relative"}
            Scheme when no sigma is given.
        excluded : bool array, optional
            True for rows the user masked out.
        loss, f_scale : robust loss and its residual scale.
        labels : optional names for reports ("x", "y", "sigma" -> column names).
        """
        xs = as_predictors(x, model.independent_vars)
        y = np.array(y, dtype=float, copy=True).ravel()
        n = y.size
        for name, arr in xs.items():
            if arr.shape != (n,):
                raise InputError(f"predictor {name!r} has {arr.size} values but y has {n}")
        xs = {k: np.array(v, dtype=float, copy=True) for k, v in xs.items()}
        check_loss(loss)
        if not (math.isfinite(f_scale) and f_scale > 0):
            raise InputError(f"loss scale must be a positive number, got {f_scale}")

        if sigma is not None:
            sigma = np.array(sigma, dtype=float, copy=True).ravel()
            if sigma.shape != (n,):
                raise InputError(f"sigma has {sigma.size} values but y has {n}")
            weighting = "sigma"
        else:
            if weights not in ("none", "poisson", "relative"):
                raise InputError(f"unknown weighting {weights!r}; choose none, poisson or relative")
            weighting = weights

        excl = np.zeros(n, dtype=bool) if excluded is None else np.array(excluded, dtype=bool).ravel()
        if excl.shape != (n,):
            raise InputError(f"the mask has {excl.size} entries but y has {n}")

        # Infinite values are never "missing": they are an error the user must see.
        # One isfinite per column serves this check and the mask of used rows.
        named = dict(xs)
        named[labels.get("y", "y") if labels else "y"] = y
        if sigma is not None:
            named[labels.get("sigma", "sigma") if labels else "sigma"] = sigma
        used = ~excl
        all_used = excluded is None
        for name, arr in named.items():
            # finite extremes prove a column finite (min and max propagate NaN),
            # cheaper than isfinite(arr).all() and free of floating-point warnings
            if arr.size and math.isfinite(_min(arr)) and math.isfinite(_max(arr)):
                continue
            finite = np.isfinite(arr)
            if finite.all():
                continue
            all_used = False
            bad = np.flatnonzero(np.isinf(arr) & ~excl)
            if bad.size:
                raise InputError(f"column {name!r} has infinite values in rows {_rows_text(bad)}")
            used &= finite

        if weighting == "sigma":
            bad = np.flatnonzero((sigma <= 0) & ~excl & np.isfinite(sigma))
            if bad.size:
                raise InputError(
                    f"sigma must be positive; zero or negative sigma in rows {_rows_text(bad)}")
        elif weighting == "relative":
            bad = np.flatnonzero((y == 0) & ~excl)
            if bad.size:
                raise InputError(f"relative weights need y != 0; y is 0 in rows {_rows_text(bad)}")

        settings = _merge_params(model, params)
        n_free = sum(not p.fixed for p in settings)
        n_used = n if all_used or used.all() else int(np.count_nonzero(used))
        if n_used < max(n_free, 1):
            raise InputError(f"too few points: {n_used} usable points for {n_free} free parameters")
        return cls(
            model=model, x=xs, y=y, params=settings, sigma=sigma, weighting=weighting,
            excluded=excl, loss=loss, f_scale=float(f_scale), labels=dict(labels or {}),
            used_mask=used, used_count=n_used)

    # ------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.y.size)

    @property
    def used(self) -> np.ndarray:
        """Rows that enter the fit: not masked, no missing value."""
        if self.used_mask is not None:
            return self.used_mask
        ok = ~self.excluded & np.isfinite(self.y)
        for arr in self.x.values():
            ok &= np.isfinite(arr)
        if self.sigma is not None:
            ok &= np.isfinite(self.sigma)
        return ok

    @property
    def n_used(self) -> int:
        if self.used_count is not None:
            return self.used_count
        return int(np.count_nonzero(self.used))

    @property
    def n_missing(self) -> int:
        return int(np.count_nonzero(~self.excluded & ~self.used))

    @property
    def absolute_sigma(self) -> bool:
        """True when the weights are absolute standard deviations."""
        return self.weighting in ("sigma", "poisson")

    def point_sigma(self) -> np.ndarray:
        """sigma_i for every row (1 when unweighted)."""
        if self.weighting == "sigma":
            return self.sigma
        if self.weighting == "poisson":
            return np.sqrt(np.maximum(self.y, 1.0))
        if self.weighting == "relative":
            return np.abs(self.y)
        return np.ones_like(self.y)

    def used_data(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """(x, y, sigma) restricted to the used rows."""
        if self.n_used == self.n:
            return dict(self.x), self.y, self.point_sigma()
        used = self.used
        return ({k: v[used] for k, v in self.x.items()}, self.y[used], self.point_sigma()[used])

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.model.param_names

    def with_params(self, params) -> "FitProblem":
        """A copy with other parameter settings (validated)."""
        from dataclasses import replace
        return replace(self, params=_merge_params(self.model, params, base=self.params))


def _merge_params(model: Model, params, base: Iterable[Parameter] | None = None) -> tuple[Parameter, ...]:
    """One Parameter per model parameter, in model order, validated.

    A parameter not given keeps its ``base`` setting, or gets default
    settings with the bounds of the model's hints; a bare number is a start
    value within those bounds.
    """
    names = model.param_names
    if params is None:
        given: Mapping = {}
    elif type(params) is dict or isinstance(params, Mapping):   # the ABC check is slow
        given = params
    else:
        given = {p.name: p for p in params}
    if len(given):
        unknown = [k for k in given if k not in names]
        if unknown:
            raise ParameterError(
                f"unknown parameter {unknown[0]!r}; the model {model.name!r} has "
                f"{', '.join(names) or 'no parameters'}")
    if base is None:
        defaults, valid = default_params(model)
        current = None
    else:
        current = {p.name: p for p in base}
    merged = []
    for name in names:
        value = given.get(name)
        if isinstance(value, Parameter):
            p = value if value.name == name else Parameter(
                name, value.value, value.fixed, value.min, value.max)
        else:
            old = defaults[name] if current is None else current[name]
            if value is None:
                p = old
                if current is None and valid:
                    merged.append(p)   # validated when the defaults were built
                    continue
            else:
                value = float(value)
                lo, hi = old.min, old.max
                if -math.inf < value < math.inf and lo <= value <= hi:
                    # what validate() checks holds: a finite start within bounds
                    # that are therefore ordered and not NaN, and not fixed
                    merged.append(Parameter(name, value, False, lo, hi))
                    continue
                p = Parameter(name, value, False, lo, hi)
        p.validate()
        merged.append(p)
    return tuple(merged)


def default_params(model: Model) -> tuple[dict[str, Parameter], bool]:
    """({name: default Parameter}, all valid?) with the bounds of the model's hints.

    Built once per model and kept in its ``__dict__``, and reused only while
    the model still has the same ``param_names`` object and its hints compare
    equal to those the defaults were built from: so the cache cannot go stale
    even for a model that changed.  The hints are still asked for on every
    call, but comparing them is cheap (the library and sum models hand out
    the same ParamHint objects, and dict equality checks identity first),
    while building a Parameter per name is not.  Parameters are immutable,
    so problems can share these.  ``valid`` False (hints with NaN or
    crossed bounds) leaves the validation, and its error, to the caller.
    """
    names = model.param_names
    hints = model.param_hints()
    store = getattr(model, "__dict__", None)
    cached = store.get(_DEFAULTS_KEY) if store is not None else None
    if cached is not None and cached[0] is names and cached[1] == hints:
        return cached[2], cached[3]
    defaults = {}
    valid = True
    for name in names:
        hint = hints.get(name)
        lo, hi = (hint.min, hint.max) if hint is not None else (-math.inf, math.inf)
        p = defaults[name] = Parameter(name, None, False, lo, hi)
        try:
            p.validate()
        except ParameterError:
            valid = False
    if store is not None:
        # a copy: a model that hands out (and later edits) its own dict must not
        # edit the hints kept here to compare with
        store[_DEFAULTS_KEY] = (names, dict(hints), defaults, valid)
    return defaults, valid


_DEFAULTS_KEY = "_fitproblem_default_params"
