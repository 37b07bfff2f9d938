"""The concierge app process: ``python -m battletest.demo.server --fd N`` (launcher-only).

Reads its launch description (options, database path, dependency URLs) as JSON on stdin, logs
to stderr with phone numbers and e-mail addresses redacted, and serves on the inherited socket.
"""

from __future__ import annotations

import json
import logging
import re
import sys

from battletest.demo.options import DemoOptions

PHONE_RE = re.compile(r"(?<![\w+])\+?\d{7,15}(?!\w)")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    """Mask phone numbers (keeping the last 2 digits) and e-mail addresses."""
    if "@" in text:  # the e-mail pattern backtracks on long runs; most lines have no "@"
        text = EMAIL_RE.sub("[email]", text)
    return PHONE_RE.sub(lambda mt: "[phone …" + re.sub(r"\D", "", mt.group())[-2:] + "]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    # Start-up time matters (tests start many demos): httpcore probes for trio at import
    # (≈0.5 s when installed), httpx imports its rich-based CLI (≈0.2 s) and PyJWT loads
    # cryptography for RSA/EC keys (≈0.2 s). This process is asyncio-only, has no httpx CLI and
    # signs HS256 only, so those imports are made to fail fast.
    for unused in ("trio", "httpx._main", "cryptography"):
        sys.modules.setdefault(unused, None)  # type: ignore[arg-type]
    from concurrent.futures import ThreadPoolExecutor

    from battletest.demo import seed
    from battletest.demo.child import parse_fd, serve
    from battletest.demo.security import hash_seed_passwords

    fd = parse_fd(argv)
    launch = json.loads(sys.stdin.read())
    options = DemoOptions.from_json(launch["options"])
    configure_logging()
    with ThreadPoolExecutor(1) as pool:  # hash while FastAPI imports (argon2 drops the GIL)
        hashes = pool.submit(hash_seed_passwords, options, [u.password for u in seed.USERS])
        from battletest.demo.app import create_app

        app = create_app(
            options,
            launch["db"],
            launch["pms_url"],
            launch["tts_url"],
            password_hashes=hashes.result(),
        )
    serve(app, fd, server_header=False)


if __name__ == "__main__":
    main()
