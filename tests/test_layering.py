"""The layering in docs/ARCHITECTURE.md, enforced: a document alone drifts.

Imports are import statements and module names in strings (``importlib.import_module(
"battletest.x")``, ``"battletest.x:attr"`` tables), which drift past a reader just as easily.
Shared types (errors, results, netutil, redact, durations) import no other battletest module. The
foundation (config, spec, target, auth) imports only shared types and each other. Subsystems
(demo, load, security, chaos, quality, perf, report) import shared types and the foundation,
never each other — except a subsystem's command-line module, which composes, and the few
compositions listed in ALLOWED, each with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "battletest"
SHARED = {"errors", "results", "netutil", "redact", "durations"}
FOUNDATION = {"config", "spec", "target", "auth", "transport"}
SUBSYSTEMS = {"demo", "load", "security", "chaos", "quality", "perf", "report", "replay"}

# (importing unit, imported unit) → why this composition is part of the design
ALLOWED = {
    ("chaos", "load"): "experiments state their steady state as a load scenario with thresholds",
    ("chaos", "demo"): "the built-in experiments run against the built-in demo",
    ("perf", "quality"): "trends read the history store",
    ("replay", "chaos"): "the recording proxy is the fault proxy's HTTP layer; replay as mock "
    "(and --frozen) serves recordings with the mock server",
    ("load", "replay"): "load --har converts a recording (HAR model, correlation) to a scenario",
    ("replay", "load"): "recordings extract values with the load engine's extractors (one syntax)",
    ("config", "quality"): "the [gates] and [flaky] sections are quality's settings models",
}


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


# a module named in a string: importlib.import_module("battletest.x"), "battletest.x:attr"
# (entry-point style tables resolved later) — an import the import statements do not show
_MODULE_STRING = re.compile(r"battletest(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?::[A-Za-z_][A-Za-z0-9_.]*)?")


_UNITS = {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _MODULE_STRING.fullmatch(node.value.strip())
            and node.value.strip().split(".")[1].partition(":")[0] in _UNITS  # not battletest.toml
        ):
            names = [node.value.strip().partition(":")[0]]
        found |= {n.split(".")[1] for n in names if n.startswith("battletest.")}
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        is_cli = path.stem in {"cli", "__main__"} or path.stem.endswith("_cli")
        for target in _imports(path) - {unit}:
            if unit in SHARED:
                ok = target in SHARED
            elif unit in FOUNDATION:
                ok = target in SHARED | FOUNDATION or (unit, target) in ALLOWED
            elif unit in SUBSYSTEMS:
                ok = target in SHARED | FOUNDATION or is_cli or (unit, target) in ALLOWED
            else:  # cli, run, suites, pytest plugin, doctor, scaffold: the composing layer
                ok = True
            if not ok:
                bad.append(f"{path.relative_to(SRC)} imports battletest.{target}")
    return bad


def test_subsystems_do_not_import_each_other() -> None:
    assert _violations() == []


def test_string_imports_count_as_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib\n"
        "def f():\n"
        '    return importlib.import_module("battletest.security.settings")\n'
        'TABLE = {"resilience": "battletest.chaos.resilience:ResilienceConfig"}\n'
        'HELP = "see battletest docs"  # prose, not a module\n'
    )
    assert _imports(probe) == {"security", "chaos"}


def test_every_package_is_classified() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    composing = {"suites"}
    assert packages <= SUBSYSTEMS | FOUNDATION | composing, packages - SUBSYSTEMS - FOUNDATION
