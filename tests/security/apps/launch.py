"""Start an issue-19 test app on loopback with a battletest.toml holding its identities only.

    .venv/bin/python -m tests.security.apps.launch allotment [--fixed] [--config FILE]

serves the app until Ctrl-C and prints the command that scans it. The same functions serve
the tests and ``bench/bench_scan.py``: the config names the users from the app's own
documentation (login, passwords, roles) and nothing vulnerability-specific.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .allotment import app as allotment
from .depot import app as depot
from .serving import Journal, serving
from .truth import APPS


@dataclass
class Served:
    name: str
    base_url: str
    spec_url: str
    journal: Journal
    app: Any


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(name: str, base_url: str) -> str:
    """battletest.toml for ``name`` served at ``base_url``: target, login, identities."""
    lines = ["[target]", f"url = {_toml(base_url)}"]
    if name == "allotment":
        lines += [f"spec = {_toml(base_url + '/swagger.json')}", ""]
        lines += ["[auth]", 'login_path = "/login"', 'login_format = "form"', ""]
        for user, (password, role, *_rest) in allotment.MEMBERS.items():
            if user == "dave":  # the steward: a fourth role the identities need not cover
                continue
            lines += ["[[identities]]", f"name = {_toml(user)}", f"role = {_toml(role)}"]
            lines += [f"username = {_toml(user)}", f"password = {_toml(password)}", ""]
    elif name == "depot":
        lines += [f"spec = {_toml(base_url + '/openapi.yaml')}", ""]
        for user, (password, role, *_rest) in depot.USERS.items():
            lines += ["[[identities]]", f"name = {_toml(user)}", f"role = {_toml(role)}"]
            lines += ['kind = "basic"', f"username = {_toml(user)}"]
            lines += [f"password = {_toml(password)}", ""]
    else:
        raise ValueError(f"unknown app {name!r}: one of {', '.join(APPS)}")
    return "\n".join(lines) + "\n"


@contextmanager
def served(name: str, vulnerable: bool = True) -> Iterator[Served]:
    """The app ``name`` (every item on, or the fixed app) on a free loopback port."""
    if name == "allotment":
        a: Any = allotment.build_app() if vulnerable else allotment.build_app(set())
        spec = "/swagger.json"
    elif name == "depot":
        a = depot.build_app() if vulnerable else depot.build_app(set())
        spec = "/openapi.yaml"
    else:
        raise ValueError(f"unknown app {name!r}: one of {', '.join(APPS)}")
    with serving(a.asgi) as base:
        yield Served(name, base, base + spec, a.journal, a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.security.apps.launch")
    parser.add_argument("app", choices=APPS)
    parser.add_argument("--fixed", action="store_true", help="serve the fixed app")
    parser.add_argument("--config", type=Path, default=Path("battletest.toml"))
    args = parser.parse_args(argv)
    with served(args.app, vulnerable=not args.fixed) as s:
        args.config.write_text(config_text(args.app, s.base_url))
        print(f"{args.app} ({'fixed' if args.fixed else 'vulnerable'}) at {s.base_url}")
        print(f"scan it: battletest scan --config {args.config}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
