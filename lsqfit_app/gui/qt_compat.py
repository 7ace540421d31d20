"""Workarounds for defects of the installed Qt binding, applied once at import.

PySide6 6.12.0 under CPython 3.11: every ``SignalInstance.emit()`` called
from Python drops one reference to ``True`` that it never took (checked:
``sys.getrefcount(True)`` falls by exactly one per emit, with or without a
connected slot; signals emitted from C++ are not affected).  pyqtgraph emits
Python signals on every ``setData`` and every pan, so after some thousands of
emits the refcount of ``True`` reaches zero and the interpreter aborts with
"Fatal Python error: bool_dealloc".  Delivering a queued signal (worker
thread -> GUI thread) to a Python slot likewise drops a reference to
``None`` ("none_dealloc").  CPython 3.12+ makes these singletons immortal,
which hides the defects there.

The workaround does what 3.12 does: when a probe emit shows the leak, the
reference counts of ``True``, ``False`` and ``None`` (static singletons that
are never freed) are raised by 2**40, far more than any session can use up.
It is skipped when the probe shows no leak, so a fixed PySide6 gets no change
at all.
"""
from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

#: added to the reference counts of True, False and None when the leak is present
_CUSHION = 1 << 40
_applied = False


class _Probe(QObject):
    probed = Signal()


def emit_leaks_true_reference() -> bool:
    """True when a Python-side ``emit()`` drops a reference to ``True``."""
    if sys.version_info >= (3, 12):
        return False   # True is immortal: its count cannot matter
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.probed.emit()
    return sys.getrefcount(True) < before - 4


def apply_workarounds() -> bool:
    """Apply the workarounds needed by this binding; returns True when one was applied."""
    global _applied
    if _applied:
        return True
    if not emit_leaks_true_reference():
        return False
    for singleton in (True, False, None):
        # ob_refcnt is the first field of every CPython object
        ctypes.c_ssize_t.from_address(id(singleton)).value += _CUSHION
    _applied = True
    return True
