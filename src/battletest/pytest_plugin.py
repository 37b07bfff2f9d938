"""The pytest plugin (entry point ``pytest11``): markers, options and fixtures.

It meets a team's existing pytest suite where it is::

    pytest --bt-target http://127.0.0.1:8000 -m "smoke or auth"
    pytest --bt-app mypkg.main:app --bt-profile staging

Options: ``--bt-target URL``, ``--bt-app module:attr``, ``--bt-profile NAME``, ``--bt-mode
MOCK|GOLDEN|LIVE_SMOKE``, ``--bt-config FILE`` (and ``--bt-results FILE``, which
``battletest run`` passes to collect the outcomes as a ``SuiteResult``). Fixtures:
``bt_config``, ``bt_target`` (session: the target, launched when given as an app, the built-in
demo when nothing is given), ``bt_client`` (an httpx client bound to it) and ``bt_identities``
(one client per configured identity, plus ``anonymous``).

The plugin loads in every pytest run of every user, so this module imports only pytest and the
standard library; battletest subsystems, httpx and pydantic load inside the fixtures that need
them. Nothing here changes a run that does not use a ``--bt-*`` option or a ``bt_*`` fixture.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from battletest.config import Config
    from battletest.results import Case, SuiteResult
    from battletest.target import Target

# Fixture modules of the subsystems, loaded by pytest as part of this plugin. Each one imports
# only pytest at module level and loads its subsystem inside the fixtures.
pytest_plugins: list[str] = []
pytest_plugins.append("battletest.chaos.mock_fixtures")
pytest_plugins.append("battletest.chaos.fixtures")
pytest_plugins.append("battletest.quality.fixtures")
pytest_plugins.append("battletest.load.fixtures")

MARKERS = {
    "unit": "fast, socket-free test",
    "integration": "test against a running service",
    "e2e": "end-to-end journey through the service",
    "slow": "takes more than about a second",
    "smoke": "quick check safe to run against any environment (LIVE_SMOKE runs only these)",
    "auth": "authentication or authorization test",
    "api": "API behaviour test",
    "contract": "contract / schema test",
    "security": "security test",
    "performance": "performance test",
    "load": "load test",
    "chaos": "fault-injection test",
    "bt_record": "record this test's bt_client traffic as HAR (dir=… or --bt-record DIR)",
}
# Markers of tests that put a target under stress or break it: never run in LIVE_SMOKE mode,
# even when they are also marked smoke.
DESTRUCTIVE_MARKERS = frozenset({"load", "chaos", "performance"})
MODES = ("MOCK", "GOLDEN", "LIVE_SMOKE", "LIVE")


@dataclass(frozen=True, slots=True)
class BtOptions:
    """The ``--bt-*`` command-line options of one pytest run."""

    target: str | None = None
    app: str | None = None
    profile: str | None = None
    mode: str | None = None
    config: str | None = None
    results: str | None = None
    spec: str | None = None  # from BATTLETEST_SPEC (what `battletest run` hands its child)

    @property
    def used(self) -> bool:
        return any((self.target, self.app, self.profile, self.mode, self.config, self.results))

    def overrides(self) -> dict[str, Any]:
        """The options as dotted config overrides (unset ones are left out)."""
        out: dict[str, Any] = {
            "target.url": self.target,
            "target.app": self.app,
            "target.spec": self.spec,
            "mode": self.mode,
        }
        return {k: v for k, v in out.items() if v is not None}


OPTIONS_KEY = pytest.StashKey[BtOptions]()
RECORDER_KEY = pytest.StashKey["OutcomeRecorder"]()


# ----------------------------------------------------------------------------------- options


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a URL: give http://HOST:PORT, e.g. http://127.0.0.1:8000"
        )
    return value.rstrip("/")


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name, "").strip() or None


def _env_url(name: str) -> str | None:
    value = _env(name)
    if not value:
        return None
    try:
        return _url(value)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"battletest: {name}: {exc}") from None


def _app(value: str) -> str:
    module, _, attr = value.partition(":")
    if not module or not attr:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not 'module:attribute', e.g. mypkg.main:app"
        )
    return value


def _mode(value: str) -> str:
    mode = value.upper().replace("-", "_")
    if mode not in MODES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a mode: use {', '.join(MODES)}")
    return mode


# The ``--bt-*`` options: name, how a value is checked (None: any text), metavar, help.
_OPTIONS: tuple[tuple[str, Callable[[str], str] | None, str, str], ...] = (
    ("target", _url, "URL", "base URL of a running service to test"),
    (
        "app",
        _app,
        "MODULE:ATTR",
        "ASGI/WSGI app battletest starts on a free loopback port for the session",
    ),
    ("profile", None, "NAME", "config profile (dev, staging, prod, …)"),
    (
        "mode",
        _mode,
        "MODE",
        "LIVE, LIVE_SMOKE, MOCK or GOLDEN (LIVE_SMOKE runs only smoke tests, read-only)",
    ),
    ("config", None, "FILE", "battletest.toml or pyproject.toml to read"),
    (
        "results",
        None,
        "FILE",
        "write the outcomes as a battletest SuiteResult JSON (used by `battletest run`)",
    ),
    ("record", None, "DIR", "record each test's bt_client traffic as DIR/<test>.har"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("battletest", "battletest: the system under test")
    for name, check, metavar, help_text in _OPTIONS:
        typed: dict[str, Any] = {"type": check} if check else {}
        group.addoption(f"--bt-{name}", metavar=metavar, help=help_text, **typed)


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")
    options = BtOptions(
        # `battletest run` hands its target to the child pytest as BATTLETEST_BASE_URL
        target=config.getoption("bt_target", None) or _env_url("BATTLETEST_BASE_URL"),
        app=config.getoption("bt_app", None),
        profile=config.getoption("bt_profile", None),
        mode=config.getoption("bt_mode", None),
        config=config.getoption("bt_config", None),
        results=config.getoption("bt_results", None) or _env("BATTLETEST_RESULTS"),
        spec=_env("BATTLETEST_SPEC"),
    )
    if options.app and config.getoption("bt_target", None) is None:
        options = dataclasses.replace(options, target=None)  # --bt-app wins over the env URL
    if options.target and options.app:
        raise pytest.UsageError(
            "battletest: give --bt-target or --bt-app, not both "
            "(--bt-target tests a running service, --bt-app starts one)"
        )
    if options.config and not Path(options.config).is_file():
        raise pytest.UsageError(
            f"battletest: --bt-config {options.config} not found (check the path)"
        )
    config.stash[OPTIONS_KEY] = options
    if options.results and not hasattr(config, "workerinput"):
        recorder = OutcomeRecorder(Path(options.results))
        config.stash[RECORDER_KEY] = recorder
        config.pluginmanager.register(recorder, "battletest-outcomes")


def pytest_report_header(config: pytest.Config) -> list[str]:
    options = config.stash.get(OPTIONS_KEY, BtOptions())
    if not options.used:
        return []
    parts = [
        f"{name}={value}"
        for name, value in (
            ("target", options.target),
            ("app", options.app),
            ("profile", options.profile),
            ("mode", options.mode),
            ("config", options.config),
        )
        if value
    ]
    return ["battletest: " + (", ".join(parts) or "results to " + str(options.results))]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In LIVE_SMOKE mode keep only smoke tests, and none that carries a destructive marker."""
    if explicit_mode(config.stash.get(OPTIONS_KEY, BtOptions())) != "LIVE_SMOKE":
        return
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        names = {m.name for m in item.iter_markers()}
        if "smoke" in names and not names & DESTRUCTIVE_MARKERS:
            keep.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def explicit_mode(options: BtOptions) -> str | None:
    """The mode this pytest run asked for: ``--bt-mode``, else a mode set in the config file
    (base table or the chosen profile) or ``BATTLETEST_MODE``; None when nobody asked.

    The config is read only when a battletest config or option is there at all, so a plain
    pytest run of a project without battletest loads nothing.
    """
    import os

    if options.mode:
        return options.mode
    cwd = Path.cwd()
    has_file = (cwd / "battletest.toml").is_file() or _pyproject_has_battletest(cwd)
    if not (options.used or has_file or os.environ.get("BATTLETEST_MODE")):
        return None
    from battletest.errors import BattletestError
    from battletest.sections import load_checked_config as load_config

    try:
        resolved = load_config(options.config, options.profile, options.overrides())
    except BattletestError:
        return None  # the bt_* fixtures report it, once per test that uses them
    return resolved.mode if "mode" in resolved.model_fields_set else None


def _pyproject_has_battletest(cwd: Path) -> bool:
    path = cwd / "pyproject.toml"
    try:
        return path.is_file() and "[tool.battletest" in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


# ----------------------------------------------------------------------------------- outcomes


@dataclass(slots=True)
class _Outcome:
    nodeid: str
    status: str = "passed"
    duration_s: float = 0.0
    message: str = ""
    longrepr: str = ""
    markers: list[str] = field(default_factory=list)
    location: str = ""
    ran: bool = False  # a report arrived (collected-but-deselected or -x-skipped tests did not)


class OutcomeRecorder:
    """Collects test outcomes (on the xdist controller too) and writes them as a SuiteResult."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, _Outcome] = {}
        self._started: float | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        import time

        self._started = time.monotonic()

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            out = self.outcomes.setdefault(item.nodeid, _Outcome(item.nodeid))
            out.markers = sorted({m.name for m in item.iter_markers()} & set(MARKERS))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            out = self.outcomes.setdefault(report.nodeid, _Outcome(report.nodeid))
            out.status = "error"
            out.ran = True
            text = str(report.longrepr)
            errors = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
            out.message = (errors[-1] if errors else _first_line(report)) or "collection failed"
            out.longrepr = _tail(str(report.longrepr))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        out = self.outcomes.setdefault(report.nodeid, _Outcome(report.nodeid))
        if not out.ran and not out.markers:
            # under xdist the controller never sees the items: markers come from the report's
            # keywords (which also hold node names, hence only the registered marker names)
            out.markers = sorted(set(report.keywords) & set(MARKERS))
        out.ran = True
        out.duration_s += report.duration
        if report.location:
            path, line, _ = report.location
            out.location = f"{path}:{(line or 0) + 1}"
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                out.status = "skipped" if report.skipped else "passed"
                out.message = "xfail: " + str(report.wasxfail) if report.skipped else "xpass"
            elif report.failed:
                out.status = "failed"
            elif report.skipped:
                out.status = "skipped"
        elif report.failed:  # setup or teardown failed: the tool could not run the test
            out.status = "error" if out.status != "failed" else out.status
        elif report.skipped and report.when == "setup":
            out.status = "skipped"
        if report.failed or (report.skipped and not out.message):
            out.message = (f"{report.when}: " if report.when != "call" else "") + _first_line(
                report
            )
        if report.failed:
            out.longrepr = _tail(str(report.longrepr))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        import time

        elapsed = time.monotonic() - self._started if self._started is not None else 0.0
        suite = self.suite_result(elapsed)
        if exitstatus == pytest.ExitCode.INTERRUPTED:  # Ctrl-C: the tests that ran, said so
            suite.message = "interrupted: partial results"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(suite.model_dump_json(indent=2), encoding="utf-8")

    def cases(self) -> list[Case]:
        from battletest.results import Case, Status

        cases = []
        for out in self.outcomes.values():
            if not out.ran:
                continue  # collected, then deselected or never run (-x, Ctrl-C)
            details: dict[str, Any] = {"markers": out.markers}
            if out.location:
                details["location"] = out.location
            if out.longrepr:
                details["traceback"] = out.longrepr
            cases.append(
                Case(
                    name=out.nodeid,
                    status=Status(out.status),
                    duration_ms=round(out.duration_s * 1000.0, 3),
                    message=out.message,
                    details=details,
                    reproduce=f"pytest {_shell_quote(out.nodeid)}"
                    if out.status in ("failed", "error")
                    else None,
                )
            )
        return cases

    def suite_result(self, elapsed_s: float) -> SuiteResult:
        from battletest.results import SuiteResult

        return SuiteResult.from_cases("pytest", self.cases(), duration_s=round(elapsed_s, 3))


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        text = str(crash.message)
    elif isinstance(report.longrepr, tuple):  # skip: (path, line, reason)
        text = str(report.longrepr[2])
    else:
        text = str(report.longrepr or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip()[:500] if lines else ""


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def read_results(path: str | Path) -> SuiteResult:
    """The SuiteResult a ``--bt-results`` run wrote (what ``battletest run`` reads back)."""
    from battletest.results import SuiteResult

    return SuiteResult.model_validate_json(Path(path).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------- fixtures


@dataclass(slots=True)
class BtSession:
    """What the session-scoped fixtures share: the config, the target and the identities."""

    config: Config
    target: Target
    identities: list[Any]  # battletest.config.Identity
    mode: str | None = None  # the mode asked for (flag, file or env); None: no restriction
    demo: Any = None  # the DemoHandle when battletest started its demo


def _fail(exc: BaseException) -> None:
    """Fail the requesting test with battletest's one-line message (no traceback)."""
    pytest.fail(f"battletest: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def _bt_session(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BtSession]:
    from contextlib import ExitStack

    from battletest.errors import BattletestError
    from battletest.sections import load_checked_config as load_config

    options = pytestconfig.stash.get(OPTIONS_KEY, BtOptions())
    with ExitStack() as stack:
        try:
            config = load_config(options.config, options.profile, options.overrides())
            session = _open_session(config, stack, tmp_path_factory.mktemp("bt-target"))
        except BattletestError as exc:
            _fail(exc)
            raise  # unreachable: pytest.fail raises
        yield session


def _open_session(config: Config, stack: Any, work_dir: Path) -> BtSession:
    mode = config.mode if "mode" in config.model_fields_set else None
    t = config.target
    if t.url or t.app or t.command:
        from battletest.target import open_target

        target = stack.enter_context(open_target(t, logs_dir=work_dir))
        return BtSession(config, target, list(config.identities), mode)
    return _open_demo(config, stack, work_dir, mode)


def _open_demo(config: Config, stack: Any, work_dir: Path, mode: str | None) -> BtSession:
    """Start the built-in demo; its target, auth flow and identities fill what config lacks."""
    from battletest.sections import load_checked_config as load_config
    from battletest.target import Target

    if mode == "MOCK":  # the demo's PMS and TTS are battletest mocks serving their stubs
        mocked = importlib.import_module("battletest.suites.dependencies").mocked_demo()
        demo = stack.enter_context(mocked).demo
    else:
        demo = stack.enter_context(importlib.import_module("battletest.demo").start())
    described = load_config(demo.write_config(work_dir / "demo.toml"), environ={})
    update: dict[str, Any] = {"target": described.target}
    if not config.auth.login_path:
        update["auth"] = described.auth
    if not config.identities:
        update["identities"] = described.identities
    if not config.rbac:
        update["rbac"] = described.rbac
    config = config.model_copy(update=update)
    target = Target(demo.base_url, "demo", description="the built-in demo")
    return BtSession(config, target, list(config.identities), mode, demo)


@pytest.fixture(scope="session")
def bt_config(_bt_session: BtSession) -> Config:
    """The resolved configuration (file, profile, BATTLETEST_* env, --bt-* flags; the demo's
    target, auth flow and identities when battletest started the demo)."""
    return _bt_session.config


@pytest.fixture(scope="session")
def bt_target(_bt_session: BtSession) -> Target:
    """The system under test for this session (``.base_url``; ``.pid`` when battletest owns it)."""
    return _bt_session.target


@pytest.fixture(scope="session")
def _bt_transport(_bt_session: BtSession) -> Iterator[Any]:
    """The session's one transport: the write policy (read-only in production and LIVE_SMOKE;
    elsewhere writes only to objects the tests created, unless allow_destructive), pacing by
    ``[rate_limits]``, backing off on 429/503, host-only."""
    from battletest.transport import Transport, WritePolicy

    config = _bt_session.config
    read_only = (
        _bt_session.mode == "LIVE_SMOKE" or config.is_prod
    ) and not config.allow_destructive
    policy = WritePolicy(
        read_only=read_only,
        allow_destructive=config.allow_destructive,
        owns_target=_bt_session.target.kind != "url",
        why_read_only="production is read-only" if config.is_prod else "LIVE_SMOKE is read-only",
    )
    transport = Transport(
        _bt_session.target.base_url,
        timeout=config.target.request_timeout_s,
        rate_limits=config.rate_limits,
        policy=policy,
    )
    golden = None
    if _bt_session.mode == "GOLDEN":  # every bt_client answer is compared with its snapshot
        from battletest.golden import Golden

        golden = Golden(config.golden.dir, update=config.golden.update, resend=transport.resend)
        transport.observer = golden.observe
    try:
        yield transport
    finally:
        if golden is not None:
            golden.close_suite("pytest")  # writes the snapshots of a first run or an update
            for note in golden.finish():
                print(f"\n{note}")
        transport.close()


@pytest.fixture
def bt_client(_bt_transport: Any, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """An httpx client bound to the target (unauthenticated; fresh cookies per test), under the
    session's write policy."""
    record_dir = request.config.getoption("bt_record", None)
    marker = request.node.get_closest_marker("bt_record")
    if record_dir or marker is not None:  # through a recording proxy (docs/replay.md)
        from battletest.replay.fixtures import recording_client, recording_path

        folder = record_dir or (marker.kwargs.get("dir") if marker is not None else None)
        with recording_client(_bt_transport, recording_path(folder, request.node.nodeid)) as c:
            yield c
        return
    key = f"test:{request.node.nodeid}"
    try:
        yield _bt_transport(key)
    finally:
        _bt_transport.release(key)


class BtIdentities(Mapping[str, "httpx.Client"]):
    """One httpx client per configured identity, by name, plus ``anonymous`` (no credentials).

    Each identity logs in once per session (on first use); its client sends the identity's
    bearer token or API key and refreshes an expiring token on its own.
    """

    def __init__(self, clients: dict[str, httpx.Client], roles: dict[str, str]) -> None:
        self._clients = clients
        self._roles = roles

    def __getitem__(self, name: str) -> httpx.Client:
        try:
            return self._clients[name]
        except KeyError:
            known = ", ".join(sorted(self._clients))
            raise KeyError(f"no identity {name!r} (configured: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def anonymous(self) -> httpx.Client:
        return self._clients["anonymous"]

    def role(self, role: str) -> httpx.Client:
        """The client of the first identity with ``role``."""
        for name, r in self._roles.items():
            if r == role:
                return self._clients[name]
        raise KeyError(
            f"no identity with role {role!r} (roles: {', '.join(sorted(set(self._roles.values())))})"
        )


@pytest.fixture(scope="session")
def _bt_logins(_bt_session: BtSession, _bt_transport: Any) -> Any:
    """The identities' sessions, logged in lazily and once per pytest session; the transport
    authenticates each identity's client and watches it."""
    from battletest.transport import Identities

    return Identities(_bt_session.identities, _bt_session.config.auth, _bt_transport)


@pytest.fixture
def bt_identities(
    _bt_session: BtSession, _bt_logins: Any, _bt_transport: Any
) -> Iterator[BtIdentities]:
    """A client per configured identity (``bt_identities["staff"]``) and ``.anonymous``."""
    from battletest.errors import BattletestError

    clients: dict[str, httpx.Client] = {"anonymous": _bt_transport("anonymous")}
    roles: dict[str, str] = {}
    for ident in _bt_session.identities:
        try:
            _bt_logins.get(ident.name)  # logs in on first use; the client refreshes when due
        except BattletestError as exc:
            _fail(exc)
        clients[ident.name] = _bt_transport(ident.name)
        roles[ident.name] = ident.role
    yield BtIdentities(clients, roles)
