"""Imports only go down: the package's layers, checked on its import graph.

Every module of autograder/ is parsed (nothing is imported); each import, at module level or inside
a function, relative ones resolved, is an edge. A module may import its own layer and the layers
below it; never a higher one, never the command line (autograder.__main__), and no circle of
modules, whatever layers they are in. The order is LAYERS below, bottom first; the subpackages'
docstrings say the same in words.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Bottom first. A module belongs to the layer of the longest prefix that names it.
LAYERS = (
    ("base", ("autograder", "autograder.calls", "autograder.untrusted")),
    ("homework", ("autograder.homework",)),
    ("running", ("autograder.running",)),
    ("judging", ("autograder.judging",)),
    ("course", ("autograder.course",)),
    ("authoring", ("autograder.authoring",)),
    ("outputs", ("autograder.outputs",)),
    ("grading", ("autograder.grading",)),
    ("gradescope", ("autograder.gradescope",)),
    ("service", ("autograder.service",)),
    ("commands", ("autograder.demo", "autograder.__main__")),
)
CLI = "autograder.__main__"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package under root."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported kit module) for every import in the file, wherever it stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import module` imports the module; `from module import name` the module.
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a package's attribute
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.append((node.lineno, target))
    return edges


def layer_of(name: str, layers=LAYERS, package: str = "autograder") -> tuple[int, str] | None:
    """(rank, layer) of a module; the package itself names only its __init__.py, not its modules."""
    best = None
    for rank, (layer, prefixes) in enumerate(layers):
        for prefix in prefixes:
            inside = name == prefix or (prefix != package and name.startswith(prefix + "."))
            if inside and (best is None or len(prefix) > best[2]):
                best = (rank, layer, len(prefix))
    return None if best is None else best[:2]


def problems(root: Path, package: str = "autograder", layers=LAYERS, cli: str = CLI) -> list[str]:
    """Every import that goes up or into the CLI, every module without a layer, every circle."""
    found = modules(root, package)
    known = set(found)
    graph: dict[str, list[tuple[int, str]]] = {}
    out = []
    for name, path in found.items():
        where = path.relative_to(root)
        mine = layer_of(name, layers, package)
        if mine is None:
            out.append(f"{where}: {name} is in no layer: add it to LAYERS in tests/test_layers.py")
            continue
        graph[name] = imports(name, path, known)
        for line, target in graph[name]:
            if target == cli:
                out.append(f"{where}:{line}: {name} imports the command line ({cli}): nothing may")
                continue
            theirs = layer_of(target, layers, package)
            if theirs is not None and theirs[0] > mine[0]:
                out.append(f"{where}:{line}: {name} ({mine[1]}) imports {target} ({theirs[1]}): "
                           f"a lower layer may not import a higher one")
    out += [f"circle of imports: {' -> '.join(c)}" for c in circles(graph)]
    return out


def circles(graph: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), named in import order."""
    # A package's __init__ importing its own submodules is not a circle (checks/ registers its
    # checks that way): importing a submodule runs its package's __init__ first in any case.
    graph = {v: [(line, w) for line, w in edges if not w.startswith(v + ".")] for v, edges in graph.items()}
    index, low, stack, on, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for _, w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    named = []
    for group in groups:
        members, start = set(group), min(group)
        path, seen = [start], {start}
        while True:  # follow edges inside the group until one closes the circle
            nxt = next(w for _, w in graph[path[-1]] if w in members)
            if nxt in seen:
                named.append(path[path.index(nxt):] + [nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return named


def test_imports_only_go_down():
    found = problems(ROOT)
    assert not found, "imports that break the layers:\n" + "\n".join(found)


def test_every_layer_is_a_package_with_a_docstring():
    """A layer's docstring says what it holds and what it may import."""
    for _, prefixes in LAYERS:
        for prefix in prefixes:
            path = ROOT / prefix.replace(".", "/")
            init = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
            if prefix == "autograder.untrusted" and not init.exists():
                continue  # issue 14's sanitiser, once it lands
            assert init.is_file(), f"LAYERS names {prefix}, which has no {init.relative_to(ROOT)}"
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            if path.is_dir() and prefix != "autograder":
                assert "May import" in doc, f"{init.relative_to(ROOT)}: its docstring must say what it may import"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.parametrize("bad, expected", [
    ({"kit/low/a.py": "def f():\n    from ..high import b\n"},
     "kit/low/a.py:2: kit.low.a (low) imports kit.high.b (high): a lower layer may not import a higher one"),
    ({"kit/low/a.py": "from kit import __main__\n"},
     "kit/low/a.py:1: kit.low.a imports the command line (kit.__main__): nothing may"),
    ({"kit/high/c.py": "from . import b\n", "kit/high/b.py": "def g():\n    from .c import x\n"},
     "circle of imports: kit.high.b -> kit.high.c -> kit.high.b"),
    ({"kit/stray.py": ""}, "kit/stray.py: kit.stray is in no layer"),
])
def test_the_check_catches(tmp_path, bad, expected):
    """The check fails on an upward import (inside a function, relative), an import of the CLI,
    a circle within one layer, and a module no layer names; and passes on the clean tree."""
    layers = (("base", ("kit",)), ("low", ("kit.low",)), ("high", ("kit.high",)), ("cli", ("kit.__main__",)))
    clean = {"kit/__init__.py": "", "kit/__main__.py": "from .high import b\n",
             "kit/low/__init__.py": "from . import a\n", "kit/low/a.py": "from kit import low\n",
             "kit/high/__init__.py": "", "kit/high/b.py": "from ..low import a\n"}
    _write(tmp_path, clean)
    assert problems(tmp_path, "kit", layers, "kit.__main__") == []
    _write(tmp_path, bad)
    found = problems(tmp_path, "kit", layers, "kit.__main__")
    assert any(p.startswith(expected) for p in found), found


def test_one_sandbox_per_grading_process_is_started_in_one_place():
    """Local workers, Dask workers and nbgrader's autograde share grading/sandbox_per_process.py."""
    starters = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "autograder" / "grading").rglob("*.py")
                      if "Pool(1," in path.read_text())
    assert starters == ["autograder/grading/sandbox_per_process.py"]
