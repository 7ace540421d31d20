"""Many curves in one set of (K, n) arrays, the input of batch and global fits.

A :class:`Curve` is one dataset as the user sees it: an id, where it came
from, its predictor values, responses, optional sigma and the rows the user
masked out.  :meth:`CurveSet.from_curves` stacks K of them into arrays of
K rows.  Curves of different lengths or on different x grids are padded to
the longest: a padded point is never used (``used`` is False there), its
responses are 0 and its predictors repeat the curve's last value, so a model
evaluated on the padding stays finite and costs nothing in the fit.

``used`` is True where a point takes part in the fit: not masked, not
padding, and finite in every predictor, in y and in sigma.  An infinite value
in a used row is an input error (as in :meth:`FitProblem.create`): it names
the curve and the row.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.model import Model, as_predictors


@dataclass(frozen=True)
class Curve:
    """One dataset: ``x`` is an array (one predictor) or a mapping name -> array."""

    id: str
    x: object
    y: Sequence[float] | np.ndarray
    sigma: Sequence[float] | np.ndarray | None = None
    excluded: Sequence[bool] | np.ndarray | None = None
    source: str = ""


@dataclass(frozen=True)
class CurveSet:
    """K curves as arrays of K rows (see the module docstring)."""

    ids: tuple[str, ...]
    sources: tuple[str, ...]
    x: Mapping[str, np.ndarray]        # name -> (K, n)
    y: np.ndarray                      # (K, n)
    used: np.ndarray                   # (K, n) bool
    sigma: np.ndarray | None = None    # (K, n), or None when no curve has sigma
    lengths: np.ndarray = field(default=None)   # (K,) points of each curve before padding

    @property
    def n_curves(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_points(self) -> int:
        """Points per row of the arrays (the longest curve)."""
        return int(self.y.shape[1])

    @property
    def n_used(self) -> np.ndarray:
        return np.count_nonzero(self.used, axis=1)

    def subset(self, rows) -> "CurveSet":
        """The curves at ``rows`` (indices or a boolean mask), as a new set."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return CurveSet(
            ids=tuple(self.ids[i] for i in rows.tolist()),
            sources=tuple(self.sources[i] for i in rows.tolist()),
            x={k: v[rows] for k, v in self.x.items()}, y=self.y[rows], used=self.used[rows],
            sigma=None if self.sigma is None else self.sigma[rows], lengths=self.lengths[rows])

    def curve(self, i: int) -> Curve:
        """Curve ``i`` as it was given (its padding removed)."""
        n = int(self.lengths[i])
        xs = {k: v[i, :n].copy() for k, v in self.x.items()}
        x = next(iter(xs.values())) if len(xs) == 1 else xs
        return Curve(id=self.ids[i], x=x, y=self.y[i, :n].copy(),
                     sigma=None if self.sigma is None else self.sigma[i, :n].copy(),
                     excluded=~self.used[i, :n], source=self.sources[i])

    @classmethod
    def from_curves(cls, curves: Iterable[Curve], model: Model) -> "CurveSet":
        """Stack ``curves`` for ``model``'s predictors (padding as the module says)."""
        curves = list(curves)
        if not curves:
            raise InputError("no curves to fit")
        names = model.independent_vars
        rows = []
        for c in curves:
            y = np.asarray(c.y, dtype=float).ravel()
            try:
                xs = as_predictors(c.x, names)
            except (KeyError, ValueError) as exc:
                raise InputError(f"curve {c.id!r}: {exc}") from None
            xs = {k: np.asarray(v, dtype=float).ravel() for k, v in xs.items()}
            for k, v in xs.items():
                if v.shape != y.shape:
                    raise InputError(f"curve {c.id!r}: predictor {k!r} has {v.size} values "
                                     f"but y has {y.size}")
            sigma = None if c.sigma is None else np.asarray(c.sigma, dtype=float).ravel()
            if sigma is not None and sigma.shape != y.shape:
                raise InputError(f"curve {c.id!r}: sigma has {sigma.size} values but y has {y.size}")
            excl = (np.zeros(y.size, dtype=bool) if c.excluded is None
                    else np.asarray(c.excluded, dtype=bool).ravel())
            if excl.shape != y.shape:
                raise InputError(f"curve {c.id!r}: the mask has {excl.size} entries "
                                 f"but y has {y.size}")
            rows.append((xs, y, sigma, excl))
        k = len(rows)
        n = max(r[1].size for r in rows)
        if n == 0:
            raise InputError("every curve is empty")
        X = {name: np.zeros((k, n)) for name in names}
        Y = np.zeros((k, n))
        S = np.ones((k, n)) if any(r[2] is not None for r in rows) else None
        used = np.zeros((k, n), dtype=bool)
        lengths = np.zeros(k, dtype=np.intp)
        for i, (c, (xs, y, sigma, excl)) in enumerate(zip(curves, rows)):
            m = y.size
            lengths[i] = m
            ok = ~excl
            for name, v in xs.items():
                X[name][i, :m] = v
                _check_infinite(c.id, name, v, ok)
                ok &= np.isfinite(v)
                if m:
                    # padding repeats the last finite value (0 when there is none)
                    finite = v[np.isfinite(v)]
                    X[name][i, m:] = finite[-1] if finite.size else 0.0
            _check_infinite(c.id, "y", y, ok)
            ok &= np.isfinite(y)
            Y[i, :m] = np.where(np.isfinite(y), y, 0.0)
            if S is not None and sigma is not None:
                _check_infinite(c.id, "sigma", sigma, ok)
                ok &= np.isfinite(sigma)
                bad = np.flatnonzero(ok & (sigma <= 0))
                if bad.size:
                    raise InputError(f"curve {c.id!r}: sigma must be positive; "
                                     f"it is {sigma[bad[0]]:g} in row {bad[0] + 1}")
                S[i, :m] = np.where(ok, sigma, 1.0)
            elif S is not None:
                raise InputError(f"curve {c.id!r} has no sigma but other curves do; "
                                 "give sigma for every curve or for none")
            used[i, :m] = ok
        for name in names:
            # a predictor that is not finite where unused must not poison the model
            X[name][~used & ~np.isfinite(X[name])] = 0.0
        return cls(ids=tuple(c.id for c in curves), sources=tuple(c.source for c in curves),
                   x=X, y=Y, used=used, sigma=S, lengths=lengths)


def _check_infinite(curve_id: str, column: str, values: np.ndarray, used: np.ndarray) -> None:
    bad = np.flatnonzero(np.isinf(values) & used)
    if bad.size:
        raise InputError(f"curve {curve_id!r}: column {column!r} is infinite in row {bad[0] + 1}")
