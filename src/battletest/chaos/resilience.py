"""The ``resilience`` suite: black-box checks that a service survives its dependencies failing.

Each dependency the config declares sits behind a battletest mock (``battletest mock serve
--upstream URL`` or stubs) whose admin API the suite drives; the target is only ever called
over HTTP. One case per property, named ``PROPERTY[DEPENDENCY]``:

=====================  ====================================================================
correlation_id         the id sent to the target reaches the dependency (journal headers)
circuit_breaker        calls stop reaching a failing dependency; after the declared reset
                       time one probe gets through (half-open) and the circuit closes again
retry_backoff          retries are bounded (≤ max_attempts) and back off: the median gap
                       between attempts in the journal (from the mock's answer to the next
                       arrival) is ≥ min_backoff_ms and later gaps are on average at least
                       1.5× the first (exponential backoff)
fail_fast              a hanging dependency does not hang the target: bounded latency
degraded_response      during an outage the target answers from a cache / fallback (2xx)
                       or with 503 + Retry-After — never another 5xx, never a hang
no_cascade             an unrelated endpoint keeps its latency and error thresholds while
                       the dependency is down
rate_limit             429 with Retry-After after the declared limit, over a sliding window
load_shedding          under overload latency stays bounded (excess is shed with 429/503)
=====================  ====================================================================

Configuration (``[resilience]`` in battletest.toml; see docs/chaos.md)::

    [resilience]
    headers = { "X-API-Key" = "…" }              # how probes authenticate
    [[resilience.dependencies]]
    name = "pms"
    mock_url = "http://127.0.0.1:8081"           # the mock in front of the PMS
    path = "/v1/reservations/bt-{n}"            # a target operation that calls it; {n} is unique
    cached_path = "/v1/reservations/r-1001"     # optional: may be served from cache in an outage
    breaker_reset_s = 30
    max_attempts = 4
    fail_fast_s = 5
    [resilience.rate_limit]
    path = "/version"
    limit = 120
    window_s = 60
    [resilience.unrelated]
    path = "/health"
    [resilience.overload]
    path = "/version"
    rate = 300
"""

from __future__ import annotations

import itertools
import secrets
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from battletest.chaos.proxy.client import reach
from battletest.errors import ConfigError, SafetyError, TargetUnreachable, validated
from battletest.results import Case, Status, SuiteResult
from battletest.transport import Inconclusive, PolicyRefused, Transport, WritePolicy

PROPERTIES = (
    "correlation_id",
    "circuit_breaker",
    "retry_backoff",
    "fail_fast",
    "degraded_response",
    "no_cascade",
    "rate_limit",
    "load_shedding",
)
DEPENDENCY_PROPERTIES = PROPERTIES[:6]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DependencyProbe(_Model):
    name: str
    mock_url: str = Field(description="Admin URL of the battletest mock in front of it.")
    path: str = Field(description="Target path that calls the dependency; {n} makes it unique.")
    method: str = "GET"
    cached_path: str | None = None
    breaker_reset_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    fail_fast_s: float = Field(default=5.0, gt=0)
    min_backoff_ms: float = Field(default=25.0, ge=0)
    samples: int = Field(default=5, ge=2, le=50)

    @field_validator("path")
    @classmethod
    def _unique(cls, v: str) -> str:
        if "{n}" not in v:
            raise ValueError("path needs {n}, e.g. /v1/reservations/bt-{n}, so calls skip caches")
        return v


class RateLimitProbe(_Model):
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = Field(
        default=None, description="Replace the suite's headers ({} = anonymous); None: keep them."
    )
    limit: int = Field(ge=2)
    window_s: float = Field(gt=0)


class UnrelatedProbe(_Model):
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    requests: int = Field(default=20, ge=1)
    p95_ms: float = Field(default=500.0, gt=0)


class OverloadProbe(_Model):
    path: str
    headers: dict[str, str] | None = None
    rate: float = Field(default=300.0, gt=0)
    duration_s: float = Field(default=2.0, gt=0)
    p99_ms: float = Field(default=1000.0, gt=0)


class ResilienceConfig(_Model):
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0)
    correlation_header: str = "X-Correlation-ID"
    dependencies: list[DependencyProbe] = Field(default_factory=list)
    rate_limit: RateLimitProbe | None = None
    unrelated: UnrelatedProbe | None = None
    overload: OverloadProbe | None = None
    properties: list[str] | None = None

    @field_validator("properties")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        unknown = [p for p in v or [] if p not in PROPERTIES]
        if unknown:
            raise ValueError(f"unknown property {unknown[0]!r}; use {', '.join(PROPERTIES)}")
        return v

    @classmethod
    def parse(cls, raw: ResilienceConfig | Mapping[str, Any]) -> ResilienceConfig:
        if isinstance(raw, ResilienceConfig):
            return raw
        return validated(
            cls, dict(raw), "[resilience] {where}: {problem}", hint="see docs/chaos.md#resilience"
        )

    def wants(self, prop: str) -> bool:
        return self.properties is None or prop in self.properties


class MockAdmin:
    """The admin API of a battletest mock standing in front of a dependency."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url.rstrip("/")
        self.client = client

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        r = reach(
            lambda: self.client.request(method, f"{self.url}/__admin{path}", json=payload),
            f"the mock admin API at {self.url} is not reachable",
            "start it with `battletest mock serve --upstream DEPENDENCY_URL`",
        )
        if r.status_code >= 400:
            raise ConfigError(f"mock at {self.url} refused {method} {path}: {r.text[:200]}")
        return r.json()

    def activate(self, scenario: str, seconds: float = 60.0) -> None:
        self._call("POST", f"/scenarios/{scenario}", {"seconds": seconds})

    def deactivate(self) -> None:
        self._call("DELETE", "/scenarios")

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/requests")["requests"])

    def calls_with(self, token: str) -> list[dict[str, Any]]:
        """Journal entries whose path contains ``token`` (each probe uses a unique one)."""
        return [e for e in self.requests() if token in e["path"]]

    @contextmanager
    def scenario(self, name: str, seconds: float = 60.0) -> Iterator[None]:
        self.activate(name, seconds)
        try:
            yield
        finally:
            self.deactivate()


class _Probe:
    """Calls to the target, timed, never raising for HTTP-level outcomes."""

    def __init__(self, base_url: str, config: ResilienceConfig, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.client = client

    def call(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[httpx.Response | None, float, str]:
        """(response or None, seconds, error kind). ``headers`` replaces the suite's headers."""
        sent = dict(self.config.headers if headers is None else headers)
        t0 = time.monotonic()
        try:
            r = self.client.request(
                method, self.base_url + path, headers=sent, timeout=timeout or self.config.timeout_s
            )
        except httpx.TimeoutException:
            return None, time.monotonic() - t0, "timeout"
        except httpx.HTTPError as exc:
            return None, time.monotonic() - t0, type(exc).__name__
        except Inconclusive as exc:
            return None, time.monotonic() - t0, str(exc)
        # PolicyRefused propagates: the property was not run (``run_resilience_suite``)
        return r, time.monotonic() - t0, ""


def _token() -> str:
    return "bt" + secrets.token_hex(5)


class ResilienceRun:
    """The properties checked against one target; each method returns one Case."""

    def __init__(self, base_url: str, config: ResilienceConfig, client: httpx.Client) -> None:
        self.config = config
        self.probe = _Probe(base_url, config, client)

    # ---------------------------------------------------------------- helpers

    def _unique(self, dep: DependencyProbe) -> tuple[str, str]:
        token = _token()
        return dep.path.replace("{n}", token), token

    def _recover(self, dep: DependencyProbe, admin: MockAdmin) -> bool:
        """Dependency healthy again; wait out the breaker until a call succeeds."""
        admin.deactivate()
        deadline = time.monotonic() + dep.breaker_reset_s + 5.0
        while time.monotonic() < deadline:
            path, _ = self._unique(dep)
            r, _, _ = self.probe.call(path, method=dep.method)
            if r is not None and r.status_code < 500:
                return True
            time.sleep(min(0.2, dep.breaker_reset_s / 4))
        return False

    # ---------------------------------------------------------------- properties

    def correlation_id(self, dep: DependencyProbe, admin: MockAdmin) -> Case:
        header = self.config.correlation_header
        cid = "bt-" + secrets.token_hex(8)
        path, token = self._unique(dep)
        r, _, err = self.probe.call(
            path, method=dep.method, headers={**self.config.headers, header: cid}
        )
        calls = admin.calls_with(token)
        carried = [c for c in calls if c["headers"].get(header.lower()) == cid]
        details = {"sent": cid, "dependency_calls": len(calls), "carried": len(carried)}
        if not calls:
            got = err or (r.status_code if r is not None else "no answer")
            return _fail(
                "correlation_id",
                dep,
                f"the call to {path} never reached {dep.name} (target answered {got}); "
                "check `path` in [[resilience.dependencies]]",
                details,
            )
        if not carried:
            return _fail(
                "correlation_id",
                dep,
                f"{header}: {cid} sent to {path} did not reach {dep.name} "
                f"({len(calls)} call(s), none carried it)",
                details,
            )
        return _pass("correlation_id", dep, f"{header} reached {dep.name}", details)

    def circuit_breaker(self, dep: DependencyProbe, admin: MockAdmin) -> Case:
        per_call: list[int] = []
        statuses: list[int | str] = []
        with admin.scenario("service_failure"):
            for _ in range(max(8, dep.max_attempts * 2)):
                path, token = self._unique(dep)
                r, _, err = self.probe.call(path, method=dep.method)
                per_call.append(len(admin.calls_with(token)))
                statuses.append(r.status_code if r is not None else err)
        details: dict[str, Any] = {"dependency_calls_per_request": per_call, "statuses": statuses}
        tail = per_call[-3:]
        if sum(tail) > 0:
            return _fail(
                "circuit_breaker",
                dep,
                f"the circuit did not open: while {dep.name} failed, the last {len(tail)} "
                f"requests still made {sum(tail)} call(s) to it ({per_call})",
                details,
            )
        time.sleep(dep.breaker_reset_s + 0.2)
        path, token = self._unique(dep)
        r, _, err = self.probe.call(path, method=dep.method)
        probe_calls = len(admin.calls_with(token))
        path2, token2 = self._unique(dep)
        r2, _, _ = self.probe.call(path2, method=dep.method)
        closed_calls = len(admin.calls_with(token2))
        details.update(half_open_calls=probe_calls, after_close_calls=closed_calls)
        if probe_calls == 0:
            return _fail(
                "circuit_breaker",
                dep,
                f"no half-open probe reached {dep.name} {dep.breaker_reset_s:g}s after it "
                "recovered (the circuit stays open)",
                details,
            )
        if r is None or r.status_code >= 500 or r2 is None or closed_calls == 0:
            got = r2.status_code if r2 is not None else "no answer"
            return _fail(
                "circuit_breaker",
                dep,
                f"the circuit did not close after {dep.name} recovered (next request: {got})",
                details,
            )
        return _pass(
            "circuit_breaker",
            dep,
            f"opened after {per_call.index(0) if 0 in per_call else '?'} request(s); "
            "half-open probe seen; closed again",
            details,
        )

    def retry_backoff(self, dep: DependencyProbe, admin: MockAdmin) -> Case:
        samples: list[list[float]] = []
        attempts: list[int] = []
        for _ in range(dep.samples):
            path, token = self._unique(dep)
            with admin.scenario("service_failure"):
                self.probe.call(path, method=dep.method)
                calls = admin.calls_with(token)
            attempts.append(len(calls))
            # the wait between attempts: from the mock's answer to the next arrival, so a slow
            # answer (or a loaded machine serving it) does not count as backoff
            samples.append(
                [
                    (b["monotonic"] - a["monotonic"]) * 1000 - (a.get("duration_ms") or 0.0)
                    for a, b in itertools.pairwise(calls)
                ]
            )
            # a success between samples keeps a circuit breaker from opening
            ok_path, _ = self._unique(dep)
            self.probe.call(ok_path, method=dep.method)
        gaps = [g for s in samples for g in s]
        details: dict[str, Any] = {
            "attempts_per_request": attempts,
            "gaps_ms": [[round(g, 1) for g in s] for s in samples],
        }
        if max(attempts) > dep.max_attempts:
            return _fail(
                "retry_backoff",
                dep,
                f"retries are not bounded: up to {max(attempts)} attempts per request "
                f"(declared max_attempts = {dep.max_attempts})",
                details,
            )
        if not gaps:
            return _pass("retry_backoff", dep, "no retries (one attempt per request)", details)
        median = statistics.median(gaps)
        details["median_gap_ms"] = round(median, 1)
        if median < dep.min_backoff_ms:
            return _fail(
                "retry_backoff",
                dep,
                f"retries do not back off: median gap {median:.1f} ms between attempts "
                f"(want ≥ {dep.min_backoff_ms:g} ms)",
                details,
            )
        # means, not medians: with jittered backoff the median of a few gaps swings widely
        firsts = [s[0] for s in samples if len(s) >= 2]
        laters = [g for s in samples if len(s) >= 2 for g in s[1:]]
        if firsts and statistics.fmean(laters) < 1.5 * statistics.fmean(firsts):
            return _fail(
                "retry_backoff",
                dep,
                f"retry gaps do not grow: on average {statistics.fmean(firsts):.1f} ms before the "
                f"second attempt, {statistics.fmean(laters):.1f} ms before later ones "
                "(want exponential backoff)",
                details,
            )
        return _pass(
            "retry_backoff",
            dep,
            f"≤ {max(attempts)} attempts, median gap {median:.0f} ms, growing",
            details,
        )

    def fail_fast(self, dep: DependencyProbe, admin: MockAdmin) -> Case:
        timings: list[float] = []
        outcomes: list[int | str] = []
        limit = dep.fail_fast_s
        with admin.scenario("timeout"):
            for _ in range(3):
                path, _ = self._unique(dep)
                r, took, err = self.probe.call(path, method=dep.method, timeout=limit * 2 + 1)
                timings.append(round(took, 3))
                outcomes.append(r.status_code if r is not None else err)
        self._recover(dep, admin)
        details = {"latency_s": timings, "outcomes": outcomes, "limit_s": limit}
        if max(timings) > limit or "timeout" in outcomes:
            return _fail(
                "fail_fast",
                dep,
                f"while {dep.name} hangs the target took up to {max(timings):.2f}s "
                f"(limit {limit:g}s): it waits for the dependency instead of failing fast",
                details,
            )
        return _pass("fail_fast", dep, f"answered within {max(timings):.2f}s", details)

    def degraded_and_no_cascade(self, dep: DependencyProbe, admin: MockAdmin) -> list[Case]:
        cases: list[Case] = []
        if dep.cached_path:
            self.probe.call(dep.cached_path, method=dep.method)  # warm the cache
        answers: list[dict[str, Any]] = []
        unrelated: list[tuple[httpx.Response | None, float, str]] = []
        with admin.scenario("outage"):
            time.sleep(0.15)  # the mock closes its port on its next tick
            paths = [self._unique(dep)[0]] + ([dep.cached_path] if dep.cached_path else [])
            for path in paths:
                r, took, err = self.probe.call(path, method=dep.method)
                answers.append(
                    {
                        "path": path,
                        "status": r.status_code if r is not None else err,
                        "retry_after": r.headers.get("retry-after") if r is not None else None,
                        "seconds": round(took, 3),
                    }
                )
            u = self.config.unrelated
            if u is not None and self.config.wants("no_cascade"):
                for _ in range(u.requests):
                    unrelated.append(self.probe.call(u.path, method=u.method, headers=u.headers))
        self._recover(dep, admin)
        if self.config.wants("degraded_response"):
            bad = [
                a
                for a in answers
                if not (
                    isinstance(a["status"], int)
                    and (200 <= a["status"] < 300 or (a["status"] == 503 and a["retry_after"]))
                )
            ]
            details = {"answers": answers}
            if bad:
                cases.append(
                    _fail(
                        "degraded_response",
                        dep,
                        f"during a {dep.name} outage {bad[0]['path']} answered "
                        f"{bad[0]['status']} (want a cached/fallback 2xx or 503 with Retry-After)",
                        details,
                    )
                )
            else:
                kinds = ", ".join(
                    f"{a['status']}"
                    + (f" Retry-After {a['retry_after']}" if a["retry_after"] else "")
                    for a in answers
                )
                cases.append(_pass("degraded_response", dep, f"degraded answers: {kinds}", details))
        u = self.config.unrelated
        if u is not None and self.config.wants("no_cascade"):
            errors = [
                r.status_code if r is not None else e
                for r, _, e in unrelated
                if r is None or r.status_code >= 500
            ]
            lat = sorted(t * 1000 for _, t, _ in unrelated)
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
            stats: dict[str, Any] = {
                "requests": len(unrelated),
                "errors": errors,
                "p95_ms": round(p95, 1),
            }
            if errors or p95 > u.p95_ms:
                cases.append(
                    _fail(
                        "no_cascade",
                        dep,
                        f"with {dep.name} down, {u.path} degraded too: {len(errors)} error(s), "
                        f"p95 {p95:.0f} ms (limit {u.p95_ms:g} ms)",
                        stats,
                    )
                )
            else:
                cases.append(
                    _pass("no_cascade", dep, f"{u.path} p95 {p95:.0f} ms, no errors", details)
                )
        return cases

    def rate_limit(self) -> Case:
        rl = self.config.rate_limit
        assert rl is not None
        first = rl.limit // 2
        second = rl.limit - first

        def burst(n: int) -> list[httpx.Response | None]:
            return [
                self.probe.call(rl.path, method=rl.method, headers=rl.headers)[0] for _ in range(n)
            ]

        def limited(r: httpx.Response | None) -> bool:
            return r is not None and r.status_code == 429

        t0 = time.monotonic()
        a = burst(first)
        a_end = time.monotonic()
        time.sleep(max(0.0, t0 + rl.window_s / 2 - time.monotonic()))
        b = burst(second)
        over = burst(1)[0]
        details: dict[str, Any] = {
            "limit": rl.limit,
            "window_s": rl.window_s,
            "early_429": sum(map(limited, a + b)),
        }
        if any(limited(r) for r in a + b):
            return _fail(
                "rate_limit",
                None,
                f"429 before the declared limit: {details['early_429']} of the first "
                f"{rl.limit} requests in {rl.window_s:g}s were refused",
                details,
            )
        if not limited(over):
            got = over.status_code if over is not None else "no answer"
            return _fail(
                "rate_limit",
                None,
                f"no 429 after {rl.limit} requests in {rl.window_s:g}s from one client "
                f"(request {rl.limit + 1} answered {got})",
                details,
            )
        assert over is not None
        retry_after = over.headers.get("retry-after", "")
        details["retry_after"] = retry_after
        if not retry_after.isdigit() or not 0 < int(retry_after) <= rl.window_s + 1:
            return _fail(
                "rate_limit",
                None,
                f"429 without a usable Retry-After (got {retry_after!r}; want seconds "
                f"≤ the {rl.window_s:g}s window)",
                details,
            )
        # a sliding window frees the first burst's slots only: half the limit, not all of it
        time.sleep(max(0.0, a_end + rl.window_s * 1.05 - time.monotonic()))
        c = burst(first + 1)
        details["after_window"] = [r.status_code if r is not None else None for r in c]
        if any(limited(r) for r in c[:first]):
            return _fail(
                "rate_limit",
                None,
                "requests stay refused after their window passed "
                f"({sum(map(limited, c[:first]))} of {first} refused)",
                details,
            )
        if not limited(c[-1]):
            return _fail(
                "rate_limit",
                None,
                f"the limit resets in fixed windows: {first + 1} requests were accepted "
                f"{rl.window_s:g}s after the first burst although {second} of the last "
                f"{rl.window_s:g}s still count (want a sliding window)",
                details,
            )
        return _pass(
            "rate_limit",
            None,
            f"429 with Retry-After {retry_after}s after {rl.limit} requests; sliding window",
            details,
        )

    def load_shedding(self, base_url: str) -> Case:
        ov = self.config.overload
        assert ov is not None
        from battletest.load import Endpoint, ExecutorSpec, run

        result = run(
            base_url,
            executor=ExecutorSpec(
                "constant-arrival-rate", rate=ov.rate, duration=ov.duration_s, graceful_stop=2
            ),
            endpoints=[
                Endpoint(
                    ov.path,
                    headers=tuple(
                        (self.config.headers if ov.headers is None else ov.headers).items()
                    ),
                )
            ],
            workers=1,
            timeout=self.config.timeout_s,
        )
        p99 = result.latency_ms.p99
        shed = result.failed
        details = {
            "requests": result.requests,
            "failed_or_shed": shed,
            "p99_ms": p99,
            "rps": result.rps,
            "errors": result.errors,
        }
        if p99 > ov.p99_ms:
            return _fail(
                "load_shedding",
                None,
                f"under {ov.rate:g} req/s p99 latency grew to {p99:.0f} ms (limit {ov.p99_ms:g} "
                f"ms) instead of shedding load ({shed} of {result.requests} refused)",
                details,
            )
        return _pass(
            "load_shedding",
            None,
            f"p99 {p99:.0f} ms at {ov.rate:g} req/s; {shed} of {result.requests} shed",
            details,
        )


def _case(
    prop: str, dep: DependencyProbe | None, status: Status, msg: str, details: dict[str, Any]
) -> Case:
    name = f"{prop}[{dep.name}]" if dep is not None else prop
    return Case(name=name, status=status, message=msg, details=details)


def _pass(prop: str, dep: DependencyProbe | None, msg: str, details: dict[str, Any]) -> Case:
    return _case(prop, dep, Status.PASSED, msg, details)


def _fail(prop: str, dep: DependencyProbe | None, msg: str, details: dict[str, Any]) -> Case:
    return _case(prop, dep, Status.FAILED, f"{prop.replace('_', ' ')}: {msg}", details)


def run_resilience_suite(
    base_url: str,
    config: ResilienceConfig | Mapping[str, Any],
    *,
    on_case: Callable[[Case], None] | None = None,
    environment: str | None = None,
    allow_destructive: bool = False,
    read_only: bool = False,
    http_transport: httpx.BaseTransport | None = None,
) -> SuiteResult:
    """Check every configured property against the target at ``base_url``.

    Every probe goes through the one transport (host-only, the write policy; 429 and 503 are
    answers here, never retried); battletest's own mocks are driven with a plain client. In
    ``environment`` "production" the suite is refused (``SafetyError``) unless
    ``allow_destructive``: it breaks dependencies on purpose. ``read_only`` (LIVE_SMOKE): a
    probe that writes is not sent and its property is "not run", and no overload is sent.
    ``http_transport`` (tests): where the requests go, under the transport and its policy."""
    if environment == "production" and not allow_destructive:
        raise SafetyError(
            "the resilience suite is refused in production: it breaks dependencies on purpose",
            hint="run it against staging, or set allow_destructive = true for this profile",
        )
    cfg = ResilienceConfig.parse(config)
    started = time.monotonic()
    http = httpx.Client(timeout=cfg.timeout_s, transport=http_transport)  # our mocks' admin API
    policy = WritePolicy(
        read_only=read_only,
        allow_destructive=allow_destructive,
        why_read_only="LIVE_SMOKE is read-only",
    )
    transport = Transport(
        base_url,
        timeout=cfg.timeout_s,
        retry_statuses=frozenset(),
        policy=policy,
        transport=http_transport,
    )
    probes = transport("resilience")
    cases: list[Case] = []

    def record(case: Case, t0: float) -> None:
        case.duration_ms = round((time.monotonic() - t0) * 1000, 3)
        cases.append(case)
        if on_case is not None:
            on_case(case)

    def check(
        props: tuple[str, ...], dep: DependencyProbe | None, run: Callable[[], Case | list[Case]]
    ) -> None:
        t0 = time.monotonic()
        try:
            found = run()
        except PolicyRefused as exc:  # not sent: never a pass, never a failure
            found = [_case(p, dep, Status.SKIPPED, str(exc), {}) for p in props if cfg.wants(p)]
        for case in found if isinstance(found, list) else [found]:
            record(case, t0)

    try:
        runner = ResilienceRun(base_url, cfg, probes)
        r, _, err = runner.probe.call("/")
        if r is None and err not in ("timeout",):
            raise TargetUnreachable(f"the target {base_url} is not reachable ({err})")
        for dep in cfg.dependencies:
            admin = MockAdmin(dep.mock_url, http)
            admin.deactivate()
            for prop in ("correlation_id", "circuit_breaker", "retry_backoff", "fail_fast"):
                if cfg.wants(prop):
                    try:
                        check((prop,), dep, partial(getattr(runner, prop), dep, admin))
                    finally:
                        admin.deactivate()
            if cfg.wants("degraded_response") or (cfg.wants("no_cascade") and cfg.unrelated):
                check(
                    ("degraded_response", "no_cascade"),
                    dep,
                    partial(runner.degraded_and_no_cascade, dep, admin),
                )
        if cfg.rate_limit is not None and cfg.wants("rate_limit"):
            check(("rate_limit",), None, runner.rate_limit)
        if cfg.overload is not None and cfg.wants("load_shedding"):
            if read_only:
                record(
                    _case(
                        "load_shedding",
                        None,
                        Status.SKIPPED,
                        "not run: an overload is not part of the read-only subset (LIVE_SMOKE)",
                        {},
                    ),
                    time.monotonic(),
                )
            else:
                check(("load_shedding",), None, partial(runner.load_shedding, base_url))
    finally:
        http.close()
        transport.close()
    for prop in PROPERTIES:
        if not cfg.wants(prop) or any(c.name.split("[")[0] == prop for c in cases):
            continue
        need = {
            "rate_limit": "[resilience.rate_limit]",
            "load_shedding": "[resilience.overload]",
            "no_cascade": "[resilience.unrelated]",
        }.get(prop, "[[resilience.dependencies]]")
        cases.append(Case(name=prop, status=Status.SKIPPED, message=f"not configured: add {need}"))
    return SuiteResult.from_cases("resilience", cases, round(time.monotonic() - started, 3))


__all__ = [
    "PROPERTIES",
    "DependencyProbe",
    "MockAdmin",
    "OverloadProbe",
    "RateLimitProbe",
    "ResilienceConfig",
    "UnrelatedProbe",
    "run_resilience_suite",
]
