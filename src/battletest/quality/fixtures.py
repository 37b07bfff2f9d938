"""pytest side of the quality subsystem: history recording, quarantine, retries, impact.

- Every session is recorded in the history store (``--bt-no-history`` or
  ``[history] record = false`` turn it off); results are committed in batches as tests finish,
  so a crash loses nothing already committed. Under xdist only the controller writes. A session
  started from inside a test (pytester) records only into a store named explicitly.
- Known-flaky tests (from the history) get up to ``[flaky] max_retries`` automatic retries of a
  failed call; others none. Quarantined tests still run, but a failure is reported as
  ``xfail`` ("battletest quarantine") so it cannot fail the build; the summary lists them apart.
- ``--bt-impact-record`` (or ``[impact] record = true``) records per-test coverage into an
  impact map; ``--bt-impact REF`` deselects the tests the change since REF does not need.

Only pytest, typing and the standard library are imported here at module level; the store loads inside the hooks.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

    from battletest.quality.flaky import PytestState
    from battletest.quality.impact import ImpactRecorder
    from battletest.quality.settings import QualitySettings
    from battletest.quality.store import CaseRecord, HistoryStore

FLUSH_EVERY = 200  # results
# Sessions configured and not yet unconfigured in this process: a second one is nested (an
# in-process pytester run). Only ids, so nothing outlives its session.
_OPEN_SESSIONS: list[int] = []
FLUSH_SECONDS = 5.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("battletest-quality", "battletest history, flakiness and impact")
    group.addoption(
        "--bt-no-history",
        action="store_true",
        default=False,
        help="do not record this session in the battletest history store",
    )
    group.addoption(
        "--bt-history-url",
        default=None,
        metavar="URL",
        help="history store (SQLAlchemy URL); default .battletest/history.db in the rootdir",
    )
    group.addoption(
        "--bt-impact-record",
        action="store_true",
        default=False,
        help="record per-test coverage into the impact map (for --bt-impact)",
    )
    group.addoption(
        "--bt-impact",
        default=None,
        metavar="REF",
        help="run only the tests the change since git REF needs (full run when unsure)",
    )
    group.addoption(
        "--bt-no-retry",
        action="store_true",
        default=False,
        help="no automatic retries of known-flaky tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--bt-impact") and config.getoption("--bt-impact-record"):
        raise pytest.UsageError(
            "--bt-impact and --bt-impact-record do not combine: record the map on the base "
            "commit with a full run, then select with --bt-impact"
        )
    config.pluginmanager.register(QualityPlugin(config), "battletest-quality")


class QualityPlugin:
    """Per-session state; one instance per pytest process (controller or xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = config.rootpath
        self.worker = hasattr(config, "workerinput")
        # A session inside a test: the outer test's variable (read now — an in-process inner
        # session's own tests reset it), or another session still open in this process.
        self._nested = bool(os.environ.get("PYTEST_CURRENT_TEST")) or bool(_OPEN_SESSIONS)
        _OPEN_SESSIONS.append(id(self))
        self._settings: QualitySettings | None = None
        self._store: HistoryStore | None = None
        self._state: PytestState | None = None
        self._buffer: list[CaseRecord] = []
        self._pending: dict[str, dict[str, Any]] = {}
        self._run_id: str | None = None
        self._commit: str | None = None
        self._last_flush = time.monotonic()
        self._recorder: ImpactRecorder | None = None
        self.quarantined_seen: dict[str, str] = {}  # test id → actual outcome
        self.retried: dict[str, int] = {}  # test id → attempts used
        self.impact_note: str | None = None

    # -- settings and store -------------------------------------------------------------------

    @property
    def settings(self) -> QualitySettings:
        if self._settings is None:
            from battletest.errors import BattletestError
            from battletest.quality.settings import load_settings

            try:
                self._settings = load_settings(self.root, strict_toml=False)
            except BattletestError as exc:
                raise pytest.UsageError(f"battletest: {exc}") from exc
        return self._settings

    def _url(self) -> str:
        opt = self.config.getoption("--bt-history-url")
        url = opt or os.environ.get("BATTLETEST_HISTORY_URL") or self.settings.history.url
        if url:
            return str(url)
        return f"sqlite:///{(self.root / '.battletest' / 'history.db').resolve()}"

    def _db_exists(self, url: str) -> bool:
        """Whether there is a history to read (a missing SQLite file means none yet)."""
        if not url.startswith("sqlite:///"):
            return True
        from pathlib import Path

        path = url[len("sqlite:///") :]
        return bool(path) and Path(path).exists()

    def store(self) -> HistoryStore:
        if self._store is None:
            from battletest.errors import BattletestError
            from battletest.quality.store import HistoryStore

            try:
                self._store = HistoryStore(self._url())
            except BattletestError as exc:
                raise pytest.UsageError(f"battletest: {exc}") from exc
        return self._store

    @property
    def recording(self) -> bool:
        if self.worker or self.config.getoption("--bt-no-history"):
            return False
        if not self.settings.history.record:
            return False
        return not self.nested or self._explicit_url()

    @property
    def nested(self) -> bool:
        """A session started from inside another test (a plugin's own pytester tests): it
        records only into a store named explicitly, never into a default one."""
        return self._nested

    def _explicit_url(self) -> bool:
        return bool(
            self.config.getoption("--bt-history-url")
            or os.environ.get("BATTLETEST_HISTORY_URL")
            or self.settings.history.url
        )

    # -- session ------------------------------------------------------------------------------

    @property
    def history_on(self) -> bool:
        """Whether this session reads (flaky state) and writes the history store at all."""
        if self.config.getoption("--bt-no-history"):
            return False
        return not self.nested or self._explicit_url()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        url = self._url() if self.history_on else ""
        if self.history_on and self._db_exists(url):
            from battletest.quality.flaky import pytest_state

            self._state = pytest_state(self.store(), self.settings.flaky)
        record = self.config.getoption("--bt-impact-record") or self.settings.impact.record
        xdist_controller = (
            not self.worker
            and self.config.pluginmanager.hasplugin("dsession")
            and bool(getattr(self.config.option, "numprocesses", None))
        )
        if record and not xdist_controller and not self.config.getoption("--bt-impact"):
            from battletest.quality.impact import ImpactRecorder

            self._recorder = ImpactRecorder(self.root)
            self._recorder.start()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        ref = config.getoption("--bt-impact")
        if not ref:
            return
        from battletest.errors import BattletestError
        from battletest.quality.impact import select

        try:
            sel = select(self.store(), self.root, since=ref, settings=self.settings.impact)
        except BattletestError as exc:
            raise pytest.UsageError(f"battletest: {exc}") from exc
        if sel.full_run:
            self.impact_note = f"full run: {sel.reason}"
            return
        keep = [i for i in items if sel.keeps(i.nodeid)]
        drop = [i for i in items if not sel.keeps(i.nodeid)]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.impact_note = f"{len(keep)} of {len(keep) + len(drop)} tests selected: {sel.reason}"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._recorder is not None:
            from battletest.quality.impact import record_map
            from battletest.quality.store import new_id

            rows = self._recorder.stop()
            self._recorder = None
            map_id = str(getattr(self.config, "workerinput", {}).get("testrunuid") or new_id())
            record_map(self.store(), self.root, rows, map_id)
        if self.recording and (self._buffer or self._run_id):
            self._flush()
            if self._run_id:
                self.store().finish_run(
                    self._run_id, "passed" if int(exitstatus) == 0 else "failed"
                )

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if id(self) in _OPEN_SESSIONS:
            _OPEN_SESSIONS.remove(id(self))
        if self._recorder is not None:
            self._recorder.stop()
            self._recorder = None
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- running: retries, quarantine, coverage contexts ---------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        state = self._state
        recorder = self._recorder
        if recorder is not None:
            recorder.switch(item.nodeid)
        retries = 0
        if (
            state is not None
            and item.nodeid in state.flaky
            and not self.config.getoption("--bt-no-retry")
        ):
            retries = state.max_retries
        if not retries:
            if recorder is None:
                return None
            # Run the default protocol ourselves so the context ends with the test.
            from _pytest.runner import runtestprotocol

            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            runtestprotocol(item, nextitem=nextitem, log=True)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            recorder.switch("")
            return True
        from _pytest.runner import runtestprotocol

        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        attempt = 0
        while True:
            attempt += 1
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            call_failed = any(r.when == "call" and r.failed for r in reports)
            setup_ok = all(r.passed for r in reports if r.when == "setup")
            if call_failed and setup_ok and attempt <= retries:
                continue
            break
        for rep in reports:
            if attempt > 1:
                rep.user_properties.append(("bt_attempts", attempt))
            item.ihook.pytest_runtest_logreport(report=rep)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        if recorder is not None:
            recorder.switch("")
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        rep: pytest.TestReport = yield
        state = self._state
        if state is None or item.nodeid not in state.quarantined or not rep.failed:
            return rep
        if rep.when == "teardown":
            return rep
        rep.user_properties.append(("bt_outcome", "failed" if rep.when == "call" else "error"))
        rep.outcome = "skipped"
        rep.wasxfail = f"battletest quarantine: {state.quarantined[item.nodeid]}"
        return rep

    # -- recording ----------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props: dict[str, Any] = dict(report.user_properties)
        if "bt_outcome" in props:
            self.quarantined_seen[report.nodeid] = str(props["bt_outcome"])
        elif (
            self._state is not None
            and report.nodeid in self._state.quarantined
            and report.when == "call"
        ):
            self.quarantined_seen.setdefault(report.nodeid, report.outcome)
        if "bt_attempts" in props and report.when == "call":
            self.retried[report.nodeid] = int(props["bt_attempts"])
        if not self.recording:
            return
        entry = self._pending.setdefault(
            report.nodeid, {"outcome": "passed", "duration": 0.0, "attempts": 1}
        )
        entry["duration"] += report.duration * 1000.0
        if "bt_attempts" in props:
            entry["attempts"] = int(props["bt_attempts"])
        actual = props.get("bt_outcome")
        if actual:
            entry["outcome"] = actual
            entry["quarantined"] = True
        elif report.when == "setup" and report.failed:
            entry["outcome"] = "error"
        elif report.when == "setup" and report.skipped:
            entry["outcome"] = "skipped"
        elif report.when == "call":
            if hasattr(report, "wasxfail"):
                entry["outcome"] = "skipped"  # an expected failure says nothing about flakiness
            else:
                entry["outcome"] = report.outcome
        elif report.when == "teardown":
            if report.failed and entry["outcome"] == "passed":
                entry["outcome"] = "error"
            self._finish_case(report, self._pending.pop(report.nodeid))

    def _finish_case(self, report: pytest.TestReport, entry: dict[str, Any]) -> None:
        from battletest.quality.store import CaseRecord

        quarantined = bool(entry.get("quarantined")) or (
            self._state is not None and report.nodeid in self._state.quarantined
        )
        self._buffer.append(
            CaseRecord(
                test_id=report.nodeid,
                outcome=entry["outcome"],
                duration_ms=entry["duration"],
                file=report.location[0] if report.location else None,
                suite="pytest",
                attempts=entry["attempts"],
                flipped=entry["attempts"] > 1 and entry["outcome"] == "passed",
                quarantined=quarantined,
            )
        )
        if len(self._buffer) >= FLUSH_EVERY or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self._flush()

    def _own_files(self) -> list[str]:
        """The history database (SQLite), which changes every run: not part of the code."""
        url = self._url()
        return [url[len("sqlite:///") :]] if url.startswith("sqlite:///") else []

    def _flush(self) -> None:
        from battletest.quality.impact import branch_name, git_root, head_commit, tree_state
        from battletest.quality.store import RunRecord

        store = self.store()
        if self._run_id is None:
            repo = git_root(self.root)
            self._commit = tree_state(repo, self._own_files()) if repo else None
            self._run_id = store.start_run(
                RunRecord(
                    commit=head_commit(repo) if repo else None,
                    branch=branch_name(repo) if repo else None,
                    source="pytest",
                )
            )
        batch, self._buffer = self._buffer, []
        store.add_cases(self._run_id, batch, commit=self._commit)
        self._last_flush = time.monotonic()

    # -- reporting ----------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self._state is not None and (self._state.flaky or self._state.quarantined):
            lines.append(
                f"battletest: {len(self._state.flaky)} known-flaky test(s) "
                f"(up to {self._state.max_retries} retries), "
                f"{len(self._state.quarantined)} quarantined"
            )
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.impact_note:
            tr.write_line(f"battletest impact: {self.impact_note}")
        if self.retried:
            tr.write_sep("-", "battletest: retried known-flaky tests")
            for nodeid, attempts in sorted(self.retried.items()):
                tr.write_line(f"{nodeid}: {attempts} attempts")
        if self.quarantined_seen:
            tr.write_sep("-", "battletest: quarantined tests (cannot fail the build)")
            for nodeid, outcome in sorted(self.quarantined_seen.items()):
                tr.write_line(f"{outcome.upper():8} {nodeid}")
