"""The one way requests leave battletest: ``Transport`` makes the clients every suite uses.

Each client (one per key: an identity's name, or ``anonymous``) is an ``httpx.Client`` whose
transport is a ``GuardedTransport``, which for every request, in this order:

1. refuses a request to any host but the target's (a spec's ``host``/``servers`` never redirect
   traffic), and any request the ``WritePolicy`` refuses (``PolicyRefused``: the case is "not
   run", the decision is reported);
2. refuses to send as an identity already marked broken (``IdentityBroken``: inconclusive) and
   adds the identity's credentials when the request carries none (a query or cookie API key
   too);
3. paces by the declared ``[rate_limits]`` and the adaptive interval — a request also from the
   budget of whoever the target will count it as (``also_charged``: without its identity's own
   credentials, the anonymous client's; a token naming an identity's subject, that
   identity's) — and answers 429/503 by
   backing off (``Retry-After`` in seconds or as a date; one longer than ``max_retry_wait_s``
   is not waited for),
   lowering that client's rate and retrying, at most ``max_retries`` times; still refused, the
   request raises ``RateLimited`` (inconclusive, never passed);
4. watches the identity: a 401 to its own current credentials refreshes or re-logs it in once
   and retries; when that fails the identity is marked broken at that moment, naming the write
   that preceded it ("identity admin stopped working after DELETE /v1/members");
5. tracks what create answers name (``WritePolicy.observe``) so battletest may later write to
   and delete its own objects.

Requests may carry ``extensions={PURPOSE: …}``: ``"identity"`` for the identities' own login,
refresh and logout (always allowed, never watched), ``"rate_probe"`` for checks about rate
limiting itself (their 429s are the answer, not retried).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

from battletest.errors import BattletestError, TargetUnreachable
from battletest.redact import Redactor
from battletest.transport.evidence import Exchange
from battletest.transport.pacing import ANONYMOUS, DEFAULT_BACKOFF_S, Pacer, retry_after
from battletest.transport.policy import Decision, DecisionKind, PolicyRefused, WritePolicy

if TYPE_CHECKING:
    from battletest.transport.identities import Identities, IdentitySession

PURPOSE = "battletest_purpose"
RETRY_STATUSES = frozenset({429, 503})
USER_AGENT = "battletest"


class Inconclusive(BattletestError):
    """A request whose answer cannot decide a case (the case is inconclusive, never passed)."""

    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.reason = reason


class RateLimited(Inconclusive):
    """Still answered 429/503 after the transport's retries."""


class IdentityBroken(Inconclusive):
    """The identity a request needs stopped working during the run."""


class GuardedTransport(httpx.BaseTransport):
    """Policy, identity, pacing and retries around the real transport (see the module doc)."""

    def __init__(self, inner: httpx.BaseTransport, owner: Transport, key: str) -> None:
        self.inner = inner
        self.owner = owner
        self.key = key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        owner = self.owner
        purpose = str(request.extensions.get(PURPOSE, ""))
        owner.check_host(request)
        policy = owner.policy
        create_by_put = False
        if policy is not None:
            path = owner.api_path(request)
            decision = policy.decide(request.method, path, _query_names(request), purpose=purpose)
            create_by_put = policy.may_create_by_put(decision)
            if decision is not None and not create_by_put:
                policy.check(request.method, path, _query_names(request), purpose=purpose)
        session = owner.session_for(self.key) if purpose != "identity" else None
        if session is not None:
            if session.broken:
                raise IdentityBroken(f"inconclusive: {session.broken}")
            if self.owner.identities is not None and (
                not session.logged_in or (session.uses_login and session.expired())
            ):
                self.owner.identities.get(session.name)  # log in, or refresh when due
            session.authenticate(request)
        if create_by_put:
            self._probe_absent(request)
        owner.note_sent(request)
        also = owner.also_charged(request, self.key, session) if purpose != "identity" else []
        response = self.send_paced(request, purpose, also=also)
        if (
            session is not None
            and response.status_code == 401
            and session.sent_own_credentials(request)
        ):
            response = owner.identity_refused(session, request, response, self)
        if session is not None and 200 <= response.status_code < 300:
            session.note_good(request)
        if owner.policy is not None and request.method in {"POST", "PUT", "DELETE"} and not purpose:
            response.read()
            created = owner.policy.observe(
                request.method,
                owner.api_path(request),
                response.status_code,
                response.headers,
                response.content,
            )
            if create_by_put and 200 <= response.status_code < 300:
                created = owner.api_path(request).rstrip("/")
                owner.policy.note_created(created)  # it made this object: now its own
            if created is not None:
                owner.creators[created] = self.key
        if owner.observer is not None and not purpose:  # GOLDEN compares every answer
            owner.observer(self.key, request, response)
        return response

    def _probe_absent(self, request: httpx.Request) -> None:
        """Before a create-by-PUT: a GET of the same URL, as the same identity, must answer
        404; anything else (the object exists, or cannot be told) refuses the PUT."""
        policy = self.owner.policy
        assert policy is not None
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _BODY]
        probe = httpx.Request("GET", request.url, headers=headers, extensions=request.extensions)
        self.owner.note_sent(probe)
        answer = self.send_paced(probe)
        answer.read()
        answer.close()
        if answer.status_code != 404:
            policy.check(request.method, self.owner.api_path(request), _query_names(request))

    def send_paced(
        self, request: httpx.Request, purpose: str = "", *, also: Sequence[str] = ()
    ) -> httpx.Response:
        owner = self.owner
        attempt = 0
        while True:
            for other in dict.fromkeys(k for k in also if k != self.key):
                owner.pacer.acquire(other)
            owner.pacer.acquire(self.key)
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError:
                raise
            status = response.status_code
            if status not in owner.retry_statuses or purpose == "rate_probe":
                if status not in owner.retry_statuses:
                    owner.pacer.answered(self.key)
                return response
            response.read()
            response.close()
            owner.throttled += 1
            wait = retry_after(response.headers.get("retry-after"))
            if wait is None:
                wait = DEFAULT_BACKOFF_S * 2**attempt
            if attempt >= owner.max_retries or wait > owner.max_retry_wait_s:
                # the target asks for longer than battletest waits: not answerable in this run
                owner.gave_up += 1
                if purpose == "identity":  # a login answers for itself: "refused (HTTP 429)"
                    return response
                raise RateLimited(
                    f"inconclusive: {request.method} {request.url.path} still answered {status} "
                    f"after {attempt} retries",
                    hint="lower the rate ([rate_limits]) or raise the target's limit",
                )
            owner.pacer.throttled(self.key)
            owner.pacer.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


def _subject(token: str) -> str | None:
    """The ``sub`` claim of a JWT (not verified), or None."""
    from battletest.auth.jwt import claims, looks_like_jwt

    if not looks_like_jwt(token):
        return None
    sub = claims(token).get("sub")
    return None if sub is None else str(sub)


def _keep_sendable_cookies(client: httpx.Client) -> Callable[[httpx.Response], None]:
    """A response hook dropping cookies the client could not send back.

    A client keeps the cookies its answers set (a login's session), and sends them with every
    later request. A cookie whose name or value is not ASCII (an echo service setting what a
    generated parameter held) cannot go into a header, and would make every later request of
    that client fail to build."""

    def prune(response: httpx.Response) -> None:
        for cookie in list(client.cookies.jar):
            if not f"{cookie.name}={cookie.value or ''}".isascii():
                client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)

    return prune


# headers that describe a request body, dropped from the GET that probes before a PUT
_BODY = frozenset({"content-length", "content-type", "content-encoding", "transfer-encoding"})


def _query_names(request: httpx.Request) -> list[str]:
    return [k for k, _ in request.url.params.multi_items()]


class Transport:
    """Makes the guarded clients bound to the target's base URL; one per key, closed together.

    ``policy``: the write policy (None: every request may be sent — unit tests, and callers
    that check their own plan, such as the load engine); ``transport``: the innermost httpx
    transport (tests pass an ``httpx.MockTransport``); ``clock``/``sleep`` drive the pacer.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        rate_limits: Any = None,
        service_keys: frozenset[str] = frozenset(),
        policy: WritePolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        redactor: Redactor | None = None,
        max_retry_wait_s: float = 5.0,
        max_retries: int = 3,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = USER_AGENT,
        max_rps: float | None = None,
    ) -> None:
        # user:password in the target URL is never sent (httpx would send it as HTTP Basic on
        # every request, for every identity): only an identity with kind "basic" sends Basic
        url = httpx.URL(base_url)
        self.userinfo_dropped = bool(url.userinfo)
        if url.userinfo:
            base_url = str(url.copy_with(userinfo=b""))
        self.base_url = base_url.rstrip("/")
        # the target's own path (http://host/v1 → /v1): the policy judges paths under it
        self.prefix = httpx.URL(self.base_url).path.rstrip("/")
        self.host = httpx.URL(self.base_url).netloc.decode("ascii")  # host[:port], no userinfo
        self.timeout = timeout
        self.pacer = Pacer.from_limits(
            rate_limits, service_keys, clock=clock, sleep=sleep, max_rps=max_rps
        )
        self.policy = policy
        # called with (key, request, response) for every answer but the identities' own
        self.observer: Callable[[str, httpx.Request, httpx.Response], None] | None = None
        self.redactor = redactor or Redactor()
        self.max_retry_wait_s = max_retry_wait_s
        self.max_retries = max_retries
        self.retry_statuses = retry_statuses
        self.user_agent = user_agent
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self.identities: Identities | None = None
        self.notes: list[str] = []
        self.requests = 0
        self.throttled = 0  # 429/503 answers waited out
        self.gave_up = 0  # requests still refused after the retries
        self.last_request: str | None = None
        self.last_write: str | None = None
        self.creators: dict[str, str] = {}  # created object path → the client key that made it

    # ------------------------------------------------------------------------------ clients

    def __call__(self, key: str = ANONYMOUS) -> httpx.Client:
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                inner = self._transport or httpx.HTTPTransport()
                client = httpx.Client(
                    base_url=self.base_url,
                    timeout=self.timeout,
                    follow_redirects=False,
                    headers={"User-Agent": self.user_agent},
                    transport=GuardedTransport(inner, self, key),
                )
                client.event_hooks["response"] = [_keep_sendable_cookies(client)]
                self._clients[key] = client
            return client

    def api_path(self, request: httpx.Request) -> str:
        """The request's path under the target's own path (what the spec's paths are under)."""
        path = request.url.path
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            return path[len(self.prefix) :] or "/"
        return path

    def release(self, key: str) -> None:
        """Close and forget one key's client (the next call makes a fresh one)."""
        with self._lock:
            client = self._clients.pop(key, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def attach(self, identities: Identities) -> None:
        """Watch these identities (their clients authenticate and are watched)."""
        self.identities = identities

    def also_charged(
        self, request: httpx.Request, key: str, session: IdentitySession | None
    ) -> list[str]:
        """The budgets ``request`` is charged to besides its client's: a rate-limited target
        counts a request by the credentials it carries, not by battletest's client. Without its
        identity's own credentials (a forged, tampered, expired or missing token) it counts by
        the client's address, with the anonymous requests; a bearer token naming an identity's
        subject (re-signed with a cracked key, alg none) counts as that identity's."""
        own = session is not None and session.sent_own_credentials(request)
        out = [ANONYMOUS] if session is not None and session.credentials() and not own else []
        auth = request.headers.get("authorization", "")
        if self.identities is not None and not own and auth[:7].lower() == "bearer ":
            subject = _subject(auth[7:].strip())
            if subject is not None:
                out += [
                    other.name
                    for other in self.identities
                    if other.name != key and other.bearer and _subject(other.bearer) == subject
                ]
        return out

    def session_for(self, key: str) -> IdentitySession | None:
        if self.identities is None or key == ANONYMOUS:
            return None
        return self.identities.session(key)

    # ------------------------------------------------------------------------------- guards

    def check_host(self, request: httpx.Request) -> None:
        if request.url.netloc.decode("ascii", "replace") != self.host:
            decision = Decision(
                DecisionKind.OFF_TARGET,
                request.method,
                str(request.url),
                f"{request.method} {request.url} is not on the target ({self.host})",
            )
            if self.policy is not None:
                self.policy._record(decision)
            raise PolicyRefused(decision)

    def note_sent(self, request: httpx.Request) -> None:
        with self._lock:
            self.requests += 1
            label = f"{request.method} {request.url.path}"
            self.last_request = label
            if request.method not in {"GET", "HEAD", "OPTIONS"}:
                self.last_write = label

    def identity_refused(
        self,
        session: IdentitySession,
        request: httpx.Request,
        response: httpx.Response,
        via: GuardedTransport,
    ) -> httpx.Response:
        """A 401 to an identity's own credentials: renew them once and retry; when renewal
        is impossible or fails and a request that worked before is refused too, the identity
        is broken from now on."""
        before = self.last_write or self.last_request or "the start of the run"
        op = (request.method, request.url.path)
        if op in session.refuses:
            return response  # this operation refuses the identity even with fresh credentials
        renewed = session.renew(self(session.name))
        if renewed:
            response.read()
            response.close()
            retry = session.reauthenticated(request)
            again = via.send_paced(retry, "")
            if again.status_code == 401:
                session.refuses.add(op)
            return again
        if renewed is None and not session.still_works(via):
            renewed = False
        if renewed is False:
            reason = f"identity {session.name} stopped working after {before}"
            session.broken = reason
            note = f"{reason}; the cases that needed it are inconclusive"
            if note not in self.notes:
                self.notes.append(note)
            response.read()
            response.close()
            raise IdentityBroken(f"inconclusive: {reason}")
        session.refuses.add(op)
        return response

    # ----------------------------------------------------------------------- redirects, etc.

    def note_redirect(self, response: httpx.Response) -> None:
        """Note a redirect that leaves the target's host (it is never followed)."""
        if not response.is_redirect:
            return
        nxt = urljoin(str(response.request.url), response.headers.get("location", ""))
        if urlsplit(nxt).netloc != self.host:
            note = (
                f"redirect off the target host not followed: {response.request.method} "
                f"{response.request.url.path} → {nxt}"
            )
            if note not in self.notes:
                self.notes.append(note)

    def follow_same_host(
        self, client: httpx.Client, response: httpx.Response, max_hops: int = 5
    ) -> httpx.Response:
        """Follow redirects that stay on the target's host; note (not follow) the others."""
        for _ in range(max_hops):
            if not response.is_redirect:
                return response
            nxt = urljoin(str(response.request.url), response.headers.get("location", ""))
            if urlsplit(nxt).netloc != self.host:
                self.note_redirect(response)
                return response
            response = client.get(nxt)
        return response

    def clean_up(self) -> list[str]:
        """Delete what battletest created in this run and did not delete itself (create → use
        → delete its own), as the identity that created it, when the spec has a DELETE for it.
        Notes on what was left behind."""
        policy = self.policy
        if policy is None:
            return []
        left: list[str] = []
        for path in policy.leftovers():
            op = policy.operation_for("DELETE", path)
            if op is None:
                left.append(path)
                continue
            try:
                resp = self(self.creators.get(path, ANONYMOUS)).delete(path)
            except (BattletestError, httpx.HTTPError):
                left.append(path)
                continue
            if resp.status_code >= 400 and resp.status_code != 404:
                left.append(path)
        if left:
            shown = ", ".join(left[:5]) + (f" (+{len(left) - 5} more)" if len(left) > 5 else "")
            return [f"objects battletest created and could not delete: {shown}"]
        return []

    def summary_notes(self) -> list[str]:
        """What the run's notes say about the transport: redirects, broken identities, pacing."""
        out = list(self.notes)
        if self.userinfo_dropped:
            out.append(
                "the target URL's user:password was not sent (declare an identity with "
                'kind = "basic" for HTTP Basic)'
            )
        if self.pacer.waited_s > 0.5:
            out.append(f"paced by the target's rate limits: waited {self.pacer.waited_s:.1f}s")
        if self.throttled:
            out.append(
                f"the target answered 429/503 {self.throttled} times: backed off and retried"
                + (
                    f"; {self.gave_up} requests still refused (inconclusive)"
                    if self.gave_up
                    else ""
                )
            )
        if self.policy is not None and self.policy.decisions:
            out.append(
                f"write policy: {len(self.policy.decisions)} requests or operations not run "
                "(listed in each suite's metrics.policy_decisions)"
            )
        return out

    def resend(self, key: str, request: httpx.Request) -> httpx.Response | None:
        """The same safe request once more as ``key``, not observed (how GOLDEN tells a field
        that varies by itself from a change); None for an unsafe method or no answer."""
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return None
        client = self(key)
        again = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
            extensions={PURPOSE: "golden"},
        )
        try:
            return client.send(again)
        except (httpx.TransportError, BattletestError):
            return None

    # --------------------------------------------------------------- the scanner's interface

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str = ANONYMOUS,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | str | None = None,
        cookies: Mapping[str, str] | None = None,
        purpose: str = "",
        session: IdentitySession | None = None,
    ) -> Exchange:
        """Send one request as ``key`` and return its ``Exchange``; a network failure raises
        ``TargetUnreachable``, a refusal ``PolicyRefused``, an unanswerable one ``Inconclusive``.
        ``session`` adds its credentials (header, query or cookie) the request does not carry
        yet, as the identity's own clients do."""
        import json as _json

        client = self(key)
        hdrs = dict(headers or {})
        if cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body: bytes | str | None = content
        if json_body is not None and content is None:
            body = _json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        request = client.build_request(
            method,
            self.url(path),
            headers=hdrs,
            params=dict(params) if params else None,
            content=body,
            extensions={PURPOSE: purpose} if purpose else None,
        )
        if session is not None:
            session.authenticate(request)
        started = time.perf_counter()
        try:
            response = client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TargetUnreachable(
                f"the target stopped answering ({method} {request.url}: {exc})",
                hint="check that the service is up, or lower the request rate",
            ) from None
        except httpx.TransportError as exc:
            # the target took the request but gave no valid answer in time (a slow or
            # malformed answer to this one probe): this request decides nothing
            raise Inconclusive(
                f"inconclusive: no valid answer to {method} {request.url.path} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        elapsed = time.perf_counter() - started
        defaults = {"host", "accept", "accept-encoding", "connection", "user-agent"}
        return Exchange(
            method=method,
            url=str(request.url),
            request_headers=[
                (k, v)
                for k, v in request.headers.multi_items()
                if k.lower() not in defaults and k.lower() != "content-length"
            ],
            request_body=request.content,
            status=response.status_code,
            response_headers=response.headers,
            response_body=response.content,
            elapsed_s=elapsed,
        )


__all__ = [
    "PURPOSE",
    "GuardedTransport",
    "IdentityBroken",
    "Inconclusive",
    "RateLimited",
    "Transport",
]
