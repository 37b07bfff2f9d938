"""TOML scenarios: weighted tasks of steps with checks and correlation.

    name = "call flow"
    think_time = "0.1s..0.3s"
    seed = 7                                   # per-VU Faker data is reproducible
    [vars]
    hotel = "h1"
    [[on_start]]                               # once per VU: log in, keep the token
    method = "POST"
    path = "/v1/auth/login"
    json = { username = "staff.h1@demo.test", password = "staff1-Demo-2026!" }
    extract = { token = "json:access_token" }
    headers_after = { Authorization = "Bearer {token}" }
    [[tasks]]
    name = "call"
    weight = 3
    [[tasks.steps]]
    method = "POST"
    path = "/v1/calls"
    json = { caller = "{faker.phone_number}", hotel_id = "{hotel}" }
    expect = [201]
    extract = { call_id = "json:id" }

``[[requests]]`` is shorthand for a task of one step. ``[[setup]]`` / ``[[teardown]]`` run once
for the whole test in the coordinator; what setup extracts is given to every VU.
An extractor that matches nothing is a failed check (``extract_failed``): the rest of that
task's steps are skipped for this iteration, the run goes on.
"""

from __future__ import annotations

import json as jsonlib
import random
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from battletest.durations import parse_duration
from battletest.errors import ConfigError
from battletest.load.scenario import METHODS, check_expected, status_failure
from battletest.load.templates import (
    Template,
    check_fields,
    compile_template,
    compile_value,
    render_value,
    value_fields,
)

SCENARIO_KEYS = {
    "name",
    "think_time",
    "seed",
    "vars",
    "setup",
    "teardown",
    "on_start",
    "on_stop",
    "tasks",
    "requests",
    "load",
}
STEP_KEYS = {
    "name",
    "method",
    "path",
    "headers",
    "json",
    "body",
    "expect",
    "expected_statuses",
    "body_contains",
    "extract",
    "headers_after",
    "think_time",
    "weight",
}
TASK_KEYS = {"name", "weight", "steps"}
WS_ACTIONS = ("open", "send", "wait", "close")
WS_STEP_KEYS = {
    "name",
    "ws",
    "path",
    "socket",
    "sockets",
    "subprotocols",
    "headers",
    "text",
    "json",
    "binary",
    "repeat",
    "every",
    "reply",
    "match",
    "timeout",
    "extract",
    "think_time",
    "weight",
}


@dataclass(frozen=True, slots=True)
class Extractor:
    var: str
    source: str  # "json", "header" or "status"
    path: tuple[str, ...]

    def apply(self, status: int, headers: Mapping[str, str], body: bytes) -> tuple[bool, Any]:
        if self.source == "status":
            return True, status
        if self.source == "header":
            value = headers.get(self.path[0].lower())
            return value is not None, value
        try:
            node: Any = jsonlib.loads(body)
        except ValueError:
            return False, None
        for part in self.path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif (
                isinstance(node, list)
                and part.lstrip("-").isdigit()
                and -len(node) <= int(part) < len(node)
            ):
                node = node[int(part)]
            else:
                return False, None
        return True, node


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    method: str
    path: Template
    headers: tuple[tuple[str, Template], ...] = ()
    json: Any = None  # compiled JSON body (templates inside) or None
    body: Template | None = None
    expect: tuple[int, ...] = ()
    body_contains: str = ""
    extract: tuple[Extractor, ...] = ()
    headers_after: tuple[tuple[str, Template], ...] = ()  # set on the VU's client afterwards
    think: tuple[float, float] = (0.0, 0.0)
    ws: WsAction | None = None  # a WebSocket step (``method``/``body`` unused then)

    @property
    def records(self) -> bool:
        """Whether the step records latencies under its label (an HTTP request, a socket's
        open, a wait, a send that expects replies)."""
        return self.ws is None or self.ws.records


@dataclass(frozen=True, slots=True)
class WsMatch:
    """Which message a WebSocket step waits for: text containing ``contains`` and/or a JSON
    object whose fields (dotted paths) equal the given values; ``binary`` for any binary one."""

    contains: str = ""
    fields: tuple[tuple[tuple[str, ...], Any], ...] = ()
    binary: bool = False

    def matches(self, message: str | bytes) -> bool:
        if isinstance(message, bytes):
            return self.binary or (not self.fields and self.contains.encode() in message)
        if self.binary:
            return False
        if self.contains and self.contains not in message:
            return False
        if not self.fields:
            return True
        try:
            node: Any = jsonlib.loads(message)
        except ValueError:
            return False
        for path, expected in self.fields:
            value = node
            for part in path:
                if not isinstance(value, dict) or part not in value:
                    return False
                value = value[part]
            if value != expected:
                return False
        return True


@dataclass(frozen=True, slots=True)
class WsAction:
    """What a WebSocket step does on its VU's socket(s) named ``socket``.

    ``open`` connects ``sockets`` sockets (latency: the handshake); ``send`` sends ``repeat``
    messages ``every`` seconds apart — text, JSON or ``binary`` bytes — and, with ``reply``,
    waits for one matching message per message sent (latency: the round trip); ``wait``
    waits for one matching message (latency: the wait) and extracts from it; ``close``
    closes with code 1000.
    """

    action: str
    socket: str = "ws"
    sockets: int = 1
    subprotocols: tuple[str, ...] = ()
    binary: int = 0
    repeat: int = 1
    every: float = 0.0
    reply: WsMatch | None = None
    match: WsMatch | None = None
    timeout: float = 5.0

    @property
    def records(self) -> bool:
        return self.action in ("open", "wait") or self.reply is not None


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    weight: float
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class FlowScenario:
    """A TOML scenario, compiled; plain picklable data for the workers."""

    name: str
    tasks: tuple[Task, ...]
    on_start: tuple[Step, ...] = ()
    on_stop: tuple[Step, ...] = ()
    setup: tuple[Step, ...] = ()
    teardown: tuple[Step, ...] = ()
    variables: tuple[tuple[str, Any], ...] = ()
    think: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    load: tuple[tuple[str, Any], ...] = ()  # an optional [load] table: executor settings
    uses_faker: bool = False
    names: tuple[str, ...] = field(default=())

    def label_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}


def _think(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, str) and ".." in value:
        low, _, high = value.partition("..")
        pair = (parse_duration(low, what=where), parse_duration(high, what=where))
    else:
        one = parse_duration(value, what=where)
        pair = (one, one)
    if pair[0] < 0 or pair[1] < pair[0]:
        raise ConfigError(f"invalid think time in {where}", hint="use MIN..MAX, e.g. '1s..3s'")
    return pair


def parse_extractor(var: str, spec: Any, where: str) -> Extractor:
    """``json:a.0.b``, ``header:name`` or ``status`` as an ``Extractor`` (or ``ConfigError``);
    recordings (``battletest.replay``) use the same syntax and this implementation."""
    if not var.isidentifier():
        raise ConfigError(f"bad extractor name {var!r} in {where}", hint="use an identifier")
    if not isinstance(spec, str):
        raise ConfigError(
            f"bad extractor {var!r} in {where}: expected a string",
            hint="'json:access_token', 'json:items.0.id', 'header:location' or 'status'",
        )
    source, _, path = spec.partition(":")
    if source == "status" and not path:
        return Extractor(var, "status", ())
    if source not in ("json", "header") or not path:
        raise ConfigError(
            f"bad extractor {var}={spec!r} in {where}",
            hint="'json:access_token', 'json:items.0.id', 'header:location' or 'status'",
        )
    return Extractor(var, source, tuple(path.split(".")) if source == "json" else (path,))


def _check_templates(
    templates: list[Template | None], body_json: Any, known: set[str], faker: list[bool], where: str
) -> None:
    """Every ``{field}`` of a step is known by then; note whether any uses Faker."""
    for t in [*(t for t in templates if t is not None), *value_fields(body_json)]:
        check_fields(t, known, where)
        faker[0] = faker[0] or any(f.startswith("faker.") for f in t.fields)


def _extractors(raw: Mapping[str, Any], where: str, known: set[str]) -> tuple[Extractor, ...]:
    """A step's ``extract`` table; its names become known to the steps after it."""
    table = raw.get("extract", {})
    if not isinstance(table, Mapping):
        raise ConfigError(
            f"{where}.extract must be a table", hint="extract = { token = 'json:access_token' }"
        )
    extract = tuple(parse_extractor(k, v, where) for k, v in table.items())
    known.update(e.var for e in extract)
    return extract


def _header_table(value: Any, where: str) -> tuple[tuple[str, Template], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table", hint='headers = { Accept = "text/plain" }')
    out = []
    for name, text in value.items():
        if not isinstance(text, str) or any(c in str(name) for c in " :\r\n"):
            raise ConfigError(f"bad header {name!r} in {where}", hint="Name = 'value'")
        out.append((str(name), compile_template(text, f"{where}.{name}")))
    return tuple(out)


def _reject_unknown(table: Mapping[str, Any], allowed: Collection[str], where: str) -> None:
    unknown = set(table) - set(allowed)
    if unknown:
        raise ConfigError(
            f"unknown key {sorted(unknown)[0]!r} in {where}",
            hint="known keys: " + ", ".join(sorted(allowed)),
        )


def _step(raw: Any, where: str, known: set[str], faker: list[bool]) -> Step:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table", hint="see docs/load.md#scenarios")
    if "ws" in raw:
        return _ws_step(raw, where, known, faker)
    _reject_unknown(raw, STEP_KEYS, where)
    if "path" not in raw or not isinstance(raw["path"], str):
        raise ConfigError(f"{where} needs a path", hint="path = '/v1/calls'")
    method = str(raw.get("method", "GET")).upper()
    if method not in METHODS:
        raise ConfigError(
            f"unsupported method {raw.get('method')!r} in {where}",
            hint=f"use one of {', '.join(sorted(METHODS))}",
        )
    path = compile_template(raw["path"], f"{where}.path")
    if not raw["path"].startswith("/"):
        raise ConfigError(f"bad path template {raw['path']!r} in {where}", hint="start with '/'")
    headers = _header_table(raw.get("headers", {}), f"{where}.headers")
    body_json = compile_value(raw["json"], f"{where}.json") if "json" in raw else None
    body = compile_template(str(raw["body"]), f"{where}.body") if "body" in raw else None
    _check_templates([path, *(t for _, t in headers), body], body_json, known, faker, where)
    expect_list: list[object] = []
    for key in ("expect", "expected_statuses"):
        raw_value = raw.get(key, [])
        values = [raw_value] if isinstance(raw_value, int) else raw_value
        if not isinstance(values, list):
            raise ConfigError(f"bad {key} in {where}", hint=f"{key} = [200, 201]")
        expect_list.extend(values)
    expected = check_expected(expect_list, where)
    extract = _extractors(raw, where, known)
    after = _header_table(raw.get("headers_after", {}), f"{where}.headers_after")
    for _, t in after:
        check_fields(t, known, where)
    label = str(raw.get("name") or f"{method} {raw['path']}")
    think = _think(raw["think_time"], f"{where}.think_time") if "think_time" in raw else (0.0, 0.0)
    return Step(
        label,
        method,
        path,
        headers,
        body_json,
        body,
        expected,
        str(raw.get("body_contains", "")),
        extract,
        after,
        think,
    )


def _ws_match(raw: Any, where: str) -> WsMatch:
    if not isinstance(raw, Mapping) or set(raw) - {"contains", "json", "binary"}:
        raise ConfigError(
            f"bad {where}: a table of contains, json or binary",
            hint="reply = { json = { type = 'transcript' } } or { contains = 'pong' }",
        )
    fields = raw.get("json", {})
    if not isinstance(fields, Mapping):
        raise ConfigError(f"{where}.json must be a table", hint="json = { type = 'transcript' }")
    return WsMatch(
        str(raw.get("contains", "")),
        tuple((tuple(str(k).split(".")), v) for k, v in fields.items()),
        bool(raw.get("binary", False)),
    )


def _positive_int(raw: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} in {where} must be a positive integer", hint=f"{key} = 10")
    return value


def _ws_step(raw: Mapping[str, Any], where: str, known: set[str], faker: list[bool]) -> Step:
    """A WebSocket step: ``ws = "open" | "send" | "wait" | "close"`` (see ``WsAction``)."""
    _reject_unknown(raw, WS_STEP_KEYS, where)
    action = raw["ws"]
    if action not in WS_ACTIONS:
        raise ConfigError(
            f"bad ws {action!r} in {where}", hint="ws = 'open', 'send', 'wait' or 'close'"
        )
    socket = str(raw.get("socket", "ws"))
    allowed = {
        "open": {"path", "sockets", "subprotocols", "headers"},
        "send": {"text", "json", "binary", "repeat", "every", "reply"},
        "wait": {"match", "extract"},
        "close": set(),
    }[action]
    misplaced = sorted(
        set(raw) - allowed - {"name", "ws", "socket", "timeout", "think_time", "weight"}
    )
    if misplaced:
        raise ConfigError(
            f"{misplaced[0]!r} does not apply to ws = {action!r} in {where}",
            hint="keys of this step: " + ", ".join(sorted(allowed | {"socket", "timeout"})),
        )
    path = compile_template(str(raw.get("path", "/")), f"{where}.path")
    if action == "open" and not str(raw.get("path", "")).startswith("/"):
        raise ConfigError(
            f"{where} needs a path starting with '/'", hint="path = '/v1/calls/{call_id}/audio'"
        )
    headers = _header_table(raw.get("headers", {}), f"{where}.headers")
    text = compile_template(str(raw["text"]), f"{where}.text") if "text" in raw else None
    body_json = compile_value(raw["json"], f"{where}.json") if "json" in raw else None
    payloads = [k for k in ("text", "json", "binary") if k in raw]
    if action == "send" and len(payloads) != 1:
        raise ConfigError(
            f"{where} sends one of text, json or binary", hint="binary = 640 (bytes per message)"
        )
    _check_templates([path, *(t for _, t in headers), text], body_json, known, faker, where)
    subprotocols = raw.get("subprotocols", [])
    if not isinstance(subprotocols, list) or not all(isinstance(x, str) for x in subprotocols):
        raise ConfigError(
            f"subprotocols in {where} must be a list of strings", hint="subprotocols = ['audio.v1']"
        )
    extract = _extractors(raw, where, known)
    every = parse_duration(raw["every"], what=f"{where}.every") if "every" in raw else 0.0
    timeout = parse_duration(raw["timeout"], what=f"{where}.timeout") if "timeout" in raw else 5.0
    binary = _positive_int(raw, "binary", where, 1) if "binary" in raw else 0
    ws = WsAction(
        action=action,
        socket=socket,
        sockets=_positive_int(raw, "sockets", where, 1),
        subprotocols=tuple(subprotocols),
        binary=binary,
        repeat=_positive_int(raw, "repeat", where, 1),
        every=every,
        reply=_ws_match(raw["reply"], f"{where}.reply") if "reply" in raw else None,
        match=_ws_match(raw.get("match", {}), f"{where}.match") if action == "wait" else None,
        timeout=timeout,
    )
    shown = raw["path"] if action == "open" else socket
    label = str(raw.get("name") or f"WS {action} {shown}")
    think = _think(raw["think_time"], f"{where}.think_time") if "think_time" in raw else (0.0, 0.0)
    return Step(label, "WS", path, headers, body_json, text, extract=extract, think=think, ws=ws)


def _steps(raw: Any, where: str, known: set[str], faker: list[bool]) -> tuple[Step, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be an array of tables", hint=f"write [[{where}]]")
    return tuple(_step(s, f"{where}[{i}]", known, faker) for i, s in enumerate(raw))


def parse_scenario(data: Mapping[str, Any], source: str = "scenario") -> FlowScenario:
    """Compile a scenario table; every mistake is one ``ConfigError`` naming key and fix."""
    _reject_unknown(data, SCENARIO_KEYS, source)
    variables = data.get("vars", {})
    if not isinstance(variables, Mapping):
        raise ConfigError(f"[vars] in {source} must be a table", hint="[vars]\nhotel = 'h1'")
    faker = [False]
    known = set(map(str, variables))
    setup = _steps(data.get("setup", []), "setup", known, faker)
    teardown = _steps(data.get("teardown", []), "teardown", set(known), faker)
    on_start = _steps(data.get("on_start", []), "on_start", known, faker)
    on_stop = _steps(data.get("on_stop", []), "on_stop", set(known), faker)
    tasks: list[Task] = []
    raw_tasks = data.get("tasks", [])
    if not isinstance(raw_tasks, list):
        raise ConfigError(f"tasks in {source} must be an array of tables", hint="[[tasks]]")
    for i, raw in enumerate(raw_tasks):
        where = f"tasks[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where} must be a table", hint="[[tasks]]")
        _reject_unknown(raw, TASK_KEYS, where)
        steps = _steps(raw.get("steps", []), f"{where}.steps", set(known), faker)
        if not steps:
            raise ConfigError(f"{where} has no steps", hint="add [[tasks.steps]] tables")
        tasks.append(Task(str(raw.get("name", f"task{i + 1}")), _weight(raw, where), steps))
    for i, raw in enumerate(data.get("requests", []) or []):
        where = f"requests[{i}]"
        step = _step(raw, where, set(known), faker)
        tasks.append(Task(step.label, _weight(raw, where), (step,)))
    if not tasks:
        raise ConfigError(
            f"{source} has no [[tasks]] or [[requests]]", hint="add at least one request"
        )
    names: list[str] = []
    for step in (*on_start, *(s for t in tasks for s in t.steps), *on_stop):
        if step.records and step.label not in names:
            names.append(step.label)
    load = data.get("load", {})
    if not isinstance(load, Mapping):
        raise ConfigError(f"[load] in {source} must be a table", hint="[load]\nvus = 10")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed in {source} must be an integer", hint="seed = 7")
    return FlowScenario(
        name=str(data.get("name", source)),
        tasks=tuple(tasks),
        on_start=on_start,
        on_stop=on_stop,
        setup=setup,
        teardown=teardown,
        variables=tuple((str(k), v) for k, v in variables.items()),
        think=_think(data["think_time"], "think_time") if "think_time" in data else (0.0, 0.0),
        seed=seed,
        load=tuple(load.items()),
        uses_faker=faker[0],
        names=tuple(names),
    )


def _weight(raw: Mapping[str, Any], where: str) -> float:
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise ConfigError(f"weight in {where} must be a positive number", hint="weight = 3")
    return float(weight)


def load_scenario_file(path: str | Path) -> FlowScenario:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read scenario {str(file)!r}: {exc.strerror}", hint="check the path"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scenario {file.name} is not valid TOML: {exc}") from None
    return parse_scenario(data, file.name)


class VUState:
    """One VU's variables and data generator."""

    def __init__(self, scenario: FlowScenario, vu: int, shared: Mapping[str, Any]) -> None:
        self.vars: dict[str, Any] = dict(scenario.variables)
        self.vars.update(shared)
        self.vars["vu"] = vu
        self.vars["iteration"] = 0
        self.faker: Any = None
        if scenario.uses_faker:
            from faker import Faker

            self.faker = Faker()
            self.faker.seed_instance(scenario.seed * 1_000_003 + vu)
        self.rng = random.Random(scenario.seed * 7919 + vu)

    def lookup(self, name: str) -> Any:
        if name.startswith("faker."):
            return getattr(self.faker, name[6:])()
        return self.vars[name]


def render_step(step: Step, state: VUState) -> tuple[str, dict[str, str], bytes]:
    lookup: Callable[[str], Any] = state.lookup
    path = step.path.render(lookup)
    headers = {name: t.render(lookup) for name, t in step.headers}
    if step.json is not None:
        body = jsonlib.dumps(render_value(step.json, lookup), separators=(",", ":")).encode()
    elif step.body is not None:
        body = step.body.render(lookup).encode()
    else:
        body = b""
    return path, headers, body


def check_response(step: Step, status: int, body: bytes) -> str:
    """'' when the response passes the step's checks, else the error kind (the statuses by
    ``scenario.status_failure``, the rule ``--path`` follows too)."""
    kind = status_failure(status, step.expect)
    if kind:
        return kind
    if step.body_contains and step.body_contains.encode() not in body:
        return "check_failed"
    return ""
