"""The machine-readable ground truth of the issue-19 test apps, and the one matching rule.

``load("allotment")`` reads ``<app>/ground_truth.toml``; ``GroundTruth.match`` says which
planted item a scanner finding reports (or None: a false positive). The tests and
``bench/bench_scan.py`` both use this module, so nothing is matched by hand.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
APPS = ("allotment", "depot")


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    title: str
    method: str
    paths: tuple[str, ...]
    checks: frozenset[str]
    owasp: str = ""
    cwe: str = ""
    reach: str = ""

    def matches(self, check_id: str, method: str | None, path: str | None) -> bool:
        if check_id not in self.checks:
            return False
        if self.method != "*" and (method or "").upper() != self.method:
            return False
        return any(
            p == "*" or (path is not None and fnmatch.fnmatchcase(path, p)) for p in self.paths
        )


@dataclass(frozen=True, slots=True)
class GroundTruth:
    app: str
    spec: str
    items: tuple[Item, ...]
    absent: tuple[Item, ...]

    def match(self, check_id: str, method: str | None, path: str | None) -> Item | None:
        """The planted item this finding reports, or None (a false positive)."""
        for item in self.items:
            if item.matches(check_id, method, path):
                return item
        return None

    def absent_hit(self, check_id: str, method: str | None, path: str | None) -> Item | None:
        """The [[absent]] place (looks vulnerable, is not) that a false positive landed on."""
        for item in self.absent:
            if item.matches(check_id, method, path):
                return item
        return None

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.items]


def _item(raw: dict[str, Any]) -> Item:
    return Item(
        id=raw["id"],
        title=raw["title"],
        method=raw["method"].upper() if raw["method"] != "*" else "*",
        paths=tuple(raw["paths"]),
        checks=frozenset(raw["checks"]),
        owasp=raw.get("owasp", ""),
        cwe=raw.get("cwe", ""),
        reach=raw.get("reach", ""),
    )


def load(app: str) -> GroundTruth:
    data = tomllib.loads((HERE / app / "ground_truth.toml").read_text())
    return GroundTruth(
        app=data["app"],
        spec=data["spec"],
        items=tuple(_item(i) for i in data["item"]),
        absent=tuple(_item(i) for i in data.get("absent", [])),
    )
