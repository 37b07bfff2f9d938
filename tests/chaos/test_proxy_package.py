"""The proxy package's public names and its place in the layering."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import battletest.chaos.proxy as proxy_pkg

pytestmark = pytest.mark.chaos
PACKAGE = Path(proxy_pkg.__file__).parent
ALLOWED = ("battletest.chaos.proxy", "battletest.errors", "battletest.netutil")


def test_all_matches_the_public_names() -> None:
    public = {
        name
        for name, value in vars(proxy_pkg).items()
        if not name.startswith("_")
        and name != "annotations"  # from __future__
        and not isinstance(value, type(proxy_pkg))  # submodules
    }
    assert sorted(proxy_pkg.__all__) == sorted(public)


@pytest.mark.parametrize("module", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_proxy_modules_import_no_other_subsystem(module: str) -> None:
    path = PACKAGE / f"{module}.py"
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("battletest")
        ):
            if node.module == "battletest":
                assert [a.name for a in node.names] == ["__version__"], path
                continue
            assert node.module.startswith(ALLOWED), f"{path.name} imports {node.module}"
    importlib.import_module(f"battletest.chaos.proxy.{module}")
