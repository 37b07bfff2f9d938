"""Third-party API applications from PyPI, started on loopback for the tests in this folder.

Each app lives in its own venv under ``.venv-thirdparty/<name>/`` (``make thirdparty``, pinned
by ``requirements/<name>.txt``) and is served by ``serve.py`` under that venv's interpreter:
waitress on 127.0.0.1, a port the server chose itself, and a journal of every request it
answered. ``GROUND_TRUTH.md`` says what each app is, written before anything was tuned to it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".venv-thirdparty"
SERVE = Path(__file__).with_name("serve.py")
STARTUP_TIMEOUT_S = 60.0
_MARK = "bt-journal-mark"  # the query of the harness's own mark requests (see journal_mark)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@dataclass(frozen=True, slots=True)
class ThirdPartyApp:
    """What the harness needs to know to start one app and read its spec."""

    name: str
    version: str  # the pinned version (requirements/<name>.txt); checked against the venv
    spec_path: str  # where the app serves its API document, under the app's root
    base_path: str  # the API's base path (the spec's basePath)
    health_path: str
    write_config: Callable[[Path], list[str]] | None = None  # workdir → extra serve.py args
    # what the harness itself (not battletest) sends to reach the health path and the spec
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def venv(self) -> Path:
        return VENVS / self.name


def _kinto_ini(workdir: Path) -> list[str]:
    """A Kinto config with in-memory storage and the accounts plugin (HTTP Basic accounts).

    Anyone may create an account (as Kinto's own ``kinto init`` writes it); any account may
    create buckets; the account named ``admin`` may manage every account.
    """
    ini = workdir / "kinto.ini"
    ini.write_text(
        """\
[app:main]
use = egg:kinto
kinto.includes = kinto.plugins.accounts
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.userid_hmac_secret = battletest-thirdparty-not-a-secret
multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.bucket_create_principals = system.Authenticated

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = plain

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = plain

[formatter_plain]
format = %(asctime)s %(levelname)s %(name)s %(message)s
""",
        encoding="utf-8",
    )
    return ["--ini", str(ini)]


KINTO = ThirdPartyApp(
    name="kinto",
    version="26.5.0",
    spec_path="/v1/__api__",
    base_path="/v1",
    health_path="/v1/__heartbeat__",
    write_config=_kinto_ini,
)
HTTPBIN = ThirdPartyApp(
    name="httpbin",
    version="0.10.4",
    spec_path="/spec.json",
    base_path="",
    health_path="/get",
)

# Jupyter Server's token (a throwaway server on loopback: not a secret). Its API takes it as
# ``Authorization: token …`` (GROUND_TRUTH.md).
JUPYTER_TOKEN = "battletest-thirdparty-token-5e1d"


def _jupyter_dirs(workdir: Path) -> list[str]:
    """A root folder for the contents API; Jupyter's own dirs are pointed at the workdir by env."""
    root = workdir / "root"
    root.mkdir(exist_ok=True)
    return ["--root-dir", str(root), "--token", JUPYTER_TOKEN]


JUPYTER = ThirdPartyApp(
    name="jupyter-server",
    version="2.21.1",
    spec_path="/api/spec.yaml",
    base_path="",
    health_path="/api/status",
    write_config=_jupyter_dirs,
    headers=(("Authorization", f"token {JUPYTER_TOKEN}"),),
)
APPS = {app.name: app for app in (KINTO, HTTPBIN, JUPYTER)}


def require_installed(app: ThirdPartyApp) -> None:
    """Fail (never skip) with one line when the app's venv is missing or holds another version."""
    stamp = app.venv / ".installed"
    if not stamp.exists():
        pytest.fail(
            f"{app.name} is not installed in {app.venv}: run `make thirdparty`", pytrace=False
        )
    found = subprocess.run(
        [
            str(app.venv / "bin" / "python"),
            "-c",
            f"import importlib.metadata as m; print(m.version({app.name!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if found != app.version:
        pytest.fail(
            f"{app.venv} holds {app.name} {found or '?'}, not {app.version}: run `make thirdparty`",
            pytrace=False,
        )


@dataclass(frozen=True, slots=True)
class Running:
    """A started app: its root URL (no base path), spec URL and request journal."""

    app: ThirdPartyApp
    root: str
    workdir: Path
    journal_path: Path
    log_path: Path

    @property
    def url(self) -> str:
        """The API's base URL (root + base path): what a user gives ``--target``."""
        return self.root + self.app.base_path

    @property
    def spec_url(self) -> str:
        return self.root + self.app.spec_path

    @property
    def spec(self) -> str:
        """What a user gives ``--spec``: the URL, or for a spec behind the app's own auth
        (Jupyter) the file they would download with their token."""
        return str(self.spec_file) if self.app.headers else self.spec_url

    @property
    def spec_file(self) -> Path:
        return self.workdir / Path(self.app.spec_path).name

    def spec_document(self) -> dict[str, Any]:
        """The app's API document as fetched once at startup (JSON is YAML too)."""
        document = yaml.safe_load(self.spec_file.read_bytes())
        assert isinstance(document, dict), self.spec_url
        return document

    def _entries(self) -> list[dict[str, object]]:
        text = self.journal_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def journal(self) -> list[dict[str, object]]:
        """Every request the app answered so far (method, path, query, status), without the
        harness's own mark requests."""
        return [e for e in self._entries() if _MARK not in str(e.get("query", ""))]

    def journal_mark(self) -> int:
        """Where the journal ends now, to read only what comes after.

        Some apps log a request after its answer reached the client (Tornado logs in
        ``finish``), so counting lines right after a request races with its own line. A mark
        request is answered only after every earlier one was logged; its line is the fence.
        """
        token = f"{_MARK}={uuid.uuid4().hex}"
        httpx.get(f"{self.root}{self.app.health_path}?{token}", headers=dict(self.app.headers))
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            entries = self._entries()
            fence = [i for i, e in enumerate(entries) if token in str(e.get("query", ""))]
            if fence:
                before = entries[: fence[0]]
                return sum(1 for e in before if _MARK not in str(e.get("query", "")))
            time.sleep(0.05)
        raise AssertionError(f"{self.app.name}: the journal never logged the mark request")


@contextmanager
def serve(app: ThirdPartyApp, workdir: Path) -> Iterator[Running]:
    """Start ``app`` on 127.0.0.1, wait until its health path answers 200, stop it at the end."""
    require_installed(app)
    workdir.mkdir(parents=True, exist_ok=True)
    port_file, journal, log = workdir / "port", workdir / "journal.jsonl", workdir / "app.log"
    port_file.unlink(missing_ok=True)
    journal.write_text("", encoding="utf-8")
    extra = app.write_config(workdir) if app.write_config else []
    cmd = [str(app.venv / "bin" / "python"), str(SERVE), app.name, *extra]
    cmd += ["--port-file", str(port_file), "--journal", str(journal)]
    # Jupyter reads and writes its config, data and runtime files here, not under $HOME
    env = {**os.environ, "HOME": str(workdir), "JUPYTER_CONFIG_DIR": str(workdir / "jupyter")}
    env |= {
        "JUPYTER_DATA_DIR": str(workdir / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "jupyter"),
    }
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    try:
        root = _wait_healthy(app, proc, port_file, log)
        running = Running(app=app, root=root, workdir=workdir, journal_path=journal, log_path=log)
        spec = httpx.get(running.spec_url, headers=dict(app.headers), timeout=10)
        spec.raise_for_status()
        running.spec_file.write_bytes(spec.content)
        yield running
    finally:
        _stop(proc)


def _wait_healthy(
    app: ThirdPartyApp, proc: subprocess.Popen[bytes], port_file: Path, log: Path
) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{app.name} exited with {proc.returncode}:\n{_tail(log)}")
        if port_file.exists():
            root = f"http://127.0.0.1:{int(port_file.read_text())}"
            try:
                health = httpx.get(root + app.health_path, headers=dict(app.headers), timeout=2.0)
                if health.status_code == 200:
                    return root
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"{app.name} not healthy after {STARTUP_TIMEOUT_S:.0f}s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the app's process group, SIGKILL what is left after 5 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


# --- what the journal says about the spec's operations ---------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # the spec's template, e.g. /buckets/{id}
    pattern: re.Pattern[str]


def spec_operations(document: dict[str, Any], base_path: str) -> list[Operation]:
    """The (method, path template) pairs of a Swagger 2.0 / OpenAPI 3 document, read directly.

    Deliberately independent of battletest's own spec model: this is the yardstick.
    """
    paths = document.get("paths")
    assert isinstance(paths, dict)
    ops = []
    for template, item in paths.items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(base_path + template))
        pattern = re.compile(regex + "/?")
        for method in item:
            if method in METHODS:
                ops.append(Operation(method.upper(), template, pattern))
    return ops


def match(ops: list[Operation], method: str, path: str) -> Operation | None:
    """The operation a request reached; a literal template wins over a parameterised one."""
    hits = [op for op in ops if op.method == method and op.pattern.fullmatch(path)]
    hits.sort(key=lambda op: op.path.count("{"))
    return hits[0] if hits else None


def exercised(ops: list[Operation], journal: list[dict[str, object]]) -> dict[Operation, set[int]]:
    """Each operation → the statuses the app answered it with (operations never reached: absent)."""
    seen: dict[Operation, set[int]] = {}
    for entry in journal:
        op = match(ops, str(entry["method"]), str(entry["path"]))
        if op is not None:
            seen.setdefault(op, set()).add(int(str(entry["status"])))
    return seen


def succeeded(seen: dict[Operation, set[int]]) -> list[Operation]:
    """The operations that got at least one 2xx answer: the ones really exercised."""
    return [op for op, statuses in seen.items() if any(200 <= s < 300 for s in statuses)]
