"""The house's shape stays true: one folder per stage, every import pointing down to an earlier
stage or to the shared basics at the package root, no import circle, and no long functions.

Imports inside functions count as much as those at the top: importing late saves start-up
time, it is not a way to hide an upward arrow or a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "fashionseg"

# Bottom to top. A module may import its own room and the rooms of lower floors only.
FLOORS = [
    ["root"],  # errors, files, machine, names, sizes, version, config, checkpoint, outputs
    ["data"],  # readers, records, RLE, categories, composing, the photo door
    [
        "prepare",
        "synth",
        "models",
        "bundled",
        "datasets",
    ],  # caches; synthetic data; models; downloads
    ["inference"],  # a model file -> logits -> label maps
    ["evaluate"],  # metrics, evaluate, score
    ["training"],  # the engine
    ["use"],  # rendering, colour names, export, quantize, analyze
    ["use/predict"],
    ["use/serve"],
    ["experiments"],  # stats, study, selection, report/, tune/
    ["cli"],
    ["face"],  # the package's front door: __init__, __main__
]
FLOOR = {room: k for k, rooms in enumerate(FLOORS) for room in rooms}
LONGEST_FUNCTION = 80


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("__main__",) or module == "fashionseg":
        return "face"
    if (PACKAGE / parts[0]).is_dir():
        if parts[0] == "use" and len(parts) > 1 and parts[1] in ("predict", "serve"):
            return f"use/{parts[1]}"
        return parts[0]
    return "root"


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in its code)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{name}: relative import"
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_every_room_has_a_floor():
    rooms = {room(m) for m in import_graph()}
    assert rooms <= set(FLOOR), rooms - set(FLOOR)


def test_imports_point_only_down():
    upward = [
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        if room(a) != room(b) and FLOOR[room(b)] >= FLOOR[room(a)]
    ]
    assert not upward, "\n".join(sorted(upward))


def test_no_import_circle():
    graph = import_graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{module_name(path)}.{node.name}: {length} lines")
    assert not long, long


def test_the_wheel_ships_no_benchmark_or_test_helper():
    assert not (PACKAGE / "bench").exists()
    names = {p.name for p in PACKAGE.rglob("*.py")}
    assert "background.py" not in names and "conftest.py" not in names


def house() -> str:
    """Rooms, floors and arrows, as the architecture document and the closing note show them."""
    graph = import_graph()
    arrows = {(room(a), room(b)) for a, t in graph.items() for b in t if room(a) != room(b)}
    lines = [f"{len(FLOOR)} rooms on {len(FLOORS)} floors, {len(arrows)} arrows"]
    for k, rooms in reversed(list(enumerate(FLOORS))):
        for r in rooms:
            down = sorted({b for a, b in arrows if a == r}, key=lambda x: -FLOOR[x])
            lines.append(f"{k:>2} {r:<12} -> {', '.join(down)}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(house())
