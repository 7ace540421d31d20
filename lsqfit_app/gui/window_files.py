"""File actions of the main window: open (with preview), save, autosave, recent files.

What a project holds and how a saved result comes back is the document's
business (:mod:`lsqfit_app.session.project`); this module adds the dialogs,
the question about unsaved changes, the recent-files menu and the messages.
"""
from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QMessageBox

from lsqfit_app.core.errors import InputError
from lsqfit_app.gui import files


class FileActions:
    """Open, save and autosave for a main window."""

    def __init__(self, window):
        self._window = window

    @property
    def _doc(self):
        return self._window.document

    def _app_name(self) -> str:
        from lsqfit_app.gui.main_window import APP_NAME
        return APP_NAME

    # ------------------------------------------------------------------ open
    def open_dialog(self) -> None:
        from lsqfit_app.io import file_filters
        filters = ["Data and projects (*.csv *.tsv *.txt *.dat *.xlsx *.xls *.ods *.lsqfit)",
                   "lsqfit projects (*.lsqfit)", *file_filters(), "All files (*)"]
        path, _ = QFileDialog.getOpenFileName(self._window, "Open data or project", "",
                                              ";;".join(filters))
        if not path:
            return
        if files.is_project(path):
            self.open_path(path)
            return
        self.open_with_preview(path)

    def open_with_preview(self, path: str) -> bool:
        """Show the import preview (detected dialect, overrides) and open on OK."""
        from lsqfit_app.gui.import_dialog import ImportDialog
        if not self.maybe_save():
            return False
        dialog = ImportDialog(path, self._window)
        if dialog.exec() != ImportDialog.Accepted or dialog.result is None:
            return False
        self.show_read(dialog.result, path)
        files.add_recent_file(path)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; False when the user cancels."""
        w = self._window
        if not w.is_modified:
            return True
        answer = QMessageBox.question(
            w, self._app_name(), f"Save the changes to {self._doc.name}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a data file or a project; errors become a message, the data stay."""
        w = self._window
        if ask and not self.maybe_save():
            return False
        try:
            if files.is_project(path):
                self._load_project(path)
            else:
                from lsqfit_app.io import read_table
                self.show_read(read_table(path), path)
        except InputError as exc:
            if not w._quiet:
                QMessageBox.warning(w, self._app_name(), str(exc))
            w.show_message(str(exc).splitlines()[0], error=True)
            return False
        except OSError as exc:
            w.show_message(f"Cannot open {path}: {exc.strerror or exc}", error=True)
            return False
        files.add_recent_file(path)
        return True

    def show_read(self, read, path: str) -> None:
        """Show what ``read_table`` read from ``path`` as the new document."""
        w = self._window
        w.set_table(read.table, os.path.basename(path))
        w.set_source(read, path)
        if read.n_problems:
            first = read.problems[0]
            w.show_message(f"{read.n_problems} cells are not numbers and were left empty "
                           f"(first: row {first.row}, column {first.column!r}: {first.text!r})")
        else:
            w.show_message(f"Read {read.table.n_rows} rows from {os.path.basename(path)}")

    def _load_project(self, path: str) -> None:
        from lsqfit_app.io.project import load_project
        w = self._window
        project = load_project(path)
        w.controller.shutdown()
        restored = self._doc.apply_project(project, path)
        w.undo_stack.setClean()
        if project.result is not None and not restored:
            w.start_fit()   # the saved result does not fit this setup any more: refit
        elif self._doc.result is not None and self._doc.result.history:
            w.plots.start_run(f"saved ({self._doc.result.solver})")
            w.plots.set_history(self._doc.result.history)

    # ------------------------------------------------------------------ save
    def save(self) -> bool:
        """Save to the current project file (asks for a name the first time)."""
        if not self._doc.project_path:
            return self.save_as()
        return self.save_to(self._doc.project_path)

    def save_as(self) -> bool:
        base = os.path.splitext(self._doc.name)[0] + files.PROJECT_SUFFIX
        path, _ = QFileDialog.getSaveFileName(self._window, "Save project", base,
                                              "lsqfit projects (*.lsqfit)")
        if not path:
            return False
        if not path.lower().endswith(files.PROJECT_SUFFIX):
            path += files.PROJECT_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str) -> bool:
        """Write the project to ``path`` (atomically, by io.project)."""
        from lsqfit_app.io.project import save_project
        w = self._window
        try:
            save_project(self._doc.to_project(), path)
        except (InputError, OSError) as exc:
            w.show_message(f"Could not save {path}: {exc}", error=True)
            if not w._quiet:
                QMessageBox.critical(w, self._app_name(), f"Could not save {path}:\n{exc}")
            return False
        self._doc.mark_saved(path)
        w.undo_stack.setClean()
        files.add_recent_file(path)
        w.show_message(f"Saved {path}")
        return True

    def autosave(self) -> None:
        """Write the recovery file when there are unsaved changes."""
        if not self._window.is_modified:
            return
        from lsqfit_app.io.project import save_project
        try:
            save_project(self._doc.recovery_project(), files.recovery_path())
        except (InputError, OSError):
            pass   # autosave must never interrupt work; the next tick retries

    def fill_recent_menu(self, menu) -> None:
        menu.clear()
        for path in files.recent_files():
            menu.addAction(path, lambda p=path: self._window.open_path(p))
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)
