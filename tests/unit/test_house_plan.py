"""The house plan (README, "Architecture"): every package stands above what it imports, no two
modules import each other (directly or round a circle), and no module grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest floor first. A package may import its own modules and packages on lower floors only;
# packages on one floor do not import each other.
FLOORS: list[set[str]] = [
    {"core"},
    {"encoders", "ranking"},
    {"trends", "feature_store"},
    {"personalisation"},
    {"streams"},
    {"replay"},
    {"tools"},
    {"bench"},
    {"tests"},
]
FLOOR = {package: n for n, floor in enumerate(FLOORS) for package in floor}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Every Python module of the project, by dotted name."""
    out = {}
    for package in FLOOR:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_every_package_is_on_a_floor() -> None:
    packages = {
        p.parent.name for p in ROOT.glob("*/__init__.py") if not p.parent.name.startswith(".")
    }
    assert packages == set(FLOOR)


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a package on the same floor or above."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        for target in targets
        if (a := module.split(".")[0]) != (b := target.split(".")[0]) and FLOOR[b] >= FLOOR[a]
    )


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of imports a depth-first walk meets (none when the graph has none)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return found


def test_no_import_runs_up_a_floor_or_sideways() -> None:
    assert upward(graph()) == []


def test_no_modules_import_each_other_round_a_circle() -> None:
    assert circles(graph()) == []


def test_the_checks_see_circles_and_upward_imports(tmp_path: Path) -> None:
    """The checks above can fail: made-up modules that break the rules are caught."""
    (tmp_path / "a.py").write_text("from b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    import a\n")
    known = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert imports(known["a"], known) == {"b"} and imports(known["b"], known) == {"a"}
    made_up = {"core.x": {"core.y"}, "core.y": {"core.z"}, "core.z": {"core.x"}}
    assert circles(made_up) == [["core.x", "core.y", "core.z", "core.x"]]
    assert upward({"core.x": {"ranking.y"}, "trends.t": {"feature_store.f", "core.x"}}) == [
        "core.x imports ranking.y",
        "trends.t imports feature_store.f",
    ]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in modules().values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
