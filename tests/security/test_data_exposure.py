"""data-exposure judges each object against its own schema and its owner (issue 19).

Socket-free: each service is an ``httpx.MockTransport`` handler that answers like a real API
(a document store with ``_id`` objects holding lists, polymorphic listings, an own profile with
the caller's own API key, a user directory, open and closed schemas). Each false positive the
check used to report is shown gone, and each real exposure (a password hash, another user's
key or e-mail address) still found.
"""

from __future__ import annotations

from typing import Any

import httpx

from battletest.results import Severity
from battletest.security import ScanSettings, scan
from battletest.security.context import ScanIdentity

ANN_KEY = "key-ann-6f1c2b7e9d"
BOB_KEY = "key-bob-0a8d3c5f1e"
PEOPLE = {
    ANN_KEY: {"username": "ann", "email": "ann@example.org", "api_key": ANN_KEY},
    BOB_KEY: {"username": "bob", "email": "bob@example.org", "api_key": BOB_KEY},
}


def _doc(paths: dict[str, Any]) -> dict[str, Any]:
    key = {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {"securitySchemes": key},
        "security": [{"key": []}],
        "paths": paths,
    }


def _get(schema: dict[str, Any]) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    return {"get": {"responses": {"200": {"description": "ok", "content": content}}}}


def _obj(*names: str, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}, **extra}


def _scan(paths: dict[str, Any], answers: dict[str, Any], people: list[ScanIdentity]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        me = PEOPLE.get(request.headers.get("x-api-key", ""))
        if request.url.path == "/":
            return httpx.Response(200, json={})
        answer = answers[request.url.path]
        return httpx.Response(200, json=answer(me) if callable(answer) else answer)

    settings = ScanSettings(checks=["data-exposure"])
    return scan(
        "http://api.test", _doc(paths), people, settings, transport=httpx.MockTransport(handler)
    )


def _ann(role: str = "user") -> ScanIdentity:
    return ScanIdentity(name="ann", role=role, api_key=ANN_KEY, username="ann")


def _bob() -> ScanIdentity:
    return ScanIdentity(name="bob", api_key=BOB_KEY, username="bob")


def _found(outcome: Any) -> list[tuple[str, str, str]]:
    return [(f.path, f.parameter or "", f.severity.value) for f in outcome.findings]


def test_an_object_with_an_id_is_judged_by_its_own_schema_not_its_list_property() -> None:
    """A document store's object (``_id``) holding a list of objects: its properties are the
    object's, not the list items' (the check used to compare them with ``versions[]``)."""
    version = _obj("n", "saved_at")
    doc = _obj("_id", "title", "body")
    doc["properties"]["versions"] = {"type": "array", "items": version}
    answer = {"_id": "d1", "title": "t", "body": "b", "versions": [{"n": "1", "saved_at": "x"}]}
    outcome = _scan({"/notes/latest": _get(doc)}, {"/notes/latest": answer}, [_ann()])
    assert _found(outcome) == [] and outcome.notes == []


def test_a_polymorphic_listing_declares_every_variant_and_a_hash_is_still_found() -> None:
    """Items of ``oneOf: [card, link]``: a link's ``url`` is declared (the check used to read
    only the first variant); a ``password_hash`` in an item is found at high."""
    card = _obj("id", "kind", "text")
    link = _obj("id", "kind", "url")
    listing = {"type": "array", "items": {"oneOf": [card, link]}}
    items = [{"id": "1", "kind": "card", "text": "t"}, {"id": "2", "kind": "link", "url": "u"}]
    leaked = [*items, {"id": "3", "kind": "card", "text": "t", "password_hash": "5e88489"}]
    clean = _scan({"/board": _get(listing)}, {"/board": items}, [_ann()])
    assert _found(clean) == [] and clean.notes == []
    leaky = _scan({"/board": _get(listing)}, {"/board": leaked}, [_ann()])
    assert _found(leaky) == [("/board", "password_hash", "high")]


def test_the_callers_own_key_and_email_in_its_own_profile_are_not_exposure() -> None:
    profile = _obj("username", "email", "api_key")
    outcome = _scan({"/me": _get(profile)}, {"/me": lambda me: me}, [_ann(), _bob()])
    assert _found(outcome) == []


def test_own_password_hash_is_exposure_even_in_the_own_profile() -> None:
    profile = _obj("username", "email", "password_hash")
    answer = {"username": "ann", "email": "ann@example.org", "password_hash": "5e884898da"}
    outcome = _scan({"/me": _get(profile)}, {"/me": answer}, [_ann()])
    assert _found(outcome) == [("/me", "password_hash", "high")]


def test_another_users_key_and_email_in_a_directory_are_exposure() -> None:
    """ann (not privileged) lists the members: bob's API key is high, his e-mail address
    medium; an administrator reading the same directory is entitled to the addresses."""
    directory = {"type": "array", "items": _obj("username", "email", "api_key")}
    answers = {"/members": list(PEOPLE.values())}
    outcome = _scan({"/members": _get(directory)}, answers, [_ann(), _bob()])
    assert sorted(_found(outcome)) == [("/members", "api_key, email", "high")]
    severities = {f.parameter: f.severity for f in outcome.findings}
    assert severities == {"api_key, email": Severity.HIGH}  # merged: the worst one kept
    safe = [{k: v for k, v in p.items() if k != "api_key"} for p in PEOPLE.values()]
    as_member = _scan({"/members": _get(directory)}, {"/members": safe}, [_ann(), _bob()])
    assert _found(as_member) == [("/members", "email", "medium")]
    as_admin = _scan({"/members": _get(directory)}, {"/members": safe}, [_ann("admin"), _bob()])
    assert _found(as_admin) == []


def test_an_open_schemas_undeclared_properties_are_one_note_a_closed_ones_a_finding() -> None:
    """Three operations answer a property their schema leaves out: with open schemas, no
    finding and one note naming all three; with ``additionalProperties: false``, low."""
    paths = {f"/things/{n}": _get(_obj("id", "name")) for n in ("a", "b", "c")}
    answers = {p: {"id": "1", "name": "n", "etag": "e1", "rev": "3"} for p in paths}
    outcome = _scan(paths, answers, [_ann()])
    assert _found(outcome) == []
    [note] = outcome.notes
    assert note.startswith("3 operations answer properties their response schemas do not")
    assert "GET /things/a (etag, rev)" in note and "GET /things/c" in note
    closed = {p: _get(_obj("id", "name", additionalProperties=False)) for p in paths}
    strict = _scan(closed, answers, [_ann()])
    assert sorted(_found(strict)) == [(p, "etag, rev", "low") for p in sorted(paths)]
    assert strict.notes == []
