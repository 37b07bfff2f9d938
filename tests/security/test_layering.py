"""The security subsystem's borders: public names, imports, and no demo knowledge in checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import battletest.security as security

SRC = Path(security.__file__).resolve().parent
# the scanner may use the shared layer, reads operations from the one spec model, sends every
# request through the one transport and forges tokens with the one JWT module; only its CLI
# composes config, spec loading and reports
SHARED = {
    "battletest.results",
    "battletest.errors",
    "battletest.netutil",
    "battletest.redact",
    "battletest.spec",
    "battletest.transport",
    "battletest.transport.identities",
    "battletest.auth.jwt",
}
CLI_ONLY = {
    "battletest.config",
    "battletest.report.sarif",
    "battletest.cli_options",
    "battletest.sections",
}
DEMO_WORDS = re.compile(
    r"reservation|hotel|concierge|guest|voice|tts|pms|/v1/|call_id|staff|sunshine|demo",
    re.IGNORECASE,
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m.startswith("battletest")}


def test_public_names_exist() -> None:
    for name in security.__all__:
        assert hasattr(security, name), name


def test_security_imports_only_itself_the_shared_layer_and_the_spec_model() -> None:
    for path in SRC.rglob("*.py"):
        allowed = SHARED | (CLI_ONLY if path.name == "cli.py" else set())
        for module in _imports(path):
            assert (
                module.startswith("battletest.security")
                or module in allowed
                or (module == "battletest")
            ), f"{path.relative_to(SRC)} imports {module}"


def test_no_check_or_path_list_knows_the_demo() -> None:
    # jwt-secrets.txt is excluded: it is a list of common weak secrets, where words such as
    # "guest", "demo" or "sunshine" belong on their own merit
    files = [*SRC.rglob("*.py"), SRC / "data" / "inventory-paths.txt", *SRC.glob("payloads/*")]
    for path in files:
        hits = DEMO_WORDS.findall(path.read_text())
        assert not hits, f"{path.relative_to(SRC)} mentions {sorted(set(hits))}"
