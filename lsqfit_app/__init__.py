"""lsqfit-app: a least-squares curve-fitting workbench.

The public API is small: build a :class:`FitProblem` from data and a model,
call :func:`fit`, read the :class:`FitResult`.
"""
__version__ = "0.1.0"

__all__ = ["__version__"]
