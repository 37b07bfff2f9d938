"""The ``security`` suite under ``battletest run``: the ``[security]`` section → the scanner.

Under ``run`` the depth defaults to ``basic`` (``battletest scan`` keeps ``standard``). The
profile and ``allow_destructive`` come from the top level of the config, so a ``prod`` profile
runs the passive checks only unless ``allow_destructive = true``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx

from battletest.results import SuiteResult
from battletest.suites.base import SuiteContext

NAME = "security"
RUN_DEPTH = "basic"


def security_settings(ctx: SuiteContext) -> Any:
    """The scanner's ``ScanSettings`` for this run."""
    from battletest.security.suite import settings_from

    cfg = ctx.config
    section = {"depth": RUN_DEPTH, **cfg.security}
    view = SimpleNamespace(
        security=section,
        auth=cfg.auth,
        rbac=cfg.rbac,
        profile=cfg.profile,
        allow_destructive=cfg.allow_destructive,
    )
    return settings_from(view)


def scan_identities(ctx: SuiteContext) -> list[Any]:
    """The config's identities for the scanner, carrying the tokens the run already holds (the
    target's login rate limit is not spent again); an identity whose session cannot be had
    keeps its credentials and logs in itself."""
    from battletest.errors import BattletestError
    from battletest.security.identity import identities_from

    people = identities_from(ctx.config.identities, ctx.config.auth.api_key_header)
    for person in people:
        if person.token or person.api_key or not person.username:
            continue
        try:
            person.token = ctx.identities.get(person.name).bearer
        except (BattletestError, KeyError):
            continue
    return people


class PacedScanTransport(httpx.BaseTransport):
    """The scanner's requests through the run's transport: each request is keyed like the
    run's own clients (the identity whose token or API key it carries, else anonymous), so the
    scan is paced within the target's declared limits, backs off on 429s and obeys the write
    policy like every other suite."""

    def __init__(self, ctx: SuiteContext, people: list[Any]) -> None:
        from battletest.transport import ANONYMOUS
        from battletest.transport.client import GuardedTransport

        self._http = ctx.http
        self._inner = httpx.HTTPTransport()
        self._anonymous = ANONYMOUS
        self._guards: dict[str, GuardedTransport] = {}
        self._guard = GuardedTransport
        self._keys: dict[str, str] = {}
        for person in people:
            if person.token:
                self._keys[f"Bearer {person.token}"] = person.name
            if person.api_key:
                self._keys[person.api_key] = person.name
        self._api_key_header = ctx.config.auth.api_key_header

    def key(self, request: httpx.Request) -> str:
        for value in (
            request.headers.get("authorization"),
            request.headers.get(self._api_key_header),
        ):
            if value and value in self._keys:
                return self._keys[value]
        return self._anonymous

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = self.key(request)
        guard = self._guards.get(key)
        if guard is None:
            guard = self._guards[key] = self._guard(self._inner, self._http, key)
        return guard.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def security_suite(ctx: SuiteContext) -> SuiteResult:
    from battletest.security.suite import run_security_suite

    settings = security_settings(ctx)
    ctx.progress.suite_started(NAME, None)
    people = scan_identities(ctx)
    result = run_security_suite(
        ctx.target.base_url,
        ctx.spec,
        people,
        settings=settings,
        transport=PacedScanTransport(ctx, people),
    )
    if not settings.active_allowed:
        note = "passive checks only: the prod profile forbids active probes"
        result.message = f"{result.message}; {note}" if result.message else note
    return result


__all__ = ["PacedScanTransport", "scan_identities", "security_settings", "security_suite"]
