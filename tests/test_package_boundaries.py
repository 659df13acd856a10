"""Who may import whom (STYLE.md): flows -> crawlers, storage, schemas; crawlers -> schemas;
storage -> schemas; schemas -> nothing of ours. Only flows imports prefect."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"crawlers", "flows", "storage", "schemas"}
ALLOWED = {
    "schemas": set(),
    "crawlers": {"schemas"},
    "storage": {"schemas"},
    "flows": {"crawlers", "storage", "schemas"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_it_may(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        imported = _imports(path)
        for name in sorted((imported & OURS) - ALLOWED[package] - {package}):
            bad.append(f"{path.relative_to(ROOT)} imports {name}")
        if package != "flows" and "prefect" in imported:
            bad.append(f"{path.relative_to(ROOT)} imports prefect")
    assert bad == []
