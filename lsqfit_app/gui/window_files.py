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
        #: the last status text posted here; cleared when the data it describes change
        self._posted: str | None = None
        #: where Save as… proposes to save when the document has no project yet
        self.suggested_path: str | None = None
        window.undo_stack.indexChanged.connect(self._on_edited)

    @property
    def _doc(self):
        return self._window.document

    def _app_name(self) -> str:
        from lsqfit_app.gui.main_window import APP_NAME
        return APP_NAME

    def _post(self, text: str, error: bool = False) -> None:
        self._posted = text
        self._window.show_message(text, error=error)

    def _on_edited(self, *_args) -> None:
        """An edit (or undo) changed the table: "Read 61 rows" no longer describes it."""
        w = self._window
        if self._posted is not None and w.status_message.text() == self._posted:
            w.show_message("")
        self._posted = None

    # ------------------------------------------------------------------ open
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open data or project",
                                              self._start_folder(), ";;".join(open_filters()))
        if not path:
            return
        files.settings().setValue("last_folder", os.path.dirname(os.path.abspath(path)))
        if files.is_project(path):
            self.open_path(path)
            return
        self.open_with_preview(path)

    def _start_folder(self) -> str:
        """Where Open starts: the folder of the last file opened, else of the current data."""
        last = files.settings().value("last_folder", "")
        if isinstance(last, str) and os.path.isdir(last):
            return last
        source = self._doc.source.path
        example = self._doc.name.endswith("(example)")   # its folder is inside the install
        if source and not example and os.path.isdir(os.path.dirname(source)):
            return os.path.dirname(source)
        return os.path.expanduser("~")

    def open_with_preview(self, path: str) -> bool:
        """Show the import preview (detected dialect, overrides) and open on OK.

        The preview reads the file first: only a file that can be read leads
        to the question about the current work.
        """
        from lsqfit_app.gui.import_dialog import ImportDialog
        dialog = ImportDialog(path, self._window)
        if dialog.exec() != ImportDialog.Accepted or dialog.result is None:
            return False
        if not self.maybe_save():
            return False
        self.show_read(dialog.result, path)
        files.add_recent_file(path)
        return True

    def maybe_save(self) -> bool:
        """Ask about unsaved work; False when the user cancels.

        The question says what is saved and as what: a project (.lsqfit)
        holding the table with its edits and the fit, never the data file.
        """
        w = self._window
        if not w.is_modified:
            return True
        doc = self._doc
        if doc.project_path:
            question = f"Save your changes to the project {os.path.basename(doc.project_path)}?"
            detail = "The data file the project was made from is never changed."
        else:
            question = f"Save your work on {doc.name} as a project (.lsqfit)?"
            detail = ("The project keeps the table with your edits and masks, the model, "
                      "the settings and the result. The data file itself is never changed.")
        # the static question (not a hand-built box): one way to ask, which tests can answer
        answer = QMessageBox.question(
            w, self._app_name(), f"{question}\n\n{detail}",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Open a data file or a project.

        The file is read before anything is asked or replaced: a file that
        cannot be read leaves the current work as it is, with a message
        naming the file (and the row and column where that applies).
        """
        w = self._window
        try:
            if files.is_project(path):
                from lsqfit_app.io.project import load_project
                loaded = load_project(path)
            else:
                from lsqfit_app.io import read_table
                loaded = read_table(path)
        except InputError as exc:
            if not w._quiet:
                QMessageBox.warning(w, self._app_name(),
                                    f"{exc}\n\nThe current work is unchanged.")
            self._post(str(exc).splitlines()[0], error=True)
            return False
        except OSError as exc:
            self._post(f"Cannot open {path}: {exc.strerror or exc}", error=True)
            return False
        if ask and not self.maybe_save():
            return False
        try:
            if files.is_project(path):
                self._show_project(loaded, path)
            else:
                self.show_read(loaded, path)
        except InputError as exc:   # a project whose settings cannot be used
            if not w._quiet:
                QMessageBox.warning(w, self._app_name(), str(exc))
            self._post(str(exc).splitlines()[0], error=True)
            return False
        files.add_recent_file(path)
        return True

    def show_read(self, read, path: str) -> None:
        """Show what ``read_table`` read from ``path`` as the new document."""
        w = self._window
        self.suggested_path = None
        w.set_table(read.table, os.path.basename(path))
        w.set_source(read, path)
        if read.n_problems:
            first = read.problems[0]
            self._post(f"{read.n_problems} cells of {os.path.basename(path)} are not numbers "
                       f"and were left empty (first: row {first.row}, column "
                       f"{first.column!r}: {first.text!r})")
        else:
            self._post(f"Read {read.table.n_rows} rows from {os.path.basename(path)}")

    def _show_project(self, project, path: str) -> None:
        w = self._window
        w.controller.shutdown()
        self.suggested_path = None
        restored = self._doc.apply_project(project, path)
        w.undo_stack.setClean()
        refit = project.result is not None and not restored
        what = ("the saved result no longer fits its setup: refitting" if refit else
                "with its saved result" if project.result is not None else "no result saved")
        self._post(f"Opened project {os.path.basename(path)}: {project.table.n_rows} rows, "
                   f"{what}")
        if refit:
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

    def default_project_path(self) -> str:
        """What Save as… proposes: the project, else the data file's name as a project
        beside it (after a recovery: the file the recovered work stands for)."""
        doc = self._doc
        if doc.name.endswith("(example)"):   # not beside the example, inside the install
            return os.path.join(self._start_folder(), "peak" + files.PROJECT_SUFFIX)
        base = doc.project_path or self.suggested_path or doc.source.path or doc.name
        if files.is_project(base):
            return base
        return os.path.splitext(base)[0] + files.PROJECT_SUFFIX

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self._window, "Save project",
                                              self.default_project_path(),
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
            self._post(f"Could not save {path}: {exc}", error=True)
            if not w._quiet:
                QMessageBox.critical(w, self._app_name(), f"Could not save {path}:\n{exc}")
            return False
        self._doc.mark_saved(path)
        self.suggested_path = None
        w.undo_stack.setClean()
        files.add_recent_file(path)
        self._post(f"Saved the project {path}")
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


def open_filters() -> list[str]:
    """The Open dialog's filters: everything the readers take (and projects) first,
    then projects, each kind of data file, and all files.  The suffixes come from
    the reader registry, the one list of what can be read."""
    from lsqfit_app.io.registry import readers
    suffixes = sorted({s for r in readers() for s in r.suffixes})
    every = " ".join("*" + s for s in [*suffixes, files.PROJECT_SUFFIX])
    return [f"Data files and projects ({every})", f"lsqfit projects (*{files.PROJECT_SUFFIX})",
            *(r.file_filter() for r in readers()), "All files (*)"]
