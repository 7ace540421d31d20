"""Run one Qt-free job off the GUI thread: ``job(cancel, put_progress) -> value``.

The same rules as the fit controller (STYLE.md threading): a worker QObject
in a QThread, its signals connected to @Slot methods of this GUI-thread
object, the thread kept referenced until it has been waited for, cancel as a
thread-safe token, ``shutdown`` cancels and waits.  Progress goes through a
thread-safe queue that the owner drains on its own timer, so any number of
solver threads may report.
"""
from __future__ import annotations

import queue
import traceback
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.progress import CancelToken


class JobWorker(QObject):
    """Runs ``job(cancel, on_progress)`` once in its thread; emits finished or failed."""

    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, job: Callable):
        super().__init__()
        self._job = job
        self.cancel_token = CancelToken()
        self.progress: queue.SimpleQueue = queue.SimpleQueue()

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self.cancel_token, self.progress.put)
        except InputError as exc:
            self.failed.emit(str(exc), "")
            return
        except Exception as exc:  # an engine bug must reach the window, not kill the thread
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return
        self.finished.emit(result)


class JobRunner(QObject):
    """One background worker at a time, for dialogs and the main window.

    :meth:`start` runs a Qt-free ``job`` in a :class:`JobWorker`;
    :meth:`start_worker` runs any worker QObject with a ``run`` slot,
    ``finished(object)`` and ``failed(str, str)`` signals and a
    ``cancel_token`` (the fit controller's :class:`FitWorker`).
    """

    finished = Signal(object)
    failed = Signal(str, str)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: QObject | None = None

    @property
    def is_running(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> QObject | None:
        return self._worker

    def start(self, job: Callable, name: str = "job") -> bool:
        """Run ``job(cancel, put_progress)`` in a thread; False when one is already running."""
        return self.start_worker(JobWorker(job), name)

    def start_worker(self, worker: QObject, name: str = "job") -> bool:
        """Move ``worker`` to a fresh thread and run it; False when one is already running."""
        if self._worker is not None:
            return False
        thread = QThread()
        thread.setObjectName(name)
        worker.moveToThread(thread)
        worker.finished.connect(self._on_worker_finished)
        worker.failed.connect(self._on_worker_failed)
        thread.started.connect(worker.run)
        self._worker, self._thread = worker, thread
        self.running_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel_token.cancel()

    def shutdown(self) -> None:
        """Cancel and wait (closing)."""
        if self._worker is None:
            return
        self._worker.cancel_token.cancel()
        self._release()

    def _release(self) -> None:
        thread = self._thread
        if thread is not None:
            # run() has returned (or was cancelled): the thread only runs its
            # idle event loop now, so quit + wait is immediate.
            thread.quit()
            thread.wait()
        # Dropping the last Python references destroys both; the thread has
        # finished, so this is the safe moment (STYLE.md, threading rule 2).
        self._thread = self._worker = None
        del thread
        self.running_changed.emit(False)

    @Slot(object)
    def _on_worker_finished(self, value) -> None:
        if self._worker is None or self.sender() is not self._worker:
            return
        self._release()
        self.finished.emit(value)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        if self._worker is None or self.sender() is not self._worker:
            return
        self._release()
        self.failed.emit(message, details)
