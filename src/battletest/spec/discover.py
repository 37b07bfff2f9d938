"""Finding a service's API document when the user did not say where it is.

In order, within one budget of ``MAX_REQUESTS`` GETs, each with a short timeout:

1. the well-known paths frameworks publish at (``/openapi.json``, ``/swagger.json``,
   ``/v3/api-docs``, ``/swagger/v1/swagger.json``, ``/__api__``, …);
2. documentation pages — the root document and the usual Swagger UI / ReDoc paths: a JSON root
   that links to a document (``url``, ``href``, ``links``), or an HTML page whose script loads
   one (Swagger UI's ``url:``/``urls:``/``configUrl``, its ``swagger-initializer.js``, ReDoc's
   ``spec-url``), is followed;
3. the well-known paths again under versioned prefixes (``/api``, ``/v1``, ``/api/v1``, …).

Only URLs on the target's own origin are requested; a redirect or link elsewhere is ignored.
When nothing is found, one ``SpecError`` line lists what was tried and what each answered.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from battletest.errors import BattletestError, SpecError, TargetUnreachable
from battletest.spec.load import parse

WELL_KNOWN = (
    "/openapi.json",
    "/swagger.json",
    "/v3/api-docs",
    "/v2/api-docs",
    "/openapi.yaml",
    "/openapi.yml",
    "/swagger.yaml",
    "/swagger/v1/swagger.json",
    "/api-docs",
    "/spec.json",
    "/__api__",
    "/docs/openapi.json",
    "/openapi",
    "/swagger/doc.json",
    "/api/swagger.json",
)
DOC_PAGES = ("/", "/docs", "/swagger-ui.html", "/swagger-ui/", "/swagger/", "/redoc", "/api/docs")
PREFIXES = ("/api", "/v1", "/api/v1", "/v2", "/api/v2", "/v3")
# Cornice (Kinto) serves its document at /<version>/__api__
PREFIXED = (
    "/openapi.json",
    "/swagger.json",
    "/openapi.yaml",
    "/api-docs",
    "/docs/openapi.json",
    "/__api__",
)
DISCOVERY_PATHS = WELL_KNOWN + tuple(p + s for p in PREFIXES for s in PREFIXED)
MAX_REQUESTS = 80

_HTML_LINKS = (
    re.compile(r"""\burls?\s*:\s*["']([^"']+)["']"""),  # SwaggerUIBundle({url: "…"})
    re.compile(r"""\bconfigUrl\s*:\s*["']([^"']+)["']"""),
    re.compile(r"""\bspec-url\s*=\s*["']([^"']+)["']"""),  # <redoc spec-url="…">
    re.compile(r"""Redoc\.init\(\s*["']([^"']+)["']"""),
    re.compile(r"""\bspecUrl\s*[:=]\s*["']([^"']+)["']"""),
    re.compile(r"""\bhref\s*=\s*["']([^"']+\.(?:json|ya?ml))["']"""),
    re.compile(r"""\bsrc\s*=\s*["']([^"']*swagger-initializer\.js)["']"""),
)
_LINK_KEYS = frozenset({"url", "href", "spec", "openapi", "swagger", "spec_url", "openapi_url"})


class _Search:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base = base_url.rstrip("/")
        origin = urlsplit(self.base)
        self.origin = (origin.scheme, origin.netloc)
        # through the one transport: host-only, the write policy (read-only here: a link a
        # page names is the service's word, not ours, so the classifier decides whether even a
        # GET of it is sent), and 429/503 answered by backing off instead of "not found"
        from battletest.transport import Transport, WritePolicy

        policy = WritePolicy(read_only=True, why_read_only="spec discovery only reads")
        self.transport = Transport(self.base, timeout=timeout, policy=policy, max_retries=2)
        self.client = self.transport("discovery")
        self.tried: list[str] = []
        self.seen: set[str] = set()

    def url(self, ref: str, page: str | None = None) -> str | None:
        """An absolute URL on the target's origin for a link or path, or None."""
        url = urljoin(page, ref) if page else (self.base + ref if ref.startswith("/") else ref)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self.origin:
            return None
        return url.split("#")[0]

    def get(self, url: str, hops: int = 2) -> httpx.Response | None:
        """GET within the budget (same-origin redirects followed), or None when not sent."""
        if url in self.seen or len(self.tried) >= MAX_REQUESTS:
            return None
        self.seen.add(url)
        shown = url[len(self.base) :] or "/" if url.startswith(self.base) else url
        try:
            resp = self.client.get(url)
        except BattletestError as exc:  # refused by the write policy, or still rate-limited
            self.tried.append(f"{shown} ({exc.message})")
            return None
        except httpx.ConnectError:
            if not self.tried:  # nothing answers at all: the target is down, not spec-less
                raise TargetUnreachable(
                    f"cannot reach {self.base} to discover its API document",
                    hint="start the service or fix --target",
                ) from None
            self.tried.append(f"{shown} (no connection)")
            return None
        except httpx.HTTPError as exc:
            self.tried.append(f"{shown} ({exc.__class__.__name__})")
            return None
        self.tried.append(f"{shown} ({resp.status_code})")
        if resp.is_redirect and hops > 0:
            target = self.url(resp.headers.get("location", ""), url)
            return self.get(target, hops - 1) if target else None
        return resp if resp.status_code == 200 else None

    def page(self, page: str, depth: int = 1) -> tuple[dict[str, Any], str] | None:
        """The document at ``page``, or one it points at (a docs page linked from a JSON root
        is read too: ``depth`` levels of links, same origin only; -1: the page alone)."""
        resp = self.get(page)
        if resp is None:
            return None
        document = _as_document(resp.text, page)
        if document is not None:
            return document, str(resp.url)
        if depth < 0:
            return None
        for ref in _page_links(resp.text):
            url = self.url(ref, str(resp.url))
            if url is None:
                continue
            if url.endswith(".js") or "config" in url.rsplit("/", 1)[-1]:
                # Swagger UI 4+ keeps its settings in swagger-initializer.js; configUrl is JSON
                found = self.page(url, 0)
            else:
                found = self.page(url, depth - 1)
            if found is not None:
                return found
        return None


def discover(base_url: str, timeout: float = 3.0) -> tuple[dict[str, Any], str]:
    """The API document the service at ``base_url`` publishes, and the URL it was found at."""
    search = _Search(base_url, timeout)
    try:
        for path in WELL_KNOWN:
            url = search.url(path)
            found = search.page(url, -1) if url else None
            if found:
                return found
        for page in DOC_PAGES:
            url = search.url(page)
            if url is None:
                continue
            found = search.page(url)  # the root itself may be the document
            if found:
                return found
        for prefix in PREFIXES:
            for suffix in PREFIXED:
                url = search.url(prefix + suffix)
                found = search.page(url, -1) if url else None
                if found:
                    return found
    finally:
        search.transport.close()
    raise SpecError(
        f"no OpenAPI document found under {base_url}; tried {', '.join(search.tried)}",
        hint="pass --spec FILE_OR_URL",
    )


def _as_document(text: str, url: str) -> dict[str, Any] | None:
    try:
        data = parse(text, url)
    except SpecError:
        return None
    version = data.get("openapi") or data.get("swagger")
    if version and isinstance(data.get("paths") or data.get("webhooks"), dict):
        return data
    return None


def _page_links(text: str) -> list[str]:
    """Links to documents in an HTML page, a script, or a JSON root/config document."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return list(dict.fromkeys(_json_links(json.loads(stripped), 0)))
        except json.JSONDecodeError:
            return []
    found: list[str] = []
    for pattern in _HTML_LINKS:
        found += pattern.findall(text)
    return list(dict.fromkeys(f for f in found if not f.startswith(("data:", "javascript:"))))


def _json_links(node: Any, depth: int) -> list[str]:
    if depth > 4:
        return []
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and str(key).lower() in _LINK_KEYS:
                out.append(value)
            elif isinstance(value, dict | list):
                out += _json_links(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            out += _json_links(value, depth + 1)
    return out
