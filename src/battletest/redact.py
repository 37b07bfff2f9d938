"""The one redaction pass: every report, console line, webhook body and stored history row.

A ``Redactor`` masks, in strings and in nested JSON-like data:

- the secret values it knows: configured passwords, tokens, API keys, client and JWT secrets,
  webhook and Pushgateway URLs, and tokens issued during the run (``add_secret``), also in
  their URL- and JSON-escaped forms;
- the values of credential headers and fields: ``Authorization``, ``Cookie``, ``Set-Cookie``,
  API-key headers, and any name a security scheme or identity declares (``add_header``) — in
  ``Name: value`` lines, ``name=value`` pairs, JSON and dict keys;
- URL userinfo anywhere (``http://admin:pw@host`` → ``http://***@host``);
- JWTs (keeping the header's ``alg``, so a forged ``alg: none`` token stays visible as such),
  ``Bearer``/``Basic`` credentials, e-mail addresses, card numbers (issuer prefix + Luhn) and
  phone numbers.

A secret reads ``***``; PII reads ``[email]``, ``[card]``, ``[phone]``. Values are masked, never
words: "a malformed bearer token was accepted" stays as written, and numbers that only look
like cards (ETags, timestamps, UUID groups) are left alone. Redacting twice changes nothing.

One ``Redactor`` serves a whole run: ``run`` builds it from the config, identities register
what they issue, and it is applied once when the run folder is written
(``Redactor.report``). Instances are independent (no process-global registry) and thread-safe.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from battletest.results import Report

MASK = "***"
# shorter known secrets are masked only where their position says they are one (a header, a
# key=value pair, URL userinfo): replacing a 3-letter value everywhere would garble the text
MIN_SECRET_LENGTH = 4

# credential headers every run masks; security schemes and identities add theirs
DEFAULT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
    }
)
# key=value / "key": value names whose value is a credential
_SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|client_secret|jwt_secret|token|access_token|"
    r"refresh_token|id_token|api[_-]?key|apikey|session_?id|auth_?token|credentials?|"
    r"private[_-]?key"
)
# a dict key names a secret when it ends with one of these words (``password_hash`` too);
# ``token_field``, ``token_ttl_s`` or ``api_key_header`` name *where* a secret goes, not one
_SECRET_KEY = re.compile(
    rf"(?:^|[_-])(?:{_SECRET_WORDS}|authorization|cookie|set[_-]cookie|cvv|card_?number|ssn|"
    r"webhook_url|pushgateway_url)(?:s|_hash|_value)?$",
    re.IGNORECASE,
)

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# scheme://userinfo@ — greedy up to the last @ before the path, so "p@ss" is covered too
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s'\"<>@]*(?:@[^/?#\s'\"<>@]*)*)@")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]+)")
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# issuer prefixes (Visa 4, Mastercard 51-55/2221-2720, Amex 34/37, Discover 6011/65, JCB 35,
# Diners 36/38), contiguous or in groups of four; never part of a longer number, a hex string,
# a UUID or a decimal
_CARD = re.compile(
    r"(?<![\w.+/-])"
    r"(?:(?:4\d{3}|5[1-5]\d{2}|2[2-7]\d{2}|6011|65\d{2}|35\d{2})(?P<sep>[ -]?)\d{4}(?P=sep)\d{4}"
    r"(?P=sep)\d{1,7}|3[47]\d{2}(?P<asep>[ -]?)\d{6}(?P=asep)\d{5}|3[068]\d{12})"
    r"(?![\w.+/-])"
)
_PHONE = re.compile(
    r"(?<![\w.+/%-])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}|\(\d{3}\) ?\d{3}[ .-]\d{4}|"
    r"\d{3}[ .-]\d{3}[ .-]\d{4})(?![\w.%/-])"
)

# cheap anchors: a pair needs a credential word or a registered name, a card or phone number
# a run of three digits
_PAIR_HINT = re.compile(r"pass|pwd|secret|token|key|session|auth|credential|private")
_DIGIT_RUN = re.compile(r"\d{3}")

T = TypeVar("T")


def _looks_secret(value: str) -> bool:
    """Whether a word after "bearer", "basic" or "token:" in prose is a credential: letters
    and digits mixed, or long and not a plain word, or inner capitals. A flag (``--api-token``)
    or a variable (``$TOKEN``) is a name, not a value."""
    core = value.strip(".,;:()[]")
    if not core or core[0] in "-$" or (core.isalpha() and core[1:].islower()):
        return False
    if any(c.isdigit() for c in core) and any(c.isalpha() for c in core):
        return True
    if len(core) >= 20 and not core.isalpha():
        return True
    return len(core) >= 8 and any(c.isupper() for c in core[1:]) and any(c.islower() for c in core)


def _one_word(value: str) -> bool:
    """A credential-named field's value that is a credential, not prose: a key named
    ``jwt-weak-secret`` may hold "active check: not run in production" (a check's reason)."""
    return not any(c.isspace() for c in value.strip())


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def jwt_label(token: str) -> str:
    """``***(jwt alg=…)``: the mask with the algorithm of the token's header."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        alg = str(header.get("alg", "?")) if isinstance(header, dict) else "?"
    except (ValueError, TypeError, binascii.Error):
        alg = "?"
    if not re.fullmatch(r"[A-Za-z0-9]{1,10}", alg):
        alg = "?"
    return f"{MASK}(jwt alg={alg})"


class Redactor:
    """Masks the secrets and credential fields it knows, and the patterns above.

    ``secrets``: values to mask wherever they appear; ``headers``: extra credential header or
    field names (case-insensitive). Both can grow during the run: ``add_secret`` (a token an
    identity was issued), ``add_header`` (a security scheme's ``X-Service-Key``).
    """

    def __init__(self, secrets: Iterable[str] = (), headers: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._headers: set[str] = set(DEFAULT_HEADERS)
        self._compiled: tuple[re.Pattern[str] | None, re.Pattern[str], re.Pattern[str]] | None = (
            None
        )
        for secret in secrets:
            self.add_secret(secret)
        for name in headers:
            self.add_header(name)

    # ------------------------------------------------------------------------------ registry

    def add_secret(self, value: str | None) -> None:
        """Mask ``value`` (and its URL/JSON-escaped forms) from now on; blanks are ignored."""
        if not value or not isinstance(value, str) or not value.strip() or MASK in value:
            return
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        with self._lock:
            self._secrets |= {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
            self._compiled = None

    def add_header(self, name: str | None) -> None:
        """Treat header, query, cookie or field ``name`` as a credential: its value is masked."""
        if not name or not name.strip():
            return
        with self._lock:
            self._headers.add(name.strip().lower())
            self._compiled = None

    @property
    def secrets(self) -> list[str]:
        """The known secret values, longest first."""
        with self._lock:
            return sorted(self._secrets, key=len, reverse=True)

    @property
    def header_names(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._headers)

    def is_secret_key(self, key: str) -> bool:
        """Whether a dict key, header or field ``key`` holds a credential."""
        low = key.strip().lower()
        with self._lock:
            registered = low in self._headers
        return registered or bool(_SECRET_KEY.search(low))

    def _patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[str], re.Pattern[str]]:
        with self._lock:
            if self._compiled is None:
                known = sorted(self._secrets, key=len, reverse=True)
                secrets = re.compile("|".join(map(re.escape, known))) if known else None
                names = "|".join(re.escape(h) for h in sorted(self._headers, key=len, reverse=True))
                # "Name: value" as a header line (at a line start, after -H ' or a quote)
                header = re.compile(
                    rf"(?im)((?:^[ \t]*|(?<=['\"]))(?:{names})['\"]?[ \t]*:[ \t]*['\"]?)"
                    r"([^\r\n'\"]+)"
                )
                # name=value / "name": "value" pairs (query strings, form bodies, JSON text)
                pair = re.compile(
                    rf"(?i)((?<![A-Za-z0-9])(?:{_SECRET_WORDS}|{names})(?P<kq>['\"]?)"
                    r"[ \t]*(?P<sep>[:=])[ \t]*(?P<vq>['\"]?))"
                    r"(?P<val>[^\s'\"&,;}\]<>]+)"
                )
                self._compiled = (secrets, header, pair)
            return self._compiled

    # ------------------------------------------------------------------------------- masking

    def text(self, value: str) -> str:
        """``value`` with every secret, credential and PII masked."""
        if not value:
            return value
        secrets, header, pair = self._patterns()
        if secrets is not None:
            value = secrets.sub(MASK, value)
        # each pattern runs only where its anchor occurs: a report holds thousands of strings
        lower = value.lower()
        named = any(name in lower for name in self.header_names)
        if "://" in value and "@" in value:
            value = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", value)
        if "eyJ" in value:
            value = _JWT.sub(lambda m: jwt_label(m.group(0)), value)
        if ":" in value and named:
            value = header.sub(_mask_header_value, value)
        if ("=" in value or ":" in value) and (named or _PAIR_HINT.search(lower)):
            value = pair.sub(_mask_pair, value)
        if "bearer" in lower or "basic" in lower:
            value = _AUTH_SCHEME.sub(_mask_scheme, value)
        if "@" in value:
            value = _EMAIL.sub("[email]", value)
        if _DIGIT_RUN.search(value):
            value = _CARD.sub(_mask_card, value)
            value = _PHONE.sub(_mask_phone, value)
        return value

    def headers(
        self, pairs: Iterable[tuple[str, str]] | Mapping[str, str]
    ) -> list[tuple[str, str]]:
        """Headers with credential values masked (a bearer JWT keeps its ``alg``)."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        out: list[tuple[str, str]] = []
        for name, value in items:
            if self.is_secret_key(name):
                scheme, _, rest = value.partition(" ")
                if rest and scheme.lower() in {"bearer", "basic", "token", "digest"}:
                    label = jwt_label(rest) if _JWT.fullmatch(rest.strip()) else MASK
                    value = f"{scheme} {label}"
                else:
                    value = MASK
            out.append((name, self.text(value)))
        return out

    def __call__(self, data: T) -> T:
        """Redact a string or JSON-like value (dicts, lists, tuples; other values as they are)."""
        return self._data(data)  # type: ignore[no-any-return]

    def _data(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict):
            return {k: self._item(k, v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self._data(v) for v in data]
        return data

    def _item(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and self.is_secret_key(key):
            header = key.strip().lower() in self.header_names
            if isinstance(value, str) and (header or _one_word(value)):
                return value if value in ("", MASK) else MASK
            if isinstance(value, list):
                return [
                    MASK if isinstance(v, str) and v and (header or _one_word(v)) else self._data(v)
                    for v in value
                ]
        return self._data(value)

    def report(self, report: Report) -> Report:
        """A copy of ``report`` with every string in it redacted (what the run folder,
        console, webhook, Pushgateway and history store receive)."""
        data = self._data(report.model_dump(mode="json"))
        return Report.model_validate(data)


def _mask_header_value(m: re.Match[str]) -> str:
    prefix, value = m.group(1), m.group(2)
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() in {"bearer", "basic", "token", "digest"}:
        label = rest if rest.startswith(MASK) else MASK
        return f"{prefix}{scheme} {label}"
    return prefix + (value if value.startswith(MASK) else MASK)


def _mask_pair(m: re.Match[str]) -> str:
    value = m.group("val")
    if value.startswith(MASK):
        return m.group(0)
    # "name=value" and quoted JSON/Python pairs are credentials; an unquoted "token: word"
    # in prose is masked only when the word looks like one
    structured = m.group("sep") == "=" or m.group("kq") or m.group("vq")
    if structured or _looks_secret(value):
        return m.group(1) + MASK
    return m.group(0)


def _mask_scheme(m: re.Match[str]) -> str:
    value = m.group(3)
    if not _looks_secret(value) or value.startswith(MASK):
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{MASK}"


def _mask_card(m: re.Match[str]) -> str:
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    if re.search(
        r"(?i)etag|if-(none-)?match", m.string[max(line_start, m.start() - 40) : m.start()]
    ):
        return m.group(0)  # an entity tag is an opaque version, whatever its digits
    digits = re.sub(r"\D", "", m.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)


def _mask_phone(m: re.Match[str]) -> str:
    return "[phone]" if 10 <= sum(c.isdigit() for c in m.group(0)) <= 15 else m.group(0)


def redact(data: T, secrets: Iterable[str] = (), headers: Iterable[str] = ()) -> T:
    """Redact ``data`` (a string or JSON-like value) with a one-off ``Redactor``."""
    return Redactor(secrets, headers)(data)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact free text (a body, a curl command) with a one-off ``Redactor``."""
    return Redactor(secrets).text(text)


def redact_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str] = (), names: Iterable[str] = ()
) -> list[str]:
    """``Name: value`` lines with credential header values masked."""
    redactor = Redactor(secrets, names)
    return [f"{name}: {value}" for name, value in redactor.headers(headers)]


__all__ = [
    "DEFAULT_HEADERS",
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "jwt_label",
    "redact",
    "redact_headers",
    "redact_text",
]
