"""The house of rnnkit: every package lives on a floor and imports only from its own floor or
the floors below; no two modules import each other in a circle, directly or around.

Imports are read from the source with ``ast`` (module level and inside functions alike), so an
import tucked into a function to dodge a circle still counts. The floor plan is written down
here once; ``docs/architecture.md`` shows the same table for readers.
"""

import ast
import collections
import pathlib

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "rnnkit"

# Ground floor first. A package may import from its own floor and every floor below it.
FLOORS = [
    ("ground", {"errors", "config", "activations", "initializers", "random", "grad_mode",
                "_moved", "regularizers", "constraints", "files"}),
    ("arrays", {"kernels", "data", "datasets"}),
    ("layers", {"layers", "ops"}),
    ("io", {"io"}),
    ("training", {"training"}),
    ("models", {"models"}),
    ("package", {"__init__", "utils", "preprocessing", "saving"}),   # the public names, Keras paths
    ("uses", {"generation", "decoding", "diagnostics", "distributed"}),
    ("baselines", {"baselines"}),
    ("tools", {"bench", "view"}),
    ("command", {"cli", "__main__"}),
]
FLOOR_OF = {pkg: i for i, (_, pkgs) in enumerate(FLOORS) for pkg in pkgs}


def _modules():
    """``{dotted module name: path}`` for every module of rnnkit."""
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _targets(module, path, node):
    """The rnnkit modules an import statement names (a name imported from a package that is a
    module of its own counts as that module)."""
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            if path.name != "__init__.py":
                base = base[:-1]
            base = base[:len(base) - node.level + 1]
            base = ".".join(base + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                 for a in node.names]
    out = set()
    for name in names:
        if name != "rnnkit" and not name.startswith("rnnkit."):
            continue
        while name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != module:
            out.add(name)
    return out


def _graph():
    graph = collections.defaultdict(set)
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module] |= _targets(module, path, node)
    return graph


def _package(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_floor():
    missing = sorted({_package(m) for m in MODULES} - set(FLOOR_OF))
    assert not missing, f"packages with no floor in FLOORS: {missing}"


def _upward(graph):
    """Every import in ``graph`` from a lower floor to a higher one, as readable lines."""
    wrong = []
    for module, targets in sorted(graph.items()):
        here = FLOOR_OF[_package(module)]
        for target in sorted(targets):
            there = FLOOR_OF[_package(target)]
            if there > here:
                wrong.append(f"{module} (floor {FLOORS[here][0]}) imports {target} "
                             f"(floor {FLOORS[there][0]})")
    return wrong


def test_no_import_from_a_higher_floor():
    wrong = _upward(_graph())
    assert not wrong, "\n".join(wrong)


def _cycle(graph):
    """One cycle of ``graph`` as a list of nodes, or None."""
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _without_parent_packages(graph):
    """A package's ``__init__`` importing its own submodules is how a package presents its
    names, not a circle: drop edges from a package to the modules inside it."""
    return {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}


def test_no_module_cycle():
    cycle = _cycle(_without_parent_packages(_graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_package_cycle():
    packages = collections.defaultdict(set)
    for module, targets in _graph().items():
        for target in targets:
            if _package(target) != _package(module):
                packages[_package(module)].add(_package(target))
    cycle = _cycle(packages)
    assert cycle is None, "package cycle: " + " -> ".join(cycle)


def test_the_checks_catch_a_planted_upward_import():
    graph = _graph()
    graph["rnnkit.layers.dense"] = graph["rnnkit.layers.dense"] | {"rnnkit.models.sequential"}
    assert _upward(graph) == ["rnnkit.layers.dense (floor layers) imports "
                              "rnnkit.models.sequential (floor models)"]
    assert _cycle(_without_parent_packages(graph)) is not None   # models imports layers


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
