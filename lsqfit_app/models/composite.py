"""Sums of models: f(p; x) = f_1(p_1; x) + f_2(p_2; x) + ...

Parameter names are prefixed per component so they stay unique and
predictable: the component's name and "_", with a 1-based index when the same
name occurs more than once.  "gaussian+gaussian+line" has the parameters
gaussian1_amplitude, gaussian1_center, gaussian1_sigma, gaussian2_amplitude,
..., line_slope, line_intercept.  The Jacobian is the column-wise
concatenation of the components' Jacobians; the linear parameters are the
union of the components' (each block affine and the blocks added, so the sum
is jointly affine in the union).

Start values
------------
1. Baseline components (line, polyN, exp_decay) are guessed first: on the
   outer 20 % of the x range at each end when the sum has peaks (peaks sit
   inside the range), on all the data otherwise; the guess is subtracted.
2. Other non-peak components are guessed in turn on what is left.
3. Peaks are seeded from the residual: ``peakfind.find_peaks`` (scipy's
   definitions) on the smoothed residual, ranked by prominence, widths at half
   prominence.  Peaks the search cannot resolve (a shoulder) are seeded
   greedily at the largest remaining residual after the found ones are
   subtracted.
   A single peak is seeded like the plain peak model (extreme, half-maximum
   crossings); on a linear baseline the linear parameters are then solved
   exactly, and if that still explains under 90 % of the variance (a wide
   peak at an edge spoils the edge baseline) its centre and width are
   scanned on a grid with the linear parameters solved at each point.
4. When more than one component is nonlinear, a short bounded least-squares
   refinement (trust region reflective) of the whole sum from these seeds
   makes the start robust for overlapping peaks; it is kept only if it
   lowers the squared error.
Components with the same name are finally ordered by their ``center`` (or
first nonlinear parameter) so that gaussian1 is the left-most peak.
"""
from __future__ import annotations

import functools
import math
import re
import warnings
from collections import Counter
from typing import Sequence

import numpy as np

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.model import Model, ParamHint, as_predictors
from lsqfit_app.models.guesses import peak_features, prepare, smooth
from lsqfit_app.models.peakfind import find_peaks, half_widths
from lsqfit_app.models.polynomials import PolynomialModel

#: a sum of models guesses from at most this many points (evenly spaced in x)
GUESS_POINTS = 1 << 16

_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _prefix_base(model: Model, index: int) -> str:
    name = model.name
    return name if name.isidentifier() else f"m{index + 1}"


def _is_offset(model: Model) -> bool:
    return isinstance(model, PolynomialModel) and model.degree == 0


def _n_points(x, names: tuple[str, ...]) -> int:
    """Number of points in the predictors (a dict of arrays on the solvers' hot path)."""
    if type(x) is dict:
        return np.shape(x[names[0]])[0]
    return next(iter(as_predictors(x, names).values())).size


class SumModel(Model):
    """The sum of several models with prefixed parameter names.

    Parameters
    ----------
    components : sequence of Model
        The terms.  A single component keeps its own parameter names.
    """

    def __init__(self, components: Sequence[Model]):
        components = list(components)
        if not components:
            raise InputError("a sum of models needs at least one model")
        self.components: tuple[Model, ...] = tuple(components)
        bases = [_prefix_base(m, i) for i, m in enumerate(components)]
        counts = Counter(bases)
        seen: Counter = Counter()
        prefixes = []
        for base in bases:
            seen[base] += 1
            if len(components) == 1:
                prefixes.append("")
            elif counts[base] > 1:
                prefixes.append(f"{base}{seen[base]}_")
            else:
                prefixes.append(f"{base}_")
        self.prefixes: tuple[str, ...] = tuple(prefixes)

        names: list[str] = []
        slices: list[slice] = []
        for prefix, model in zip(prefixes, components):
            start = len(names)
            names.extend(prefix + p for p in model.param_names)
            slices.append(slice(start, len(names)))
        if len(set(names)) != len(names):
            raise InputError(f"parameter names clash in the sum: {names}")
        self.param_names = tuple(names)
        self._slices = tuple(slices)
        self._parts = tuple(zip(components, slices))
        # A constant offset (poly0) is the commonest term of a sum: its value is
        # one number and its Jacobian column all ones, so eval_and_jacobian adds
        # it as a scalar instead of building two arrays and copying them.
        offsets = [sl.start for m, sl in self._parts if _is_offset(m)]
        self._offset_cols: tuple[int, ...] = tuple(offsets)
        self._array_parts = tuple((m, sl) for m, sl in self._parts if not _is_offset(m))
        # what eval_and_jacobian calls per part (only offsets: the plain sum)
        self._rows_parts = tuple((m.eval_and_jacobian_rows, sl)
                                 for m, sl in self._array_parts or self._parts)
        # A sum of library lineshapes (peaks on an offset, the commonest sum) is
        # evaluated from one list of Python floats, each shape writing its
        # Jacobian rows in place: no per-part parameter arrays or wrappers.
        self._shapes = None
        if self._array_parts and all(getattr(m, "_jac_out", False) for m, _ in self._array_parts):
            self._shapes = tuple((m._shape_jac, sl.start, sl.stop) for m, sl in self._array_parts)

        indep: list[str] = []
        for model in components:
            indep.extend(v for v in model.independent_vars if v not in indep)
        self.independent_vars = tuple(indep)
        self.name = "+".join(m.name for m in components)
        self.formula = " + ".join(self._prefixed_formula(m, pre)
                                  for m, pre in zip(components, prefixes))
        self.formula_is_exact = all(getattr(m, "formula_is_exact", True) for m in components)
        self.description = "sum of " + ", ".join(m.name for m in components)
        self._bounds_cache: tuple[np.ndarray, np.ndarray] | None = None
        self._linear_cache: frozenset[str] | None = None
        self._hints_cache: dict[str, ParamHint] | None = None

    @staticmethod
    def _prefixed_formula(model: Model, prefix: str) -> str:
        if not prefix:
            return model.formula
        own = set(model.param_names)
        return _IDENT.sub(lambda m: prefix + m.group(0) if m.group(0) in own else m.group(0),
                          model.formula)

    # ------------------------------------------------------------ evaluation
    def eval(self, p, x):
        p = np.asarray(p, dtype=float)
        parts = iter(self._array_parts or self._parts)
        model, sl = next(parts)
        total = model.eval(p[sl], x)
        for model, sl in parts:
            total = total + model.eval(p[sl], x)
        if self._array_parts and self._offset_cols:
            total = total + float(sum(p[col] for col in self._offset_cols))
        return total

    def jacobian(self, p, x):
        return self.eval_and_jacobian(p, x)[1]

    def eval_and_jacobian(self, p, x):
        return self.jacobian_at(x)(p)

    def jacobian_at(self, x):
        """``evaluate(p) -> (f, J)`` at predictors x.

        When every array part is a lineshape and x is one float array (checked
        here, once for all the evaluations of a fit), the shapes are called
        with the parameters as Python floats and write their Jacobian rows in
        place into one buffer, made here with the offsets' rows set to ones:
        its J is valid until the next call, which is all a solver needs (it
        weighs J into arrays of its own at once).  Otherwise each part is
        evaluated into a fresh buffer (:meth:`_eval_parts`).
        """
        xv = x.get("x") if self._shapes is not None and type(x) is dict else None
        if not (type(xv) is np.ndarray and xv.dtype == np.float64 and xv.ndim == 1):
            return functools.partial(self._eval_parts, x=x)
        jac = self._jacobian_buffer(xv.size)
        shapes = tuple((shape, start, stop, jac[start:stop]) for shape, start, stop in self._shapes)
        jac_t, plus_offsets, eval_parts = jac.T, self._plus_offsets, self._eval_parts

        def evaluate(p):
            vals = p.tolist() if type(p) is np.ndarray else [float(v) for v in p]
            total = None
            try:
                for shape, start, stop, rows in shapes:
                    f = shape(xv, *vals[start:stop], out=rows)[0]
                    total = f if total is None else total + f
            except ZeroDivisionError:   # a width of exactly 0: the parts give inf/NaN instead
                return eval_parts(p, x)
            return plus_offsets(total, vals), jac_t

        return evaluate

    def eval_and_jacobian_batch(self, P, X, rows):
        """K curves: each part writes its rows of the (P, K, n) buffer from its
        columns of ``P`` (the same code as one curve, broadcast); the offsets'
        rows are ones and their values are added as (K, 1) columns."""
        total = None
        for col in self._offset_cols:
            rows[col] = 1.0
        for model, sl in self._array_parts or self._parts:
            f = model.eval_and_jacobian_batch(P[:, sl], X, rows[sl])
            total = f if total is None else total + f
        if self._array_parts and self._offset_cols:
            offset = P[:, self._offset_cols[0]:self._offset_cols[0] + 1]
            for col in self._offset_cols[1:]:
                offset = offset + P[:, col:col + 1]
            total = total + offset
        return total

    def _eval_parts(self, p, x):
        p = np.asarray(p, dtype=float)
        # Each part writes its Jacobian straight into its rows of one
        # (P, n) buffer; the transpose handed back is column-major.
        jac = self._jacobian_buffer(_n_points(x, self.independent_vars))
        total = None
        for into, sl in self._rows_parts:
            f = into(p[sl], x, jac[sl])
            # new arrays, never in place: a part may hand back an array it keeps
            total = f if total is None else total + f
        return self._plus_offsets(total, p.tolist()), jac.T

    def _jacobian_buffer(self, n: int) -> np.ndarray:
        """(P, n) rows for the parts to fill, the offsets' rows (all ones) filled here:
        one row store each is cheaper than filling the whole buffer with ones."""
        jac = np.empty((len(self.param_names), n))
        for col in self._offset_cols:
            jac[col] = 1.0
        return jac

    def _plus_offsets(self, total: np.ndarray, values: list[float]) -> np.ndarray:
        """The array parts' sum plus the offsets, added as one number (when both exist)."""
        if not (self._array_parts and self._offset_cols):
            return total
        offset = 0.0   # summed in column order, as sum() would (0 + v is 0.0 + v)
        for col in self._offset_cols:
            offset += values[col]
        return total + offset

    def param_hints(self) -> dict[str, ParamHint]:
        if self._hints_cache is None:   # the components never change
            hints = {}
            for prefix, model in zip(self.prefixes, self.components):
                for name, hint in model.param_hints().items():
                    hints[prefix + name] = hint
            self._hints_cache = hints
        return dict(self._hints_cache)

    @property
    def linear_params(self) -> frozenset[str]:
        # computed once: the components never change, and fits ask often
        if self._linear_cache is None:
            self._linear_cache = frozenset(prefix + name
                                           for prefix, model in zip(self.prefixes, self.components)
                                           for name in model.linear_params)
        return self._linear_cache

    # ----------------------------------------------------------- start values
    def guess(self, x, y) -> dict[str, float]:
        """Start values for every prefixed parameter; see the module docstring."""
        if len(self.independent_vars) != 1:
            return self._guess_sequential(x, y)
        key = self.independent_vars[0]
        # thinned evenly on big data: the seeds and the linear solves of the
        # baseline need the curve's shape, and on all of a million rows each
        # solve would hold several copies of the data (and the single-peak
        # scan repeats it two hundred times)
        xs, ys = prepare(as_predictors(x, self.independent_vars)[key], y, GUESS_POINTS)
        pred = {key: xs}
        if xs.size == 0:
            return self._pack([m.guess({key: xs}, ys) for m in self.components])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = self._seed(xs, ys, pred)
            p0 = self._vector(values)
            if self._single_peak_on_linear() and xs.size > len(self.param_names):
                p0 = self._settle_single_peak(p0, pred, ys)
            elif self._wants_refinement(xs.size):
                p0 = self._refine(p0, pred, ys)
            p0 = self._order_repeated(p0)
        return self._finish(p0)

    def _single_peak_on_linear(self) -> bool:
        kinds = [getattr(m, "kind", "other") for m in self.components]
        return kinds.count("peak") == 1 and all(
            m.is_linear for m, kind in zip(self.components, kinds) if kind != "peak")

    def _solve_linear(self, p, pred, ys) -> tuple[np.ndarray, float]:
        """p with its linear parameters at their least-squares values, and the squared error.

        The model is affine in them: f = g0 + J_lin @ p_lin, so one linear solve
        makes the amplitudes and the baseline consistent with the nonlinear seeds.
        """
        lin = [j for j, n in enumerate(self.param_names) if n in self.linear_params]
        f, jac = self.eval_and_jacobian(p, pred)
        if not lin or not np.all(np.isfinite(jac)):
            r = f - ys
            return p, float(r @ r)
        a = jac[:, lin]
        g0 = f - a @ p[lin]
        beta = np.linalg.lstsq(a, ys - g0, rcond=None)[0]
        p = p.copy()
        p[lin] = beta
        r = g0 + a @ beta - ys
        return p, float(r @ r)

    def _settle_single_peak(self, p0, pred, ys) -> np.ndarray:
        """One peak on a linear baseline: re-solve the linear parameters; when the
        seed explains the data poorly (a wide peak at an edge spoils the edge
        baseline), scan the peak's centre and width with the linear part solved
        at each grid point and keep the best."""
        best, sse = self._solve_linear(p0, pred, ys)
        yc = ys - ys.mean()
        total = float(yc @ yc)
        if not (total > 0) or sse < 0.1 * total:
            return best
        i = next(i for i, m in enumerate(self.components) if getattr(m, "kind", "") == "peak")
        peak, sl = self.components[i], self._slices[i]
        xs = next(iter(pred.values()))
        span = float(xs[-1] - xs[0]) or 1.0
        centers = np.quantile(xs, np.linspace(0.02, 0.98, 33))
        for c in centers:
            for w in span * np.array([0.01, 0.025, 0.05, 0.1, 0.2, 0.35]):
                trial = best.copy()
                seed = peak.from_peak(1.0, float(c), float(w))
                trial[sl] = [seed[n] for n in peak.param_names]
                trial, trial_sse = self._solve_linear(trial, pred, ys)
                if trial_sse < sse:
                    best, sse = trial, trial_sse
        return best

    def _guess_sequential(self, x, y) -> dict[str, float]:
        # Several predictors: no x axis to find peaks along; each term on the remainder.
        resid = np.asarray(y, dtype=float).copy()
        values = []
        for model in self.components:
            g = model.guess(x, resid)
            values.append(g)
            resid = resid - model.eval(np.array([g[n] for n in model.param_names]), x)
        return self._pack(values)

    def _pack(self, values: list[dict[str, float]]) -> dict[str, float]:
        return {pre + name: float(v[name])
                for pre, model, v in zip(self.prefixes, self.components, values)
                for name in model.param_names}

    def _vector(self, values: list[dict[str, float]]) -> np.ndarray:
        return np.array([v[name] for model, v in zip(self.components, values)
                         for name in model.param_names], dtype=float)

    def _seed(self, xs, ys, pred) -> list[dict[str, float]]:
        kinds = [getattr(m, "kind", "other") for m in self.components]
        has_peaks = "peak" in kinds
        values: list[dict[str, float] | None] = [None] * len(self.components)
        resid = ys.copy()

        def subtract(i):
            model = self.components[i]
            p = np.array([values[i][n] for n in model.param_names])
            return model.eval(p, pred)

        key = next(iter(pred))
        n = xs.size
        if has_peaks and n >= 10:
            span = xs[-1] - xs[0]
            edges = (xs <= xs[0] + 0.2 * span) | (xs >= xs[-1] - 0.2 * span)
        else:
            edges = np.ones(n, dtype=bool)
        for i, kind in enumerate(kinds):
            if kind == "baseline":
                values[i] = self.components[i].guess({key: xs[edges]}, resid[edges])
                resid = resid - subtract(i)
        for i, kind in enumerate(kinds):
            if kind not in ("baseline", "peak"):
                values[i] = self.components[i].guess(pred, resid)
                resid = resid - subtract(i)
        peak_ids = [i for i, kind in enumerate(kinds) if kind == "peak"]
        if peak_ids:
            for i, seed in zip(peak_ids, self._seed_peaks(xs, resid, peak_ids)):
                values[i] = seed
        return values

    def _seed_peaks(self, xs, r, peak_ids) -> list[dict[str, float]]:
        """Seeds for the peak components, in component order, from the residual r."""
        k = len(peak_ids)
        pred = {self.independent_vars[0]: xs}
        n = xs.size
        rs = smooth(r)
        sign = 1.0 if rs.max() >= -rs.min() else -1.0
        rs = sign * rs
        features: list[tuple[float, float, float]] = []
        if k == 1:
            features.append(peak_features(xs, r))
        elif n >= 5:
            spread = float(rs.max() - rs.min())
            idx, prom, left_base, right_base = find_peaks(rs, 0.05 * spread)
            if idx.size:
                top = np.argsort(prom)[::-1][:k]
                idx = idx[top]
                left_ip, right_ip = half_widths(rs, idx, prom[top], left_base[top],
                                                right_base[top])
                grid = np.arange(n)
                left = np.interp(left_ip, grid, xs)
                right = np.interp(right_ip, grid, xs)
                min_width = (xs[-1] - xs[0]) / (4.0 * n)
                for j, i in enumerate(idx):
                    hwhm = max(0.5 * float(right[j] - left[j]), min_width)
                    features.append((sign * float(rs[i]), float(xs[i]), hwhm))
        # Unresolved peaks (shoulders): greedily at the largest remaining residual.
        cur = r.copy()
        for j, (h, c, w) in enumerate(features):
            model = self.components[peak_ids[j]]
            seed = model.from_peak(h, c, w)
            cur -= model.eval(np.array([seed[p] for p in model.param_names]), pred)
        while len(features) < k:
            j = len(features)
            h, c, w = peak_features(xs, cur, sign)
            if not (h * sign > 0):
                h = sign * 0.5 * float(np.ptp(r))
            features.append((h, c, w))
            model = self.components[peak_ids[j]]
            seed = model.from_peak(h, c, w)
            cur -= model.eval(np.array([seed[p] for p in model.param_names]), pred)
        # Same-named peaks left to right; otherwise prominence order follows component order.
        features.sort(key=lambda f: f[1])
        return [self.components[i].from_peak(*f) for i, f in zip(peak_ids, features)]

    def _wants_refinement(self, n: int) -> bool:
        nonlinear = sum(1 for m in self.components
                        if frozenset(m.param_names) != m.linear_params)
        return nonlinear >= 2 and n > len(self.param_names)

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if self._bounds_cache is None:
            hints = self.param_hints()
            lo = np.array([hints.get(n, ParamHint()).min for n in self.param_names], dtype=float)
            hi = np.array([hints.get(n, ParamHint()).max for n in self.param_names], dtype=float)
            self._bounds_cache = (lo, hi)
        lo, hi = self._bounds_cache
        return lo.copy(), hi.copy()

    def _inside(self, p: np.ndarray) -> np.ndarray:
        lo, hi = self._bounds()
        p = np.where(np.isfinite(p), p, 1.0)
        width = np.where(np.isfinite(hi - lo), hi - lo, np.maximum(np.abs(p), 1.0))
        return np.clip(p, lo + 1e-9 * width, hi - 1e-9 * width)

    def _refine(self, p0, pred, ys) -> np.ndarray:
        from scipy.optimize import least_squares

        p0 = self._inside(p0)
        r0 = self.eval(p0, pred) - ys
        cost0 = float(r0 @ r0)
        if not math.isfinite(cost0):
            return p0
        try:
            res = least_squares(lambda p: self.eval(p, pred) - ys, p0,
                                jac=lambda p: self.jacobian(p, pred),
                                bounds=self._bounds(), method="trf", x_scale="jac",
                                max_nfev=20 * len(p0))
        except (ValueError, np.linalg.LinAlgError):
            return p0
        if np.all(np.isfinite(res.x)) and 2.0 * res.cost < cost0:
            return res.x
        return p0

    def _order_repeated(self, p: np.ndarray) -> np.ndarray:
        p = p.copy()
        groups: dict[type, list[int]] = {}
        for i, m in enumerate(self.components):
            groups.setdefault((type(m), m.name), []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            model = self.components[members[0]]
            names = model.param_names
            key = names.index("center") if "center" in names else next(
                (j for j, nm in enumerate(names) if nm not in model.linear_params), None)
            if key is None:
                continue
            blocks = [p[self._slices[i]].copy() for i in members]
            blocks.sort(key=lambda b: b[key])
            for i, b in zip(members, blocks):
                p[self._slices[i]] = b
        return p

    def _finish(self, p: np.ndarray) -> dict[str, float]:
        p = self._inside(np.asarray(p, dtype=float))
        return {name: float(v) for name, v in zip(self.param_names, p)}

