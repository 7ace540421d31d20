"""Suite-wide settings.

The compiled lineshape kernels (``models.kernels``) load by themselves once
a process has run ``AUTO_AFTER_FITS`` fits, and this suite runs more than
that: the tests would then switch from numpy to compiled evaluation part
way through, depending on their order.  They run on numpy; the tests of the
kernels turn them on where they need them (``tests/models/test_lineshape_kernels.py``).
"""
from lsqfit_app.models import kernels

kernels.set_mode("off")
