"""Batch fit benchmark against a loop of scipy's curve_fit, printed as a ratio (not collected by pytest).

100-point Gaussian + offset curves (default 100,000), each with its own true
parameters and noise.  Both sides start from the same per-curve start values
(the true values perturbed, as bench_engine.py does), so the comparison is of
the fits, not of start-value heuristics; the batch computes full per-curve
statistics (standard errors, CIs, SSE, R^2, AIC/AICc/BIC).  The curve_fit loop
is timed on a subset (--subset, default 2,000 curves) and scaled to all
curves, which the output says.  The batch's own guesses (starts="guess") are
timed separately on --guess-curves curves.

Run:  python tests/benchmarks/bench_batch.py [--curves N] [--subset N] [--guess-curves N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import curve_fit

from lsqfit_app.batch import fit_batch
from lsqfit_app.batch.curves import CurveSet
from lsqfit_app.models import make_model


def gauss_offset(x, amplitude, center, sigma, offset):
    return amplitude * np.exp(-(x - center) ** 2 / (2 * sigma**2)) + offset


def make_data(n_curves: int, n_points: int = 100):
    rng = np.random.default_rng(0)
    x = np.linspace(-5, 5, n_points)
    true = np.column_stack([rng.uniform(2, 10, n_curves), rng.uniform(-1, 1, n_curves),
                            rng.uniform(0.5, 1.5, n_curves), rng.uniform(-1, 1, n_curves)])
    Y = gauss_offset(x, *(true[:, j:j + 1] for j in range(4))) + rng.normal(0, 0.2, (n_curves, n_points))
    start = np.column_stack([true[:, 0] * 0.8, true[:, 1] + 0.3, true[:, 2] * 1.3,
                             np.zeros(n_curves)])
    return x, Y, start


def curve_set(x, Y):
    K = Y.shape[0]
    return CurveSet(ids=tuple(f"c{i}" for i in range(K)), sources=("",) * K,
                    x={"x": np.broadcast_to(x, Y.shape).copy()}, y=Y,
                    used=np.ones(Y.shape, dtype=bool), sigma=None,
                    lengths=np.full(K, Y.shape[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--curves", type=int, default=100_000)
    ap.add_argument("--subset", type=int, default=2_000)
    ap.add_argument("--guess-curves", type=int, default=2_000)
    args = ap.parse_args()
    x, Y, start = make_data(args.curves)
    model = make_model("gaussian+poly0")
    cs = curve_set(x, Y)
    fit_batch(model, cs.subset(np.arange(min(64, args.curves))),
              starts=start[:64])   # warm-up (imports)
    t0 = time.perf_counter()
    res = fit_batch(model, cs, starts=start)
    t_batch = time.perf_counter() - t0
    _ = (res.stderrs, res.ci_low, res.r_squared, res.aicc)

    sub = min(args.subset, args.curves)
    ref = np.empty((sub, 4))
    curve_fit(gauss_offset, x, Y[0], p0=start[0])
    t0 = time.perf_counter()
    for i in range(sub):
        ref[i] = curve_fit(gauss_offset, x, Y[i], p0=start[i])[0]
    t_cf = (time.perf_counter() - t0) / sub * args.curves
    diff = np.max(np.abs(res.values[:sub] - ref) / np.abs(ref[:, :1]))

    g = min(args.guess_curves, args.curves)
    t0 = time.perf_counter()
    fit_batch(model, cs.subset(np.arange(g)))
    t_guess = time.perf_counter() - t0

    print(f"{args.curves:,} Gaussian+offset curves of 100 points, full per-curve statistics")
    print(f"    batch fit:   {t_batch:7.2f} s  {args.curves / t_batch:10,.0f} fits/s  "
          f"(iterations per curve: mean {res.iterations.mean():.1f}, max {res.iterations.max()}; "
          f"converged {res.n_converged:,})")
    print(f"    curve_fit loop: {t_cf:7.2f} s  {args.curves / t_cf:10,.0f} fits/s  "
          f"(timed on {sub:,} curves, scaled to {args.curves:,})")
    print(f"    ratio batch / curve_fit speed = {t_cf / t_batch:.1f}x  (target >= 30x); "
          f"largest parameter difference / amplitude {diff:.1e}")
    print(f"    with the single fit's guesses (starts='guess'): {g / t_guess:,.0f} fits/s "
          f"on {g:,} curves")


if __name__ == "__main__":
    main()
