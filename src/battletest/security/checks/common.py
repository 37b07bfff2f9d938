"""Helpers the checks share: sampling readable operations, comparing responses, applicability."""

from __future__ import annotations

import re
from typing import Any

from battletest.security.context import ScanContext, ScanIdentity, listed_items
from battletest.spec import Operation
from battletest.transport import Exchange


def readable(
    ctx: ScanContext, limit: int | None = None
) -> list[tuple[Operation, str, ScanIdentity | None]]:
    """GET operations the scan can call with a filled path, with the identity that can."""
    cache: list[tuple[Operation, str, ScanIdentity | None]] | None = ctx.state.get("readable")
    if cache is None:
        cache = []
        people: list[ScanIdentity | None] = [*ctx.identities, None]
        for op in ctx.operations:
            if op.method != "GET":
                continue
            for who in people:
                if who is None and op.path_params:
                    continue
                path = ctx.fill(op, who) if who else op.url_path
                if path:
                    cache.append((op, path, who))
                    break
        ctx.state["readable"] = cache
    return cache[:limit] if limit else cache


def is_get(ctx: ScanContext, op: Operation) -> bool:
    return op.method == "GET"


def is_secured_get(ctx: ScanContext, op: Operation) -> bool:
    return op.method == "GET" and secured(ctx, op)


def secured(ctx: ScanContext, op: Operation) -> bool:
    """Declared secured in the spec, or listed in the RBAC rules."""
    if op.secured:
        return True
    return any(r.method.upper() == op.method and r.path == op.url_path for r in ctx.settings.rbac)


def normalise(text: str, *words: str) -> str:
    """A response body with volatile parts (ids, times, the given words) blanked."""
    for w in words:
        if w:
            text = text.replace(w, "<w>")
    text = re.sub(
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>", text
    )
    text = re.sub(r"\b[0-9a-fA-F]{16,}\b", "<hex>", text)
    text = re.sub(r"[A-Za-z0-9_-]{24,}", "<token>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z?", "<time>", text)
    return re.sub(r"\d+(\.\d+)?", "<n>", text)


def signature(ex: Exchange, *words: str) -> tuple[int, str]:
    return ex.status, normalise(ex.text, *words)


def json_keys(body: Any) -> set[str]:
    """Keys of the objects a response carries (list items, an envelope's list, the object)."""
    keys: set[str] = set()
    for item in listed_items(body)[:20]:
        keys |= set(item)
    return keys
