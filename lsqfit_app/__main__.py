"""``python -m lsqfit_app`` runs the same entry point as ``lsqfit-app``."""
import sys

from lsqfit_app.launcher import main

sys.exit(main())
