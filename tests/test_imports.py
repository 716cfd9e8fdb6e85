"""The package's import graph reads top to bottom, without a circle, and every module imports
on its own.

tools -> engine, inference, export -> models -> networks -> layers -> kernels -> utilities.
Function-level imports count too: a circle hidden inside a function is still a circle.
"""
import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "ppugatit")

# lowest first; a module may import its own rank and below
RANKS = [
    ("utilities", ["ppugatit", "ppugatit.errors", "ppugatit.defaults", "ppugatit.config",
                   "ppugatit.utils", "ppugatit.logger", "ppugatit.checkpoint",
                   "ppugatit.weights.torch_pickle", "ppugatit.weights.paddle_pickle",
                   "ppugatit.weights.tf_checkpoint", "ppugatit.visual", "ppugatit.losses",
                   "ppugatit.run_dir", "ppugatit.cli", "ppugatit.data", "ppugatit.face",
                   "ppugatit.kernels.malloc", "ppugatit.pipelines",
                   # each model's description (its folder's __init__) and their table: data
                   "ppugatit.models", "ppugatit.models.description",
                   "ppugatit.models.descriptions"]),
    ("kernels and device", ["ppugatit.kernels", "ppugatit.device"]),
    ("layers", ["ppugatit.layers", "ppugatit.weights.layout"]),
    ("networks", ["ppugatit.attention", "ppugatit.models.ugatit.networks",
                  "ppugatit.models.nicegan.networks", "ppugatit.models.sagan.networks",
                  "ppugatit.metrics",
                  "ppugatit.shape_walk"]),
    ("models", ["ppugatit.models.base", "ppugatit.models.ugatit.model",
                "ppugatit.models.nicegan.model", "ppugatit.models.sagan.model",
                "ppugatit.models.table"]),
    ("engine, inference, export", ["ppugatit.weights", "ppugatit.alignment", "ppugatit.engine",
                                   "ppugatit.replay_steps", "ppugatit.models.ugatit.replay",
                                   "ppugatit.models.nicegan.replay",
                                   "ppugatit.models.sagan.replay",
                                   "ppugatit.inference", "ppugatit.export",
                                   "ppugatit.app", "ppugatit.reprod_kit",
                                   "ppugatit.precision", "ppugatit.forms", "ppugatit.video"]),
]


def modules() -> dict[str, str]:
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, at any level of its code."""
    mods = modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("ppugatit"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ppugatit"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    deps.add(sub if sub in mods else node.module)
        # importing a.b.c runs a and a.b first: count the packages on the way
        graph[name] = {d for d in deps if d in mods and d != name} - {"ppugatit"}
    return graph


def rank(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(RANKS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (i, len(p))
    assert best is not None, f"{module} has no place in RANKS; add it where it belongs"
    return best[0]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_imports_go_downwards_only():
    wrong = [f"{m} ({RANKS[rank(m)][0]}) imports {d} ({RANKS[rank(d)][0]})"
             for m, deps in import_graph().items() for d in sorted(deps) if rank(d) > rank(m)]
    assert not wrong, "\n".join(wrong)


def test_the_package_and_tools_import_nothing_from_research():
    """research/ (benchmarks, the quality bench, kernel A/Bs) is beside the product: a user's
    install runs without it. tools/benchmark.py, a user's entry point, is the one exception."""
    research = {f[:-3] for f in os.listdir(os.path.join(ROOT, "research")) if f.endswith(".py")}
    files = list(modules().items()) + [
        (f"tools/{f}", os.path.join(ROOT, "tools", f))
        for f in os.listdir(os.path.join(ROOT, "tools")) if f.endswith(".py")]
    wrong = []
    for name, path in files:
        if name == "tools/benchmark.py":
            continue
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            wrong += [f"{name} imports {n}" for n in names
                      if n.split(".")[0] in research | {"research"}]
    assert research and not wrong, "\n".join(wrong)


def test_configuration_knows_no_model_class_and_models_no_fixture():
    """The config checker reads the models' descriptions (data), never a model class; a model
    class knows nothing of the fixtures its description names."""
    graph = import_graph()
    assert {d for d in graph["ppugatit.config"] if d.startswith("ppugatit.models")} == {
        "ppugatit.models.descriptions"}
    for name in ("ppugatit.models.descriptions", "ppugatit.models.ugatit",
                 "ppugatit.models.nicegan", "ppugatit.models.sagan"):
        assert graph[name] <= {"ppugatit.models", "ppugatit.models.description",
                               "ppugatit.models.ugatit", "ppugatit.models.nicegan",
                               "ppugatit.models.sagan"}, name
    assert graph["ppugatit.weights.layout"] <= {"ppugatit.errors", "ppugatit.layers"}
    for name in ("ppugatit.models.base", "ppugatit.models.ugatit.model",
                 "ppugatit.models.nicegan.model", "ppugatit.models.sagan.model"):
        with open(modules()[name], encoding="utf-8") as f:
            assert "fixture" not in f.read(), f"{name} mentions fixtures"


def test_the_paper_layers_hold_no_kernel_code():
    with open(modules()["ppugatit.layers"], encoding="utf-8") as f:
        text = f.read()
    for word in ("to_static", "PyLayer", "set_flags", "mallopt", "FLAGS_use_onednn", "jit."):
        assert word not in text, f"ppugatit/layers.py holds '{word}'"
    # the paper's blocks come first
    assert text.index("class AdaILN") < text.index("class SNConv2D") < text.index("class Conv2D")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("PPUGATIT_SKIP_SLOW_IMPORTS") == "1", reason="asked")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    def try_import(name):
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                              text=True, cwd=os.path.dirname(ROOT))
        return name, proc.returncode, proc.stderr.strip().splitlines()[-1:] or [""]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(try_import, sorted(modules())))
    failed = [f"{name}: {err[0]}" for name, rc, err in results if rc != 0]
    assert not failed, "\n".join(failed)
