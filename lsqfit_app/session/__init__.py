"""The session layer: the Qt-free document the user edits, shared by the window and the CLI.

- :mod:`~lsqfit_app.session.document`: datasets, fits, results, runs, change events;
- :mod:`~lsqfit_app.session.events`: the change events and their listeners;
- :mod:`~lsqfit_app.session.settings`: parameter and solver settings and their rules;
- :mod:`~lsqfit_app.session.roles`: from a table and column roles to a fit problem;
- :mod:`~lsqfit_app.session.project`: the document to and from a ``.lsqfit`` project.
"""
