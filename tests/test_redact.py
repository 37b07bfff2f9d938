"""The one redactor: what it masks, what it leaves alone, and its properties (Hypothesis)."""

from __future__ import annotations

import string
import uuid

import jwt as pyjwt
from hypothesis import given, settings
from hypothesis import strategies as st

from battletest.redact import MASK, Redactor, redact, redact_headers

# a planted secret: what a password, API key or token looks like (letters and digits)
secrets_ = st.text(string.ascii_letters + string.digits, min_size=8, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
)
# arbitrary text around it: printable characters, spaces, newlines, quotes, punctuation
noise = st.text(string.printable, max_size=80)
words = st.lists(
    st.text(string.ascii_lowercase, min_size=1, max_size=12), min_size=1, max_size=15
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(before=noise, secret=secrets_, after=noise)
def test_a_known_secret_never_survives_in_any_text(before: str, secret: str, after: str) -> None:
    out = Redactor([secret]).text(before + secret + after)
    assert secret not in out


@settings(max_examples=300, deadline=None)
@given(text=noise, secret=secrets_)
def test_redaction_is_idempotent(text: str, secret: str) -> None:
    r = Redactor([secret], ["X-Service-Key"])
    once = r.text(text + secret + text)
    assert r.text(once) == once


@settings(max_examples=200, deadline=None)
@given(text=words)
def test_ordinary_words_are_left_alone(text: str) -> None:
    assert Redactor(["hunter22"]).text(text) == text


@settings(max_examples=200, deadline=None)
@given(value=st.uuids())
def test_uuids_are_left_alone(value: uuid.UUID) -> None:
    line = f"created {value} and {value.hex}"
    assert Redactor().text(line) == line


@settings(max_examples=200, deadline=None)
@given(tag=st.text("0123456789abcdef", min_size=8, max_size=40) | st.integers(0, 10**19).map(str))
def test_etags_and_timestamps_are_never_cards(tag: str) -> None:
    for line in (f'ETag: "{tag}"', f'ETag: W/"{tag}"', f'If-None-Match: "{tag}"'):
        assert Redactor().text(line) == line


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, name=st.sampled_from(["X-Service-Key", "X-Tenant-Token", "Api-Secret"]))
def test_a_registered_header_is_masked_in_every_notation(secret: str, name: str) -> None:
    r = Redactor()
    r.add_header(name)
    for text in (
        f"{name}: {secret}",
        f"curl -H '{name}: {secret}' http://127.0.0.1:1/x",
        f'{{"{name}": "{secret}"}}',
        f"http://127.0.0.1:1/x?{name}={secret}&page=2",
    ):
        out = r.text(text)
        assert secret not in out and MASK in out, out
    assert r({"headers": {name.lower(): secret}}) == {"headers": {name.lower(): MASK}}


def test_mask_values_not_words() -> None:
    r = Redactor()
    for prose in (
        "a malformed bearer token was accepted",
        "the token: expired before the refresh",
        "HTTP basic auth is declared but no password was configured",
        "p95 +15.0% over the baseline, total p50 +282.5%, 1733212800123 ms since epoch",
        "passed 3/5, tokens issued 2, password_field=password",
        "pass --allow-remote with a token: --api-token TOKEN or $BATTLETEST_PROXY_TOKEN",
        "bearer 2 times; token: Expired; Basic auth",
    ):
        assert r.text(prose) == prose


def test_what_is_masked() -> None:
    token = pyjwt.encode({"sub": "a"}, "k" * 32, algorithm="HS256")
    none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbmEifQ."
    r = Redactor(["s3rv1ce-key-9"], ["X-Service-Key"])
    text = (
        f"curl -H 'Authorization: Bearer {token}' -H 'X-Service-Key: s3rv1ce-key-9' "
        "-H 'Cookie: sid=abc; theme=dark' http://admin:pw@127.0.0.1:8000/x?api_key=k1&q=1 "
        f"forged {none} mail ana@example.org card 4111 1111 1111 1111 call +44 20 7946 0958"
    )
    out = r.text(text)
    for leaked in (token, "s3rv1ce-key-9", "sid=abc", "admin:pw", "k1&", "ana@example.org"):
        assert leaked not in out, (leaked, out)
    assert "Bearer ***(jwt alg=HS256)" in out
    assert "forged ***(jwt alg=none)" in out  # a forged alg:none token stays recognisable
    assert "http://***@127.0.0.1:8000/x?api_key=***&q=1" in out
    assert "[email]" in out and "[card]" in out and "[phone]" in out
    # a URL-encoded or JSON-escaped form of a known secret is masked as well
    r.add_secret('p@ss "w/rd"')
    assert "p%40ss" not in r.text("password%3Dp%40ss%20%22w%2Frd%22 in the form")
    assert 'ss \\"w' not in r.text('{"pw": "p@ss \\"w/rd\\""}')


def test_structured_data_masks_credential_fields_only() -> None:
    data = {
        "password": "p",
        "n": 2,
        "passed": 3,
        "token_field": "access_token",
        "api_key_header": "X-API-Key",
        "list": [{"api_key": "k"}],
        "tokens": ["t1", "t2"],
        "ok": "fine",
    }
    assert redact(data) == {
        "password": MASK,
        "n": 2,
        "passed": 3,
        "token_field": "access_token",
        "api_key_header": "X-API-Key",
        "list": [{"api_key": MASK}],
        "tokens": [MASK, MASK],
        "ok": "fine",
    }


def test_headers_keep_the_scheme_and_the_jwt_algorithm() -> None:
    none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbmEifQ."
    lines = redact_headers(
        [("Authorization", f"Bearer {none}"), ("X-Service-Key", "abc"), ("Accept", "*/*")],
        names=["x-service-key"],
    )
    assert lines == ["Authorization: Bearer ***(jwt alg=none)", "X-Service-Key: ***", "Accept: */*"]


def test_secrets_registered_during_the_run_are_masked_from_then_on() -> None:
    r = Redactor()
    assert r.text("issued opaque-7f3a9c1d") == "issued opaque-7f3a9c1d"
    r.add_secret("opaque-7f3a9c1d")
    r.add_secret("")  # blanks and None are ignored
    r.add_secret(None)
    assert r.text("issued opaque-7f3a9c1d") == "issued ***"
    assert r.secrets[0] == "opaque-7f3a9c1d"


def test_a_secret_named_key_holding_prose_keeps_its_prose() -> None:
    not_run = {"jwt-weak-secret": "active check: production runs passive checks only"}
    assert redact(not_run) == not_run
    assert redact({"client_secret": "s3cr3t-value"}) == {"client_secret": MASK}
    assert redact({"Cookie": "sid=abc; theme=dark"}) == {"Cookie": MASK}


def test_a_security_schemes_api_key_names_are_masked_for_the_run() -> None:
    from battletest.run import register_schemes
    from battletest.spec import SecurityScheme

    r = Redactor()
    schemes = {
        "tenant": SecurityScheme(
            name="tenant", type="apiKey", location="header", param_name="X-Tenant-Key"
        ),
        "q": SecurityScheme(name="q", type="apiKey", location="query", param_name="sig"),
        "bearer": SecurityScheme(name="bearer", type="http", scheme="bearer"),
    }
    register_schemes(r, schemes)
    assert r.text("curl -H 'X-Tenant-Key: t-1' 'http://h/x?sig=abc&page=2'") == (
        "curl -H 'X-Tenant-Key: ***' 'http://h/x?sig=***&page=2'"
    )
