"""Toxic definitions: names, attributes, defaults and validation, in Toxiproxy's vocabulary.

A ``Toxic`` is a value (what the user asked for); the data path in ``stages.py`` turns it into
per-connection behaviour. The kinds a server accepts live in a ``ToxicKinds`` registry owned by
that server, so a test or a plugin can add a kind without touching process-global state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar

from battletest.errors import BattletestError, ConfigError

T = TypeVar("T")


def lookup(
    table: Mapping[str, T],
    name: str,
    error: Callable[..., BattletestError],
    message: str,
    known: str,
) -> T:
    """``table[name]``, or ``error(message)`` whose hint lists the names there are
    (``known: a, b`` or ``known: none``): a proxy, a toxic of a proxy, a toxic type."""
    found = table.get(name)
    if found is None:
        raise error(message, hint=f"{known}: {', '.join(sorted(table)) or 'none'}")
    return found


Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")
AttrValue = int | float | str


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of a toxic kind: its type, default and allowed range."""

    name: str
    kind: type[int] | type[float] | type[str]
    default: AttrValue
    help: str
    minimum: float | None = 0
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToxicKind:
    """A kind of toxic (``latency``, ``http_status`` …) and the attributes it takes."""

    name: str
    help: str
    attributes: tuple[Attribute, ...]
    http: bool = False  # acts on HTTP/1.1 exchanges rather than on bytes

    def defaults(self) -> dict[str, AttrValue]:
        return {a.name: a.default for a in self.attributes}

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


@dataclass(frozen=True, slots=True)
class Toxic:
    """A fault applied to one direction of a proxy's connections (Toxiproxy's toxic JSON)."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, AttrValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's toxic JSON: every field by its name, the attributes as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | {
            "attributes": dict(self.attributes)
        }


# Attributes shared by the HTTP-aware toxics: which requests they target.
_MATCH = (
    Attribute("path", str, "", "regular expression searched in the request target; empty = any"),
    Attribute("method", str, "", "request method to match (GET, POST …); empty = any"),
    Attribute(
        "header", str, "", "request header to match: 'Name' (present) or 'Name: regex'; empty = any"
    ),
    Attribute("first", int, 0, "fault only the first N matching requests, then pass; 0 = all"),
)


def _answer_attributes(*, status: int, retry_after: int) -> tuple[Attribute, ...]:
    """The attributes of a toxic that answers matching requests itself, with these defaults."""
    return (
        Attribute("status", int, status, "status code", minimum=100, maximum=599),
        Attribute("retry_after", int, retry_after, "Retry-After header in seconds; 0 = none"),
        Attribute("body", str, "", "response body; empty = a JSON error"),
        *_MATCH,
    )


def _builtin_kinds() -> list[ToxicKind]:
    return [
        ToxicKind(
            "latency",
            "delay every chunk by latency ± jitter milliseconds",
            (
                Attribute("latency", int, 0, "added delay in ms"),
                Attribute("jitter", int, 0, "random ± variation in ms"),
            ),
        ),
        ToxicKind(
            "bandwidth",
            "limit the stream to rate KB/s",
            (Attribute("rate", int, 0, "kilobytes per second; 0 = unlimited"),),
        ),
        ToxicKind(
            "slow_close",
            "delay the close of the connection",
            (Attribute("delay", int, 0, "delay before the close is passed on, in ms"),),
        ),
        ToxicKind(
            "timeout",
            "stop all data and close the connection after timeout ms (0 = never close; held "
            "data flows when the toxic is removed)",
            (Attribute("timeout", int, 0, "ms before the connection is closed; 0 = never"),),
        ),
        ToxicKind(
            "reset_peer",
            "reset the connection (TCP RST) after timeout ms",
            (Attribute("timeout", int, 0, "ms before the reset"),),
        ),
        ToxicKind(
            "slicer",
            "slice data into small pieces with a delay between them",
            (
                Attribute("average_size", int, 0, "average piece size in bytes", minimum=0),
                Attribute("size_variation", int, 0, "± variation of the piece size in bytes"),
                Attribute("delay", int, 0, "delay between pieces in microseconds"),
            ),
        ),
        ToxicKind(
            "limit_data",
            "close the connection after this many bytes have passed",
            (Attribute("bytes", int, 0, "bytes allowed through before the close"),),
        ),
        ToxicKind(
            "packet_loss",
            "lose each chunk with a probability; TCP sees a retransmission after rto ms "
            "(kernel netem is used instead when available)",
            (
                Attribute("probability", float, 0.1, "share of chunks lost", maximum=1),
                Attribute("rto", int, 200, "retransmission delay of a lost chunk in ms"),
            ),
        ),
        ToxicKind(
            "blackhole",
            "silently drop every byte in this direction; the connection stays open (partition)",
            (),
        ),
        ToxicKind(
            "http_status",
            "answer matching requests with this status instead of forwarding them",
            _answer_attributes(status=503, retry_after=0),
            http=True,
        ),
        ToxicKind(
            "http_throttle",
            "answer matching requests with 429 Too Many Requests and a Retry-After header",
            _answer_attributes(status=429, retry_after=1),
            http=True,
        ),
        ToxicKind(
            "http_delay",
            "hold matching requests for delay ± jitter ms before forwarding them",
            (
                Attribute("delay", int, 0, "delay in ms"),
                Attribute("jitter", int, 0, "random ± variation in ms"),
                *_MATCH,
            ),
            http=True,
        ),
        ToxicKind(
            "http_body",
            "damage the response body of matching requests",
            (
                Attribute(
                    "mode",
                    str,
                    "truncate",
                    "truncate (half the body, then close) | malformed (same length, broken) "
                    "| empty (headers only, then close)",
                    choices=("truncate", "malformed", "empty"),
                ),
                *_MATCH,
            ),
            http=True,
        ),
    ]


class ToxicKinds:
    """The toxic kinds one proxy server accepts. ``register`` adds a kind to this instance."""

    def __init__(self, kinds: list[ToxicKind] | None = None) -> None:
        self._kinds: dict[str, ToxicKind] = {}
        for kind in _builtin_kinds() if kinds is None else kinds:
            self.register(kind)

    def register(self, kind: ToxicKind) -> ToxicKind:
        self._kinds[kind.name] = kind
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Any:
        return iter(self._kinds.values())

    def get(self, name: str) -> ToxicKind:
        return lookup(self._kinds, name, ConfigError, f"unknown toxic type {name!r}", "use one of")

    def build(
        self,
        type: str,
        *,
        name: str | None = None,
        stream: str | None = None,
        toxicity: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Toxic:
        """Validate a toxic request and return the toxic with defaults filled in."""
        kind = self.get(type)
        stream_ = _stream(stream if stream is not None else "downstream")
        attrs = kind.defaults()
        attrs.update(self._attributes(kind, attributes or {}))
        toxic = Toxic(
            name=name or f"{type}_{stream_}",
            type=type,
            stream=stream_,
            toxicity=_toxicity(1.0 if toxicity is None else toxicity),
            attributes=attrs,
        )
        _check_name(toxic.name)
        return toxic

    def update(self, toxic: Toxic, body: Mapping[str, Any]) -> Toxic:
        """Merge a partial update (Toxiproxy semantics: missing fields keep their value)."""
        kind = self.get(toxic.type)
        unknown = set(body) - {"name", "type", "stream", "toxicity", "attributes"}
        if unknown:
            raise ConfigError(f"unknown toxic field(s) {sorted(unknown)}")
        if "type" in body and body["type"] != toxic.type:
            raise ConfigError(
                f"cannot change the type of toxic {toxic.name!r}",
                hint="remove it and add a new one",
            )
        attrs = dict(toxic.attributes)
        attrs.update(self._attributes(kind, body.get("attributes") or {}))
        return replace(
            toxic,
            stream=_stream(body.get("stream", toxic.stream)),
            toxicity=_toxicity(body.get("toxicity", toxic.toxicity)),
            attributes=attrs,
        )

    def from_json(self, body: Any) -> Toxic:
        if not isinstance(body, Mapping):
            raise ConfigError("a toxic must be a JSON object with at least a 'type'")
        unknown = set(body) - {"name", "type", "stream", "toxicity", "attributes"}
        if unknown:
            raise ConfigError(
                f"unknown toxic field(s) {sorted(unknown)}",
                hint="a toxic has name, type, stream, toxicity and attributes",
            )
        if not body.get("type"):
            raise ConfigError("missing required field: type", hint="e.g. {'type': 'latency'}")
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise ConfigError("toxic 'attributes' must be a JSON object")
        return self.build(
            str(body["type"]),
            name=body.get("name") or None,
            stream=body.get("stream") or None,
            toxicity=body.get("toxicity"),
            attributes=attributes,
        )

    @staticmethod
    def _attributes(kind: ToxicKind, given: Mapping[str, Any]) -> dict[str, AttrValue]:
        out: dict[str, AttrValue] = {}
        for key, value in given.items():
            attr = kind.attribute(key)
            if attr is None:
                valid = ", ".join(a.name for a in kind.attributes) or "none"
                raise ConfigError(
                    f"toxic {kind.name!r} has no attribute {key!r}",
                    hint=f"its attributes are: {valid}",
                )
            out[key] = _coerce(kind.name, attr, value)
        return out


def _coerce(kind: str, attr: Attribute, value: Any) -> AttrValue:
    where = f"{kind}.{attr.name}"
    if attr.kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        if attr.choices and value not in attr.choices:
            raise ConfigError(f"{where} must be one of {', '.join(attr.choices)}, got {value!r}")
        if attr.name == "path" and value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(f"{where} is not a valid regular expression: {exc}") from None
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    try:
        as_float = float(value)
    except ValueError:
        raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if not math.isfinite(as_float):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    number: int | float = as_float
    if attr.kind is int:
        if as_float != int(as_float):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        number = int(as_float)
    if attr.minimum is not None and number < attr.minimum:
        raise ConfigError(f"{where} must be at least {attr.minimum:g}, got {value!r}")
    if attr.maximum is not None and number > attr.maximum:
        raise ConfigError(f"{where} must be at most {attr.maximum:g}, got {value!r}")
    return number


def _stream(value: Any) -> Stream:
    if value == "upstream":
        return "upstream"
    if value == "downstream":
        return "downstream"
    raise ConfigError(f"stream was invalid: {value!r}", hint="can be either upstream or downstream")


def _toxicity(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"toxicity must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(
            f"toxicity must be in [0, 1], got {value!r}",
            hint="it is the probability that the toxic applies (1.0 = always)",
        )
    return float(value)


_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"invalid name {name!r}", hint="use letters, digits, '_', '-' or '.' (1-100 chars)"
        )


def check_name(name: Any) -> str:
    """Validate a proxy or toxic name (used in URLs) and return it."""
    if not isinstance(name, str):
        raise ConfigError(f"a name must be a string, got {name!r}")
    _check_name(name)
    return name


__all__ = ["STREAMS", "Attribute", "Stream", "Toxic", "ToxicKind", "ToxicKinds", "check_name"]
