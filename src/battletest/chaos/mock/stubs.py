"""Stubs: what request a mock recognises and what it answers, loaded from TOML or JSON.

A stub file looks like this (all keys but ``path`` are optional)::

    [[stubs]]
    name = "reservation by id"
    method = "GET"
    path = "/reservations/{id}"              # or path_regex = "^/res/[0-9]+$"
    query = { include = "guest" }            # a plain value means "equals"
    headers = { "x-api-key" = { matches = "^k-" }, "x-debug" = { absent = true } }
    body = { json = { kind = "lookup" } }    # subset match on a JSON body
    priority = 5                             # lower wins; ties go to the earlier stub
    scenario = "booking"                     # stateful: answer only in this state …
    required_state = "Started"
    new_state = "Booked"                     # … and move the scenario on
    [stubs.response]
    status = 200
    headers = { "content-type" = "application/json" }
    json = { id = "{{ request.path_params.id }}", guest = "Ada" }   # or body = "text" / body_base64
    latency = { fixed_ms = 20 }              # or { min_ms, max_ms } or { median_ms, sigma }
    fault = "connection_reset"               # or empty_response, malformed_chunk, …

Response strings are Jinja2 templates (sandboxed) with ``request`` in scope: ``method``,
``path``, ``path_params``, ``query`` (first values), ``headers`` (lower-case names), ``body``
and ``json``. Every mistake in a file is a ``ScenarioError`` naming the stub and the fix.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import random
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from battletest.chaos.mock.http import Fault, Request, Response
from battletest.errors import ScenarioError

MATCHER_OPS = ("equals", "contains", "matches", "present", "absent", "any_of")
BODY_OPS = ("equals", "contains", "matches", "json")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}")

_jinja = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)


# ---------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency distribution in milliseconds: fixed, uniform or lognormal."""

    kind: str = "fixed"  # fixed | uniform | lognormal
    fixed_ms: float = 0.0
    min_ms: float = 0.0
    max_ms: float = 0.0
    median_ms: float = 0.0
    sigma: float = 0.0

    def sample_ms(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.min_ms, self.max_ms)
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.median_ms), self.sigma)
        return self.fixed_ms

    @classmethod
    def parse(cls, raw: Any, where: str) -> Latency:
        """``20`` / ``{fixed_ms}`` / ``{min_ms, max_ms}`` / ``{median_ms, sigma}``."""
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return cls._checked(cls(kind="fixed", fixed_ms=float(raw)), where)
        if not isinstance(raw, Mapping):
            raise _bad(where, "latency must be a number of ms or a table")
        keys = set(raw)
        try:
            if keys == {"fixed_ms"}:
                lat = cls(kind="fixed", fixed_ms=float(raw["fixed_ms"]))
            elif keys == {"min_ms", "max_ms"}:
                lat = cls(kind="uniform", min_ms=float(raw["min_ms"]), max_ms=float(raw["max_ms"]))
            elif keys == {"median_ms", "sigma"}:
                lat = cls(
                    kind="lognormal", median_ms=float(raw["median_ms"]), sigma=float(raw["sigma"])
                )
            else:
                raise _bad(
                    where,
                    f"latency keys {sorted(keys)} are not a distribution; use {{fixed_ms}}, "
                    "{min_ms, max_ms} (uniform) or {median_ms, sigma} (lognormal)",
                )
        except (TypeError, ValueError):
            raise _bad(where, "latency values must be numbers") from None
        return cls._checked(lat, where)

    @staticmethod
    def _checked(lat: Latency, where: str) -> Latency:
        if lat.fixed_ms < 0 or lat.min_ms < 0 or lat.sigma < 0:
            raise _bad(where, "latency must not be negative")
        if lat.kind == "uniform" and lat.max_ms < lat.min_ms:
            raise _bad(where, "latency max_ms must be >= min_ms")
        if lat.kind == "lognormal" and lat.median_ms <= 0:
            raise _bad(where, "lognormal latency needs median_ms > 0")
        return lat

    def to_dict(self) -> dict[str, float]:
        if self.kind == "uniform":
            return {"min_ms": self.min_ms, "max_ms": self.max_ms}
        if self.kind == "lognormal":
            return {"median_ms": self.median_ms, "sigma": self.sigma}
        return {"fixed_ms": self.fixed_ms}


def parse_fault(raw: Any, where: str) -> Fault:
    try:
        return Fault(str(raw))
    except ValueError:
        names = ", ".join(f.value for f in Fault)
        raise _bad(where, f"unknown fault {raw!r}; use one of {names}") from None


# ---------------------------------------------------------------- matchers


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on a query parameter, a header or the body."""

    op: str
    value: Any = None
    regex: re.Pattern[str] | None = None

    def test(self, actual: str | None) -> bool:
        if self.op == "absent":
            return (actual is None) == bool(self.value)
        if self.op == "present":
            return (actual is not None) == bool(self.value)
        if actual is None:
            return False
        if self.op == "equals":
            return actual == str(self.value)
        if self.op == "contains":
            return str(self.value) in actual
        if self.op == "any_of":
            return actual in [str(v) for v in self.value]
        if self.op == "matches":
            assert self.regex is not None
            return self.regex.search(actual) is not None
        if self.op == "json":
            try:
                return _json_subset(self.value, json.loads(actual))
            except ValueError:
                return False
        return False

    @classmethod
    def parse(cls, raw: Any, where: str, ops: tuple[str, ...] = MATCHER_OPS) -> Matcher:
        if not isinstance(raw, Mapping):
            if isinstance(raw, bool) or raw is None:
                raise _bad(where, f'matcher {raw!r} is not a value; write {{ equals = "…" }}')
            return cls("equals", raw)
        if len(raw) != 1:
            raise _bad(where, f"a matcher has exactly one operator, got {sorted(raw)}")
        op, value = next(iter(raw.items()))
        if op not in ops:
            raise _bad(where, f"unknown matcher {op!r}; use one of {', '.join(ops)}")
        if op == "matches":
            try:
                return cls(op, value, re.compile(str(value)))
            except re.error as exc:
                raise _bad(where, f"bad regular expression {value!r}: {exc}") from None
        if op == "any_of" and not isinstance(value, list):
            raise _bad(where, "any_of takes a list of values")
        return cls(op, value)

    def to_raw(self) -> Any:
        return {self.op: self.value}


def _json_subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _json_subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_json_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def compile_path(template: str) -> re.Pattern[str]:
    """``/reservations/{id}`` → a regex with named groups; ``{rest:path}`` spans slashes."""
    out, pos = "^", 0
    for m in _PARAM.finditer(template):
        out += re.escape(template[pos : m.start()])
        span = "[^/]+" if not m.group(0).endswith(":path}") else ".+"
        out += f"(?P<{m.group(1)}>{span})"
        pos = m.end()
    return re.compile(out + re.escape(template[pos:]) + "$")


# ---------------------------------------------------------------- stub


@dataclass(slots=True)
class StubResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    json: Any = None
    latency: Latency | None = None
    fault: Fault | None = None
    body_bytes: bytes | None = None  # a binary body, served as is (``body_base64`` in a file)


@dataclass(slots=True)
class Stub:
    """A request pattern and the answer the mock gives to it."""

    name: str
    path: str | None = None
    path_regex: str | None = None
    method: str = "ANY"
    query: dict[str, Matcher] = field(default_factory=dict)
    headers: dict[str, Matcher] = field(default_factory=dict)
    body: Matcher | None = None
    priority: int = 5
    scenario: str | None = None
    required_state: str | None = None
    new_state: str | None = None
    response: StubResponse = field(default_factory=StubResponse)
    # an answer of its own for a request the stub matches but refuses (a mock from a spec with
    # validate=True: a request that breaks the document gets its 400); None: no check
    check: Callable[[Request, Mapping[str, str]], Response | None] | None = None
    _regex: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if self.path_regex is not None:
            try:
                self._regex = re.compile(self.path_regex)
            except re.error as exc:
                raise _bad(f"stub {self.name!r}", f"bad path_regex: {exc}") from None
        elif self.path is not None:
            self._regex = compile_path(self.path)
        else:
            raise _bad(f"stub {self.name!r}", "needs a path (template) or a path_regex")

    def match(self, request: Request, state: str | None) -> dict[str, str] | None:
        """Path parameters when the stub matches the request, else None."""
        if self.method not in ("ANY", request.method) and not (
            self.method == "GET" and request.method == "HEAD"
        ):
            return None
        assert self._regex is not None
        m = self._regex.search(request.path) if self.path_regex else self._regex.match(request.path)
        encoded = m is None and not self.path_regex and request.segment_path != request.path
        if encoded:  # a parameter holds an encoded slash: match segments, then decode values
            m = self._regex.match(request.segment_path)
        if m is None:
            return None
        query = request.query
        for name, matcher in self.query.items():
            values = query.get(name)
            if not matcher.test(values[0] if values else None):
                return None
        for name, matcher in self.headers.items():
            if not matcher.test(request.header(name)):
                return None
        if self.body is not None and not self.body.test(request.body.decode("utf-8", "replace")):
            return None
        if (
            self.scenario is not None
            and self.required_state is not None
            and (state or "Started") != self.required_state
        ):
            return None
        params = {k: v for k, v in m.groupdict().items() if v is not None}
        return {k: unquote(v) for k, v in params.items()} if encoded else params

    def to_raw(self) -> dict[str, Any]:
        """The stub as the table a stub file would hold (used by record mode and the admin API)."""
        raw: dict[str, Any] = {"name": self.name, "method": self.method}
        if self.path_regex is not None:
            raw["path_regex"] = self.path_regex
        else:
            raw["path"] = self.path
        if self.query:
            raw["query"] = {k: m.to_raw() for k, m in self.query.items()}
        if self.headers:
            raw["headers"] = {k: m.to_raw() for k, m in self.headers.items()}
        if self.body is not None:
            raw["body"] = self.body.to_raw()
        if self.priority != 5:
            raw["priority"] = self.priority
        for key in ("scenario", "required_state", "new_state"):
            if getattr(self, key) is not None:
                raw[key] = getattr(self, key)
        resp: dict[str, Any] = {"status": self.response.status}
        if self.response.headers:
            resp["headers"] = dict(self.response.headers)
        if self.response.json is not None:
            resp["json"] = self.response.json
        elif self.response.body is not None:
            resp["body"] = self.response.body
        elif self.response.body_bytes is not None:
            resp["body_base64"] = base64.b64encode(self.response.body_bytes).decode("ascii")
        if self.response.latency is not None:
            resp["latency"] = self.response.latency.to_dict()
        if self.response.fault is not None:
            resp["fault"] = self.response.fault.value
        raw["response"] = resp
        return raw


_STUB_KEYS = {
    "name",
    "method",
    "path",
    "path_regex",
    "query",
    "headers",
    "body",
    "priority",
    "scenario",
    "required_state",
    "new_state",
    "response",
}
_RESPONSE_KEYS = {"status", "headers", "body", "body_base64", "json", "latency", "fault"}


def parse_stub(raw: Any, index: int = 0) -> Stub:
    """Build a stub from one table of a stub file, or raise ScenarioError saying what to fix."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"stub #{index + 1} is not a table")
    name = str(raw.get("name") or f"stub #{index + 1}")
    where = f"stub {name!r}"
    unknown = set(raw) - _STUB_KEYS
    if unknown:
        raise _bad(where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_STUB_KEYS)}")
    method = str(raw.get("method", "ANY")).upper()

    def matchers(key: str) -> dict[str, Matcher]:
        table = raw.get(key, {})
        if not isinstance(table, Mapping):
            raise _bad(where, f"{key} must be a table of name = matcher")
        return {
            (str(k).lower() if key == "headers" else str(k)): Matcher.parse(
                v, f"{where} {key[:-1] if key.endswith('s') else key} {k!r}"
            )
            for k, v in table.items()
        }

    body = (
        Matcher.parse(raw["body"], f"{where} body", BODY_OPS)
        if raw.get("body") is not None
        else None
    )
    response = _parse_response(raw.get("response", {}), where)
    try:
        priority = int(raw.get("priority", 5))
    except (TypeError, ValueError):
        raise _bad(where, "priority must be an integer") from None
    return Stub(
        name=name,
        path=raw.get("path"),
        path_regex=raw.get("path_regex"),
        method=method,
        query=matchers("query"),
        headers=matchers("headers"),
        body=body,
        priority=priority,
        scenario=raw.get("scenario"),
        required_state=raw.get("required_state"),
        new_state=raw.get("new_state"),
        response=response,
    )


def _parse_response(raw: Any, where: str) -> StubResponse:
    if not isinstance(raw, Mapping):
        raise _bad(where, "response must be a table")
    unknown = set(raw) - _RESPONSE_KEYS
    if unknown:
        raise _bad(
            where, f"unknown response key(s) {sorted(unknown)}; allowed: {sorted(_RESPONSE_KEYS)}"
        )
    if "body" in raw and "json" in raw:
        raise _bad(where, "response has both body and json; keep one")
    if "body_base64" in raw and ("body" in raw or "json" in raw):
        raise _bad(where, "response has body_base64 and a body or json; keep one")
    body_bytes = None
    if "body_base64" in raw:
        try:
            body_bytes = base64.b64decode(str(raw["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise _bad(where, "response body_base64 is not base64") from None
    try:
        status = int(raw.get("status", 200))
    except (TypeError, ValueError):
        raise _bad(where, "response status must be an integer") from None
    if not 100 <= status <= 599:
        raise _bad(where, f"response status {status} is not an HTTP status (100-599)")
    headers = {str(k).lower(): str(v) for k, v in dict(raw.get("headers", {})).items()}
    body = raw.get("body")
    resp = StubResponse(
        status=status,
        headers=headers,
        body=None if body is None else str(body),
        json=raw.get("json"),
        latency=Latency.parse(raw["latency"], f"{where} response") if "latency" in raw else None,
        fault=parse_fault(raw["fault"], f"{where} response") if "fault" in raw else None,
        body_bytes=body_bytes,
    )
    for text in _template_strings(resp):
        try:
            _jinja.from_string(text)
        except TemplateSyntaxError as exc:
            raise _bad(where, f"bad response template {text!r}: {exc.message}") from None
    return resp


def _template_strings(resp: StubResponse) -> list[str]:
    out = list(resp.headers.values())
    if resp.body is not None:
        out.append(resp.body)

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(resp.json)
    return out


# ---------------------------------------------------------------- rendering


def template_context(request: Request, path_params: Mapping[str, str]) -> dict[str, Any]:
    text = request.body.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        parsed = None
    return {
        "request": {
            "method": request.method,
            "path": request.path,
            "path_params": dict(path_params),
            "query": {k: v[0] for k, v in request.query.items()},
            "headers": request.header_map,
            "body": text,
            "json": parsed,
        }
    }


@functools.lru_cache(maxsize=1024)
def _template(text: str) -> Template:
    return _jinja.from_string(text)


_SIMPLE = re.compile(r"^\{\{\s*request\.(\w+)(?:\.(\w+)|\[\s*['\"]([^'\"]+)['\"]\s*\])?\s*\}\}$")


def render(text: str, context: Mapping[str, Any]) -> str:
    if "{{" not in text and "{%" not in text:
        return text
    simple = _SIMPLE.match(text)
    if simple is not None:  # {{ request.a.b }} / {{ request.a['b'] }}: no Jinja needed
        value: Any = context["request"].get(simple.group(1))
        key = simple.group(2) or simple.group(3)
        if key is not None:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None or isinstance(value, Mapping | list):
            return "" if value is None else _template(text).render(context)
        return str(value)
    return _template(text).render(context)


def render_json(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, Mapping):
        return {k: render_json(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_json(v, context) for v in value]
    return value


# ---------------------------------------------------------------- files


def load_stub_file(path: str | Path) -> tuple[list[Stub], dict[str, Any]]:
    """Stubs and user-defined scenario tables from a TOML or JSON file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"stub file {str(p)!r} not found (pass a .toml or .json stub file)")
    text = p.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(
            f"stub file {p.name}: not valid {p.suffix.lstrip('.') or 'TOML'}: {exc}"
        ) from None
    return parse_stub_document(data, p.name)


def parse_stub_document(data: Any, source: str = "stubs") -> tuple[list[Stub], dict[str, Any]]:
    if isinstance(data, list):
        data = {"stubs": data}
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a table with [[stubs]]")
    unknown = set(data) - {"stubs", "scenarios"}
    if unknown:
        raise ScenarioError(
            f"{source}: unknown top-level key(s) {sorted(unknown)} (use [[stubs]] and [scenarios.NAME])"
        )
    raw_stubs = data.get("stubs", [])
    if not isinstance(raw_stubs, list):
        raise ScenarioError(f"{source}: stubs must be an array of tables ([[stubs]])")
    try:
        stubs = [parse_stub(s, i) for i, s in enumerate(raw_stubs)]
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    scenarios = data.get("scenarios", {})
    if not isinstance(scenarios, Mapping):
        raise ScenarioError(f"{source}: scenarios must be a table of [scenarios.NAME]")
    return stubs, dict(scenarios)


def _bad(where: str, what: str) -> ScenarioError:
    return ScenarioError(f"{where}: {what}")
