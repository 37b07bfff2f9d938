"""Named failure scenarios: what a dependency does when it fails, switched on for a while.

``activate_failure("throttling", seconds=30)`` on a mock (or a fault proxy) makes the dependency
answer as a throttled API would, until the time is up. The built-in scenarios:

=================  ==========================================================================
throttling         429 Too Many Requests with ``Retry-After: 1``
timeout            hangs past any sane client timeout (30 s, or until the client gives up)
service_failure    500 / 503 alternately
quota_exceeded     429 with ``X-RateLimit-Remaining: 0`` and Retry-After until the quota resets
auth_failure       401 with ``WWW-Authenticate: Bearer error="invalid_token"``
slow               +2 s of latency on every answer
flapping           alternates 1 s windows of 503s and normal answers
outage             the port refuses connections
=================  ==========================================================================

User-defined scenarios come from config tables (``[scenarios.NAME]`` in a stub file, or the
``scenarios`` argument of ``MockServer``), optionally starting from a built-in one::

    [scenarios.maintenance]
    like = "service_failure"           # start from a built-in, override what follows
    status = 503
    headers = { "Retry-After" = "{remaining_s}" }   # {remaining_s}: seconds left
    body = '{"error": "maintenance"}'

This module is pure: it decides *what* to do for a request at a moment; the mock and the proxy
carry it out (``ProxyFailures`` turns a scenario into toxics on a fault proxy). Schedules use an
injectable clock so tests need no sleeps.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from battletest.errors import ScenarioError, UsageError

TRANSPORT_FAULTS = (
    "connection_reset",
    "empty_response",
    "malformed_chunk",
    "random_data_then_close",
)


@dataclass(frozen=True, slots=True)
class Effect:
    """What to do to one request: answer with a status, delay, hang, break the connection."""

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    latency_ms: float = 0.0
    hang_s: float = 0.0
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class FailureScenario:
    """A named way for a dependency to fail."""

    name: str
    description: str = ""
    statuses: tuple[int, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    latency_ms: float = 0.0
    hang_s: float = 0.0
    fault: str | None = None
    refuse_connections: bool = False
    flap_period_s: float = 0.0
    probability: float = 1.0

    def effect(
        self, *, elapsed: float, remaining: float, count: int, rng: random.Random
    ) -> Effect | None:
        """The effect on the ``count``-th request ``elapsed`` seconds into the scenario."""
        if self.flap_period_s > 0 and int(elapsed / self.flap_period_s) % 2 == 1:
            return None  # a healthy window of a flapping dependency
        if self.probability < 1.0 and rng.random() >= self.probability:
            return None
        left = str(max(1, math.ceil(remaining)))
        return Effect(
            status=self.statuses[count % len(self.statuses)] if self.statuses else None,
            headers=tuple((k, v.replace("{remaining_s}", left)) for k, v in self.headers),
            body=self.body,
            latency_ms=self.latency_ms,
            hang_s=self.hang_s,
            fault=self.fault,
        )


def _json_failure(
    name: str,
    description: str,
    statuses: tuple[int, ...],
    error: tuple[str, str],
    headers: tuple[tuple[str, str], ...] = (),
    **extra: Any,
) -> FailureScenario:
    """A scenario that answers a JSON error body ``{"error": code, "message": text}``."""
    code, message = error
    return FailureScenario(
        name,
        description,
        statuses=statuses,
        headers=(*headers, ("content-type", "application/json")),
        body=f'{{"error": "{code}", "message": "{message}"}}',
        **extra,
    )


BUILTIN_SCENARIOS: dict[str, FailureScenario] = {
    s.name: s
    for s in (
        _json_failure(
            "throttling",
            "429 Too Many Requests with Retry-After: 1",
            (429,),
            ("rate_limited", "too many requests"),
            headers=(("retry-after", "1"),),
        ),
        FailureScenario(
            "timeout",
            "hangs past the client's timeout (30 s, or until the client disconnects)",
            hang_s=30.0,
        ),
        _json_failure(
            "service_failure",
            "500 and 503 alternately",
            (503, 500),
            ("unavailable", "dependency failed"),
        ),
        _json_failure(
            "quota_exceeded",
            "429 with X-RateLimit-Remaining: 0 until the quota resets",
            (429,),
            ("quota_exceeded", "quota exhausted"),
            headers=(("retry-after", "{remaining_s}"), ("x-ratelimit-remaining", "0")),
        ),
        _json_failure(
            "auth_failure",
            "401 with WWW-Authenticate: Bearer error=invalid_token",
            (401,),
            ("unauthorized", "credentials rejected"),
            headers=(("www-authenticate", 'Bearer error="invalid_token"'),),
        ),
        FailureScenario("slow", "+2000 ms latency on every answer", latency_ms=2000.0),
        _json_failure(
            "flapping",
            "alternating 1 s windows of 503 and normal answers",
            (503,),
            ("unavailable", "flapping"),
            flap_period_s=1.0,
        ),
        FailureScenario("outage", "the port refuses connections", refuse_connections=True),
    )
}

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "status": int,
    "statuses": list,
    "headers": dict,
    "body": str,
    "latency_ms": (int, float),
    "hang_s": (int, float),
    "fault": str,
    "refuse_connections": bool,
    "flap_period_s": (int, float),
    "probability": (int, float),
}


def define_scenario(
    name: str, table: Mapping[str, Any], base: Mapping[str, FailureScenario] | None = None
) -> FailureScenario:
    """A user-defined scenario from a config table; ``like`` names a scenario to start from."""
    where = f"scenario {name!r}"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ScenarioError(f"{where}: names use letters, digits, _ . - only")
    known = dict(BUILTIN_SCENARIOS if base is None else base)
    table = dict(table)
    like = table.pop("like", None)
    start = FailureScenario(name)
    if like is not None:
        if like not in known:
            raise ScenarioError(
                f"{where}: like = {like!r} is not a known scenario ({_names(known)})"
            )
        start = replace(known[like], name=name)
    unknown = set(table) - set(_FIELDS)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: like, {', '.join(_FIELDS)}"
        )
    for key, value in table.items():
        kind = _FIELDS[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise ScenarioError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    changes: dict[str, Any] = {}
    if "status" in table and "statuses" in table:
        raise ScenarioError(f"{where}: give status or statuses, not both")
    if "status" in table:
        changes["statuses"] = (int(table["status"]),)
    if "statuses" in table:
        changes["statuses"] = tuple(int(s) for s in table["statuses"])
    for s in changes.get("statuses", ()):
        if not 100 <= s <= 599:
            raise ScenarioError(f"{where}: status {s} is not an HTTP status (100-599)")
    if "headers" in table:
        changes["headers"] = tuple((str(k).lower(), str(v)) for k, v in table["headers"].items())
    for key in ("description", "body"):
        if key in table:
            changes[key] = table[key]
    for key in ("latency_ms", "hang_s", "flap_period_s", "probability"):
        if key in table:
            if table[key] < 0:
                raise ScenarioError(f"{where}: {key} must not be negative")
            changes[key] = float(table[key])
    if changes.get("probability", 1.0) > 1.0:
        raise ScenarioError(f"{where}: probability is between 0 and 1")
    if "fault" in table:
        if table["fault"] not in TRANSPORT_FAULTS:
            raise ScenarioError(
                f"{where}: unknown fault {table['fault']!r}; use one of {', '.join(TRANSPORT_FAULTS)}"
            )
        changes["fault"] = table["fault"]
    if "refuse_connections" in table:
        changes["refuse_connections"] = table["refuse_connections"]
    scenario = replace(start, **changes)
    if not (
        scenario.statuses
        or scenario.latency_ms
        or scenario.hang_s
        or scenario.fault
        or scenario.refuse_connections
    ):
        raise ScenarioError(
            f"{where}: does nothing; set status, latency_ms, hang_s, fault or refuse_connections"
        )
    return scenario


def _names(scenarios: Iterable[str]) -> str:
    return ", ".join(sorted(scenarios))


class ScenarioRegistry:
    """The scenarios one mock or proxy knows: the built-ins plus user-defined ones."""

    def __init__(self, user_defined: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._scenarios = dict(BUILTIN_SCENARIOS)
        for name, table in (user_defined or {}).items():
            if not isinstance(table, Mapping):
                raise ScenarioError(f"scenario {name!r}: expected a table [scenarios.{name}]")
            self.add(define_scenario(name, table, self._scenarios))

    def add(self, scenario: FailureScenario) -> None:
        self._scenarios[scenario.name] = scenario

    def get(self, name: str) -> FailureScenario:
        try:
            return self._scenarios[name]
        except KeyError:
            raise ScenarioError(
                f"unknown failure scenario {name!r}; known: {_names(self._scenarios)} "
                "(define your own under [scenarios.NAME])"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._scenarios)

    def __iter__(self) -> Any:
        return iter(self._scenarios.values())


@dataclass(slots=True)
class ActiveFailure:
    scenario: FailureScenario
    started: float
    until: float
    paths: tuple[str, ...] = ()
    count: int = 0

    def applies_to(self, path: str) -> bool:
        return not self.paths or any(path.startswith(p) for p in self.paths)

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "description": self.scenario.description,
            "remaining_s": round(max(0.0, self.until - now), 3),
            "paths": list(self.paths),
            "requests_affected": self.count,
        }


@dataclass(slots=True)
class FailureSchedule:
    """Which scenarios are active until when; thread-safe, with an injectable clock."""

    registry: ScenarioRegistry = field(default_factory=ScenarioRegistry)
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    _active: list[ActiveFailure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def activate(self, name: str, seconds: float, *, paths: Iterable[str] = ()) -> ActiveFailure:
        scenario = self.registry.get(name)
        if not seconds > 0 or math.isinf(seconds):
            raise UsageError(
                f"failure duration must be a positive number of seconds, got {seconds}"
            )
        now = self.clock()
        active = ActiveFailure(scenario, now, now + seconds, tuple(paths))
        with self._lock:
            self._active = [a for a in self._active if a.scenario.name != name]
            self._active.append(active)
        return active

    def deactivate(self, name: str | None = None) -> int:
        """End one scenario (or all); returns how many were active."""
        with self._lock:
            before = len(self._active)
            self._active = [a for a in self._active if name is not None and a.scenario.name != name]
            return before - len(self._active)

    def active(self) -> list[ActiveFailure]:
        now = self.clock()
        with self._lock:
            self._active = [a for a in self._active if a.until > now]
            return list(self._active)

    def refusing(self) -> ActiveFailure | None:
        """The active outage, if any (the port must refuse connections)."""
        return next((a for a in self.active() if a.scenario.refuse_connections), None)

    def effect_for(self, path: str) -> tuple[ActiveFailure, Effect] | None:
        """The newest active scenario that applies to ``path`` and its effect on this request."""
        now = self.clock()
        for act in reversed(self.active()):
            if act.scenario.refuse_connections or not act.applies_to(path):
                continue
            with self._lock:
                count = act.count
                act.count += 1
            eff = act.scenario.effect(
                elapsed=now - act.started, remaining=act.until - now, count=count, rng=self.rng
            )
            if eff is not None:
                return act, eff
        return None

    def describe(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [a.describe(now) for a in self.active()]


class ProxyFailures:
    """Named failure scenarios on one proxy of a fault proxy (``battletest.chaos.proxy``).

    A scenario becomes toxics on the proxy for its duration: statuses → ``http_status`` (429 →
    ``http_throttle``), latency → ``latency``, a hang → ``timeout`` (held, never closed), a
    reset → ``reset_peer``, an empty or malformed answer → ``http_body``, an outage → the proxy
    disabled (its port refuses connections), flapping → the toxics switched on and off every
    period. A timer removes everything when the duration is over. The proxy object needs only
    ``toxic``/``remove_toxic``/``enable``/``disable`` (``FaultProxy`` has them).
    """

    def __init__(self, proxy: Any, name: str, registry: ScenarioRegistry | None = None) -> None:
        self.proxy = proxy
        self.name = name
        self.registry = registry or ScenarioRegistry()
        self._lock = threading.Lock()
        self._active: dict[str, tuple[list[str], list[threading.Timer], bool]] = {}

    def toxics_for(self, scenario: FailureScenario, seconds: float) -> list[dict[str, Any]]:
        """The toxic definitions that carry out ``scenario`` (without the refuse part)."""
        tag = f"scenario-{scenario.name}"
        out: list[dict[str, Any]] = []
        headers = dict(scenario.headers)
        if scenario.statuses:
            status = scenario.statuses[0]
            retry = headers.get("retry-after", "0").replace(
                "{remaining_s}", str(max(1, math.ceil(seconds)))
            )
            out.append(
                {
                    "type": "http_throttle" if status == 429 else "http_status",
                    "name": f"{tag}-status",
                    "status": status,
                    "retry_after": int(retry) if retry.isdigit() else 0,
                    "body": scenario.body,
                }
            )
        if scenario.latency_ms:
            out.append(
                {"type": "latency", "name": f"{tag}-latency", "latency": int(scenario.latency_ms)}
            )
        if scenario.hang_s:
            out.append({"type": "timeout", "name": f"{tag}-hang", "timeout": 0})
        if scenario.fault == "connection_reset":
            out.append({"type": "reset_peer", "name": f"{tag}-reset", "timeout": 0})
        elif scenario.fault is not None:
            mode = "empty" if scenario.fault == "empty_response" else "malformed"
            out.append({"type": "http_body", "name": f"{tag}-body", "mode": mode})
        return out

    def activate_failure(self, name: str, seconds: float) -> None:
        scenario = self.registry.get(name)
        if not seconds > 0 or math.isinf(seconds):
            raise UsageError(
                f"failure duration must be a positive number of seconds, got {seconds}"
            )
        self.deactivate_failure(name)
        specs = self.toxics_for(scenario, seconds)
        added: list[str] = []
        timers: list[threading.Timer] = []

        def add_all() -> None:
            for spec in specs:
                body = dict(spec)
                kind, toxic_name = body.pop("type"), body.pop("name")
                self.proxy.toxic(
                    self.name, kind, name=toxic_name, toxicity=scenario.probability, **body
                )
                added.append(toxic_name)

        def remove_all() -> None:
            for toxic_name in list(added):
                with contextlib.suppress(Exception):
                    self.proxy.remove_toxic(self.name, toxic_name)
            added.clear()

        if scenario.refuse_connections:
            self.proxy.disable(self.name)
        add_all()
        if scenario.flap_period_s > 0:
            periods = int(seconds / scenario.flap_period_s)
            for i in range(1, periods + 1):
                toggle = remove_all if i % 2 == 1 else add_all
                timers.append(threading.Timer(i * scenario.flap_period_s, toggle))
        end = threading.Timer(seconds, self.deactivate_failure, args=(name,))
        timers.append(end)
        with self._lock:
            self._active[name] = (added, timers, scenario.refuse_connections)
        for t in timers:
            t.daemon = True
            t.start()

    def deactivate_failure(self, name: str | None = None) -> None:
        with self._lock:
            names = [name] if name is not None else list(self._active)
            entries = [(n, self._active.pop(n)) for n in names if n in self._active]
        for _, (added, timers, refused) in entries:
            for t in timers:
                if t is not threading.current_thread():
                    t.cancel()
            for toxic_name in list(added):
                with contextlib.suppress(Exception):
                    self.proxy.remove_toxic(self.name, toxic_name)
            if refused:
                self.proxy.enable(self.name)

    def active_failures(self) -> list[str]:
        with self._lock:
            return sorted(self._active)


__all__ = [
    "BUILTIN_SCENARIOS",
    "ActiveFailure",
    "Effect",
    "FailureScenario",
    "FailureSchedule",
    "ScenarioRegistry",
    "define_scenario",
]
