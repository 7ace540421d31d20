"""The modules of lsqfit_app.models import each other without a cycle and without private names."""
import ast
from pathlib import Path

import lsqfit_app.models

PACKAGE = Path(lsqfit_app.models.__file__).parent
NAME = "lsqfit_app.models"
MODULES = {(NAME if p.stem == "__init__" else f"{NAME}.{p.stem}"): p for p in PACKAGE.glob("*.py")}


def _imports(module: str, path: Path):
    """(imported module, imported names) for every import in the file, function-level ones included."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names = [a.name for a in node.names]
            # "from lsqfit_app.models import lineshapes" depends on the submodule, not on __init__
            subs = [n for n in names if f"{base}.{n}" in MODULES]
            for n in subs:
                yield f"{base}.{n}", ()
            if len(subs) < len(names):
                yield base, tuple(n for n in names if n not in subs)


def _graph() -> dict[str, set[str]]:
    return {m: {t for t, _ in _imports(m, p) if t in MODULES and t != m} for m, p in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_models_import_graph_has_no_cycle():
    graph = _graph()
    assert f"{NAME}.registry" in graph and f"{NAME}.guesses" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_layers_inside_models():
    graph = _graph()
    m = lambda name: f"{NAME}.{name}"  # noqa: E731
    assert m("guesses") in graph[m("library")]
    assert m("library") not in graph[m("guesses")]
    assert graph[m("composite")] & {m("guesses"), m("polynomials")} == {m("guesses"), m("polynomials")}
    assert m("registry") not in graph[m("composite")]
    assert {m("library"), m("composite")} <= graph[m("registry")]
    for family in ("polynomials", "growth", "peaks", "sigmoids", "periodic"):
        assert m("registry") not in graph[m(family)] and m("composite") not in graph[m(family)]


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for module, path in MODULES.items():
        for target, names in _imports(module, path):
            if target.startswith("lsqfit_app"):
                offenders += [f"{module} imports {target}.{n}" for n in names if n.startswith("_")]
    assert not offenders, "\n".join(offenders)
