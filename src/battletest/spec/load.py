"""Reading an API document from a file, a URL or the target, and turning it into a ``Spec``.

``load_spec(source, base_url)`` reads JSON or YAML from a file or URL (or discovers it under
``base_url``), resolves every ``$ref`` with jsonref — relative references load the neighbouring
file (or URL) they name — and normalises the document into operations. ``from_document`` does
the same for a document already in memory. Every problem with the document is one
``SpecError`` line naming it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import httpx
import jsonref
import yaml

from battletest.errors import BattletestError, SpecError, TargetUnreachable
from battletest.spec.model import Spec
from battletest.spec.normalise import Normaliser
from battletest.spec.schema import resolve

# a document that references more files than this is refused rather than fetched on and on
MAX_REFERENCED_DOCUMENTS = 200


def parse(text: str, source: str) -> dict[str, Any]:
    """JSON or YAML text as a mapping, or a ``SpecError`` naming what it is instead."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        raise SpecError(
            f"{source} is HTML, not an OpenAPI document",
            hint="point --spec at the JSON/YAML document, not the docs page",
        )
    try:
        data = json.loads(stripped) if stripped.startswith("{") else yaml.safe_load(stripped)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(
            f"{source} is not valid JSON or YAML: {exc}".splitlines()[0],
            hint="fix the document or pass --spec",
        ) from None
    if not isinstance(data, dict):
        raise SpecError(f"{source} is not an OpenAPI document (not a mapping)", hint="pass --spec")
    return data


def fetch(url: str, timeout: float, client: httpx.Client | None = None) -> httpx.Response:
    try:
        if client is not None:
            return client.get(url)
        return httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            f"could not fetch the spec from {url}: {exc.__class__.__name__}",
            hint="check that the service is running and the URL is right",
        ) from None


def _read_file(path: Path) -> str:
    if not path.is_file():
        raise SpecError(f"spec file {path} not found", hint="check the --spec path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(
            f"{path} is not UTF-8 text", hint="pass the JSON or YAML document"
        ) from None
    except OSError as exc:
        raise SpecError(
            f"cannot read {path}: {exc.strerror}", hint="check the --spec path"
        ) from None


def _read_source(source: str, base_url: str | None, timeout: float) -> tuple[dict[str, Any], str]:
    is_url_path = bool(base_url) and source.startswith("/") and not Path(source).exists()
    if source.startswith(("http://", "https://")) or is_url_path:
        url = source if "://" in source else urljoin(f"{base_url}/", source.lstrip("/"))
        resp = fetch(url, timeout)
        if resp.status_code != 200:
            raise SpecError(f"{url} answered {resp.status_code}", hint="check the spec URL")
        return parse(resp.text, url), url
    path = Path(source)
    return parse(_read_file(path), str(path)), path.resolve().as_uri()


class _Loader:
    """jsonref's loader for references to other documents: files, or URLs of a URL source."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.loaded = 0

    def __call__(self, uri: str) -> Any:
        self.loaded += 1
        if self.loaded > MAX_REFERENCED_DOCUMENTS:
            raise SpecError(
                f"the document references more than {MAX_REFERENCED_DOCUMENTS} other documents",
                hint="bundle the document into one file",
            )
        parts = urlsplit(uri)
        if parts.scheme == "file":
            path = Path(url2pathname(parts.path))
            return _document_or_text(_read_file(path), str(path))
        if parts.scheme in ("http", "https"):
            resp = fetch(uri, self.timeout)
            if resp.status_code != 200:
                raise SpecError(f"referenced document {uri} answered {resp.status_code}")
            return _document_or_text(resp.text, uri)
        raise SpecError(f"cannot load the referenced document {uri}", hint="use a relative $ref")


def _document_or_text(text: str, source: str) -> Any:
    """A referenced JSON/YAML document, or the text itself for other files (a ``$ref`` to a
    Markdown description or a code sample, as multi-file documents written for Redocly use)."""
    suffix = Path(urlsplit(source).path).suffix.lower()
    if suffix in ("", ".json", ".yaml", ".yml"):
        return parse(text, source)
    return text


def load_spec(source: str | Path | None, base_url: str | None, *, timeout: float = 10.0) -> Spec:
    """Load, resolve and normalise an API document (discovered under ``base_url`` when no
    ``source`` is given)."""
    if source is None:
        if base_url is None:
            raise SpecError("no spec given and no target to discover it on", hint="pass --spec")
        from battletest.spec.discover import discover

        data, where = discover(base_url, timeout=min(timeout, 3.0))
    else:
        data, where = _read_source(str(source), base_url, timeout)
    return _under_target(from_document(data, where, timeout=timeout), base_url)


def _under_target(spec: Spec, base_url: str | None) -> Spec:
    """The base path once: a target that already names it (``http://h/v1`` for ``basePath: /v1``,
    as Kinto's docs give its URL) gets ``/v1/buckets``, not ``/v1/v1/buckets``."""
    if not base_url or not spec.base_path:
        return spec
    if not urlsplit(base_url).path.rstrip("/").endswith(spec.base_path):
        return spec
    spec.base_path = ""
    spec.operations = [replace(op, base_path="") for op in spec.operations]
    return spec


def from_document(data: Any, source: str = "<document>", *, timeout: float = 10.0) -> Spec:
    """A ``Spec`` from a parsed document (``source``: where relative ``$ref`` resolve from)."""
    shown = url2pathname(urlsplit(source).path) if source.startswith("file:") else source
    if not isinstance(data, dict):
        raise SpecError(f"{shown} is not an OpenAPI document (not a mapping)", hint="pass --spec")
    version = str(data.get("openapi") or data.get("swagger") or "")
    if not (version.startswith("3.") or version == "2.0"):
        found = f"version {version!r}" if version else "no 'openapi' or 'swagger' version"
        raise SpecError(
            f"{shown} is not an OpenAPI 2.0/3.x document ({found})",
            hint="pass a Swagger 2.0 or OpenAPI 3.x document with --spec",
        )
    if not isinstance(data.get("paths"), dict):
        if version.startswith("3.1") and isinstance(data.get("webhooks"), dict):
            data = {**data, "paths": {}}
        else:
            raise SpecError(
                f"{shown} has no 'paths' mapping", hint="an OpenAPI document lists its paths"
            )
    try:
        proxied = jsonref.replace_refs(
            data,
            base_uri=source if "://" in source else "",
            loader=_Loader(timeout),
            lazy_load=False,
            proxies=True,
        )
        doc = resolve(proxied)
    except jsonref.JsonRefError as exc:
        cause = exc.cause if isinstance(exc.cause, BattletestError) else None
        if cause is not None:  # a referenced document could not be read
            raise type(cause)(f"{shown}: {cause.message}", hint=cause.hint) from None
        ref = exc.reference.get("$ref") if isinstance(exc.reference, dict) else exc.reference
        raise SpecError(
            f"{shown}: unresolvable $ref {ref!r}".splitlines()[0],
            hint="fix the reference or add the missing component",
        ) from None
    except RecursionError:
        raise SpecError(f"{shown}: $ref nesting too deep", hint="flatten the document") from None
    normaliser = Normaliser(doc, version)
    base_path = normaliser.base_path()
    return Spec(
        document=doc,
        version=version,
        source=source,
        base_path=base_path,
        operations=normaliser.operations(base_path),
        security_schemes=normaliser.security_schemes(),
        security=normaliser.security(),
        title=str((doc.get("info") or {}).get("title") or ""),
        origin=normaliser.origin(),
    )
