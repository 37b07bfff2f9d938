"""What each iteration requests: weighted endpoints, pre-encoded once per worker.

An ``Endpoint`` is plain picklable data (it travels to worker processes); ``request_bytes``
turns it into the exact HTTP/1.1 bytes written on the wire, built once so the hot path only
calls ``transport.write``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from battletest.errors import ConfigError, UsageError

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
USER_AGENT = "battletest-load/0.1"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One request of the scenario; ``expect`` lists OK statuses (default: 2xx and 3xx)."""

    path: str = "/"
    method: str = "GET"
    name: str = ""
    weight: float = 1.0
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    body: bytes = b""
    expect: tuple[int, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return self.name or self.path

    def validate(self) -> Endpoint:
        method = self.method.upper()
        if method not in METHODS:
            raise UsageError(
                f"unsupported method {self.method!r}",
                hint=f"use one of {', '.join(sorted(METHODS))}",
            )
        if not self.path.startswith("/"):
            raise UsageError(f"path {self.path!r} must start with '/'", hint="e.g. --path /health")
        if self.weight <= 0:
            raise UsageError(f"weight of {self.label} must be positive")
        check_expected(self.expect, f"endpoint {self.label}")
        return Endpoint(
            self.path, method, self.name, self.weight, self.headers, self.body, self.expect
        )


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: scheme, Host header value, and the address to connect to."""

    scheme: str
    host: str
    port: int
    base_path: str = ""

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.base_path}"


def parse_target(url: str) -> Target:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid --target {url!r}", hint="give a URL like http://127.0.0.1:8000")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"invalid port in --target {url!r}", hint="ports are 1-65535") from None
    return Target(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def check_expected(statuses: Iterable[object], where: str) -> tuple[int, ...]:
    """Expected statuses as given, or ``ConfigError``: each an HTTP status, and no 5xx — a
    server error is always a failed request, whatever a scenario expects."""
    out = []
    for status in statuses:
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ConfigError(
                f"bad expected status {status!r} in {where}", hint="expected_statuses = [200, 201]"
            )
        if status >= 500:
            raise ConfigError(
                f"{where} expects {status}: a 5xx answer is always a failed request",
                hint="expect the 2xx, 3xx or 4xx answers that are correct",
            )
        out.append(status)
    return tuple(out)


def status_failure(status: int, expect: tuple[int, ...] | frozenset[int]) -> str:
    """'' when ``status`` is a success, else the error kind. The one rule for ``--path``,
    ``--from-spec`` and scenarios: the expected statuses when given, else 2xx and 3xx; a 5xx
    is always a failure (``check_expected`` refuses it in a list), and so are 401 and 403
    unless expected."""
    if status >= 500:
        return f"status_{status}"
    if expect:
        return "" if status in expect else "check_failed"
    return "" if 200 <= status < 400 else f"status_{status}"


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \r\n") or "\n" in value:
        raise UsageError(f"invalid header {text!r}", hint="write 'Name: value'")
    return name.strip(), value.strip()


def request_bytes(target: Target, ep: Endpoint) -> bytes:
    lines = [
        f"{ep.method} {target.base_path}{ep.path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
    ]
    names = {n.lower() for n, _ in ep.headers}
    lines.extend(f"{n}: {v}" for n, v in ep.headers)
    if ep.body or ep.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(ep.body)}")
        if "content-type" not in names and ep.body:
            lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + ep.body


def pick_sequence(endpoints: tuple[Endpoint, ...], seed: int, size: int = 1000) -> list[int]:
    """A fixed pseudo-random sequence of endpoint indexes following the weights."""
    if len(endpoints) == 1:
        return [0]
    rng = random.Random(seed)
    return rng.choices(range(len(endpoints)), weights=[e.weight for e in endpoints], k=size)
