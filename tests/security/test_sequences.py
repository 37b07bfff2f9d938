"""Reach: user paths filled with the identity's own name, objects cleaned up before the bursts,
stateful sequences (producer → consumer), observed values. Scans on loopback."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from battletest.netutil import serve_app
from battletest.security import ScanIdentity, ScanSettings, scan
from battletest.security.context import ScanContext, identities_from, login
from battletest.security.sequences import session_sequence
from battletest.security.suite import operations_of
from battletest.spec import Operation, load_spec
from battletest.transport import Transport, WritePolicy

from . import courier_app
from .apps import launch
from .apps.depot.app import USERS


def _depot_people() -> list[ScanIdentity]:
    return [
        ScanIdentity(name=u, role=role, username=u, password=pw, basic=True)
        for u, (pw, role, *_rest) in USERS.items()
    ]


def _basic(user: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{USERS[user][0]}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


@pytest.mark.slow
@pytest.mark.parametrize("vulnerable", [True, False])
def test_bfla_sets_a_role_on_another_identitys_user_path_and_writes_it_back(
    vulnerable: bool,
) -> None:
    """depot B6: PATCH /v1/users/{username} is the administrators'; no RBAC matrix. The
    write policy lets the scan write a configured identity's own profile (/v1/users/eli),
    so dana raises eli's role there, eli's own profile shows it, and the role goes back."""
    with launch.served("depot", vulnerable=vulnerable) as served:
        outcome = scan(
            served.base_url,
            load_spec(served.spec_url, served.base_url),
            _depot_people(),
            ScanSettings(checks=["bfla"]),
        )
        me = httpx.get(served.base_url + "/v1/users/me", headers=_basic("eli")).json()
    hits = [(f.check_id, f.method, f.path) for f in outcome.findings]
    if vulnerable:
        assert ("bfla", "PATCH", "/v1/users/{username}") in hits
        finding = next(f for f in outcome.findings if f.path == "/v1/users/{username}")
        note = str(finding.evidence.get("note", ""))
        assert "eli" in note and "admin" in note, note
    else:
        assert hits == []
        run = next(r for r in outcome.runs if r.target == "PATCH /v1/users/{username}")
        assert run.conclusive, run.reason
    assert me["role"] == "driver" and me["active"] is True  # eli is as it was


@contextmanager
def _courier(
    *, links: bool = True, checks: tuple[str, ...] = (), read_only: bool = False
) -> Iterator[tuple[ScanContext, list[tuple[str, str, int]]]]:
    """The courier app on loopback and a scan context logged in as ann and ben."""
    app, journal = courier_app.build_app()
    with serve_app(app) as base:
        ops = operations_of(courier_app.spec(links=links))
        settings = ScanSettings(login={"path": "/v1/auth/login"}, checks=list(checks))
        policy = WritePolicy(operations=ops, read_only=read_only, why_read_only="LIVE_SMOKE")
        client = Transport(base, policy=policy)
        try:
            people = [
                login(client, ScanIdentity(name=u, username=u, password=pw), settings.login)
                for u, pw in courier_app.USERS.items()
            ]
            yield ScanContext(client, settings, ops, people, all_operations=ops), journal
        finally:
            client.close()


def _op(ctx: ScanContext, method: str, path: str) -> Operation:
    found = ctx.find(method, path)
    assert found is not None
    return found


@pytest.mark.slow
def test_a_link_gives_the_consumer_the_value_its_producer_answered() -> None:
    """POST /v1/parcels answers no id, only a tracking code; the response's link (a $ref to
    components.links) says GET /v1/tracking/{code} takes it: the consumer is reached."""
    for links in (True, False):
        with _courier(links=links) as (ctx, journal):
            ann = ctx.identities[0]
            made, _ = ctx.create(ann, "/v1/parcels")
            assert made is not None  # its number, from the answer's body
            path = ctx.fill(_op(ctx, "GET", "/v1/tracking/{code}"), ann)
            if not links:
                assert path is None  # nothing says where the code comes from
                continue
            assert path == f"/v1/tracking/{made.response['tracking']}"
            assert ctx.send("GET", path, ann).status == 200
            ctx.cleanup()
            assert ("DELETE", "/v1/parcels/{number}", 204) in journal  # the sequence cleans up


@pytest.mark.slow
def test_search_and_filter_parameters_get_values_seen_in_answers() -> None:
    """q gets a label a listing showed (not junk); the recipients lookup, 422 without one of
    its optional filters, gets the phone the parcel's own answer showed."""
    with _courier() as (ctx, _journal):
        ann = ctx.identities[0]
        search = _op(ctx, "GET", "/v1/parcels.search")
        lookup = _op(ctx, "GET", "/v1/recipients")
        assert ctx.query(lookup, ann) == ""
        assert ctx.send("GET", "/v1/recipients", ann).status == 422
        made, _ = ctx.create(ann, "/v1/parcels")
        assert made is not None
        label = made.body["label"]
        ctx.send("GET", "/v1/parcels", ann)  # the listing shows the label
        ctx.send("GET", f"/v1/parcels/{made.id}", ann)  # the item shows the phone
        assert ctx.query(search, ann) == f"?q={label}"
        assert ctx.send("GET", "/v1/parcels.search" + ctx.query(search, ann), ann).ok
        phone = ctx.query(lookup, ann)
        assert phone.startswith("?phone=%2B4470000")
        assert ctx.send("GET", "/v1/recipients" + phone, ann).status == 200
        ben = ctx.identities[1]
        assert ctx.query(search, ben).startswith("?q=battletest-")  # ben saw nothing
        ctx.cleanup()


@pytest.mark.slow
def test_the_session_sequence_refreshes_and_logs_out_a_session_of_its_own() -> None:
    """A fresh login's refresh token goes to POST /v1/auth/refresh (a body property named like
    one of the login's answer), then that session logs out; ann's own token still works."""
    with _courier() as (ctx, journal):
        ann = ctx.identities[0]
        reached = session_sequence(ctx)
        assert reached == ["POST /v1/auth/refresh", "POST /v1/auth/logout"]
        assert ("POST", "/v1/auth/refresh", 200) in journal
        assert ("POST", "/v1/auth/logout", 204) in journal
        assert ctx.send("GET", "/v1/parcels", ann).status == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    ("checks", "read_only", "sequence"),
    [((), False, True), (("bola",), False, False), ((), True, False)],
)
def test_the_end_of_scan_cleanup_runs_the_session_sequence_only_for_a_full_writable_scan(
    checks: tuple[str, ...], read_only: bool, sequence: bool
) -> None:
    """A scan of chosen checks sends no extra login, refresh and logout; a read-only scan
    (LIVE_SMOKE, production) sends no write at all, and its cleanup never raises the refusal."""
    with _courier(checks=checks, read_only=read_only) as (ctx, journal):
        ctx.cleanup()
        sent = {(method, path) for method, path, _ in journal}
        assert (("POST", "/v1/auth/logout") in sent) is sequence
        if read_only:
            assert {m for m, p in sent if p != "/v1/auth/login"} <= {"GET", "HEAD"}


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("insecure", [True, False])
def test_demo_bola_with_identities_only(insecure: bool) -> None:
    """No [security.objects]: reservations are listed only by confirmation code or phone, and
    only by staff. A staff listing filtered by a phone seen in an identity's own profile names
    guest2 the owner of its reservation (its guest_id is guest2's own, from GET /v1/me); guest1
    then reads it — a finding on the insecure demo only."""
    from battletest.demo import start

    with start(insecure=insecure, kdf_time_cost=1, kdf_memory_kib=8192) as demo:
        people = identities_from(demo.identities)
        outcome = scan(
            demo.base_url,
            load_spec(demo.spec_url, demo.base_url),
            people,
            ScanSettings(checks=["bola"], login={"path": "/v1/auth/login"}),
        )
    run = next(r for r in outcome.runs if r.target == "GET /v1/reservations/{reservation_id}")
    hits = [(f.check_id, f.path) for f in outcome.findings]
    if insecure:
        assert ("bola", "/v1/reservations/{reservation_id}") in hits
    else:
        assert hits == [] and run.conclusive, run.reason


def _allotment_scan(checks: list[str]) -> tuple[Any, list[tuple[str, str, int]]]:
    from .apps.allotment.app import MEMBERS

    people = [
        ScanIdentity(name=u, role=role, username=u, password=pw)
        for u, (pw, role, *_rest) in MEMBERS.items()
        if u != "dave"
    ]
    with launch.served("allotment") as served:
        outcome = scan(
            served.base_url,
            load_spec(served.spec_url, served.base_url),
            people,
            ScanSettings(checks=checks, login={"path": "/login", "format": "form"}),
        )
        return outcome, list(served.app.journal.entries)


@pytest.mark.slow
def test_a_rejected_request_is_built_again_with_a_number_an_answer_showed() -> None:
    """allotment's harvest.log takes kg as a string form field but needs a number: refused
    (400) with the scanner's marked text, accepted once harvest.report's answer showed kg."""
    outcome, journal = _allotment_scan(["command-injection", "template-injection"])
    assert ("POST", "/rpc/harvest.log", 400) in journal  # before any kg was seen
    assert ("POST", "/rpc/harvest.log", 201) in journal
    assert outcome.findings  # the planted template injection is still found


@pytest.mark.slow
def test_bola_leaves_out_a_read_the_spec_declares_public() -> None:
    """The board's notes are public (no security on GET /rpc/notes.view): another identity
    reading a note the scanner pinned is no BOLA; the private plots.get still is (A1)."""
    outcome, _ = _allotment_scan(["bola"])
    hits = {(f.check_id, f.path) for f in outcome.findings}
    assert ("bola", "/rpc/plots.get") in hits
    assert ("bola", "/rpc/notes.view") not in hits
    assert not any(r.target == "GET /rpc/notes.view" for r in outcome.runs)


def test_values_echoing_the_scanners_probes_are_not_reused() -> None:
    from battletest.security.sequences import Observations
    from battletest.transport import Exchange

    ex = Exchange("GET", "http://t/items", [], b"", 200, httpx.Headers(), b"")
    obs = Observations()
    body = {"items": [{"name": "battletest-0042')", "code": "battletest-0042", "phone": "+1-5"}]}
    obs.note("ann", None, ex, body)
    assert obs.seen("ann", "name") == []  # a probe's payload, echoed back
    assert obs.seen("ann", "code") == ["battletest-0042"]  # the scanner's own plain value
    assert obs.seen("ann", "phone") == ["+1-5"]
    assert obs.seen("ben", "phone") == []  # per identity
