"""Serve the nursery app (vulnerable or fixed) on loopback and scan it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from battletest.netutil import serve_app
from battletest.security import ScanOutcome, ScanSettings, scan

from .nursery_app import build_app


@contextmanager
def served(vulns: set[str]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    app = build_app(vulns)
    with serve_app(app) as base:
        yield base, app.openapi(), app


def run_scan(vulns: set[str], checks: list[str], **settings: Any) -> ScanOutcome:
    log_source = settings.pop("_logs", False)
    with served(vulns) as (base, spec, app):
        options: dict[str, Any] = {"checks": checks, **settings}
        kwargs: dict[str, Any] = {}
        if log_source:
            kwargs["log_source"] = lambda: app.state.log.getvalue()
        return scan(base, spec, [], ScanSettings.model_validate(options), **kwargs)
