"""Evidence every suite shares: the ``Exchange`` (request, response, timing), one excerpt format
and one curl reproduction builder, both passed through the run's ``Redactor``.

The excerpt reads like the wire: ``METHOD URL``, the request headers battletest set, a blank
line and at most ``EXCERPT`` characters of body; then ``HTTP STATUS``, the response headers
(``Date`` and ``Content-Length`` left out) and the body excerpt. ``curl`` keeps the headers that
matter for a replay and the body (or its first ``EXCERPT`` characters past ``CURL_BODY_LIMIT``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from battletest.redact import Redactor

CURL_BODY_LIMIT = 64 * 1024
EXCERPT = 600
# headers curl sets itself or that do not change what the target does
_CURL_SKIP = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}
)
_RESPONSE_SKIP = frozenset({"date", "content-length"})


def _redactor(secrets: Iterable[str] | Redactor | None) -> Redactor:
    if isinstance(secrets, Redactor):
        return secrets
    return Redactor(list(secrets or ()))


@dataclass(slots=True)
class Exchange:
    """One request sent and the response it got."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: httpx.Headers
    response_body: bytes
    elapsed_s: float = 0.0

    @classmethod
    def of(cls, response: httpx.Response, *, all_headers: bool = False) -> Exchange:
        """The exchange of an httpx response (its request's headers: those battletest set, or
        all of them)."""
        request = response.request
        skip = {"host", "accept", "accept-encoding", "connection", "user-agent", "content-length"}
        headers = [
            (k, v) for k, v in request.headers.multi_items() if all_headers or k.lower() not in skip
        ]
        elapsed = response.elapsed.total_seconds() if _has_elapsed(response) else 0.0
        return cls(
            method=request.method,
            url=str(request.url),
            request_headers=headers,
            request_body=request.content,
            status=response.status_code,
            response_headers=response.headers,
            response_body=response.content,
            elapsed_s=elapsed,
        )

    @property
    def text(self) -> str:
        return self.response_body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        value = self.response_headers.get(name)
        return str(value) if value is not None else None

    def evidence(
        self, secrets: Iterable[str] | Redactor | None = (), note: str = ""
    ) -> dict[str, Any]:
        """The request and response excerpts, redacted."""
        red = _redactor(secrets)
        body = self.request_body.decode("utf-8", "replace")
        resp_headers = [
            (k, v)
            for k, v in self.response_headers.multi_items()
            if k.lower() not in _RESPONSE_SKIP
        ]
        out: dict[str, Any] = {
            "request": excerpt(
                f"{self.method} {red.text(self.url)}", red.headers(self.request_headers), body, red
            ),
            "response": excerpt(f"HTTP {self.status}", red.headers(resp_headers), self.text, red),
        }
        if note:
            out["note"] = note
        return out

    def curl(self, secrets: Iterable[str] | Redactor | None = ()) -> str:
        """A redacted curl command that sends this request again."""
        return curl_command(self.method, self.url, self.request_headers, self.request_body, secrets)


def _has_elapsed(response: httpx.Response) -> bool:
    try:
        response.elapsed  # noqa: B018 - set only once the response was read
    except RuntimeError:
        return False
    return True


def excerpt(
    first_line: str, headers: Iterable[tuple[str, str]], body: str, redactor: Redactor
) -> str:
    """One side of an exchange in the shared excerpt format."""
    lines = [first_line, *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append("\n" + redactor.text(body[:EXCERPT]))
    return "\n".join(lines)


def curl_command(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    secrets: Iterable[str] | Redactor | None = (),
) -> str:
    """The one curl reproduction: ``curl -i -X METHOD -H … --data-raw … URL``, redacted."""
    red = _redactor(secrets)
    parts = ["curl", "-i", "-X", method]
    for name, value in red.headers([(k, v) for k, v in headers if k.lower() not in _CURL_SKIP]):
        parts += ["-H", f"{name}: {value}"]
    if len(body) > CURL_BODY_LIMIT:
        head = body[:EXCERPT].decode("utf-8", "replace")
        parts += ["--data-raw", f"{red.text(head)}… ({len(body)} bytes)"]
    elif body:
        parts += ["--data-raw", red.text(body.decode("utf-8", "replace"))]
    parts.append(red.text(url))
    return shlex.join(parts)


def curl(request: httpx.Request, secrets: Iterable[str] | Redactor | None = ()) -> str:
    """A curl command reproducing an httpx request."""
    return curl_command(
        request.method, str(request.url), request.headers.multi_items(), request.content, secrets
    )


__all__ = ["CURL_BODY_LIMIT", "EXCERPT", "Exchange", "curl", "curl_command", "excerpt"]
