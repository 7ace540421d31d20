"""Progress snapshots and cancellation, shared by every solver and client.

The solver calls ``on_iteration(IterationState)`` in its own thread after each
iteration; clients (GUI worker, CLI, tests) decide what to do with it.  A
:class:`CancelToken` is a thread-safe flag the solver polls; cancelling is a
status of the result, not an exception.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


class CancelToken:
    """A thread-safe, one-way cancel flag."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class IterationState:
    """What a solver knows after one iteration.

    ``objective`` is the sum of squared weighted residuals (after the robust
    loss, when one is used); ``values`` holds every parameter of the model in
    model order, fixed ones included.
    """

    iteration: int
    objective: float
    values: tuple[float, ...]
    evaluations: int
    solver: str = ""

    def as_array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=float)
