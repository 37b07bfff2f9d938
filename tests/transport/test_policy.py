"""The one classifier and the write policy, as a table of operations → decisions (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from battletest.transport.policy import (
    DecisionKind,
    PolicyRefused,
    Risk,
    WritePolicy,
    classify,
    classify_operation,
)


@dataclass(frozen=True)
class Param:
    name: str
    location: str


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    parameters: tuple[Param, ...] = field(default_factory=tuple)


def _op(method: str, path: str, **kw: Any) -> Op:
    params = tuple(Param(p.strip("{}"), "path") for p in path.split("/") if p.startswith("{"))
    extra = tuple(Param(q, "query") for q in kw.pop("query", ()))
    return Op(method, path, parameters=params + extra, **kw)


# (operation, risk, kind) — the ground truth, written before the classifier
TABLE = [
    (_op("GET", "/items"), Risk.SAFE, None),
    (_op("GET", "/items/{id}"), Risk.SAFE, None),
    (_op("HEAD", "/items"), Risk.SAFE, None),
    (_op("GET", "/admin/reset"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (
        _op("GET", "/data", summary="Reset all data"),
        Risk.DESTRUCTIVE,
        DecisionKind.DESTRUCTIVE_NAME,
    ),
    (
        _op("GET", "/state", operation_id="wipeState"),
        Risk.DESTRUCTIVE,
        DecisionKind.DESTRUCTIVE_NAME,
    ),
    (_op("POST", "/auth/logout"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (_op("POST", "/tokens/revoke"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (_op("POST", "/db/seed"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (_op("POST", "/system/shutdown"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (_op("POST", "/cache/purge"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (_op("POST", "/tables/truncate"), Risk.DESTRUCTIVE, DecisionKind.DESTRUCTIVE_NAME),
    (
        _op("POST", "/setup", description="Init the database"),
        Risk.DESTRUCTIVE,
        DecisionKind.DESTRUCTIVE_NAME,
    ),
    (_op("DELETE", "/v1/members"), Risk.DESTRUCTIVE, DecisionKind.COLLECTION_WIDE),
    (_op("PUT", "/items"), Risk.DESTRUCTIVE, DecisionKind.COLLECTION_WIDE),
    (_op("PATCH", "/items"), Risk.DESTRUCTIVE, DecisionKind.COLLECTION_WIDE),
    (
        _op("DELETE", "/items/{id}", query=("filter",)),
        Risk.DESTRUCTIVE,
        DecisionKind.COLLECTION_WIDE,
    ),
    (_op("DELETE", "/items/{id}", operation_id="deleteItem"), Risk.UNSAFE, None),
    (_op("PUT", "/items/{id}"), Risk.UNSAFE, None),
    (_op("POST", "/items"), Risk.UNSAFE, None),
    (_op("POST", "/items/{id}/archive"), Risk.UNSAFE, None),
    (_op("PATCH", "/users/me"), Risk.UNSAFE, None),
    (_op("DELETE", "/users/me"), Risk.DESTRUCTIVE, DecisionKind.DELETES_IDENTITY),
    (_op("DELETE", "/account"), Risk.DESTRUCTIVE, DecisionKind.DELETES_IDENTITY),
    (_op("GET", "/items", description="Items, deleted ones excluded"), Risk.SAFE, None),
    (_op("GET", "/initial-state"), Risk.SAFE, None),
]


@pytest.mark.parametrize(
    ("op", "risk", "kind"), TABLE, ids=[f"{o.method} {o.path}" for o, _, _ in TABLE]
)
def test_the_classifier_table(op: Op, risk: Risk, kind: DecisionKind | None) -> None:
    c = classify_operation(op)
    assert (c.risk, c.kind) == (risk, kind), c.reason


def test_a_bare_request_is_judged_by_its_path() -> None:
    assert classify("DELETE", "/v1/members").kind is DecisionKind.COLLECTION_WIDE
    assert classify("DELETE", "/v1/members/42").risk is Risk.UNSAFE
    assert (
        classify("DELETE", "/v1/members/42", query=["status"]).kind is DecisionKind.COLLECTION_WIDE
    )
    assert classify("GET", "/v1/reset").risk is Risk.DESTRUCTIVE


def _policy(**kw: Any) -> WritePolicy:
    ops = [o for o, _, _ in TABLE]
    return WritePolicy(operations=ops, **kw)


def test_production_sends_only_safe_methods_and_not_on_destructive_operations() -> None:
    policy = _policy(read_only=True, why_read_only="production is read-only")
    assert policy.decide("GET", "/items") is None
    assert policy.decide("POST", "/items").kind is DecisionKind.READ_ONLY  # type: ignore[union-attr]
    assert policy.decide("DELETE", "/items/1").kind is DecisionKind.READ_ONLY  # type: ignore[union-attr]
    reset = policy.decide("GET", "/admin/reset")
    assert reset is not None and reset.kind is DecisionKind.DESTRUCTIVE_NAME
    assert policy.decide("POST", "/login", purpose="identity") is None  # logins are allowed
    with pytest.raises(PolicyRefused, match="production is read-only"):
        policy.check("PUT", "/items/1")
    assert [d["kind"] for d in policy.report()] == ["read_only"]


def test_elsewhere_battletest_writes_only_to_what_it_created() -> None:
    policy = _policy()
    assert policy.decide("POST", "/items") is None  # a create
    refused = policy.decide("PUT", "/items/7")
    assert refused is not None and refused.kind is DecisionKind.NOT_OWNED
    created = policy.observe("POST", "/items", 201, {"location": "http://h/items/7"}, b"")
    assert created == "/items/7"
    assert policy.decide("PUT", "/items/7") is None
    assert policy.decide("DELETE", "/items/7") is None
    assert policy.decide("PUT", "/items/8") is not None
    policy.observe("POST", "/items", 201, {}, b'{"data": {"id": 9}}')
    assert policy.decide("DELETE", "/items/9") is None
    assert policy.decide("PATCH", "/users/me") is None  # the identity's own profile
    assert policy.decide("DELETE", "/users/me").kind is DecisionKind.DELETES_IDENTITY  # type: ignore[union-attr]
    assert policy.decide("DELETE", "/v1/members").kind is DecisionKind.COLLECTION_WIDE  # type: ignore[union-attr]


def test_allow_destructive_lifts_the_policy_and_a_launched_target_is_owned() -> None:
    assert _policy(read_only=True, allow_destructive=True).decide("DELETE", "/v1/members") is None
    owned = _policy(owns_target=True)
    assert owned.decide("PUT", "/items/7") is None
    assert owned.decide("DELETE", "/v1/members") is not None  # still collection-wide


def test_an_operation_is_refused_as_a_whole_before_any_request() -> None:
    policy = _policy(read_only=True, why_read_only="LIVE_SMOKE is read-only")
    post = policy.refuse_operation(_op("POST", "/items"))
    assert post is not None and post.reason.startswith("LIVE_SMOKE is read-only")
    assert policy.refuse_operation(_op("GET", "/items")) is None
    assert len(policy.decisions) == 1


def test_a_created_id_names_the_item_route_of_the_collection_it_was_posted_to() -> None:
    # the demo's shape: events are created under a call, but the spec has no route for one event
    policy = WritePolicy(
        operations=[
            _op("POST", "/v1/calls"),
            _op("GET", "/v1/calls/{call_id}"),
            _op("POST", "/v1/calls/{call_id}/events"),
            _op("POST", "/v1/calls/{call_id}/end"),
            _op("POST", "/v1/notes"),
            _op("DELETE", "/v1/notes/{note_id}"),
        ]
    )
    assert policy.observe("POST", "/v1/calls", 201, {}, b'{"id": "c1"}') == "/v1/calls/c1"
    assert policy.observe("POST", "/v1/calls/c1/events", 201, {}, b'{"id": "e1"}') is None
    assert policy.observe("POST", "/v1/calls/c1/end", 200, {}, b'{"id": "c1"}') is None
    assert policy.observe("POST", "/v1/notes", 201, {}, b'{"id": 5}') == "/v1/notes/5"
    assert policy.leftovers() == ["/v1/notes/5", "/v1/calls/c1"]  # no /v1/calls/c1/events/e1
    # without a spec every POST is a create into its path (nothing else to go by)
    bare = WritePolicy()
    assert bare.observe("POST", "/v1/things", 201, {}, b'{"id": "t"}') == "/v1/things/t"


def test_a_user_path_naming_a_configured_identity_is_that_identitys_own_profile() -> None:
    ops = [
        _op("PATCH", "/v1/users/{username}"),
        _op("DELETE", "/v1/users/{username}"),
        _op("PUT", "/v1/users/{username}/settings"),
        _op("PATCH", "/v1/users/{username}/vehicles/{plate}"),
        _op("PUT", "/v1/{login}/prefs"),
    ]
    policy = WritePolicy(operations=ops, base_path="/api", identities={"dana", "eli"})
    assert policy.decide("PATCH", "/api/v1/users/dana") is None  # dana's own profile
    assert policy.decide("PUT", "/api/v1/users/eli/settings") is None  # and eli's settings
    assert policy.decide("PUT", "/api/v1/eli/prefs") is None  # a parameter named like a user
    for method, path in [
        ("PATCH", "/api/v1/users/zoe"),  # not a configured identity
        ("PATCH", "/api/v1/users/dana/vehicles/DEP-1001"),  # dana's vehicle is not her profile
    ]:
        refused = policy.decide(method, path)
        assert refused is not None and refused.kind is DecisionKind.NOT_OWNED, path
    deleting = policy.decide("DELETE", "/api/v1/users/dana")  # a profile is never deleted
    assert deleting is not None and deleting.kind is DecisionKind.DELETES_IDENTITY
    policy.note_identity("u-77", 42)  # an id learnt from an identity's own answer
    assert policy.decide("PATCH", "/api/v1/users/42") is None
    # the same classifier, for every consumer
    assert classify("PATCH", "/users/dana", identities={"dana"}).own
    assert not classify("PATCH", "/users/dana").own
    assert classify("DELETE", "/users/dana", identities={"dana"}).risk is Risk.DESTRUCTIVE


def test_the_config_identities_usernames_are_the_policys_own_profiles() -> None:
    from battletest.config import load_config

    config = load_config(
        base={
            "identities": [
                {"name": "d", "username": "dana", "password": "x"},
                {"name": "k", "api_key": "k1"},
            ]
        },
        environ={},
        cwd=Path("/nonexistent"),
    )
    policy = WritePolicy.from_config(config, operations=[_op("PATCH", "/users/{username}")])
    assert policy.identities == {"dana"}
    assert policy.decide("PATCH", "/users/dana") is None
