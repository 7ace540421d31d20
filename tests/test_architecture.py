"""Layering rules: only lsqfit_app.gui touches Qt; the core works headless."""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lsqfit_app"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "shiboken6")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def test_no_qt_import_outside_gui():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "gui") in path.parents:
            continue
        for line, name in _imports(path):
            if name.split(".")[0] in QT_MODULES:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_nothing_imports_the_gui_except_the_gui_and_the_launcher():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "gui") in path.parents:
            continue
        for line, name in _imports(path):
            if name.startswith("lsqfit_app.gui") and path != PACKAGE / "launcher.py":
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not offenders, "\n".join(offenders)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    out = subprocess.run([sys.executable, "-c", code + "\nprint(' '.join(sys.modules))"],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    return set(out.split())


def test_headless_fit_loads_no_qt():
    loaded = _modules_after(
        "import sys, numpy as np\n"
        "from lsqfit_app.core.problem import FitProblem\n"
        "from lsqfit_app.models import make_model\n"
        "from lsqfit_app.solvers import fit\n"
        "from lsqfit_app.cli import main\n"
        "import lsqfit_app.report, lsqfit_app.io\n"
        "x = np.linspace(0, 1, 20)\n"
        "fit(FitProblem.create(make_model('a*x+b'), x, 2*x+1))")
    assert not [m for m in loaded if m.split(".")[0] in QT_MODULES]


def test_small_fits_load_no_heavy_optional_modules():
    # scipy.signal drags in scipy.stats (~1 s on first use) and numba takes
    # ~0.4 s: fits of peaks with guessed starts and small polynomials need
    # neither, so the first fit in a fresh process stays quick
    loaded = _modules_after(
        "import sys, numpy as np\n"
        "from lsqfit_app.core.problem import FitProblem\n"
        "from lsqfit_app.models import make_model\n"
        "from lsqfit_app.solvers import fit\n"
        "x = np.linspace(400, 600, 81)\n"
        "y = 12*np.exp(-(x-497)**2/(2*13.5**2)) + 0.01*x - 2\n"
        "r = fit(FitProblem.create(make_model('gaussian+line'), x, y))\n"
        "assert r.status.converged, r.message\n"
        "fit(FitProblem.create(make_model('poly5'), x, y))\n"
        "y2 = y + 5*np.exp(-(x-450)**2/50)\n"
        "fit(FitProblem.create(make_model('gaussian+gaussian+line'), x, y2))")
    assert not loaded & {"scipy.signal", "scipy.stats", "numba"}


def test_cli_fit_without_reports_loads_no_matplotlib():
    # figures import matplotlib (~0.75 s); `fit --json` must not pay for it
    loaded = _modules_after(
        "import sys, contextlib, io\n"
        "from lsqfit_app.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    code = main(['fit', 'resources/examples/peak.csv', '-x', 'wavelength (nm)',\n"
        "                 '-y', 'intensity (counts/s)', '--model', 'gaussian+line', '--json'])\n"
        "assert code == 0, code")
    assert "lsqfit_app.solvers" in loaded     # the fit ran
    assert not any(m.split(".")[0] == "matplotlib" for m in loaded)


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, f"add to pyproject packages: {sorted(found - listed)}"


def test_the_layer_contract_holds():
    # gui -> cli -> session -> report | io -> batch -> solvers -> models -> core, as
    # pyproject.toml's [tool.importlinter] states it (function-level imports count)
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"],
        cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
