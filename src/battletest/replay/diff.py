"""Compare a recorded answer with a new one: status, the headers that matter, the body.

``diff(expected, actual, masks=…)`` returns a list of ``Difference`` (empty: the same answer).
Before comparing, both answers go through the same ``Redactor`` (a recording is redacted on
write, so the new answer must be too) and the recorded answer gets the values a replay
re-extracted (``substitutions``: the recorded id ``call_59b6…`` becomes the new ``call_77aa…``
wherever the recorded answer holds it).

- **status**: must be equal.
- **headers**: only those that change what a client or a browser does (``MATTERING``) —
  content type, caching, redirects, CORS, the security headers, version banners; a header
  present on one side only is a difference (a missing ``Strict-Transport-Security``, an extra
  ``X-Powered-By``). ``Date``, ``Content-Length``, request ids and the like are not compared.
- **body**: JSON is compared as structure and values — a missing or an extra property, an
  array of another length, another type, another value — except where a mask (``masks.py``)
  or, with ``MaskSet.builtin``, a built-in recogniser (uuid, timestamp, same-shape token) says
  the value may vary. Text is compared as text, binary bodies by their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from battletest.redact import Redactor
from battletest.replay.har import header, is_text
from battletest.replay.masks import MaskSet, format_path, recognise, same_token_shape

Where = Literal["status", "header", "body"]

# response headers whose value changes client or browser behaviour (compared when present)
MATTERING = (
    "content-type",
    "content-encoding",
    "cache-control",
    "location",
    "www-authenticate",
    "allow",
    "retry-after",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
    "referrer-policy",
    "cross-origin-resource-policy",
    "server",
    "x-powered-by",
)
# of those, the ones whose value holds ids or times: compared with the recognisers
_VOLATILE_VALUE = frozenset({"location", "retry-after"})
EXCERPT = 200
JWT_LABEL = "***(jwt"  # the redactor's mask of a JWT, which keeps its alg


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to compare: status, headers in order, body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def of(cls, status: int, headers: Any, body: bytes) -> Answer:
        pairs = headers.multi_items() if hasattr(headers, "multi_items") else headers
        return cls(status, tuple((str(k), str(v)) for k, v in pairs), body)

    @property
    def mime(self) -> str:
        return header(self.headers, "content-type") or ""

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the new answer differs from the recorded one."""

    where: Where
    path: str  # "status", a header name, or a JSONPath into the body
    what: str  # "changed", "missing", "extra property", "type", "length", …
    expected: Any = None
    actual: Any = None

    def line(self) -> str:
        """One line a reader understands: ``body $.password_hash: extra property (…)``."""
        if self.where == "status":
            return f"status {self.expected} → {self.actual}"
        label = f"header {self.path}" if self.where == "header" else f"body {self.path}"
        if self.what in ("missing", "missing property"):
            return f"{label}: {self.what} (recorded {_short(self.expected)})"
        if self.what in ("extra", "extra property"):
            return f"{label}: {self.what} ({_short(self.actual)})"
        return f"{label}: {self.what} {_short(self.expected)} → {_short(self.actual)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "path": self.path,
            "what": self.what,
            "expected": self.expected,
            "actual": self.actual,
        }


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


# ------------------------------------------------------------------------------ substitution


def _substitute(node: Any, subs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, subs) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, subs) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    key = str(node)
    if key in subs:
        return subs[key]
    if isinstance(node, str):
        return _substitute_text(node, subs)
    return node


def _substitute_text(text: str, subs: Mapping[str, Any]) -> str:
    """Long values wherever they occur; short ones only as a whole path segment."""
    for old, new in subs.items():
        if len(old) >= 8 and old in text:
            text = text.replace(old, str(new))
    if "/" in text:
        text = "/".join(str(subs.get(seg, seg)) for seg in text.split("/"))
    return text


# ------------------------------------------------------------------------------------ compare


def _json_body(answer: Answer) -> tuple[bool, Any]:
    if not answer.body or "json" not in answer.mime.lower():
        return False, None
    text = answer.text()
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


class _Walker:
    """Walks both bodies together; ``steps`` is the concrete path, ``generic`` the same with
    array indexes as ``*`` (what masks are looked up by)."""

    def __init__(self, masks: MaskSet, operation: str, redactor: Redactor | None = None) -> None:
        self.redactor = redactor
        self.masks = masks.lookup(operation) if masks.masks else {}
        self.builtin = masks.builtin
        self.found: list[Difference] = []

    def add(self, steps: Sequence[str], what: str, expected: Any, actual: Any) -> None:
        self.found.append(Difference("body", format_path(steps), what, expected, actual))

    def compare(
        self, exp: Any, act: Any, steps: tuple[str, ...], generic: tuple[str, ...] = ()
    ) -> None:
        # the hot path of a GOLDEN comparison: one call per node of every answer
        te = type(exp)
        if te is type(act) and te is not dict and te is not list and exp == act:
            return  # the same scalar (most nodes): no mask needed
        mask = self.masks.get(generic) if self.masks else None
        if mask is not None:
            if mask.kind == "set-ordering" and isinstance(exp, list) and isinstance(act, list):
                self.compare_set(exp, act, steps, generic)
            elif not mask.allows(exp, act):
                self.add(steps, f"not a {mask.kind}", exp, act)
            return
        if te is dict and type(act) is dict:
            for key, value in exp.items():
                if key not in act:
                    self.add((*steps, key), "missing property", value, None)
                else:
                    self.compare(value, act[key], (*steps, key), (*generic, key))
            for key, value in act.items():
                if key not in exp:
                    self.add((*steps, key), "extra property", None, value)
            return
        if te is list and type(act) is list:
            if len(exp) != len(act):
                self.add(steps, "length", len(exp), len(act))
            inner = (*generic, "*")
            for i, (a, b) in enumerate(zip(exp, act, strict=False)):
                self.compare(a, b, (*steps, str(i)), inner)
            return
        if _kind(exp) != _kind(act):
            self.add(steps, "type", exp, act)
            return
        if exp == act or (self.builtin and recognise(exp, act) is not None):
            return
        if self.redacted_alike(exp, act, steps):
            return
        self.add(steps, "changed", exp, act)

    def redacted_alike(self, exp: Any, act: Any, steps: tuple[str, ...]) -> bool:
        """Two values the redactor makes the same (a recording is redacted on write, the new
        answer is not): a credential field, or a value masked alike (``[phone]``). Only values
        that differ get here, so the redactor runs on few of them."""
        red = self.redactor
        if red is None:
            return False
        masked = (
            (red.text(exp), red.text(act))
            if isinstance(exp, str) and isinstance(act, str)
            else None
        )
        if masked is not None and masked[0] == masked[1]:
            return True
        key = next((s for s in reversed(steps) if not s.isdigit()), "")
        if key and red.is_secret_key(key):
            # any two credentials are alike, but two JWTs of another alg are not (alg: none)
            return masked is None or not all(m.startswith(JWT_LABEL) for m in masked)
        return False

    def compare_set(
        self, exp: list[Any], act: list[Any], steps: tuple[str, ...], generic: tuple[str, ...]
    ) -> None:
        if len(exp) != len(act):
            self.add(steps, "length", len(exp), len(act))
            return
        key = lambda v: json.dumps(v, sort_keys=True, default=str)  # noqa: E731
        inner = (*generic, "*")
        for i, (a, b) in enumerate(zip(sorted(exp, key=key), sorted(act, key=key), strict=True)):
            self.compare(a, b, (*steps, str(i)), inner)


def _first_values(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out.setdefault(name.lower(), value)
    return out


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _header_differs(name: str, expected: str, actual: str) -> bool:
    if name == "content-type":
        return expected.replace(" ", "").lower() != actual.replace(" ", "").lower()
    if expected == actual:
        return False
    if name in _VOLATILE_VALUE:
        exp, act = expected.split("/"), actual.split("/")
        return len(exp) != len(act) or any(
            a != b and recognise(a, b) is None and not same_token_shape(a, b)
            for a, b in zip(exp, act, strict=True)
        )
    return True


def diff(
    expected: Answer,
    actual: Answer,
    *,
    masks: MaskSet | None = None,
    operation: str = "*",
    substitutions: Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
    headers: Sequence[str] = MATTERING,
) -> list[Difference]:
    """The differences between a recorded answer and a new one (empty: none)."""
    masks = masks if masks is not None else MaskSet()
    subs = {str(k): v for k, v in (substitutions or {}).items() if len(str(k)) >= 4}
    found: list[Difference] = []
    if expected.status != actual.status:
        found.append(Difference("status", "status", "changed", expected.status, actual.status))
    red = redactor
    exp_headers, act_headers = _first_values(expected.headers), _first_values(actual.headers)
    for name in headers:
        exp = exp_headers.get(name)
        act = act_headers.get(name)
        if exp == act and not subs:
            continue  # the same value, redacted the same way
        if red is not None:
            exp = red.text(exp) if exp is not None else None
            act = red.text(act) if act is not None else None
        if exp is not None and subs:
            exp = _substitute_text(exp, subs)
        if exp is None and act is None:
            continue
        if act is None:
            found.append(Difference("header", name, "missing", exp, None))
        elif exp is None:
            found.append(Difference("header", name, "extra", None, act))
        elif _header_differs(name, exp, act):
            found.append(Difference("header", name, "changed", exp, act))
    found.extend(_body_differences(expected, actual, masks, operation, subs, red))
    return found


def _body_differences(
    expected: Answer,
    actual: Answer,
    masks: MaskSet,
    operation: str,
    subs: Mapping[str, Any],
    red: Redactor | None,
) -> list[Difference]:
    exp_is_json, exp_data = _json_body(expected)
    act_is_json, act_data = _json_body(actual)
    if exp_is_json and act_is_json:
        walker = _Walker(masks, operation, red)
        walker.compare(_substitute(exp_data, subs) if subs else exp_data, act_data, ())
        return walker.found
    if not expected.body and not actual.body:
        return []
    if exp_is_json != act_is_json and expected.body and actual.body:
        return [Difference("body", "$", "type", expected.mime or "?", actual.mime or "?")]
    if is_text(expected.mime) and is_text(actual.mime):
        exp_text, act_text = expected.text(), actual.text()
        exp_text = _substitute_text(exp_text, subs) if subs else exp_text
        if exp_text != act_text and red is not None:  # the same text needs no redaction
            exp_text, act_text = red.text(exp_text), red.text(act_text)
        if exp_text != act_text:
            return [Difference("body", "$", "changed", exp_text, act_text)]
        return []
    if expected.body != actual.body:
        return [
            Difference(
                "body", "$", "bytes", f"{len(expected.body)} bytes", f"{len(actual.body)} bytes"
            )
        ]
    return []


__all__ = ["MATTERING", "Answer", "Difference", "diff"]
