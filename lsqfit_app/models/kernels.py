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

Why not always: numba costs about 0.7 s per process to import and to load
the kernels from its on-disk cache (a few seconds once per machine, to
compile them).  A single small fit takes a millisecond, so the kernels are
loaded only when a process shows it runs many fits, ski-rental style: after
``AUTO_AFTER_FITS`` fits of models they serve, when ``warm_up()`` is called
(scripts that batch-fit, benchmarks), or always with ``LSQFIT_KERNELS=on``.
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
AUTO_AFTER_FITS = 1000
#: the lineshapes (``lineshapes.py`` function names) that have a kernel of the same name
KERNEL_NAMES = frozenset({
    "line", "polynomial", "exp_decay", "exp_growth", "double_exp_decay", "power_law",
    "logarithmic", "gaussian", "lorentzian", "pseudo_voigt", "logistic4", "hill",
    "michaelis_menten", "sine", "damped_sine"})
_MODES = ("auto", "on", "off")

_lock = threading.Lock()
_state = {"mode": os.environ.get("LSQFIT_KERNELS", "auto").strip().lower() or "auto",
          "fits": 0, "kernels": None, "failed": False}
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
    """Load (compiling on first use on this machine) every kernel now.

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
    if _state["mode"] == "on" or _state["fits"] >= AUTO_AFTER_FITS:
        return _load()
    return None


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
    return load_all()


class Plan:
    """How a model evaluates through kernels: which kernel fills which parameter
    rows, and which parameters are constant offsets (value p, derivative 1).

    Models cache their plan, so what every fit would otherwise rebuild (the
    kernel calls, the offset rows) is worked out once here.
    """

    __slots__ = ("parts", "offsets", "n_params", "ones", "_calls")

    def __init__(self, parts: tuple[tuple[str, int, int], ...], offsets: tuple[int, ...]):
        self.parts = parts       # (kernel name, start, stop)
        self.offsets = offsets   # parameter indices
        self.n_params = max([stop for _, _, stop in parts] + [o + 1 for o in offsets])
        # the offset rows for residualize; shared by every fit, which only read it
        self.ones = np.array(offsets, dtype=np.int64)
        self._calls = None

    def shifted(self, by: int) -> "Plan":
        return Plan(tuple((k, a + by, b + by) for k, a, b in self.parts),
                    tuple(o + by for o in self.offsets))

    def calls(self, kernels: dict) -> tuple:
        """(kernel, start, stop, add, last) per part: the first writes f, later
        ones add to it, and the last also turns it into residuals."""
        if self._calls is None or self._calls[0] is not kernels:
            last = len(self.parts) - 1
            self._calls = (kernels, tuple((kernels[name], start, stop, k > 0, k == last)
                                          for k, (name, start, stop) in enumerate(self.parts)))
        return self._calls[1]


def evaluator(plan: Plan, kernels: dict, x: np.ndarray, y: np.ndarray, w: np.ndarray | None):
    """``evaluate(p) -> (f, r, Jr, r @ r)`` for the full parameter array p.

    r = (y - f) * w and Jr = dr/dp (points x parameters), the transpose of
    the kernels' C-order rows: MINPACK's column-major layout as it is.
    """
    calls = plan.calls(kernels)
    offsets, ones, n_params = plan.offsets, plan.ones, plan.n_params
    residualize = kernels["residualize"]
    n = y.size
    weights = _NO_WEIGHTS if w is None else w
    x = np.ascontiguousarray(x, dtype=float)

    def evaluate(p):
        c = (p[offsets[0]] if len(offsets) == 1 else sum(p[o] for o in offsets)) if offsets else 0.0
        jac = np.empty((n_params, n))
        r = np.empty(n)
        if not calls:   # offsets only
            f = np.full(n, c)
            return f, r, jac.T, residualize(y, weights, f, jac, ones, r)
        f = np.empty(n)
        for kernel, start, stop, add, last in calls:
            value = kernel(x, p, start, stop, f, jac, c, add, last, y, weights, ones, r)
        return f, r, jac.T, value

    return evaluate


#: the empty weights that tell residualize "unweighted" (shared; never written)
_NO_WEIGHTS = np.empty(0)
