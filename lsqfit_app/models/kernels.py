"""Compiled library lineshapes (numba) for processes that run many fits.

A fit of a library model spends most of its time evaluating the model and
its Jacobian: a Gaussian on an offset takes about 13 numpy calls per
evaluation, each with a microsecond of overhead on 100 points, while one
compiled loop over the points does all of it, and turns the values into
weighted residuals, in one call.  These kernels are that loop, one per
lineshape of ``lineshapes.py``, written with the same formulas in the same
order of operations (results agree to rounding:
``tests/models/test_lineshape_kernels.py``).

Every kernel reads its parameters ``p[start:stop]``, writes (or adds) its
values to ``f`` and its derivatives to rows ``start:stop`` of ``jac``
(parameters x points), so a sum of shapes fills one value array and one
Jacobian; the last kernel also turns every point into weighted residuals
(y - f) * w and their Jacobian as it goes, and returns their sum of squares
(``_lineshape_kernels``).

The solvers' compiled loops (``solvers/_compiled.py``: LM, the polish and
the statistics around the kernels) register with :func:`load_with_kernels`
and load with them.

Why not always: numba costs about 1.2 s per process to import and to load
the kernels and those loops from its on-disk cache (the first time on a
machine it compiles them: about a minute, once).  A single small fit takes
a millisecond, so the kernels are loaded only when a process shows it runs
many fits, ski-rental style: after ``AUTO_AFTER_FITS`` fits of models they
serve (in a background thread: fits go on with numpy until they are
ready, so none waits, not even for the first compile), when ``warm_up()``
is called (scripts that batch-fit, benchmarks: it waits), or always with
``LSQFIT_KERNELS=on`` (the first fit that can use them waits).
``LSQFIT_KERNELS=off`` never loads them.  The two paths agree to rounding,
so a result can differ in its last digits between a process that has
loaded them and one that has not.
"""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np

#: fits of kernel-capable models after which "auto" loads the kernels
#: (ski rental: load when the time the kernels would have saved so far, about
#: 0.45 ms per fit of a Gaussian on an offset, 100 points, matches the 1.2 s
#: they take to load; tests/benchmarks/bench_engine.py prints both)
AUTO_AFTER_FITS = 2500
#: the lineshapes (``lineshapes.py`` function names) that have a kernel of the
#: same name, in the order ``_lineshape_kernels.evaluate_plan`` numbers them
#: (that module's KERNELS; a test checks the two agree)
KERNEL_ORDER = ("line", "polynomial", "exp_decay", "exp_growth", "double_exp_decay",
                "power_law", "logarithmic", "gaussian", "lorentzian", "pseudo_voigt",
                "logistic4", "hill", "michaelis_menten", "sine", "damped_sine")
KERNEL_NAMES = frozenset(KERNEL_ORDER)
_MODES = ("auto", "on", "off")

_lock = threading.Lock()
_state = {"mode": os.environ.get("LSQFIT_KERNELS", "auto").strip().lower() or "auto",
          "fits": 0, "kernels": None, "failed": False, "loader": None}
if _state["mode"] not in _MODES:
    _state["mode"] = "auto"


def set_mode(mode: str) -> None:
    """Set when fits use the kernels: "auto" (load them after many fits), "on"
    (load them at the first fit that can use them) or "off" (never use them,
    even when loaded)."""
    if mode not in _MODES:
        raise ValueError(f"kernel mode must be one of {', '.join(_MODES)}, not {mode!r}")
    _state["mode"] = mode


def warm_up() -> bool:
    """Load (compiling on first use on this machine) every kernel now, and
    the compiled code registered with :func:`load_with_kernels`.

    Returns True when they are usable; False without numba or with mode "off".
    """
    if _state["mode"] == "off":
        return False
    return _load() is not None


def active() -> dict | None:
    """The loaded kernels by name, or None when fits should use numpy."""
    if _state["mode"] == "off":
        return None
    return _state["kernels"]


def note_fit() -> dict | None:
    """Count one fit of a kernel-capable model; load the kernels when the mode
    says it is time.  Returns the kernels to use for this fit, or None."""
    kernels = _state["kernels"]
    if kernels is not None or _state["mode"] == "off" or _state["failed"]:
        return active()
    _state["fits"] += 1
    if _state["mode"] == "on":
        return _load()
    if _state["fits"] >= AUTO_AFTER_FITS and _state["loader"] is None:
        _state["loader"] = loader = threading.Thread(
            target=_load, name="lsqfit-kernels", daemon=True)
        loader.start()
    return None


def wait_for_loading(timeout: float | None = None) -> bool:
    """Wait for a background load that auto mode started; True when the
    kernels are loaded."""
    loader = _state["loader"]
    if loader is not None:
        loader.join(timeout)
    return _state["kernels"] is not None


def _load() -> dict | None:
    with _lock:
        if _state["kernels"] is None and not _state["failed"]:
            try:
                kernels = _compile()
            except Exception as exc:   # no numba, or one incompatible with this numpy
                _state["failed"] = True
                # once per process; fits go on with numpy, as fast as before
                warnings.warn(f"compiled lineshape kernels unavailable, fits use numpy: {exc}",
                              RuntimeWarning, stacklevel=2)
            else:
                _state["kernels"] = kernels
    return _state["kernels"]


def _compile() -> dict:
    from lsqfit_app.models._lineshape_kernels import load_all
    kernels = load_all()
    for loader in _companions:
        loader(kernels)
    return kernels


#: loaders of more compiled code that works with the kernels (the solvers'
#: compiled loops), run when the kernels load, so that no fit stops to load it
_companions: list = []


def load_with_kernels(loader) -> None:
    """Have ``loader(kernels)`` run when the kernels load (once per process),
    or now if they have."""
    with _lock:
        _companions.append(loader)
        if _state["kernels"] is not None:
            loader(_state["kernels"])


class Plan:
    """How a model evaluates through kernels: which kernel fills which parameter
    rows, and which parameters are constant offsets (value p, derivative 1).

    Models cache their plan, so what every fit would otherwise rebuild (the
    integer arrays ``evaluate_plan`` reads) is worked out once here.
    """

    __slots__ = ("parts", "offsets", "n_params", "arrays")

    def __init__(self, parts: tuple[tuple[str, int, int], ...], offsets: tuple[int, ...]):
        self.parts = parts       # (kernel name, start, stop)
        self.offsets = offsets   # parameter indices
        self.n_params = max([stop for _, _, stop in parts] + [o + 1 for o in offsets])
        # (kinds, starts, stops, offsets, ones) for evaluate_plan; shared by
        # every fit, which only read them.  ``ones`` are the offset rows, whose
        # derivative is 1 (a repeated offset is listed once per term).
        kinds = [KERNEL_ORDER.index(name) for name, _, _ in parts]
        self.arrays = tuple(np.array(v, dtype=np.int64) for v in (
            kinds, [a for _, a, _ in parts], [b for _, _, b in parts], offsets, offsets))

    def shifted(self, by: int) -> "Plan":
        return Plan(tuple((k, a + by, b + by) for k, a, b in self.parts),
                    tuple(o + by for o in self.offsets))


def evaluator(plan: Plan, kernels: dict, fixed: tuple):
    """``evaluate(p) -> (f, r, Jr, r @ r)`` for the full parameter array p,
    with ``fixed`` = :func:`inputs` for the fit's data.

    r = (y - f) * w and Jr = dr/dp (points x parameters), the transpose of
    the kernels' C-order rows: MINPACK's column-major layout as it is.
    """
    evaluate_plan = kernels["evaluate_plan"]
    (kinds, starts, stops, offsets, ones), x, y, weights = fixed
    n_params = plan.n_params
    n = y.size

    def evaluate(p):
        f = np.empty(n)
        r = np.empty(n)
        jac = np.empty((n_params, n))
        value = evaluate_plan(kinds, starts, stops, offsets, ones, x, p, f, jac, y, weights, r)
        return f, r, jac.T, value

    return evaluate


def inputs(plan: Plan, x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple:
    """``evaluate_plan``'s fixed arguments: (plan arrays, x, y, weights), the
    weights empty when unweighted."""
    return (plan.arrays, np.ascontiguousarray(x, dtype=float), y,
            _NO_WEIGHTS if w is None else w)


#: the empty weights that tell the kernels "unweighted" (shared; never written)
_NO_WEIGHTS = np.empty(0)
