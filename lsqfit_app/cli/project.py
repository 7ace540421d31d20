"""A ``.lsqfit`` project as the input of ``fit`` and ``compare``: refit the saved setup.

The project opens in a :class:`~lsqfit_app.session.document.Document`, as in
the window: its table with masks, column roles, model, parameter settings,
solver settings and fit range.  Options given on the command line override
the project's: ``-x``/``-y``/``--sigma`` the roles, ``--model`` the model
(settings of parameter names the two models share are kept), ``--param`` and
``--fix`` single parameters, ``--solver``, ``--loss``, ``--f-scale``,
``--weights`` and ``--max-iterations`` the solver settings.  The problem is
then built by the document, through the same code as a fit of a data file,
so the same data and settings give the same numbers either way.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from lsqfit_app.core.errors import InputError

#: import options of data files: a project holds its table, there is nothing to read
_IMPORT_OPTIONS = ("sheet", "delimiter", "decimal", "thousands", "header_rows", "skip_rows",
                   "encoding")


def is_project_file(path) -> bool:
    """A ``.lsqfit`` file, by its suffix or (renamed) by its first bytes."""
    from lsqfit_app.io.project import SUFFIX, is_project_head

    path = os.fspath(path)
    if path.lower().endswith(SUFFIX):
        return True
    if not os.path.isfile(path):      # FIFOs and devices are the reader's to refuse
        return False
    try:
        with open(path, "rb") as fh:
            return is_project_head(fh.read(4096))
    except OSError:
        return False


def open_project(args, model_specs):
    """(read stand-in, problems, solver settings, fit range) of a project and the options.

    ``model_specs`` are the models to fit (``[None]``: the project's own).
    The read stand-in has what reports use of an import (``source``,
    ``table`` with the mask reasons, ``sheet``).
    """
    from lsqfit_app.io.project import load_project
    from lsqfit_app.session.document import Document
    from lsqfit_app.session.roles import parse_param, resolve_column, x_column_names
    from lsqfit_app.session.settings import apply_specs

    path = os.fspath(args.file)
    given = ["--" + name.replace("_", "-") for name in _IMPORT_OPTIONS
             if getattr(args, name, None) is not None]
    if given:
        several = len(given) > 1
        raise InputError(f"{path} is a project: its table is stored in it, so the import "
                         f"option{'s' if several else ''} {', '.join(given)} "
                         f"{'do' if several else 'does'} not apply")
    doc = Document.from_project(load_project(path), path, restore=False)
    table = doc.table
    x, y, sigma = doc.roles.x, doc.roles.y, doc.roles.sigma
    if args.x is not None:
        x = x_column_names(table, args.x)
    if args.y is not None:
        y = args.y
    if args.sigma is not None:
        sigma = resolve_column(table, args.sigma).name
    if not x or not y:
        raise InputError(f"{path}: the project has no {'x' if not x else 'y'} column; "
                         f"give it with {'-x' if not x else '-y'}")
    doc.set_roles(x, y, sigma)
    changes = {name: getattr(args, option) for name, option in (
        ("method", "solver"), ("loss", "loss"), ("f_scale", "f_scale"), ("weights", "weights"),
        ("max_iterations", "max_iterations")) if getattr(args, option, None) is not None}
    doc.set_solver(**changes)
    specs = [parse_param(t) for t in args.param] + [parse_param(t, fixed=True) for t in args.fix]
    problems = []
    for spec in model_specs:
        if spec is not None:
            doc.set_model(spec)
        if not doc.model_spec:
            raise InputError(f"{path}: the project has no model; give one with --model")
        if doc.model is None:
            raise InputError(f"{path}: the model {doc.model_spec!r} is not valid here: "
                             f"{doc.model_error}")
        doc.set_parameters(apply_specs(doc.parameters, specs, doc.model_spec))
        problems.append(doc.build_problem())
    read = SimpleNamespace(source=path, table=table, sheet=doc.source.sheet, notes=(),
                           problems=(), n_problems=0)
    return read, problems, doc.solver, doc.fit_range
