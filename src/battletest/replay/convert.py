"""A recording as something else: mock stubs, a load scenario (TOML), a pytest module.

- ``to_stubs``: one stub per recorded request for ``battletest.chaos.mock``, matching method,
  path (a correlated segment matches any value), literal query values and the JSON body's
  literal fields (masked and correlated fields left out). A request recorded several times
  with different answers becomes a stateful sequence (the mock's scenarios): the first call
  gets the first answer, the next the next, the last one repeats. Binary answers are served as
  recorded (``body_base64``).
- ``to_scenario``: a load scenario (the TOML model of ``battletest.load.flow``): one task whose
  steps are the requests in order, each correlated value an extractor on the step that gets it,
  the recorded pauses as think times divided by ``speed``; ``scenario_toml`` writes it.
- ``to_tests``: a pytest module using the plugin's ``bt_client`` that replays the requests,
  re-extracts the values and compares each answer with the recording (``diff``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from battletest.replay.correlate import PLACEHOLDER
from battletest.replay.har import Entry, Episode, is_text
from battletest.replay.masks import MaskSet

# response headers a mock or a server sets itself
_HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "date", "keep-alive", "server"}
)


def _param(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def path_template(entry: Entry) -> str:
    """The request path with ``{{name}}`` as the mock's ``{name}`` path parameter."""
    path = unquote(urlsplit(entry.url).path or "/")
    return PLACEHOLDER.sub(lambda m: "{" + _param(m.group(1)) + "}", path)


def _literal(node: Any) -> Any:
    """The JSON body without placeholder leaves (what a stub can match exactly)."""
    if isinstance(node, dict):
        out = {k: _literal(v) for k, v in node.items() if not _is_placeholder(v)}
        return {k: v for k, v in out.items() if v is not _SKIP}
    if isinstance(node, list):
        return node if not any(_is_placeholder(v) for v in node) else _SKIP
    return node


_SKIP: Any = object()


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value and PLACEHOLDER.search(value) is not None


def _unmasked(node: Any, masks: MaskSet, operation: str, steps: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        return {
            k: _unmasked(v, masks, operation, (*steps, k))
            for k, v in node.items()
            if masks.find(operation, (*steps, k)) is None
        }
    return node


def _escape(text: str) -> str:
    """Recorded text as a mock template that renders to itself."""
    return "{% raw %}" + text + "{% endraw %}" if "{{" in text or "{%" in text else text


def _response(entry: Entry) -> dict[str, Any]:
    headers = {
        k.lower(): _escape(v) for k, v in entry.response_headers if k.lower() not in _HOP_HEADERS
    }
    resp: dict[str, Any] = {"status": entry.status}
    if headers:
        resp["headers"] = headers
    body = entry.response_body
    if body and is_text(entry.response_mime):
        try:
            resp["body"] = _escape(body.decode("utf-8"))
        except UnicodeDecodeError:
            resp["body_base64"] = _b64(body)
    elif body:
        resp["body_base64"] = _b64(body)
    return resp


def _b64(body: bytes) -> str:
    import base64

    return base64.b64encode(body).decode("ascii")


def _request_key(entry: Entry, masks: MaskSet) -> tuple[str, dict[str, Any]]:
    """The stub's request part, and a key grouping the same request recorded again."""
    from battletest.replay.player import operation_of

    raw: dict[str, Any] = {"method": entry.method, "path": path_template(entry)}
    query = {
        k: v
        for k, v in parse_qsl(urlsplit(entry.url).query, keep_blank_values=True)
        if not _is_placeholder(v)
    }
    if query:
        raw["query"] = query
    if entry.request_body and "json" in entry.request_mime.lower():
        try:
            data = json.loads(entry.request_body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            literal = _unmasked(_literal(data), masks, operation_of(entry))
            if literal:
                raw["body"] = {"json": literal}
    elif entry.request_body and b"{{" not in entry.request_body and is_text(entry.request_mime):
        raw["body"] = {"equals": entry.request_body.decode("utf-8", "replace")}
    key = json.dumps(raw, sort_keys=True)
    return key, raw


def to_stubs(episode: Episode, masks: MaskSet | None = None) -> list[dict[str, Any]]:
    """Stub tables (the stub-file format of ``battletest.chaos.mock``) for every request."""
    masks = masks if masks is not None else MaskSet()
    groups: dict[str, list[tuple[dict[str, Any], Entry]]] = {}
    for entry in episode.entries:
        key, raw = _request_key(entry, masks)
        groups.setdefault(key, []).append((raw, entry))
    stubs: list[dict[str, Any]] = []
    for key, items in groups.items():
        label = f"{items[0][1].method} {path_template(items[0][1])}"
        if len(items) == 1:
            raw, entry = items[0]
            stubs.append({"name": label, **raw, "response": _response(entry)})
            continue
        scenario = "seq-" + hashlib.sha1(key.encode()).hexdigest()[:10]
        for n, (raw, entry) in enumerate(items, start=1):
            stub: dict[str, Any] = {
                "name": f"{label} (#{n} of {len(items)})",
                **raw,
                "scenario": scenario,
                "required_state": "Started" if n == 1 else f"step {n}",
                "response": _response(entry),
            }
            if n < len(items):
                stub["new_state"] = f"step {n + 1}"
            stubs.append(stub)
    return stubs


# --------------------------------------------------------------------------------- scenario


def _template(text: str) -> str:
    """``{{name}}`` placeholders as the load engine's ``{name}``; literal braces doubled."""
    out, pos = [], 0
    for m in PLACEHOLDER.finditer(text):
        out.append(text[pos : m.start()].replace("{", "{{").replace("}", "}}"))
        out.append("{" + _param(m.group(1)) + "}")
        pos = m.end()
    out.append(text[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(out)


def _json_template(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _json_template(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_template(v) for v in node]
    if isinstance(node, str):
        return _template(node)
    return node


# request headers the load engine writes itself
_LOAD_SKIP = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "user-agent", "accept", "cookie"}
)


def to_scenario(
    episode: Episode,
    *,
    speed: float = 1.0,
    inputs: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The episode as a load scenario table (``battletest.load.flow.parse_scenario`` reads it).

    ``speed``: 2.0 replays twice as fast (the recorded pause before each request is halved).
    ``inputs`` become ``[vars]`` (``input.username`` → ``input_username``)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    steps: list[dict[str, Any]] = []
    previous_end = 0.0
    for index, entry in enumerate(episode.entries):
        start = entry.started_at()
        step: dict[str, Any] = {
            "name": f"#{index + 1} {entry.method} {path_template(entry)}",
            "method": entry.method,
            "path": _template(entry.path),
        }
        headers = {k: _template(v) for k, v in entry.request_headers if k.lower() not in _LOAD_SKIP}
        if headers:
            step["headers"] = headers
        if entry.request_body:
            data: Any = None
            if "json" in entry.request_mime.lower():
                try:
                    data = json.loads(entry.request_body)
                except ValueError:
                    data = None
            if data is not None:
                step["json"] = _json_template(data)
            else:
                step["body"] = _template(entry.request_body.decode("utf-8", "replace"))
        step["expect"] = [entry.status] if entry.status < 500 else []
        if entry.extract:
            step["extract"] = {_param(k): v for k, v in entry.extract.items()}
        if index and start and previous_end:
            pause = max(start - previous_end, 0.0) / speed
            if pause >= 0.001:
                step["think_time"] = f"{pause:.3f}s"
        previous_end = start + entry.time_ms / 1000 if start else 0.0
        if not step["expect"]:
            del step["expect"]
        steps.append(step)
    table: dict[str, Any] = {"name": name or episode.name}
    if inputs:
        table["vars"] = {
            _param(k if k.startswith("input.") else f"input.{k}"): v for k, v in inputs.items()
        }
    table["tasks"] = [{"name": name or episode.name, "steps": steps}]
    return table


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if value is None:
        return '""'
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def scenario_toml(table: Mapping[str, Any]) -> str:
    """A scenario table (``to_scenario``) as TOML text."""
    lines = ["# written by `battletest har to-scenario` from a recording", ""]
    lines.append(f"name = {_toml_value(table['name'])}")
    if table.get("vars"):
        lines += ["", "[vars]"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table["vars"].items()]
    for task in table["tasks"]:
        lines += ["", "[[tasks]]", f"name = {_toml_value(task['name'])}"]
        for step in task["steps"]:
            lines += ["", "[[tasks.steps]]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in step.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ tests


def to_tests(episode: Episode, har_path: str) -> str:
    """A pytest module replaying ``har_path`` with the plugin's ``bt_client``: one test per
    episode, inputs from ``BT_VAR_<NAME>`` environment variables (skipped without them)."""
    inputs = sorted(episode.inputs)
    name = re.sub(r"\W", "_", episode.name).strip("_").lower() or "episode"
    env = ", ".join(f'"{i}": "BT_VAR_{_param(i).upper()}"' for i in inputs)
    return f'''"""Replays {har_path} (written by `battletest har to-tests`).

Each request of the recording is sent with the plugin's ``bt_client``, correlated values are
taken from the new answers, and every answer is compared with the recorded one after masks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from battletest.replay.testing import replay_with_client

HAR = Path(__file__).parent / {json.dumps(har_path)}
INPUTS = {{{env}}}  # placeholder → environment variable
MISSING = [var for var in INPUTS.values() if var not in os.environ]


@pytest.mark.skipif(bool(MISSING), reason="set " + ", ".join(MISSING) + " to replay this recording")
def test_{name}_replays_without_differences(bt_client) -> None:
    values = {{name: os.environ[var] for name, var in INPUTS.items()}}
    differences = replay_with_client(HAR, bt_client, inputs=values)
    assert not differences, "\\n".join(differences)
'''


__all__ = ["path_template", "scenario_toml", "to_scenario", "to_stubs", "to_tests"]
