"""battletest.toml for each app, written from the app's documentation (GROUND_TRUTH.md)."""

from __future__ import annotations

from pathlib import Path

from tests.thirdparty.apps import JUPYTER_TOKEN
from tests.thirdparty.kinto_seed import ACCOUNTS, ROLES

# Every suite that applies to a service with no user test suite and no declared dependencies:
# pytest needs the user's own tests and resilience needs [resilience] dependencies behind mocks,
# so neither applies to Kinto or httpbin.
SUITES = ["contract", "auth", "errors", "load", "security"]

# Small budgets: one example per operation, a 1 s load run, the scanner at basic depth, and
# short request timeouts (httpbin's /delay waits up to 10 s by design).
COMMON = """\
seed = 1

[target]
request_timeout_s = 3

[suites]
enabled = {suites}

[suites.contract]
examples = 1

[suites.errors]
# neither app answers application/problem+json (GROUND_TRUTH.md): its own JSON / HTML errors
error_format = "any"
# neither app generates or echoes a correlation id (GROUND_TRUTH.md): "" switches the check off
correlation_header = ""

[load]
vus = 2
duration = "1s"

[security]
depth = "basic"
timeout_s = 3
"""


def kinto_identities() -> str:
    """The accounts made through Kinto's API before the run, as HTTP Basic identities."""
    blocks = []
    for name, password in ACCOUNTS.items():
        blocks.append(
            f'[[identities]]\nname = "{name}"\nrole = "{ROLES[name]}"\nkind = "basic"\n'
            f'username = "{name}"\npassword = "{password}"\n'
        )
    return "\n".join(blocks)


# Jupyter's documented token header (GROUND_TRUTH.md): ``Authorization: token …``, an API key
# in a header. (The other documented form, the ``token`` query parameter, is what `run` can
# use too, but the scanner sends API keys only as headers.)
JUPYTER_IDENTITY = f"""
[auth]
api_key_header = "Authorization"

[[identities]]
name = "owner"
role = "admin"
kind = "api_key"
api_key = "token {JUPYTER_TOKEN}"
"""


def write_config(workdir: Path, app: str, *, suites: list[str] = SUITES, extra: str = "") -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    text = COMMON.format(suites="[" + ", ".join(f'"{s}"' for s in suites) + "]")
    if app == "kinto":
        text += "\n" + kinto_identities()
    elif app == "jupyter-server":
        text += JUPYTER_IDENTITY
    path = workdir / "battletest.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path
