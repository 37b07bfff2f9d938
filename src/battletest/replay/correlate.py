"""Correlation: the values an answer gave that later requests reused, as named placeholders.

A login answers ``{"access_token": "eyJ…"}`` and every later request carries ``Authorization:
Bearer eyJ…``; a create answers ``{"id": "call_59b6…"}`` and the next request goes to
``/v1/calls/call_59b6…/events``. Replaying those requests as recorded would send yesterday's
token and an id the new service never issued, so ``correlate`` rewrites them: the reused value
becomes ``{{access_token}}`` / ``{{call_id}}`` in every later request, and the answer that first
gave it gets an extractor (``json:access_token``) — the load engine's extractor syntax, so a
replay, the mock and ``load --har`` re-extract the same way.

A value counts as reused when a later request holds it whole: a path segment, a query value, a
JSON leaf, or (8 characters and longer) inside a header value or a text body. Short values,
booleans, plain words and values the client itself sent before any answer held them never
count (``"ok"``, ``1`` or the ``"transcript"`` it posted appear again by chance, not by reuse).

``protect`` then replaces what must not be written to disk: secrets and personal data a request
carried become ``{{input.NAME}}`` (the replay is given them back with ``--var``), everything
else goes through the foundation's ``Redactor``. ``render`` fills placeholders in again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from battletest.redact import Redactor
from battletest.replay.har import Entry, Episode, is_text
from battletest.replay.masks import walk

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
MIN_VALUE = 4  # shorter strings are not correlated (too likely to recur by chance)
MIN_WORDLIKE = 16  # a value without digits must be this long to count as an id or token
MIN_EMBEDDED = 8  # a value found inside a header value or a text body must be this long
# request headers a replay sets itself (or a cookie jar does): never recorded as inputs
_TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "user-agent", "cookie"}
)


def placeholder(name: str) -> str:
    return "{{" + name + "}}"


@dataclass(frozen=True, slots=True)
class Source:
    """Where an answer carries a value: the entry, the extractor, a name for the variable."""

    entry: int
    extractor: str
    hint: str


def _leaves(node: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    return ((path, value) for path, value in walk(node) if not isinstance(value, dict | list))


def _json(body: bytes, mime: str) -> Any:
    if not body or "json" not in mime.lower():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _candidate(value: Any) -> str | None:
    """The text form of a value worth correlating, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if abs(value) >= 1000 else None  # 900 s, page 100: chance, not ids
    # an id or a token has a digit or is long; a plain word ("transcript") is no id
    if (
        isinstance(value, str)
        and len(value) >= MIN_VALUE
        and not any(c.isspace() for c in value)
        and (any(c.isdigit() for c in value) or len(value) >= MIN_WORDLIKE)
    ):
        return value
    return None


def _singular(word: str) -> str:
    word = re.sub(r"[^A-Za-z0-9_]", "_", word).strip("_").lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _hint(entry: Entry, path: tuple[str, ...]) -> str:
    """A readable variable name: the JSON key, or ``call_id`` for an ``id`` under /calls."""
    key = next((p for p in reversed(path) if not p.isdigit()), "value")
    key = re.sub(r"[^A-Za-z0-9_]", "_", key).lower() or "value"
    if key in ("id", "uuid", "key"):
        segments = [s for s in urlsplit(entry.url).path.split("/") if s and not _idlike(s)]
        if segments:
            return f"{_singular(segments[-1])}_{key}"
    return key if key[0].isalpha() or key[0] == "_" else f"v_{key}"


def _idlike(segment: str) -> bool:
    return any(c.isdigit() for c in segment) or len(segment) > 24


def answer_sources(entry: Entry, index: int) -> dict[str, Source]:
    """Value → where this answer carries it (JSON leaves, ``Location``)."""
    found: dict[str, Source] = {}
    data = _json(entry.response_body, entry.response_mime)
    if data is not None:
        for path, value in _leaves(data):
            text = _candidate(value)
            if text is not None and path and text not in found:
                found[text] = Source(index, "json:" + ".".join(path), _hint(entry, path))
    return found


def _uses(entry: Entry, value: str) -> bool:
    """Whether the request of ``entry`` holds ``value`` (whole, or embedded when long)."""
    parts = urlsplit(entry.url)
    if value in parts.path.split("/"):
        return True
    if any(v == value for _, v in parse_qsl(parts.query, keep_blank_values=True)):
        return True
    long = len(value) >= MIN_EMBEDDED
    for name, hvalue in entry.request_headers:
        if name.lower() in _TRANSPORT_HEADERS:
            continue
        if hvalue == value or (long and value in hvalue):
            return True
    data = _json(entry.request_body, entry.request_mime)
    if data is not None:
        return any(_candidate(v) == value for _, v in _leaves(data))
    return long and value in entry.request_body.decode("utf-8", "replace")


def _replace_json(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: _replace_json(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_json(v, old, new) for v in node]
    if _candidate(node) == old:
        return new
    if isinstance(node, str) and len(old) >= MIN_EMBEDDED and old in node:
        return node.replace(old, new)
    return node


def substitute_request(entry: Entry, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the request of ``entry`` (path, query, headers, body)."""
    parts = urlsplit(entry.url)
    path = "/".join(new if seg == old else seg for seg in parts.path.split("/"))
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(v == old for _, v in pairs):
            query = urlencode([(k, new if v == old else v) for k, v in pairs], safe="{}")
    entry.url = urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))
    long = len(old) >= MIN_EMBEDDED
    entry.request_headers = [
        (k, new if v == old else (v.replace(old, new) if long else v))
        if k.lower() not in _TRANSPORT_HEADERS
        else (k, v)
        for k, v in entry.request_headers
    ]
    data = _json(entry.request_body, entry.request_mime)
    if data is not None:
        entry.request_body = json.dumps(_replace_json(data, old, new)).encode()
    elif long and entry.request_body and is_text(entry.request_mime):
        text = entry.request_body.decode("utf-8", "replace")
        entry.request_body = text.replace(old, new).encode()


def correlate(episode: Episode) -> Episode:
    """Rewrite reused answer values as ``{{NAME}}`` placeholders with their extractors.

    The first answer that carried a value is its source; later answers repeating it (a GET of
    the object just created) do not rebind it. Returns the same episode, changed in place."""
    first: dict[str, Source] = {}
    names: dict[str, str] = {}  # value → variable name
    taken: set[str] = set()
    sent: set[str] = set()  # values the client sent before an answer held them
    for index, entry in enumerate(episode.entries):
        for value, source in list(first.items()):
            if value in names or not _uses(entry, value):
                continue
            name = source.hint
            n = 2
            while name in taken:
                name, n = f"{source.hint}_{n}", n + 1
            taken.add(name)
            names[value] = name
            episode.entries[source.entry].extract[name] = source.extractor
            episode.variables[name] = _typed(value, source, episode)
        for value, name in names.items():
            if _uses(entry, value):
                substitute_request(entry, value, placeholder(name))
        sent.update(_sent_values(entry))
        for value, source in answer_sources(entry, index).items():
            if value not in sent:
                first.setdefault(value, source)
    return episode


def _sent_values(entry: Entry) -> set[str]:
    parts = urlsplit(entry.url)
    out = {s for s in parts.path.split("/") if s}
    out |= {v for _, v in parse_qsl(parts.query, keep_blank_values=True)}
    data = _json(entry.request_body, entry.request_mime)
    if data is not None:
        out |= {c for _, v in _leaves(data) if (c := _candidate(v)) is not None}
    return out


def _typed(value: str, source: Source, episode: Episode) -> Any:
    """The recorded value with its JSON type (an integer id stays an integer)."""
    entry = episode.entries[source.entry]
    found = extract(source.extractor, entry.status, entry.response_headers, entry.response_body)
    return found if found is not None else value


def extract(extractor: str, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> Any:
    """Apply one extractor (``json:a.0.b``, ``header:name``, ``status``) to an answer: the load
    engine's extractor (one syntax, one implementation); None when it finds nothing."""
    from battletest.load.flow import parse_extractor

    found, value = parse_extractor("value", extractor, "a recording").apply(
        status, {k.lower(): v for k, v in headers}, body
    )
    return value if found else None


# ---------------------------------------------------------------------------------- protect


def _input_name(key: str, taken: dict[str, str], value: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", key).strip("_").lower() or "value"
    for name, known in taken.items():
        if known == value and (name == base or name.startswith(base + "_")):
            return name
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken[name] = value
    return name


def protect(episode: Episode, redactor: Redactor | None = None) -> Episode:
    """Secrets and personal data out of the episode before it is written (in place).

    In requests, a credential header, a JSON field the redactor calls a secret, and any value
    the redactor would change (an e-mail, a phone or card number) become ``{{input.NAME}}``;
    ``Cookie`` headers are dropped (a replay keeps its own cookie jar). Answers and recorded
    variables go through the redactor as they are. The same input value gets the same name."""
    red = redactor or Redactor()
    inputs: dict[str, str] = {}

    def as_input(key: str, value: str) -> str:
        if not value or PLACEHOLDER.fullmatch(value.strip()):
            return value
        return placeholder("input." + _input_name(key, inputs, value))

    for entry in episode.entries:
        headers: list[tuple[str, str]] = []
        for name, value in entry.request_headers:
            low = name.lower()
            if low == "cookie":
                continue
            if red.is_secret_key(name) and not PLACEHOLDER.search(value):
                scheme, _, rest = value.partition(" ")
                if rest and scheme.lower() in ("bearer", "basic", "token"):
                    value = f"{scheme} {as_input(low.replace('-', '_'), rest)}"
                else:
                    value = as_input(low.replace("-", "_"), value)
            elif red.text(value) != value and not PLACEHOLDER.search(value):
                value = as_input(low.replace("-", "_"), value)
            headers.append((name, value))
        entry.request_headers = headers
        parts = urlsplit(entry.url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if pairs:
            safe = [
                (k, as_input(k, v) if (red.is_secret_key(k) or red.text(v) != v) else v)
                for k, v in pairs
            ]
            query = urlencode(safe, safe="{}.")
            entry.url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        segments = parts.path.split("/")
        if any(red.text(s) != s for s in segments):
            path = "/".join(as_input("path", s) if red.text(s) != s else s for s in segments)
            entry.url = urlunsplit(
                (
                    parts.scheme,
                    parts.netloc,
                    quote(path, safe="/{}."),
                    urlsplit(entry.url).query,
                    "",
                )
            )
        data = _json(entry.request_body, entry.request_mime)
        if data is not None:
            entry.request_body = json.dumps(_protect_json(data, red, as_input)).encode()
        elif entry.request_body and is_text(entry.request_mime):
            text = entry.request_body.decode("utf-8", "replace")
            entry.request_body = _protect_form(text, red, as_input).encode()
        entry.response_headers = red.headers(entry.response_headers)
        if entry.response_body and is_text(entry.response_mime):
            text = entry.response_body.decode("utf-8", "replace")
            entry.response_body = red.text(text).encode()
    episode.variables = {
        k: v for k, v in episode.variables.items() if not isinstance(v, str) or red.text(v) == v
    }
    episode.inputs = sorted(inputs)
    return episode


def _protect_json(
    node: Any, red: Redactor, as_input: Callable[[str, str], str], key: str = ""
) -> Any:
    if isinstance(node, dict):
        return {k: _protect_json(v, red, as_input, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_protect_json(v, red, as_input, key) for v in node]
    if (
        isinstance(node, str)
        and not PLACEHOLDER.fullmatch(node)
        and ((key and red.is_secret_key(key)) or red.text(node) != node)
    ):
        return as_input(key or "value", node)
    return node


def _protect_form(text: str, red: Redactor, as_input: Callable[[str, str], str]) -> str:
    pairs = parse_qsl(text, keep_blank_values=True) if "=" in text and " " not in text else []
    if pairs:
        return urlencode(
            [
                (k, as_input(k, v) if red.is_secret_key(k) or red.text(v) != v else v)
                for k, v in pairs
            ],
            safe="{}.",
        )
    return red.text(text)


# ----------------------------------------------------------------------------------- render


class MissingValue(KeyError):
    """A placeholder whose value is not known (an input not given, an extraction that failed)."""


def render_text(text: str, values: Mapping[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise MissingValue(name)
        return str(values[name])

    return PLACEHOLDER.sub(fill, text) if "{{" in text else text


def _render_json(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _render_json(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_json(v, values) for v in node]
    if isinstance(node, str) and "{{" in node:
        whole = PLACEHOLDER.fullmatch(node)
        if whole is not None:  # a whole placeholder keeps the value's JSON type
            if whole.group(1) not in values:
                raise MissingValue(whole.group(1))
            return values[whole.group(1)]
        return render_text(node, values)
    return node


def render_request(
    entry: Entry, values: Mapping[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Path (with query), headers and body of ``entry``'s request with placeholders filled;
    ``MissingValue`` names the first one without a value."""
    parts = urlsplit(entry.url)
    path = render_text(parts.path or "/", {k: quote(str(v), safe="") for k, v in values.items()})
    query = ""
    if parts.query:
        query = urlencode(
            [(k, render_text(v, values)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        )
    headers = [
        (k, render_text(v, values))
        for k, v in entry.request_headers
        if k.lower() not in _TRANSPORT_HEADERS
    ]
    body = entry.request_body
    if body and b"{{" in body:
        data = _json(body, entry.request_mime)
        if data is not None:
            body = json.dumps(_render_json(data, values)).encode()
        else:
            body = render_text(body.decode("utf-8", "replace"), values).encode()
    return path + (f"?{query}" if query else ""), headers, body


def placeholders(entry: Entry) -> set[str]:
    """The placeholder names the request of ``entry`` needs."""
    texts = [entry.url, *(v for _, v in entry.request_headers)]
    texts.append(entry.request_body.decode("utf-8", "replace"))
    from urllib.parse import unquote

    return {m.group(1) for text in texts for m in PLACEHOLDER.finditer(unquote(text))}


__all__ = [
    "PLACEHOLDER",
    "MissingValue",
    "Source",
    "answer_sources",
    "correlate",
    "extract",
    "placeholder",
    "placeholders",
    "protect",
    "render_request",
    "render_text",
    "substitute_request",
]
