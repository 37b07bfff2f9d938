"""The scanner core of issue 19: every method and input, inferred ownership and privilege.

Loopback: the workshop app (Starlette, form login, no RBAC matrix, no configured objects) with
every planted flaw must give exactly its ground truth (``workshop_app.VULNS``: check, operation,
parameter), and the fixed app nothing. Socket-free: the building blocks (nested and form
injection points, optional parameters left out, creation without an id, owners from listings,
escalation values), each against an ``httpx.MockTransport`` service.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from battletest.security import ScanSettings
from battletest.security.checks.inject import base_request, encode_body, set_at
from battletest.security.checks.privilege import escalation_values, rank
from battletest.security.checks.references import references
from battletest.security.context import ScanContext, ScanIdentity
from battletest.spec import from_document
from battletest.transport import Transport, WritePolicy

from .workshop_app import VULNS
from .workshop_harness import run_scan

CHECKS = sorted({check for check, _, _ in VULNS.values()})


def _where(f: Any) -> tuple[str, str, str]:
    return f.check_id, f"{f.method} {f.path}", f.parameter or ""


@pytest.mark.slow
@pytest.mark.network
def test_workshop_ground_truth_found_and_nothing_else() -> None:
    outcome = run_scan(set(VULNS), CHECKS)
    found = [_where(f) for f in outcome.findings]
    for flaw, (check, op, param) in VULNS.items():
        assert any(c == check and o == op and param in p for c, o, p in found), (flaw, found)
    assert len(found) == len(VULNS), found  # one finding per planted flaw: no false positive
    assert outcome.requests < 400


@pytest.mark.slow
@pytest.mark.network
def test_fixed_workshop_gives_no_finding() -> None:
    outcome = run_scan(set(), CHECKS)
    assert [_where(f) for f in outcome.findings] == []
    # what stays inconclusive says why, and never because the policy refused a probe of an
    # object the scanner owns
    for run in outcome.inconclusive:
        assert "did not create" not in run.reason, (run.check_id, run.target, run.reason)


# -- socket-free building blocks -------------------------------------------------------------


def _doc(paths: dict[str, Any]) -> dict[str, Any]:
    key = {"key": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "components": {"securitySchemes": key},
        "paths": paths,
    }


def _ctx(
    paths: dict[str, Any], handler: Any, people: list[ScanIdentity] | None = None
) -> ScanContext:
    ops = from_document(_doc(paths)).operations
    client = Transport(
        "http://api.test",
        transport=httpx.MockTransport(handler),
        policy=WritePolicy(operations=ops),
    )
    return ScanContext(client, ScanSettings(), ops, people or [])


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def test_nested_properties_and_array_items_are_injection_points() -> None:
    body_schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "bike": {"type": "object", "properties": {"model": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "count": {"type": "integer"},
        },
    }
    sent: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={})

    paths = {"/orders": {"post": {"requestBody": _json(body_schema), "responses": {}}}}
    ctx = _ctx(paths, handler)
    probe = base_request(ctx, ctx.operations[0])
    assert not isinstance(probe, str)
    assert sorted(s.label for s in probe.slots) == ["body bike.model", "body tags.0", "body title"]
    slot = next(s for s in probe.slots if s.name == "bike.model")
    probe.send(slot, "x'")
    assert sent[-1]["bike"]["model"] == "x'" and sent[-1]["title"] == sent[0]["title"]
    assert probe.body is not None and probe.body["bike"]["model"] != "x'"  # the base is intact


def test_form_and_multipart_bodies_are_encoded_as_declared() -> None:
    headers: dict[str, str] = {}
    form = encode_body("form", {"part": "a+b&c=%", "qty": 2}, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(form["content"]) == {"part": ["a+b&c=%"], "qty": ["2"]}
    headers = {}
    multi = encode_body("multipart", {"note": "hi", "file": "data"}, headers, frozenset({"file"}))
    boundary = headers["Content-Type"].split("boundary=")[1]
    text = multi["content"].decode()
    assert f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n' in text
    assert 'name="file"; filename="file.txt"' in text and text.endswith(f"--{boundary}--\r\n")
    assert set_at({"a": [{"b": 1}]}, "a.0.b", 2) == {"a": [{"b": 2}]}


def test_optional_parameters_stay_out_of_the_working_request() -> None:
    """A strict service answers 400 to a junk optional value: the base request leaves the
    optional parameters out and probes them one at a time."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        cursor = request.url.params.get("cursor")
        if cursor is not None and len(cursor) != 8:
            return httpx.Response(400, json={"error": "bad cursor"})
        return httpx.Response(200, json=[])

    paths = {
        "/jobs": {
            "get": {
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "site", "in": "query", "required": True, "schema": {"enum": ["n"]}},
                ],
                "responses": {},
            }
        }
    }
    ctx = _ctx(paths, handler)
    probe = base_request(ctx, ctx.operations[0])
    assert not isinstance(probe, str), probe
    assert dict(seen[0].params) == {"site": "n"}
    optional = {s.name for s in probe.slots if s.optional}
    assert optional == {"q", "cursor"}
    slot = next(s for s in probe.slots if s.name == "q")
    probe.send(slot, "x")
    assert dict(seen[-1].params) == {"site": "n", "q": "x"}


def test_an_object_created_without_an_id_is_found_in_the_listing_and_owned() -> None:
    jobs: list[dict[str, Any]] = [{"job_id": 1, "owner": "bob", "title": "bob's"}]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            jobs.append({"job_id": len(jobs) + 1, "owner": "ann", "title": body["title"]})
            return httpx.Response(202, json={"status": "queued"})
        return httpx.Response(200, json=jobs)

    item = {"parameters": [{"name": "job_id", "in": "path", "required": True}], "responses": {}}
    paths = {
        "/jobs": {
            "get": {"responses": {}},
            "post": {
                "requestBody": _json(
                    {"type": "object", "properties": {"title": {"type": "string"}}}
                ),
                "responses": {},
            },
        },
        "/jobs/{job_id}": {"get": item, "patch": item},
    }
    ann = ScanIdentity(name="ann", username="ann", token="t-ann")
    bob = ScanIdentity(name="bob", username="bob", token="t-bob")
    ctx = _ctx(paths, handler, [ann, bob])
    assert ctx.ids(ann, "/jobs") == ["1"]  # cached listing, before the creation
    made, _ = ctx.create(ann, "/jobs")
    assert made is not None and made.id == "2"
    assert ctx.client.policy is not None and ctx.client.policy.owned("/jobs/2")
    # the listing is read again after the creation, and each item's owner field is kept
    assert ctx.ids(bob, "/jobs") == ["1", "2"]
    assert ctx.owner("/jobs", "1") == "bob" and ctx.owner("/jobs", "2") == "ann"
    assert ctx.listed_by(bob, "/jobs") >= {"1", "2"}
    # a write probe goes to the scanner's own object, never to a listed one
    assert ctx.fill(ctx.find("PATCH", "/jobs/{job_id}"), ann, own=True) == "/jobs/2"  # type: ignore[arg-type]


def test_references_name_their_collection() -> None:
    paths = {
        "/tickets/{ticket_id}": {"get": {"responses": {}}},
        "/categories/{id}": {"get": {"responses": {}}},
    }
    ctx = _ctx(paths, lambda r: httpx.Response(200))
    assert ctx.referenced("ticket_id") == "/tickets"
    assert ctx.referenced("ticketId") == "/tickets"
    assert ctx.referenced("categoryId") == "/categories"
    assert ctx.referenced("title") is None and ctx.referenced("id") is None


def test_escalation_values_rank_above_the_current_role() -> None:
    ctx = _ctx({}, lambda r: httpx.Response(200))
    enum = {"type": "string", "enum": ["customer", "mechanic", "manager", "admin"]}
    assert escalation_values(ctx, "role", enum, "customer") == ["admin", "manager"]
    assert escalation_values(ctx, "role", enum, "admin") == []
    assert escalation_values(ctx, "is_admin", {"type": "boolean"}, False) == [True]
    ctx.state["privilege:observed:role"] = ["supervisor"]
    assert escalation_values(ctx, "role", None, "member")[0] == "supervisor"
    assert rank("administrator") > rank("moderator") > rank("member") > rank("viewer")


def test_put_creates_on_a_free_id_that_fits_the_pattern_and_is_owned() -> None:
    """``PUT /plates/{plate}`` creates: the scanner picks a fresh id matching the parameter's
    pattern, writes only where the GET says nothing is (404), and owns what it made."""
    taken = {"BT-TAKEN"}
    sent: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path))
        plate = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET":
            return httpx.Response(200 if plate in taken else 404, json={"plate": plate})
        taken.add(plate)
        return httpx.Response(201, json={"plate": plate})

    plate = {"name": "plate", "in": "path", "required": True}
    plate["schema"] = {"type": "string", "pattern": "^[A-Z0-9-]{2,12}$"}
    body = _json({"type": "object", "properties": {"colour": {"type": "string"}}})
    paths = {
        "/plates/{plate}": {
            "parameters": [plate],
            "get": {"responses": {}},
            "put": {"requestBody": body, "responses": {}},
        }
    }
    ann = ScanIdentity(name="ann", token="t")
    ctx = _ctx(paths, handler, [ann])
    assert ctx.can_create("/plates")
    made, ex = ctx.create(ann, "/plates")
    assert made is not None and ex is not None and ex.status == 201
    assert made.id.startswith("BT-") and made.id != "BT-TAKEN"
    assert sent[:2] == [("GET", f"/plates/{made.id}"), ("PUT", f"/plates/{made.id}")]
    assert ctx.client.policy is not None and ctx.client.policy.owned(f"/plates/{made.id}")


def test_an_rpc_reference_is_made_by_its_create_operation() -> None:
    """``plot_id`` with no REST collection: the object comes from ``POST /rpc/plots.create``,
    and a required ``plot_id`` of the base request names the scanner's own plot."""
    plots: dict[int, str] = {}
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path.endswith("plots.create"):
            plots[len(plots) + 7] = parse_qs(request.content.decode())["name"][0]
            return httpx.Response(201, json={"id": max(plots)})
        found = plots.get(int(request.url.params.get("plot_id", "0")))
        return httpx.Response(200 if found else 404, json={"name": found})

    form = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}}
            }
        }
    }
    query = {"name": "plot_id", "in": "query", "required": True, "schema": {"type": "integer"}}
    secured = {"security": [{"key": []}], "responses": {}}
    paths = {
        "/rpc/plots.create": {"post": {"requestBody": form, **secured}},
        "/rpc/plots.get": {"get": {"parameters": [query], **secured}},
    }
    ann = ScanIdentity(name="ann", token="t")
    ctx = _ctx(paths, handler, [ann])
    getter = ctx.find("GET", "/rpc/plots.get")
    assert getter is not None
    (ref,) = references(ctx, getter)
    assert ref.creator is not None and ref.creator.url_path == "/rpc/plots.create"
    probe = base_request(ctx, getter)
    assert not isinstance(probe, str) and probe.base is not None and probe.base.status == 200
    assert seen[-1].params["plot_id"] == "7"


def _rpc_profile_service(vulnerable: bool) -> tuple[dict[str, Any], Any]:
    """An RPC profile: ``POST /rpc/profile.update`` (form) and ``GET /rpc/profile.get``."""
    people = {"t-ann": {"username": "ann", "role": "member"}}
    people["t-cat"] = {"username": "cat", "role": "admin"}

    def handler(request: httpx.Request) -> httpx.Response:
        me = people.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if me is None:
            return httpx.Response(401, json={"error": "who are you?"})
        if request.method == "POST":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            if vulnerable and "role" in form:
                me["role"] = form["role"]
        return httpx.Response(200, json=me)

    form = {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"display_name": {"type": "string"}}}
            }
        }
    }
    secured = {"security": [{"key": []}], "responses": {}}
    paths = {
        "/rpc/profile.update": {"post": {"requestBody": form, **secured}},
        "/rpc/profile.get": {"get": secured},
    }
    return _doc(paths), handler


@pytest.mark.parametrize("vulnerable", [True, False])
def test_rpc_profile_update_escalates_the_role_and_reads_it_back(vulnerable: bool) -> None:
    from battletest.security import scan

    doc, handler = _rpc_profile_service(vulnerable)
    people = [
        ScanIdentity(name="ann", role="member", token="t-ann"),
        ScanIdentity(name="cat", role="admin", token="t-cat"),
    ]
    settings = ScanSettings(checks=["mass-assignment"])
    outcome = scan("http://api.test", doc, people, settings, transport=httpx.MockTransport(handler))
    found = [(f.method, f.path, f.parameter) for f in outcome.findings]
    if vulnerable:  # the value the admin's own profile holds; the old one written back after
        assert found == [("POST", "/rpc/profile.update", "role")]
        assert "role='admin'" in outcome.findings[0].evidence["note"]
    else:
        assert found == [] and not outcome.inconclusive


@pytest.mark.slow
def test_redos_is_found_behind_a_length_cap() -> None:
    """A service that cuts input at 24 characters before an exponential match: the long
    shapes are cut to the same length, the short shape (6 against 24) still scales."""
    import time

    from battletest.security import scan

    def handler(request: httpx.Request) -> httpx.Response:
        code = request.url.params.get("code", "")[:24]
        run = len(code) - len(code.lstrip("a"))
        if run >= 20:  # 2**run backtracking steps: a wall of time past 20 characters
            time.sleep(0.6)
        return httpx.Response(200, json={"valid": False})

    query = {"name": "code", "in": "query", "required": True, "schema": {"type": "string"}}
    doc = _doc({"/codes.check": {"get": {"parameters": [query], "responses": {}}}})
    settings = ScanSettings(checks=["redos"], depth="basic")
    outcome = scan("http://api.test", doc, [], settings, transport=httpx.MockTransport(handler))
    assert [(f.path, f.parameter) for f in outcome.findings] == [("/codes.check", "query code")]


@pytest.mark.parametrize("leaky", [True, False])
def test_data_exposure_reads_objects_nested_one_level_down(leaky: bool) -> None:
    from battletest.security import scan

    owner: dict[str, Any] = {"username": "ann", "display_name": "Ann"}
    if leaky:
        owner["password_hash"] = "5e884898da28047151d0e56f8dc62927"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"id": 1, "name": "bed", "owner": owner}]})

    item = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "owner": {"type": "object", "properties": {"username": {}, "display_name": {}}},
        },
    }
    listing = {"type": "object", "properties": {"items": {"type": "array", "items": item}}}
    ok = {"200": {"description": "ok", **_json(listing)}}
    doc = _doc({"/plots.list": {"get": {"responses": ok}}})
    settings = ScanSettings(checks=["data-exposure"])
    outcome = scan("http://api.test", doc, [], settings, transport=httpx.MockTransport(handler))
    found = [f.parameter for f in outcome.findings]
    assert found == (["owner.password_hash"] if leaky else [])


@pytest.mark.parametrize("vulnerable", [True, False])
def test_an_admin_role_setter_called_on_oneself_is_bfla_and_is_undone(vulnerable: bool) -> None:
    """No RBAC matrix: the admin tag makes ``POST /rpc/members.setRole`` privileged; ann sets
    her own role to the enum's highest value, her profile shows it, and it is written back."""
    from battletest.security import scan

    roles = {"ann": "member", "cat": "admin"}
    tokens = {"t-ann": "ann", "t-cat": "cat"}

    def handler(request: httpx.Request) -> httpx.Response:
        me = tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))
        if me is None:
            return httpx.Response(401, json={})
        if request.method == "GET":
            return httpx.Response(200, json={"username": me, "role": roles[me]})
        if roles[me] != "admin" and not vulnerable:
            return httpx.Response(403, json={"error": "administrators only"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        roles[form["username"]] = form["role"]
        return httpx.Response(200, json={"ok": True})

    fields = {"username": {"type": "string"}, "role": {"enum": ["member", "steward", "admin"]}}
    form = {"application/x-www-form-urlencoded": {"schema": {"properties": fields}}}
    secured = {"security": [{"key": []}], "responses": {}}
    paths = {
        "/rpc/members.setRole": {
            "post": {"tags": ["admin"], "requestBody": {"content": form}, **secured}
        },
        "/rpc/profile.get": {"get": secured},
        "/rpc/profile.update": {"post": {"requestBody": {"content": form}, **secured}},
    }
    people = [
        ScanIdentity(name="ann", role="member", username="ann", token="t-ann"),
        ScanIdentity(name="cat", role="admin", username="cat", token="t-cat"),
    ]
    settings = ScanSettings(checks=["bfla"])
    transport = httpx.MockTransport(handler)
    outcome = scan("http://api.test", _doc(paths), people, settings, transport=transport)
    found = [(f.path, f.parameter) for f in outcome.findings]
    assert found == ([("/rpc/members.setRole", "role")] if vulnerable else [])
    assert not outcome.inconclusive
    assert roles == {"ann": "member", "cat": "admin"}  # ann is a member again
