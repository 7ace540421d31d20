"""Many curves at once: one model fitted to K curves (batch), or jointly with
shared parameters (global).  The input is a :class:`~lsqfit_app.batch.curves.CurveSet`.

``fit_batch`` (:mod:`~lsqfit_app.batch.engine`) fits every curve separately
with Levenberg-Marquardt vectorised over the curves; ``BatchResult`` and
``BatchProgress`` are in :mod:`~lsqfit_app.batch.result`.
"""
from lsqfit_app.batch.engine import fit_batch
from lsqfit_app.batch.result import BatchProgress, BatchResult

from lsqfit_app.batch.global_fit import fit_global
from lsqfit_app.batch.joint_result import GlobalResult

__all__ = ["fit_batch", "BatchResult", "BatchProgress", "fit_global", "GlobalResult"]
