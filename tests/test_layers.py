"""The package's layers, as its folders name them, and the direction of imports between them.

``cli`` parses flags and prints; ``checks`` judges plain data; ``access`` talks to the API and
to nodes; ``manifests`` builds and converts pod specs; ``probe`` holds the node scripts and the
readers of their output; ``sandbox`` is the local cluster. A layer may import only the layers
below it, so a judgement can never reach for the network or a flag by accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kubectl_userns"

# what each layer may import from the package (besides itself); "base" is errors.py, options.py
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "checks": {"base", "probe"},
    "probe": {"base", "checks"},
    "manifests": {"base"},
    "access": {"base"},
    "sandbox": {"base", "checks", "probe"},
    "cli": {"base", "checks", "probe", "manifests", "access", "sandbox"},
}
BASE_MODULES = {"__init__", "errors", "options", "text"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name inside the package."""
    parts = module.split(".")
    assert parts[0] == "kubectl_userns", module
    if len(parts) == 1 or parts[1] in BASE_MODULES:
        return "base"
    if parts[1] == "__main__":  # ``python -m kubectl_userns``: the CLI's entry point
        return "cli"
    return parts[1]


def package_imports(path: Path) -> set[str]:
    """Every kubectl_userns module that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("kubectl_userns"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("kubectl_userns"))
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_sits_in_a_known_layer() -> None:
    for path in modules():
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        layer = layer_of(".".join(rel.parts))
        assert layer in ALLOWED, f"{path}: not in a layer folder ({', '.join(ALLOWED)})"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    own = layer_of(".".join(rel.parts))
    wrong = sorted(
        imported
        for imported in package_imports(path)
        if layer_of(imported) not in ALLOWED[own] | {own}
    )
    assert not wrong, f"{path.name} ({own}) imports {wrong}, outside {sorted(ALLOWED[own])}"


# A module a newcomer can read in one sitting; past this, split it by what it is about (as
# checks/node/, checks/cluster/ and sandbox/api/ are).
MAX_LINES = 400


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {path: len(path.read_text().splitlines()) for path in modules()}
    over = sorted(
        f"{path.relative_to(PACKAGE)} ({lines})"
        for path, lines in sizes.items()
        if lines > MAX_LINES
    )
    assert not over, f"modules over {MAX_LINES} lines: {', '.join(over)}"
