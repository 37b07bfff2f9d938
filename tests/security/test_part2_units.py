"""Socket-free tests of the part-2 building blocks: payload data, signatures, HTML contexts,
answer comparison, card numbers, and the documentation of every check."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from battletest.security.checks.dataprotect import luhn
from battletest.security.checks.inject import DEPTH_RANK, fill, payload_file, payloads
from battletest.security.checks.injection import answer, error_signature
from battletest.security.checks.xss import context_at, contexts, fits_quote, js_quote
from battletest.security.suite import default_scanner
from battletest.transport import Exchange

FAMILIES = {
    "sqli": ("error", "boolean", "time", "union"),
    "command": ("echo", "time"),
    "template": ("arithmetic",),
    "nosql": ("operators",),
    "redos": ("shapes",),
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "security-checks.md"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_payload_sets_grow_with_depth(family: str) -> None:
    data = payload_file(family)
    assert data["about"]
    for key in FAMILIES[family]:
        sizes = [len(payloads(family, key, d)) for d in DEPTH_RANK]
        assert sizes == sorted(sizes) and sizes[-1] == len(data[key]), (key, sizes)
        if key != "time":  # blind command timing starts at standard
            assert sizes[0] >= 1, key


def test_boolean_pairs_are_equal_length_and_differ_in_one_place() -> None:
    for entry in payload_file("sqli")["boolean"]:
        t, f = entry["true"], entry["false"]
        assert len(t) == len(f)
        assert sum(a != b for a, b in zip(t, f, strict=True)) == 1, entry
    for entry in payload_file("nosql")["operators"]:
        assert len(str(entry["true"])) == len(str(entry["false"])), entry


@pytest.mark.parametrize(
    ("text", "db"),
    [
        ('sqlite3.OperationalError: unrecognized token: "\'"', "SQLite"),
        ('ERROR: syntax error at or near "\'" LINE 1', "PostgreSQL"),
        ("You have an error in your SQL syntax; check the manual", "MySQL"),
        ("Unclosed quotation mark after the character string ''.", "MSSQL"),
        ("ORA-01756: quoted string not properly terminated", "Oracle"),
    ],
)
def test_database_error_signatures(text: str, db: str) -> None:
    found = error_signature(f"<pre>{text}</pre>")
    assert found is not None and found[0] == db


def test_no_signature_in_ordinary_errors() -> None:
    assert error_signature('{"detail": "name must be at most 100 characters"}') is None


def test_html_contexts() -> None:
    page = (
        '<h1>M1</h1><div class="M2"></div><a href="M3">x</a>'
        "<script>var a = 'M4'; var b = \"M5\";</script><p title=M6></p>"
    )
    where = {m: context_at(page, page.index(m)) for m in ("M1", "M2", "M3", "M4", "M5", "M6")}
    assert where == {
        "M1": ("element", ""),
        "M2": ("attribute", '"'),
        "M3": ("url", '"'),
        "M4": ("script", "'"),
        "M5": ("script", '"'),
        "M6": ("attribute", ""),
    }
    assert contexts("<b>Mx</b><i>Mx</i>", "Mx") == [("element", "")]
    assert js_quote("var s = 'it\\'s") == "'"
    assert fits_quote("script", '"', '";alert(1);//')
    assert not fits_quote("script", '"', "';alert(1);//")
    assert fits_quote("script", '"', "</script><svg onload=alert(1)>")


def _ex(body: str, kind: str = "application/json", status: int = 200) -> Exchange:
    return Exchange(
        method="GET",
        url="http://t/x",
        request_headers=[],
        request_body=b"",
        status=status,
        response_headers=httpx.Headers({"content-type": kind}),
        response_body=body.encode(),
        elapsed_s=0.01,
    )


def test_reflected_payloads_of_equal_length_give_the_same_answer() -> None:
    t = _ex('{"q": "x&#39; OR &#39;a&#39;=&#39;a", "items": []}')
    f = _ex('{"q": "x&#39; OR &#39;a&#39;=&#39;b", "items": []}')
    assert answer(t) == answer(f)
    more = _ex('{"q": "x&#39; OR &#39;a&#39;=&#39;a", "items": [{"id": 1}]}')
    assert answer(more) != answer(f)


def test_random_ids_in_a_true_false_pair_do_not_make_the_answers_differ() -> None:
    # two keys the demo's POST /v1/api-keys created for the true and the false payload: the
    # ids' digits fall differently (normalised, "key_<n>e<n>b<n>c<n>" vs "key_b<n>c<n>…")
    t = _ex(
        '{"id": "key_6e83b1c76430", "name": "bt\' AND \'a\'=\'a", "created_at": 1.5,'
        ' "key": "btk_d8JAtdGC0rCcHfeEDuIxy3uLXEsJ4JqC", "at": "2026-12-03T15:11:25.12Z"}',
        status=201,
    )
    f = _ex(
        '{"id": "key_b0c1b12a7301", "name": "bt\' AND \'a\'=\'b", "created_at": 2.5,'
        ' "key": "btk_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTy", "at": "2026-12-03T15:11:26.1Z"}',
        status=201,
    )
    assert answer(t) == answer(f)
    assert answer(_ex("<p>key_6e83b1c76430 made</p>", "text/html")) == answer(
        _ex("<p>key_b0c1b12a7301 made</p>", "text/html")
    )
    # what a boolean injection changes still differs: the rows, the status
    assert answer(t) != answer(_ex('{"id": "key_b0c1b12a7301"}', status=201))
    assert answer(t) != answer(_ex(f.text, status=422))


def test_placeholders_and_card_numbers() -> None:
    assert fill("{{{A}*{B}}}", A=3, B=4) == "{{3*4}}"
    assert fill("${{A}*{B}}", A=3, B=4) == "${3*4}"
    assert luhn("411111111111111") == "4111111111111111"


def test_a_huge_body_is_not_copied_into_curl() -> None:
    ex = _ex("{}")
    ex.request_body = b'{"pad": "' + b"x" * 300_000 + b'"}'
    curl = ex.curl()
    assert len(curl) < 2000 and "bytes)" in curl


def test_every_check_is_documented() -> None:
    text = DOCS.read_text()
    missing = [c.info.id for c in default_scanner().checks if f"`{c.info.id}`" not in text]
    assert missing == []


def test_a_launched_targets_log_file_is_the_log_source(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from battletest.security.suite import log_reader

    log = tmp_path / "target.log"
    read = log_reader(SimpleNamespace(logs_path=log))
    assert read is not None and read() == ""  # not written yet
    log.write_text("POST /orders email=a@b.example\n")
    assert "a@b.example" in read()
    assert log_reader(SimpleNamespace(logs_path=None)) is None
    assert log_reader(object()) is None
