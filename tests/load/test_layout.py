"""The package's public names and its borders."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import battletest.load as load

SRC = Path(load.__file__).resolve().parent
OTHER_SUBSYSTEMS = ("auth", "security", "chaos", "perf", "quality", "report", "config", "run")


def test_all_matches_the_public_names() -> None:
    assert sorted(load.__all__) == sorted(load._EXPORTS)
    for name in load.__all__:
        assert getattr(load, name) is not None


def test_load_imports_no_other_subsystem() -> None:
    # the command module composes (config, shared flags, the demo); the engine does not
    for path in SRC.glob("*.py"):
        if path.name == "cli.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "battletest" and len(parts) > 1:
                    assert parts[1] not in OTHER_SUBSYSTEMS, f"{path.name} imports {node.module}"
                    # the demo is only started by the command, never imported by the engine
                    assert parts[1] != "demo", path.name


def test_a_worker_process_loads_no_pydantic_or_rich() -> None:
    code = (
        "import sys, battletest.load.worker, battletest.load.runtime;"
        "print(sorted(m for m in ('pydantic', 'rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
