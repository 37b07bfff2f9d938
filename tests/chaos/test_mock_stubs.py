"""Stub parsing, matching and templating, socket-free."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from battletest.chaos.mock.http import Fault, Request
from battletest.chaos.mock.stubs import (
    Latency,
    Matcher,
    compile_path,
    load_stub_file,
    parse_stub,
    parse_stub_document,
    render_json,
    template_context,
)
from battletest.errors import ScenarioError


def req(method: str = "GET", target: str = "/", headers=(), body: bytes = b"") -> Request:
    return Request(method, target, list(headers), body)


def test_path_template_extracts_parameters() -> None:
    stub = parse_stub({"method": "GET", "path": "/reservations/{id}/guests/{gid}"})
    assert stub.match(req(target="/reservations/42/guests/7"), None) == {"id": "42", "gid": "7"}
    assert stub.match(req(target="/reservations/42"), None) is None
    assert stub.match(req("POST", "/reservations/42/guests/7"), None) is None


def test_path_param_with_path_suffix_spans_slashes() -> None:
    assert compile_path("/files/{rest:path}").match("/files/a/b/c").group("rest") == "a/b/c"


def test_query_header_and_body_matchers() -> None:
    stub = parse_stub(
        {
            "path": "/search",
            "query": {"q": "ada", "page": {"matches": "^[0-9]+$"}},
            "headers": {"X-Api-Key": {"contains": "k-"}, "x-debug": {"absent": True}},
            "body": {"json": {"kind": "lookup"}},
        }
    )
    body = json.dumps({"kind": "lookup", "extra": 1}).encode()
    good = req("POST", "/search?q=ada&page=2", [("x-api-key", "the-k-1")], body)
    assert stub.match(good, None) == {}
    assert (
        stub.match(req("POST", "/search?q=bob&page=2", [("x-api-key", "k-1")], body), None) is None
    )
    assert (
        stub.match(req("POST", "/search?q=ada&page=x", [("x-api-key", "k-1")], body), None) is None
    )
    with_debug = req("POST", "/search?q=ada&page=2", [("x-api-key", "k-1"), ("x-debug", "1")], body)
    assert stub.match(with_debug, None) is None
    wrong_body = req("POST", "/search?q=ada&page=2", [("x-api-key", "k-1")], b'{"kind": "other"}')
    assert stub.match(wrong_body, None) is None


def test_stateful_stub_only_matches_in_its_state() -> None:
    stub = parse_stub(
        {"path": "/book", "scenario": "booking", "required_state": "Booked", "new_state": "Done"}
    )
    assert stub.match(req(target="/book"), None) is None  # state defaults to Started
    assert stub.match(req(target="/book"), "Booked") == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"path": "/x", "headers": {"a": {"startswith": "b"}}}, "unknown matcher 'startswith'"),
        ({"path": "/x", "query": {"a": {"matches": "("}}}, "bad regular expression"),
        ({"path": "/x", "query": {"a": {"equals": 1, "contains": 2}}}, "exactly one operator"),
        ({"path": "/x", "body": {"json": {}, "x": 1}}, "exactly one operator"),
        ({"method": "GET"}, "needs a path"),
        ({"path": "/x", "colour": "red"}, "unknown key(s) ['colour']"),
        ({"path": "/x", "response": {"status": 999}}, "not an HTTP status"),
        ({"path": "/x", "response": {"body": "a", "json": {}}}, "both body and json"),
        ({"path": "/x", "response": {"fault": "explode"}}, "unknown fault 'explode'"),
        ({"path": "/x", "response": {"latency": {"p50": 3}}}, "not a distribution"),
        ({"path": "/x", "response": {"body": "{{ unclosed"}}, "bad response template"),
    ],
)
def test_bad_stub_is_one_clear_error(raw: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_stub(raw)
    assert message in str(err.value)


def test_stub_file_error_names_the_file_and_stub(tmp_path: Path) -> None:
    f = tmp_path / "pms.toml"
    f.write_text('[[stubs]]\nname = "lookup"\npath = "/r"\nheaders = { "x" = { like = "y" } }\n')
    with pytest.raises(ScenarioError, match=r"pms.toml: stub 'lookup' header 'x': unknown matcher"):
        load_stub_file(f)


def test_stub_file_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not found"):
        load_stub_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid json"):
        load_stub_file(bad)
    with pytest.raises(ScenarioError, match="unknown top-level key"):
        parse_stub_document({"stub": []})


def test_json_and_toml_files_load_stubs_and_scenarios(tmp_path: Path) -> None:
    t = tmp_path / "s.toml"
    t.write_text(
        '[[stubs]]\npath = "/a"\n[stubs.response]\nstatus = 201\n'
        "[scenarios.maintenance]\nstatus = 503\n"
    )
    stubs, scen = load_stub_file(t)
    assert stubs[0].response.status == 201 and scen == {"maintenance": {"status": 503}}
    j = tmp_path / "s.json"
    j.write_text(json.dumps([{"path": "/b", "response": {"json": {"ok": True}}}]))
    stubs, _ = load_stub_file(j)
    assert stubs[0].response.json == {"ok": True}


def test_round_trip_to_raw() -> None:
    raw = {
        "name": "n",
        "method": "POST",
        "path": "/p/{id}",
        "query": {"a": {"equals": "1"}},
        "headers": {"x": {"present": True}},
        "body": {"contains": "z"},
        "priority": 1,
        "scenario": "s",
        "required_state": "Started",
        "new_state": "B",
        "response": {"status": 202, "json": {"k": "v"}, "latency": {"fixed_ms": 3.0}},
    }
    assert parse_stub(raw).to_raw() == raw


def test_templates_see_the_request() -> None:
    request = req(
        "POST",
        "/r/42?lang=fr",
        [("X-Correlation-Id", "cid-1")],
        json.dumps({"guest": "Ada"}).encode(),
    )
    ctx = template_context(request, {"id": "42"})
    out = render_json(
        {
            "id": "{{ request.path_params.id }}",
            "lang": "{{ request.query.lang }}",
            "cid": "{{ request.headers['x-correlation-id'] }}",
            "guest": ["{{ request.json.guest | upper }}"],
            "missing": "[{{ request.headers['nope'] }}]",
            "n": 3,
        },
        ctx,
    )
    assert out == {
        "id": "42",
        "lang": "fr",
        "cid": "cid-1",
        "guest": ["ADA"],
        "missing": "[]",
        "n": 3,
    }


def test_latency_distributions() -> None:
    rng = random.Random(1)
    assert Latency.parse(25, "x").sample_ms(rng) == 25
    uni = Latency.parse({"min_ms": 10, "max_ms": 20}, "x")
    assert all(10 <= uni.sample_ms(rng) <= 20 for _ in range(200))
    logn = Latency.parse({"median_ms": 50, "sigma": 0.5}, "x")
    samples = sorted(logn.sample_ms(rng) for _ in range(2001))
    assert 40 < samples[1000] < 62  # the median of a lognormal is its scale
    assert samples[-1] > 2 * samples[1000]  # and it has a long right tail
    with pytest.raises(ScenarioError, match="max_ms must be"):
        Latency.parse({"min_ms": 5, "max_ms": 1}, "x")
    with pytest.raises(ScenarioError, match="median_ms > 0"):
        Latency.parse({"median_ms": 0, "sigma": 1}, "x")


def test_matcher_any_of_and_present() -> None:
    assert Matcher.parse({"any_of": ["a", "b"]}, "x").test("b")
    assert not Matcher.parse({"any_of": ["a", "b"]}, "x").test("c")
    assert Matcher.parse({"present": True}, "x").test("")
    assert not Matcher.parse({"present": True}, "x").test(None)
    with pytest.raises(ScenarioError, match="takes a list"):
        Matcher.parse({"any_of": "a"}, "x")


def test_fault_names() -> None:
    assert parse_stub({"path": "/x", "response": {"fault": "malformed_chunk"}}).response.fault is (
        Fault.MALFORMED_CHUNK
    )


def test_journal_keeps_the_newest_entries_within_its_limit() -> None:
    from battletest.chaos.mock.journal import Journal, JournalEntry

    journal = Journal(limit=3)
    for i in range(5):
        journal.record(JournalEntry(0, float(i), float(i), "GET", f"/r/{i}", {}, {}, ""))
    assert [e.path for e in journal.entries()] == ["/r/2", "/r/3", "/r/4"]
    assert [e.seq for e in journal.entries()] == [3, 4, 5]
    assert journal.intervals("GET", "/r/{id}") == [1.0, 1.0]
