"""Global fit speed: 1,000 curves x 100 points, gaussian+line with the peak's center
and sigma shared (2) and amplitude, slope and intercept per curve (3).

Timed against the batch fit of the same curves (when ``fit_batch`` exists) and
against scipy's least_squares on the same joint problem with a sparse
``jac_sparsity`` (TRF, grouped finite differences, LSMR).  Prints the times
and ratios in one run:

    .venv/bin/python tests/benchmarks/bench_global.py [--curves K] [--points N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import lil_matrix

from lsqfit_app.batch.curves import Curve, CurveSet
from lsqfit_app.batch.global_fit import fit_global
from lsqfit_app.models.registry import library_model_from_spec

SHARED = ("gaussian_center", "gaussian_sigma")


def make_curves(K: int, n: int, seed: int = 16):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 10.0, n)
    curves = []
    for k in range(K):
        amp = rng.uniform(1.0, 5.0)
        slope, icpt = rng.uniform(-0.1, 0.1), rng.uniform(-0.5, 0.5)
        y = amp * np.exp(-(x - 5.0) ** 2 / (2 * 0.8 ** 2)) + slope * x + icpt \
            + rng.normal(0.0, 0.05, n)
        curves.append(Curve(f"c{k}", x, y))
    return curves


def scipy_sparse(model, curves, result):
    """The joint problem for least_squares, started where fit_global started."""
    names = model.param_names
    sh = [names.index(s) for s in SHARED]
    lo = [i for i in range(len(names)) if i not in sh]
    K, n = len(curves), curves[0].y.size
    x = curves[0].x
    Y = np.array([c.y for c in curves])
    starts = {(p.name, p.curve): p.start for p in result.parameters}
    theta0 = np.array([starts[(names[i], None)] for i in sh]
                      + [starts[(names[i], c.id)] for c in curves for i in lo])

    def resid(theta):
        P = np.empty((K, len(names)))
        P[:, sh] = theta[:len(sh)]
        P[:, lo] = theta[len(sh):].reshape(K, len(lo))
        amp, c, s, slope, icpt = P.T[[names.index(m) for m in (
            "gaussian_amplitude", "gaussian_center", "gaussian_sigma", "line_slope",
            "line_intercept")]]
        F = amp[:, None] * np.exp(-(x - c[:, None]) ** 2 / (2 * s[:, None] ** 2)) \
            + slope[:, None] * x + icpt[:, None]
        return (F - Y).ravel()

    pattern = lil_matrix((K * n, len(sh) + K * len(lo)), dtype=int)
    pattern[:, :len(sh)] = 1
    for k in range(K):
        pattern[k * n:(k + 1) * n, len(sh) + k * len(lo):len(sh) + (k + 1) * len(lo)] = 1
    t = time.perf_counter()
    sol = least_squares(resid, theta0, jac_sparsity=pattern, method="trf", tr_solver="lsmr",
                        x_scale="jac")
    return time.perf_counter() - t, sol


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--curves", type=int, default=1000)
    ap.add_argument("--points", type=int, default=100)
    args = ap.parse_args(argv)
    model = library_model_from_spec("gaussian+line")
    curves = make_curves(args.curves, args.points)
    cs = CurveSet.from_curves(curves, model)
    for label, params in (("guessed starts", None),
                          ("shared starts off (center 4.3, sigma 1.3)",
                           {"gaussian_center": 4.3, "gaussian_sigma": 1.3})):
        print(f"-- {label}")
        run(model, curves, cs, params, args)


def run(model, curves, cs, params, args) -> float:
    t = time.perf_counter()
    res = fit_global(model, cs, SHARED, params)
    t_global = time.perf_counter() - t
    print(f"global fit: {args.curves} curves x {args.points} points, shared {', '.join(SHARED)}:"
          f" {t_global:.3f} s, {res.status.value}, {res.iterations} iterations, "
          f"SSE {res.statistics.sse:.6g}")
    try:
        from lsqfit_app.batch import fit_batch
    except ImportError:
        print("batch fit: fit_batch not available; no ratio")
    else:
        t = time.perf_counter()
        batch = fit_batch(model, cs)
        t_batch = time.perf_counter() - t
        print(f"batch fit of the same curves: {t_batch:.3f} s, {batch.n_converged} converged; "
              f"global / batch = {t_global / t_batch:.2f} (target <= 3)")
    t_sp, sol = scipy_sparse(model, curves, res)
    sse_sp = float(sol.fun @ sol.fun)
    print(f"scipy least_squares (trf, jac_sparsity, lsmr): {t_sp:.3f} s, {sol.nfev} evaluations,"
          f" SSE {sse_sp:.6g}; scipy / global = {t_sp / t_global:.1f}")
    shared_sp = sol.x[:len(SHARED)]
    shared_gl = [p.value for p in res.parameters if p.curve is None and p.name in SHARED]
    print("largest relative difference of the shared values:",
          f"{np.max(np.abs(np.array(shared_gl) - shared_sp) / np.abs(shared_sp)):.2e}")
    return t_global


if __name__ == "__main__":
    main()
