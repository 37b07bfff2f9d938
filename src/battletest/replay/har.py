"""The recording format: HAR 1.2 in and out, plus VCR.py cassettes in.

An ``Episode`` is one recording: its ``Entry`` list in the order the requests were sent, each
with the HTTP version, headers, bodies (bytes; a binary body travels as base64, as HAR 1.2
says), the start time and the timings. What battletest adds to HAR lives in fields HAR reserves
for tools (names starting with ``_``), so any HAR viewer still opens the file:

- ``entry._battletest.extract``: the correlated values this answer gives (``{"call_id":
  "json:id"}``, the load engine's extractor syntax), re-extracted from the new answer on replay;
- ``log._battletest.variables``: each correlated value as recorded (secrets left out), so a
  recorded answer can be compared with a new one that carries the new value;
- ``log._battletest.inputs``: the secrets and personal data the requests carried, replaced on
  write by ``{{input.NAME}}`` placeholders (a replay is given them with ``--var NAME=VALUE``).

Correlated values in requests read ``{{NAME}}``. ``read_episode`` reads HAR files written by
battletest, by browsers (Chromium, Firefox) and by other tools, and VCR.py cassettes (YAML).
"""

from __future__ import annotations

import base64
import binascii
import glob
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from battletest.errors import ConfigError

HAR_VERSION = "1.2"
EXTENSION = "_battletest"
TEXT_TYPES = ("json", "text", "xml", "javascript", "x-www-form-urlencoded", "html", "csv", "yaml")

Headers = list[tuple[str, str]]


def is_text(mime: str) -> bool:
    """Whether a body of this media type is text (kept as text in HAR, not base64)."""
    low = mime.lower()
    return not low or any(t in low for t in TEXT_TYPES)


def header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or None."""
    low = name.lower()
    return next((v for k, v in headers if k.lower() == low), None)


@dataclass(slots=True)
class Entry:
    """One request and its answer, as recorded."""

    method: str
    url: str
    status: int
    request_headers: Headers = field(default_factory=list)
    request_body: bytes = b""
    response_headers: Headers = field(default_factory=list)
    response_body: bytes = b""
    http_version: str = "HTTP/1.1"
    reason: str = ""
    started: str = ""  # ISO 8601, UTC
    time_ms: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    extract: dict[str, str] = field(default_factory=dict)  # var → extractor ("json:id")
    comment: str = ""

    @property
    def path(self) -> str:
        """Path and query (what a replay sends to another base URL)."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def request_mime(self) -> str:
        return header(self.request_headers, "content-type") or ""

    @property
    def response_mime(self) -> str:
        return header(self.response_headers, "content-type") or ""

    def started_at(self) -> float:
        """The start time in epoch seconds (0.0 when unknown)."""
        if not self.started:
            return 0.0
        try:
            return datetime.fromisoformat(self.started.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0


@dataclass(slots=True)
class Episode:
    """One recording: its entries in order, and what battletest learned while writing it."""

    entries: list[Entry] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)  # recorded correlated values
    inputs: list[str] = field(default_factory=list)  # {{input.NAME}} placeholders used
    source: str = ""
    creator: str = "battletest"

    @property
    def name(self) -> str:
        return Path(self.source).stem if self.source else "episode"


# ------------------------------------------------------------------------------------- write


def _content(body: bytes, mime: str) -> dict[str, Any]:
    content: dict[str, Any] = {"size": len(body), "mimeType": mime}
    if not body:
        content["text"] = ""
        return content
    if is_text(mime):
        try:
            content["text"] = body.decode("utf-8")
            return content
        except UnicodeDecodeError:
            pass
    content["text"] = base64.b64encode(body).decode("ascii")
    content["encoding"] = "base64"
    return content


def _query(url: str) -> list[dict[str, str]]:
    from urllib.parse import parse_qsl

    return [
        {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
    ]


def entry_to_har(entry: Entry) -> dict[str, Any]:
    """One HAR 1.2 entry."""
    request: dict[str, Any] = {
        "method": entry.method,
        "url": entry.url,
        "httpVersion": entry.http_version,
        "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in entry.request_headers],
        "queryString": _query(entry.url),
        "headersSize": -1,
        "bodySize": len(entry.request_body),
    }
    if entry.request_body:
        post = _content(entry.request_body, entry.request_mime)
        request["postData"] = {"mimeType": entry.request_mime, "text": post["text"]}
        if post.get("encoding"):
            request["postData"]["_encoding"] = "base64"  # HAR has no field for it
    response = {
        "status": entry.status,
        "statusText": entry.reason,
        "httpVersion": entry.http_version,
        "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in entry.response_headers],
        "content": _content(entry.response_body, entry.response_mime),
        "redirectURL": header(entry.response_headers, "location") or "",
        "headersSize": -1,
        "bodySize": len(entry.response_body),
    }
    timings = {"send": 0.0, "wait": entry.time_ms, "receive": 0.0} | entry.timings
    out: dict[str, Any] = {
        "startedDateTime": entry.started or datetime.now(UTC).isoformat(),
        "time": round(entry.time_ms, 3),
        "request": request,
        "response": response,
        "cache": {},
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    if entry.extract:
        out[EXTENSION] = {"extract": dict(entry.extract)}
    if entry.comment:
        out["comment"] = entry.comment
    return out


def episode_to_har(episode: Episode) -> dict[str, Any]:
    """The whole HAR document of an episode."""
    from battletest import __version__

    log: dict[str, Any] = {
        "version": HAR_VERSION,
        "creator": {"name": "battletest", "version": __version__},
        "pages": [],
        "entries": [entry_to_har(e) for e in episode.entries],
    }
    if episode.variables or episode.inputs:
        log[EXTENSION] = {"variables": dict(episode.variables), "inputs": list(episode.inputs)}
    return {"log": log}


def write_episode(episode: Episode, path: str | Path) -> Path:
    """Write ``episode`` as HAR 1.2 (UTF-8 JSON, stable key order, one file)."""
    out = Path(path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(episode_to_har(episode), indent=1) + "\n", encoding="utf-8")
    return out


# -------------------------------------------------------------------------------------- read


def _pairs(raw: Any, where: str) -> Headers:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be a list of {{name, value}} objects")
    out: Headers = []
    for item in raw:
        if not isinstance(item, Mapping) or "name" not in item:
            raise ConfigError(f"{where} holds an item without a name")
        out.append((str(item["name"]), str(item.get("value", ""))))
    return out


def _decode(text: Any, encoding: Any, where: str) -> bytes:
    if text is None:
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(str(text), validate=False)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where}: the base64 body cannot be decoded") from None
    return str(text).encode("utf-8")


def _pseudo_free(headers: Headers) -> Headers:
    """Browsers record HTTP/2 pseudo-headers (``:authority``); they are no request headers."""
    return [(k, v) for k, v in headers if not k.startswith(":")]


def entry_from_har(raw: Any, index: int, source: str) -> Entry:
    where = f"{source}: entry #{index + 1}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} is not an object")
    request, response = raw.get("request"), raw.get("response")
    if not isinstance(request, Mapping) or not isinstance(response, Mapping):
        raise ConfigError(f"{where} needs a request and a response")
    if not request.get("method") or not request.get("url"):
        raise ConfigError(f"{where}: the request needs a method and a url")
    post = request.get("postData") or {}
    content = response.get("content") or {}
    status = response.get("status", 0)
    if not isinstance(status, int):
        raise ConfigError(f"{where}: response status {status!r} is not a number")
    timings = raw.get("timings") or {}
    extension = raw.get(EXTENSION) or {}
    return Entry(
        method=str(request["method"]).upper(),
        url=str(request["url"]),
        status=status,
        request_headers=_pseudo_free(_pairs(request.get("headers"), f"{where} request.headers")),
        request_body=_decode(post.get("text"), post.get("_encoding"), f"{where} postData"),
        response_headers=_pseudo_free(_pairs(response.get("headers"), f"{where} headers")),
        response_body=_decode(content.get("text"), content.get("encoding"), f"{where} content"),
        http_version=str(request.get("httpVersion") or response.get("httpVersion") or ""),
        reason=str(response.get("statusText") or ""),
        started=str(raw.get("startedDateTime") or ""),
        time_ms=float(raw.get("time") or 0.0),
        timings={
            str(k): float(v)
            for k, v in timings.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        },
        extract={str(k): str(v) for k, v in (extension.get("extract") or {}).items()},
        comment=str(raw.get("comment") or ""),
    )


def episode_from_har(data: Any, source: str = "episode.har") -> Episode:
    """An episode from a parsed HAR document (battletest's, a browser's, any tool's)."""
    log = data.get("log") if isinstance(data, Mapping) else None
    if not isinstance(log, Mapping) or not isinstance(log.get("entries"), list):
        raise ConfigError(
            f"{source} is not a HAR file (no log.entries)",
            hint="record one with `battletest record`, or export HAR from a browser",
        )
    entries = [entry_from_har(e, i, source) for i, e in enumerate(log["entries"])]
    # browsers list entries in completion order; replay wants the order requests were sent
    if any(e.started for e in entries):
        entries.sort(key=lambda e: e.started_at())
    extension = log.get(EXTENSION) or {}
    creator = log.get("creator") or {}
    return Episode(
        entries=entries,
        variables=dict(extension.get("variables") or {}),
        inputs=[str(i) for i in extension.get("inputs") or []],
        source=source,
        creator=str(creator.get("name") or "") if isinstance(creator, Mapping) else "",
    )


def _vcr_headers(raw: Any) -> Headers:
    out: Headers = []
    for name, values in (raw or {}).items():
        for value in values if isinstance(values, list) else [values]:
            out.append((str(name), str(value)))
    return out


def _vcr_body(raw: Any) -> bytes:
    if isinstance(raw, Mapping):
        raw = raw.get("string", "")
    if raw is None:
        return b""
    return raw if isinstance(raw, bytes) else str(raw).encode("utf-8")


def episode_from_vcr(data: Any, source: str = "cassette.yaml") -> Episode:
    """An episode from a VCR.py cassette (version 1: ``interactions`` of request/response)."""
    interactions = data.get("interactions") if isinstance(data, Mapping) else None
    if not isinstance(interactions, list):
        raise ConfigError(f"{source} is not a VCR.py cassette (no interactions)")
    entries = []
    for i, item in enumerate(interactions):
        request, response = item.get("request") or {}, item.get("response") or {}
        status = response.get("status") or {}
        if not request.get("uri") or not isinstance(status, Mapping):
            raise ConfigError(f"{source}: interaction #{i + 1} needs request.uri and a status")
        entries.append(
            Entry(
                method=str(request.get("method", "GET")).upper(),
                url=str(request["uri"]),
                status=int(status.get("code", 0)),
                reason=str(status.get("message", "")),
                request_headers=_vcr_headers(request.get("headers")),
                request_body=_vcr_body(request.get("body")),
                response_headers=_vcr_headers(response.get("headers")),
                response_body=_vcr_body(response.get("body")),
                # VCR.py does not keep the HTTP version; say so rather than guess
                http_version="",
            )
        )
    return Episode(entries=entries, source=source, creator="vcr.py")


def read_episode(path: str | Path) -> Episode:
    """A recording from a ``.har`` file or a VCR.py cassette (``.yaml``/``.yml``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read recording {str(file)!r}: {exc.strerror or exc}", hint="check the path"
        ) from None
    if file.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file.name} is not valid YAML: {exc}") from None
        return episode_from_vcr(data, str(file))
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{file.name} is not valid JSON (HAR): {exc}") from None
    return episode_from_har(data, str(file))


def episode_paths(sources: Iterable[str], batch: str | None = None) -> list[Path]:
    """The recordings named by files, folders (their ``*.har``), globs and a batch file (one
    path per line, ``#`` comments), in the order given; each once."""
    wanted = list(sources)
    if batch:
        try:
            lines = Path(batch).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read --batch {batch!r}: {exc.strerror or exc}") from None
        base = Path(batch).parent
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                wanted.append(str(base / line) if not Path(line).is_absolute() else line)
    found: list[Path] = []
    for item in wanted:
        path = Path(item)
        if path.is_dir():
            matches = sorted(path.glob("*.har"))
        elif any(c in item for c in "*?["):
            matches = sorted(Path(p) for p in glob.glob(item))
        else:
            if not path.exists():
                raise ConfigError(f"recording not found: {item}", hint="give a .har file or folder")
            matches = [path]
        if not matches:
            raise ConfigError(f"no recordings match {item!r}", hint="*.har files are read")
        found.extend(m for m in matches if m not in found)
    if not found:
        raise ConfigError("no recording given", hint="battletest replay episode.har --target URL")
    return found


__all__ = [
    "EXTENSION",
    "Entry",
    "Episode",
    "entry_from_har",
    "entry_to_har",
    "episode_from_har",
    "episode_from_vcr",
    "episode_paths",
    "episode_to_har",
    "header",
    "is_text",
    "read_episode",
    "write_episode",
]
