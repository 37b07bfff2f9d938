"""Volatile-field masks: which parts of an answer may differ between two correct answers.

A ``Mask`` names a field by JSONPath (``$.created_at``, ``$.events[*].at``, ``$`` for the body
itself) within one operation (``GET /v1/calls/{id}``, or ``*`` for every one) and says what may
vary there:

- ``uuid``: any UUID; ``timestamp``: any date-time (ISO 8601, RFC 1123, epoch seconds or ms);
- ``token``: any opaque value of the same shape (same length, same punctuation, letters and
  digits free) — ids, tokens, ETags;
- ``number-range``: any number within ``[low, high]``;
- ``set-ordering``: an array whose order does not matter (compared as a multiset);
- ``ignore``: anything (a user's choice; never proposed by ``learn``).

Built-in recognisers (``recognise``) tell these kinds from a pair of values, so a replay of a
correct service masks a new id or timestamp even where no mask was learned; ``learn`` proposes
masks from several answers to the same request (recordings, or one request sent twice) and
``MaskSet.save`` writes them to a reviewable JSON file a user can edit. The GOLDEN mode and
``battletest replay`` read the same file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

from battletest.errors import ConfigError

MaskKind = Literal["uuid", "timestamp", "token", "number-range", "set-ordering", "ignore"]
KINDS: tuple[MaskKind, ...] = (
    "uuid",
    "timestamp",
    "token",
    "number-range",
    "set-ordering",
    "ignore",
)
FORMAT = 1

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
# epoch seconds between 2001-09-09 and 2096-10-02, or the same in milliseconds
_EPOCH_S = (1e9, 4e9)
_EPOCH_MS = (1e12, 4e12)
_WORD_PREFIX = re.compile(r"^[A-Za-z]+[_-]")
_JSONPATH_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\*|\d+|'[^']*'|\"[^\"]*\")\]")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def is_timestamp(value: Any) -> bool:
    """ISO 8601 / RFC 1123 text, or a number in the epoch seconds or milliseconds range."""
    if _is_number(value):
        number = float(value)
        return _EPOCH_S[0] <= number <= _EPOCH_S[1] or _EPOCH_MS[0] <= number <= _EPOCH_MS[1]
    if not isinstance(value, str) or not 8 <= len(value) <= 40:
        return False
    if _ISO.match(value):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
        except ValueError:
            return False
    if "," in value and "GMT" in value:
        try:
            parsedate_to_datetime(value)
            return True
        except (TypeError, ValueError):
            return False
    return False


_SHAPE = str.maketrans(
    dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "x")
)


def shape(value: str) -> str:
    """Letters and digits as ``x``, everything else as itself: ``call_59b6f7`` → ``xxxx_xxxxxx``."""
    out = value.translate(_SHAPE)
    if not out.isascii():  # letters and digits of other scripts too
        out = "".join("x" if c.isalnum() else c for c in out)
    return out


def same_token_shape(a: Any, b: Any) -> bool:
    """Two opaque values of one shape: same length and punctuation, each with a digit, 8+."""
    if not isinstance(a, str) or not isinstance(b, str) or len(a) != len(b) or len(a) < 8:
        return False
    if not any(c.isdigit() for c in a) or not any(c.isdigit() for c in b):
        return False
    if any(c.isspace() for c in a + b):
        return False
    # a word prefix (``call_``, ``res-``) names the kind of object: it must be the same word
    word_a, word_b = _WORD_PREFIX.match(a), _WORD_PREFIX.match(b)
    if (word_a.group(0) if word_a else "") != (word_b.group(0) if word_b else ""):
        return False
    return shape(a) == shape(b)


def recognise(a: Any, b: Any) -> MaskKind | None:
    """The built-in kind under which two different values are the same field, or None."""
    if is_uuid(a) and is_uuid(b):
        return "uuid"
    if is_timestamp(a) and is_timestamp(b) and type(a) is type(b):
        return "timestamp"
    if same_token_shape(a, b):
        return "token"
    return None


# ------------------------------------------------------------------------------------ paths


def parse_path(path: str) -> tuple[str, ...]:
    """``$.a.b[*].c`` → ("a", "b", "*", "c"); ``$`` → ()."""
    if path == "$":
        return ()
    if not path.startswith("$"):
        raise ConfigError(f"mask path {path!r} must start with '$'", hint="e.g. $.items[*].id")
    steps: list[str] = []
    pos = 1
    while pos < len(path):
        m = _JSONPATH_STEP.match(path, pos)
        if m is None:
            raise ConfigError(
                f"mask path {path!r} is not a JSONPath this reads",
                hint="use $.name, $.name[*], $.name[0], $['odd name']",
            )
        step = m.group(1) if m.group(1) is not None else m.group(2)
        steps.append(step[1:-1] if step[:1] in "'\"" else step)
        pos = m.end()
    return tuple(steps)


def format_path(steps: Sequence[str]) -> str:
    out = "$"
    for step in steps:
        if step == "*" or step.isdigit():
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z_$][\w$-]*", step):
            out += f".{step}"
        else:
            out += "['" + step.replace("'", "") + "']"
    return out


def _generic(steps: Sequence[str]) -> tuple[str, ...]:
    """Array indexes as ``*``: a mask learned on item 0 holds for every item."""
    return tuple("*" if s.isdigit() else s for s in steps)


# ------------------------------------------------------------------------------------- masks


@dataclass(frozen=True, slots=True)
class Mask:
    """One volatile field of one operation's answers."""

    path: str
    kind: MaskKind
    operation: str = "*"
    low: float | None = None  # number-range bounds
    high: float | None = None
    steps: tuple[str, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"unknown mask kind {self.kind!r} at {self.path}", hint=f"one of {', '.join(KINDS)}"
            )
        # parsed once: a comparison looks masks up for every node of every answer
        object.__setattr__(self, "steps", _generic(parse_path(self.path)))

    def allows(self, expected: Any, actual: Any) -> bool:
        """Whether ``actual`` is an acceptable answer where ``expected`` was recorded."""
        kind = self.kind
        if kind == "ignore":
            return True
        if kind == "uuid":
            return is_uuid(actual)
        if kind == "timestamp":
            return is_timestamp(actual)
        if kind == "token":
            return isinstance(actual, str) and (
                not isinstance(expected, str) or shape(actual) == shape(expected)
            )
        if kind == "number-range":
            if not _is_number(actual):
                return False
            return (self.low is None or actual >= self.low) and (
                self.high is None or actual <= self.high
            )
        if kind == "set-ordering":
            return isinstance(actual, list)
        return False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"operation": self.operation, "path": self.path, "kind": self.kind}
        if self.kind == "number-range":
            out["range"] = [self.low, self.high]
        return out

    @classmethod
    def from_json(cls, raw: Any, where: str = "mask") -> Mask:
        if not isinstance(raw, Mapping) or "path" not in raw or "kind" not in raw:
            raise ConfigError(
                f"{where} needs a path and a kind", hint='{"path": "$.id", "kind": "uuid"}'
            )
        low = high = None
        if raw.get("kind") == "number-range":
            bounds = raw.get("range") or [None, None]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise ConfigError(f"{where}: range must be [low, high]")
            low, high = bounds
        return cls(str(raw["path"]), raw["kind"], str(raw.get("operation", "*")), low, high)


@dataclass(slots=True)
class MaskSet:
    """The masks of a recording or a snapshot folder, looked up by operation and path."""

    masks: list[Mask] = field(default_factory=list)
    builtin: bool = True  # recognise uuids, timestamps and same-shape tokens without a mask
    _index: dict[str, dict[tuple[str, ...], Mask]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _indexed: int = field(default=-1, init=False, repr=False, compare=False)

    def for_operation(self, operation: str) -> list[Mask]:
        return [m for m in self.masks if m.operation in ("*", operation)]

    def lookup(self, operation: str) -> dict[tuple[str, ...], Mask]:
        """Generic path (array indexes as ``*``) → mask, for one operation; the operation's own
        masks win over ``*`` ones. Built once per operation (and again after a change)."""
        if self._indexed != len(self.masks):
            self._index.clear()
            self._indexed = len(self.masks)
        table = self._index.get(operation)
        if table is None:
            table = {}
            for mask in sorted(self.for_operation(operation), key=lambda m: m.operation != "*"):
                table[mask.steps] = mask
            self._index[operation] = table
        return table

    def find(self, operation: str, steps: Sequence[str]) -> Mask | None:
        return self.lookup(operation).get(_generic(steps)) if self.masks else None

    def merge(self, more: Iterable[Mask]) -> MaskSet:
        seen = {(m.operation, m.path) for m in self.masks}
        for mask in more:
            if (mask.operation, mask.path) not in seen:
                self.masks.append(mask)
                seen.add((mask.operation, mask.path))
        return self

    def to_json(self) -> dict[str, Any]:
        ordered = sorted(self.masks, key=lambda m: (m.operation, m.path))
        return {"format": FORMAT, "masks": [m.to_json() for m in ordered]}

    def save(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> MaskSet:
        file = Path(path)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read masks {str(file)!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ConfigError(f"masks file {file.name} is not valid JSON: {exc}") from None
        raw = data.get("masks") if isinstance(data, Mapping) else None
        if not isinstance(raw, list):
            raise ConfigError(f"{file.name} has no 'masks' list", hint='{"format": 1, "masks": []}')
        return cls([Mask.from_json(m, f"{file.name}: mask #{i + 1}") for i, m in enumerate(raw)])


# ----------------------------------------------------------------------------------- learning


def walk(node: Any, steps: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every node of a JSON value with its path (containers first, then what they hold)."""
    yield steps, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*steps, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, (*steps, str(i)))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def learn(operation: str, answers: Sequence[Any]) -> list[Mask]:
    """Masks proposed from several JSON answers to the same request (two or more).

    Each field whose values differ gets the kind its values share (``recognise``; numbers
    that are no timestamps get a ``number-range`` spanning what was seen, and integers taking
    three or more values — counters, sequence numbers — an open one, ``[0, ∞)``); an array holding the
    same items in another order gets ``set-ordering``. A field that differs in no recognised
    way gets no mask: that difference is reported, never silently hidden."""
    if len(answers) < 2:
        return []
    first = answers[0]
    found: dict[tuple[str, ...], Mask] = {}
    for other in answers[1:]:
        values = dict(walk(other))
        for steps, a in walk(first):
            if steps not in values:
                continue
            b = values[steps]
            generic = _generic(steps)
            if generic in found or _canonical(a) == _canonical(b):
                continue
            if isinstance(a, list) and isinstance(b, list):
                if sorted(map(_canonical, a)) == sorted(map(_canonical, b)):
                    found[generic] = Mask(format_path(generic), "set-ordering", operation)
                continue
            kind = recognise(a, b)
            if kind is None and _is_number(a) and _is_number(b):
                seen = [v for ans in answers for s, v in walk(ans) if _generic(s) == generic]
                nums = [v for v in seen if _is_number(v)]
                if all(isinstance(v, int) and v >= 0 for v in nums) and len(set(nums)) > 2:
                    # a counter (a sequence number, a total): its next value is past any seen
                    low, high = 0.0, None
                else:
                    low, high = float(min(nums)), float(max(nums))
                found[generic] = Mask(format_path(generic), "number-range", operation, low, high)
            elif kind is not None:
                found[generic] = Mask(format_path(generic), kind, operation)
    # a mask on a field inside a set-ordered array still holds; keep both, sorted by path
    return sorted(found.values(), key=lambda m: m.path)


__all__ = [
    "KINDS",
    "Mask",
    "MaskKind",
    "MaskSet",
    "format_path",
    "is_timestamp",
    "is_uuid",
    "learn",
    "parse_path",
    "recognise",
    "same_token_shape",
    "shape",
    "walk",
]
