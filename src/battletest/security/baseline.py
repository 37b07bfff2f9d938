"""Accepted findings: a JSON file of fingerprints (``--baseline``) so CI fails only on new ones.

A fingerprint is ``check_id METHOD path parameter``: stable across runs, free of evidence (which
changes with ids and times). The file is reviewable in pull requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from battletest.errors import ConfigError
from battletest.results import Finding

VERSION = 1


def fingerprint(f: Finding) -> str:
    return " ".join([f.check_id, f.method or "*", f.path or "*", f.parameter or "*"])


def read_baseline(path: Path) -> set[str]:
    if not path.exists():
        raise ConfigError(
            f"baseline file {path} does not exist",
            hint="create it from a reviewed scan with: battletest scan --write-baseline "
            + str(path),
        )
    try:
        data: Any = json.loads(path.read_text())
        entries = data["accepted"]
        return {str(e["fingerprint"]) for e in entries}
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"baseline file {path} is not a battletest scan baseline",
            hint='expected {"version": 1, "accepted": [{"fingerprint": …}]}; rewrite it with --write-baseline',
        ) from None


def write_baseline(path: Path, findings: list[Finding]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"fingerprint": fingerprint(f), "title": f.title, "severity": f.severity.value}
        for f in sorted(findings, key=fingerprint)
    ]
    path.write_text(json.dumps({"version": VERSION, "accepted": entries}, indent=2) + "\n")


def split(findings: list[Finding], accepted: set[str]) -> tuple[list[Finding], list[Finding]]:
    """(new findings, findings the baseline accepted)."""
    new = [f for f in findings if fingerprint(f) not in accepted]
    old = [f for f in findings if fingerprint(f) in accepted]
    return new, old
