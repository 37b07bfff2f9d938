"""diff: what a replay reports as a difference, and what it does not."""

from __future__ import annotations

import json

from battletest.redact import Redactor
from battletest.replay.diff import Answer, diff
from battletest.replay.masks import Mask, MaskSet

SAFE = (
    ("content-type", "application/json"),
    ("x-content-type-options", "nosniff"),
    ("strict-transport-security", "max-age=31536000"),
    ("date", "Thu, 03 Dec 2026 12:16:34 GMT"),
    ("x-correlation-id", "7859253de5a04bc39afc01a3209f208c"),
)


def answer(body: object, status: int = 200, headers: tuple[tuple[str, str], ...] = SAFE) -> Answer:
    return Answer(status, headers, json.dumps(body).encode())


def test_the_same_answer_with_new_ids_times_and_request_ids_has_no_difference() -> None:
    before = answer({"id": "call_59b6f741ce51", "created_at": 1796300194.72, "status": "ended"})
    after = answer(
        {"id": "call_77aa00bb11cc", "created_at": 1796309999.01, "status": "ended"},
        headers=(*SAFE[:3], ("date", "Fri, 04 Dec 2026 00:00:00 GMT"), ("x-correlation-id", "x")),
    )
    assert diff(before, after) == []


def test_status_headers_and_properties_that_differ_are_reported() -> None:
    before = answer({"id": 1, "name": "Ada", "role": "guest"})
    after = Answer(
        500,
        (("content-type", "application/problem+json"), ("x-powered-by", "FastAPI/0.110")),
        json.dumps({"id": 1, "name": "Ada", "password_hash": "$argon2id$..."}).encode(),
    )
    lines = [d.line() for d in diff(before, after)]
    assert lines == [
        "status 200 → 500",
        "header content-type: changed 'application/json' → 'application/problem+json'",
        "header strict-transport-security: missing (recorded 'max-age=31536000')",
        "header x-content-type-options: missing (recorded 'nosniff')",
        "header x-powered-by: extra ('FastAPI/0.110')",
        "body $.role: missing property (recorded 'guest')",
        "body $.password_hash: extra property ('$argon2id$...')",
    ]


def test_types_lengths_and_values_are_compared() -> None:
    found = diff(answer({"n": 1, "xs": [1, 2], "s": "a"}), answer({"n": "1", "xs": [1], "s": "b"}))
    assert [(d.path, d.what) for d in found] == [
        ("$.n", "type"),
        ("$.xs", "length"),
        ("$.s", "changed"),
    ]


def test_masks_hide_what_they_name_and_only_that() -> None:
    masks = MaskSet(
        [Mask("$.seq", "number-range", "GET /x", 1, 10), Mask("$.tags", "set-ordering", "GET /x")]
    )
    before, after = answer({"seq": 1, "tags": ["a", "b"]}), answer({"seq": 7, "tags": ["b", "a"]})
    assert diff(before, after, masks=masks, operation="GET /x") == []
    assert [d.path for d in diff(before, after, masks=masks, operation="GET /y")] == [
        "$.seq",
        "$.tags[0]",
        "$.tags[1]",
    ]
    out_of_range = diff(
        before, answer({"seq": 11, "tags": ["a", "b"]}), masks=masks, operation="GET /x"
    )
    assert [d.line() for d in out_of_range] == ["body $.seq: not a number-range 1 → 11"]


def test_strict_mode_without_recognisers_reports_new_ids() -> None:
    before, after = answer({"id": "call_59b6f741ce51"}), answer({"id": "call_77aa00bb11cc"})
    assert diff(before, after, masks=MaskSet(builtin=False))[0].what == "changed"


def test_substitutions_put_the_new_value_where_the_recording_held_the_old() -> None:
    before = Answer(
        201,
        (("location", "/v1/calls/1001"), ("content-type", "application/json")),
        json.dumps({"id": 1001, "url": "/v1/calls/1001/x"}).encode(),
    )
    after = Answer(
        201,
        (("location", "/v1/calls/2002"), ("content-type", "application/json")),
        json.dumps({"id": 2002, "url": "/v1/calls/2002/x"}).encode(),
    )
    strict = MaskSet(builtin=False)  # no recogniser: only the substitution can explain it
    assert len(diff(before, after, masks=strict)) == 3
    assert diff(before, after, masks=strict, substitutions={"1001": 2002}) == []


def test_both_answers_are_redacted_before_they_are_compared() -> None:
    red = Redactor()
    recorded = answer({"access_token": "***(jwt alg=HS256)", "email": "[email]"})
    token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2ln"
    new = answer({"access_token": token, "email": "ada@example.com"})
    assert diff(recorded, new, redactor=red) == []
    alg_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1In0."
    assert [
        d.path
        for d in diff(
            recorded, answer({"access_token": alg_none, "email": "[email]"}), redactor=red
        )
    ] == ["$.access_token"]


def test_text_and_binary_bodies() -> None:
    html = (("content-type", "text/html"),)
    assert diff(Answer(200, html, b"<h1>Call 1</h1>"), Answer(200, html, b"<h1>Call 1</h1>")) == []
    assert diff(Answer(200, html, b"<h1>a</h1>"), Answer(200, html, b"<h1>b</h1>"))[0].path == "$"
    wav = (("content-type", "audio/wav"),)
    assert (
        diff(Answer(200, wav, b"RIFF1"), Answer(200, wav, b"RIFF22"))[0].line()
        == "body $: bytes '5 bytes' → '6 bytes'"
    )
