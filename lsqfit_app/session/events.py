"""Change events of the document: a small callback list, no Qt.

A listener is a plain callable that takes one :class:`Change`.  The window
adapts it to its redraws; tests collect changes in a list.  Listeners run in
the thread that changed the document (for the window: the GUI thread).

``Change.kind`` names what changed (the constants below); ``fit`` and
``dataset`` say which fit or dataset of the document (indices into
``Document.fits`` / ``Document.datasets``), so a document holding several of
each needs no other event type.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

#: a dataset was added or its table replaced (open, new project)
DATASET = "dataset"
#: cells, rows or columns of a table changed
TABLE = "table"
#: points were excluded or included
MASK = "mask"
#: the x, y or sigma column changed
ROLES = "roles"
#: where the data came from (file, sheet, import options)
SOURCE = "source"
#: the model spec (and so the model or its error) changed
MODEL = "model"
#: start values, bounds or fixed flags
PARAMETERS = "parameters"
#: method, loss, weighting, iteration limit, tolerances
SOLVER = "solver"
#: the x-range of the points fitted
FIT_RANGE = "fit_range"
#: a result was set or cleared, or became stale
RESULT = "result"
#: the unsaved-changes flag or the project path and name
MODIFIED = "modified"
#: the current fit (index) changed
CURRENT = "current"
#: a fit was added to the document
FITS = "fits"
#: not an event: why a result restored from a project is out of date
SAVED_STALE = "saved_stale"

#: what each change that makes a result out of date means, for users
STALE_WORDS = {MASK: "the mask changed", TABLE: "the data changed",
               ROLES: "the x, y or sigma column changed", MODEL: "the model changed",
               PARAMETERS: "the start values, bounds or fixed parameters changed",
               SOLVER: "the solver settings changed", FIT_RANGE: "the fit x-range changed",
               SAVED_STALE: "it was already out of date when the project was saved"}


def stale_text(reasons) -> str:
    """``("mask", "model")`` as "the mask changed and the model changed"."""
    words = [STALE_WORDS.get(r, f"{r} changed") for r in reasons] or ["the setup changed"]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class Change:
    """One change of the document.

    Attributes
    ----------
    kind : str
        One of the constants of this module.
    fit : int or None
        The fit it concerns (None: not a single fit's).
    dataset : int or None
        The dataset it concerns.
    detail : Any
        What exactly, where it helps a listener (the parameter names edited,
        the table event of a table change).
    """

    kind: str
    fit: int | None = None
    dataset: int | None = None
    detail: Any = None


Listener = Callable[[Change], None]


class EventEmitter:
    """Calls its listeners with each :class:`Change`, in the order they connected."""

    def __init__(self):
        self._listeners: list[tuple[Listener, frozenset | None]] = []
        self._blocked = 0

    def connect(self, listener: Listener, kinds=None) -> None:
        """Call ``listener(change)`` for every change, or only for ``kinds``."""
        self._listeners.append((listener, None if kinds is None else frozenset(kinds)))

    def disconnect(self, listener: Listener) -> None:
        """Stop calling ``listener``; an unknown listener is ignored."""
        self._listeners = [(f, k) for f, k in self._listeners if f is not listener]

    def emit(self, change: Change) -> None:
        if self._blocked:
            return
        for listener, kinds in list(self._listeners):
            if kinds is None or change.kind in kinds:
                listener(change)

    @contextmanager
    def blocked(self):
        """No change reaches a listener inside this block (a bulk rebuild announces itself)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1
