"""Imports flow one way: utils (and the shipped pretrained simulators) -> models -> data -> training -> envs / agents / evaluation
-> benchmark / play -> commands -> examples.

Every module of recurrent_sim/ and examples/ is parsed (ast, nothing is
imported) and each of its imports of recurrent_sim, at module level or inside
a function, must name a layer at or below its own.
"""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Rank of each layer; layers of the same rank (envs, agents, evaluation) may import each other.
RANKS = {
    "utils": 0,
    "pretrained": 0,
    "recipes": 0,  # JSON files only, read by commands/recipes.py
    "models": 1,
    "data": 2,
    "training": 3,
    "envs": 4,
    "agents": 4,
    "evaluation": 4,
    "benchmark": 5,
    "play": 5,
    "commands": 6,
    "cli": 6,
    "__main__": 6,
}
EXAMPLES_RANK = 7


def layer_of(module_name):
    """Rank of a dotted module name of recurrent_sim (None for the package itself)."""
    parts = module_name.split(".")
    if parts[0] != "recurrent_sim":
        return None
    if len(parts) == 1:
        return None
    return RANKS[parts[1]]


def python_files():
    for top in ("recurrent_sim", "examples"):
        for folder, _, names in os.walk(os.path.join(REPO, top)):
            for name in sorted(names):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(folder, name), REPO)


def module_name(path):
    parts = path[: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(tree, name, is_package):
    """Absolute names of the modules ``tree`` imports (relative imports resolved)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield node.lineno, target
            for alias in node.names:  # `from recurrent_sim import envs` imports a layer too
                yield node.lineno, f"{target}.{alias.name}"


def upward_imports(path, root=REPO):
    name = module_name(path)
    own = EXAMPLES_RANK if path.startswith("examples") else layer_of(name)
    if own is None:  # recurrent_sim/__init__.py registers the games on import: above every layer
        return []
    with open(os.path.join(root, path), encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for line, target in imported_modules(tree, name, path.endswith("__init__.py")):
        parts = target.split(".")
        if parts[0] != "recurrent_sim" or len(parts) < 2 or parts[1] not in RANKS:
            continue
        if RANKS[parts[1]] > own:
            found.append(f"{path}:{line} imports {target}")
    return found


@pytest.mark.parametrize("path", list(python_files()))
def test_no_module_imports_a_layer_above_its_own(path):
    assert upward_imports(path) == []


def test_every_package_of_recurrent_sim_has_a_layer():
    packages = {
        entry.split(".")[0]
        for entry in os.listdir(os.path.join(REPO, "recurrent_sim"))
        if not entry.startswith((".", "_")) or entry == "__main__.py"
    }
    packages.discard("__pycache__")
    assert packages <= set(RANKS), f"no layer for {sorted(packages - set(RANKS))}"


def test_an_upward_import_is_detected(tmp_path):
    module = tmp_path / "recurrent_sim" / "data" / "bad.py"
    module.parent.mkdir(parents=True)
    module.write_text("def f():\n    from recurrent_sim.training.checkpoint import atomic_write\n")
    assert upward_imports(os.path.join("recurrent_sim", "data", "bad.py"), str(tmp_path))[0].endswith(
        "imports recurrent_sim.training.checkpoint"
    )
