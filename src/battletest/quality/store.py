"""The history store: every run, case outcome, metric, finding, gate row and impact map.

SQLAlchemy Core over SQLite by default (``.battletest/history.db``, WAL, a busy timeout and
``BEGIN IMMEDIATE`` write transactions so parallel writers such as pytest-xdist workers or
concurrent CI jobs queue instead of failing), or any SQLAlchemy URL (PostgreSQL for a team).
The schema is versioned: ``MIGRATIONS`` is an ordered list, the applied version lives in
``bt_schema_version`` and ``HistoryStore.migrate`` brings any older database up to date.

Each write is its own short transaction, so a crash mid-run loses nothing already committed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError

from battletest.errors import ConfigError
from battletest.redact import Redactor
from battletest.results import Report, Status

DEFAULT_PATH = Path(".battletest") / "history.db"
ENV_URL = "BATTLETEST_HISTORY_URL"

metadata = sa.MetaData()


def _rows(name: str, *columns: sa.Column[Any] | sa.Index) -> sa.Table:
    """A table of rows numbered by an autoincrement ``id``."""
    return sa.Table(
        name, metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), *columns
    )


def _run_rows(name: str, *columns: sa.Column[Any] | sa.Index) -> sa.Table:
    """Numbered rows that belong to one run (metrics, findings, gate rows), read by ``run_id``."""
    return _rows(name, sa.Column("run_id", sa.String(64), nullable=False, index=True), *columns)


def _per_test(name: str, *columns: sa.Column[Any] | sa.Index) -> sa.Table:
    """Rows keyed by the test (``bt_tests.id``), and by the further primary-key columns given."""
    return sa.Table(name, metadata, sa.Column("test", sa.Integer, primary_key=True), *columns)


schema_version = sa.Table(
    "bt_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

runs = sa.Table(
    "bt_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),  # epoch seconds (UTC)
    sa.Column("finished_at", sa.Float),
    sa.Column("commit", sa.String(64)),
    sa.Column("branch", sa.String(255)),
    sa.Column("profile", sa.String(64)),
    sa.Column("source", sa.String(32), nullable=False),  # "pytest" | "run" | …
    sa.Column("status", sa.String(16)),
    sa.Index("ix_bt_runs_started", "started_at"),
)

# Every test id seen once, so case rows and their indexes carry a small integer.
tests = _rows(
    "bt_tests",
    sa.Column("test_id", sa.String(1024), nullable=False, unique=True),
    sa.Column("file", sa.String(1024)),
    sa.Column("first_seen", sa.Float, nullable=False),
)

# One row per test per run. ``failed`` is 1 (failed/error), 0 (passed) or NULL (skipped) so the
# flakiness aggregates are COUNT/SUM over one covering index.
cases = _rows(
    "bt_cases",
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("test", sa.Integer, nullable=False),  # bt_tests.id
    sa.Column("suite", sa.String(64)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("failed", sa.SmallInteger),
    sa.Column(
        "flipped", sa.SmallInteger, nullable=False, default=0
    ),  # failed, then passed on retry
    sa.Column("attempts", sa.SmallInteger, nullable=False, default=1),
    sa.Column("quarantined", sa.SmallInteger, nullable=False, default=0),
    sa.Column("duration_ms", sa.Float, nullable=False, default=0.0),
    sa.Column("commit", sa.String(64)),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Index("ix_bt_cases_test", "test", "ts"),
)

# Roll-ups kept current on every ingest so flakiness reads thousands of rows, not millions:
# runs and failures per test per UTC day, and outcomes per test per commit ("mixed" = it both
# passed and failed on that commit, or passed only on a retry).
daily = _per_test(
    "bt_daily",
    sa.Column("day", sa.Integer, primary_key=True),  # days since the epoch (UTC)
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("fails", sa.Integer, nullable=False),
    sa.Index("ix_bt_daily_day", "day"),
)

test_commits = _per_test(
    "bt_test_commits",
    sa.Column("commit", sa.String(64), primary_key=True),  # "" when not in a git repository
    sa.Column("passes", sa.Integer, nullable=False),
    sa.Column("fails", sa.Integer, nullable=False),
    sa.Column("flips", sa.Integer, nullable=False),
    sa.Column("mixed", sa.SmallInteger, nullable=False),
    sa.Column("last_ts", sa.Float, nullable=False),
    # On ``mixed`` alone: last_ts changes on every ingest, mixed rarely, so the index is left
    # alone by almost every upsert.
    sa.Index("ix_bt_test_commits_mixed_only", "mixed"),
)

# Each test's current failing streak on committed code, kept on every ingest so "broken since X"
# reads one row per test: every run since ``streak_ts`` (on commit ``streak_commit``) failed;
# ``streak`` counts them (0: the latest run passed). ``last_ts``: its latest committed run.
test_state = _per_test(
    "bt_test_state",
    sa.Column("last_ts", sa.Float, nullable=False),
    sa.Column("last_pass_ts", sa.Float),
    sa.Column("streak", sa.Integer, nullable=False),
    sa.Column("streak_ts", sa.Float),
    sa.Column("streak_commit", sa.String(64)),
)

metrics = _run_rows(
    "bt_metrics",
    sa.Column("suite", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
)

findings = _run_rows(
    "bt_findings",
    sa.Column("check_id", sa.String(128), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("method", sa.String(16)),
    sa.Column("path", sa.Text),
)

gates = _run_rows(
    "bt_gates",
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("limit_json", sa.Text),
    sa.Column("measured_json", sa.Text),
    sa.Column("passed", sa.Boolean),
    sa.Column("reason", sa.Text),
)

# Manual quarantine decisions; ``state`` is "quarantined" or "released" (the latest row wins).
quarantine = _rows(
    "bt_quarantine",
    sa.Column("test_id", sa.String(1024), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.Float, nullable=False),
)

impact_maps = sa.Table(
    "bt_impact_maps",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("commit", sa.String(64), nullable=False, index=True),
    sa.Column("dirty", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# One row per (test, file, function) a test executed; function "<module>" for module-level lines.
impact_entries = _rows(
    "bt_impact_entries",
    sa.Column("map_id", sa.String(64), nullable=False),
    sa.Column("test_id", sa.String(1024), nullable=False),
    sa.Column("file", sa.String(1024), nullable=False),
    sa.Column("function", sa.String(512), nullable=False),
    sa.Index("ix_bt_impact_file", "map_id", "file", "function"),
)


def _v2_drop_case_run_index(conn: Connection) -> None:
    # Version 1 indexed bt_cases.run_id; ingest is faster without it and nothing reads by run.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_bt_cases_run")


def _v3_narrow_mixed_index(conn: Connection) -> None:
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_bt_test_commits_mixed")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_bt_test_commits_mixed_only ON bt_test_commits (mixed)"
    )


def _v4_test_state(conn: Connection) -> None:
    """The failing-streak roll-up, back-filled from the case rows already recorded."""
    test_state.create(conn, checkfirst=True)
    clean = '(c."commit" IS NULL OR c."commit" NOT LIKE \'%+%\')'  # committed code only
    streak = f"c.test = t.test AND c.failed = 1 AND c.ts > COALESCE(t.last_pass_ts, -1) AND {clean}"
    dirty = {"dirty": "%+%"}
    conn.execute(
        sa.text(
            "INSERT INTO bt_test_state (test, last_ts, last_pass_ts, streak, streak_ts) "
            "SELECT t.test, t.last_ts, t.last_pass_ts, "
            f"(SELECT COUNT(*) FROM bt_cases c WHERE {streak}), "
            f"(SELECT MIN(c.ts) FROM bt_cases c WHERE {streak}) "
            "FROM (SELECT c.test AS test, MAX(c.ts) AS last_ts, "
            "MAX(CASE WHEN c.failed = 0 THEN c.ts END) AS last_pass_ts "
            f"FROM bt_cases c WHERE c.failed IS NOT NULL AND {clean} GROUP BY c.test) t "
            "WHERE NOT EXISTS (SELECT 1 FROM bt_test_state s WHERE s.test = t.test)"
        ),
        dirty,
    )
    conn.execute(
        sa.text(
            'UPDATE bt_test_state SET streak_commit = (SELECT MIN(c."commit") FROM bt_cases c '
            "WHERE c.test = bt_test_state.test AND c.failed = 1 AND c.ts = bt_test_state.streak_ts "
            f"AND {clean}) WHERE streak > 0"
        ),
        dirty,
    )


# Schema migrations, in order. Version N is reached by applying MIGRATIONS[N-1]. Migration 1
# creates the tables as defined above (the newest shape); each later one brings a store made by an
# older battletest to that shape and must be harmless on a fresh store. Add new ones at the end.
MIGRATIONS: list[Callable[[Connection], None]] = [
    lambda conn: metadata.create_all(
        conn,
        tables=[
            runs,
            tests,
            cases,
            daily,
            test_commits,
            test_state,
            metrics,
            findings,
            gates,
            quarantine,
            impact_maps,
            impact_entries,
        ],
    ),
    _v2_drop_case_run_index,
    _v3_narrow_mixed_index,
    _v4_test_state,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_url(root: Path | None = None) -> str:
    """The store URL: ``$BATTLETEST_HISTORY_URL`` or SQLite at ``ROOT/.battletest/history.db``."""
    env = os.environ.get(ENV_URL)
    if env:
        return env
    return sqlite_url((root or Path.cwd()) / DEFAULT_PATH)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class CaseRecord:
    """One test outcome to record."""

    test_id: str
    outcome: str  # a results.Status value
    duration_ms: float = 0.0
    file: str | None = None
    suite: str | None = None
    attempts: int = 1
    flipped: bool = False  # failed at least once, then passed on a retry
    quarantined: bool = False


@dataclass(slots=True)
class RunRecord:
    """A run's identity: which commit, branch and profile, and when."""

    id: str = field(default_factory=new_id)
    started_at: float = field(default_factory=time.time)
    commit: str | None = None
    branch: str | None = None
    profile: str | None = None
    source: str = "pytest"


# outcome → the ``failed`` column (1 failed, 0 passed, None skipped: not a run)
_FAILED: dict[str, int | None] = {
    Status.PASSED.value: 0,
    Status.FAILED.value: 1,
    Status.ERROR.value: 1,
    Status.SKIPPED.value: None,
}
_CASE_COLUMNS = (
    "run_id",
    "test",
    "suite",
    "outcome",
    "failed",
    "flipped",
    "attempts",
    "quarantined",
    "duration_ms",
    "commit",
    "ts",
)


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout) instead
    # of failing with "database is locked" when a read transaction tries to upgrade. Readers
    # (execution option bt_read) take a plain deferred snapshot and never block writers (WAL).
    if conn.get_execution_options().get("bt_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class HistoryStore(AbstractContextManager["HistoryStore"]):
    """A connection to the history database, migrated to the current schema on open."""

    def __init__(
        self, url: str | None = None, *, migrate: bool = True, redactor: Redactor | None = None
    ) -> None:
        self.url = url or default_url()
        # every row is written through it: test ids, messages and whole reports
        self.redactor = redactor or Redactor()
        try:
            parsed = sa.engine.make_url(self.url)
        except ArgumentError as exc:
            raise ConfigError(
                f"history store URL {self.url!r} is not a SQLAlchemy URL",
                hint="use e.g. sqlite:///.battletest/history.db or postgresql+psycopg://user@host/db",
            ) from exc
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"history store URL {self.url!r} uses {backend!r}; the history store runs on "
                "SQLite or PostgreSQL",
                hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
            )
        self.is_sqlite = backend == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(parsed, future=True)
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"no database driver for {parsed.drivername!r}: {exc.name} is not installed",
                hint="install the driver, e.g. pip install 'psycopg[binary]'",
            ) from exc
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _on_sqlite_connect)
            sa.event.listen(self.engine, "begin", _on_sqlite_begin)
        self._key_cache: dict[str, int] = {}
        if migrate:
            self.migrate()

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self) -> int:
        """Apply any missing migrations; return the schema version now in place."""
        try:
            with self.engine.begin() as conn:
                if not self.is_sqlite and conn.dialect.name == "postgresql":
                    # Serialise concurrent first opens of the same database.
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
                schema_version.create(conn, checkfirst=True)
                current = conn.execute(sa.select(schema_version.c.version)).scalar() or 0
                if current > SCHEMA_VERSION:
                    raise ConfigError(
                        f"history store {self.url!r} has schema version {current}, newer than "
                        f"this battletest understands ({SCHEMA_VERSION})",
                        hint="upgrade battletest or point --db at another store",
                    )
                for step in MIGRATIONS[current:]:
                    step(conn)
                if current == 0:
                    conn.execute(schema_version.insert().values(id=1, version=SCHEMA_VERSION))
                elif current < SCHEMA_VERSION:
                    conn.execute(schema_version.update().values(version=SCHEMA_VERSION))
                return SCHEMA_VERSION
        except OperationalError as exc:
            raise ConfigError(
                f"cannot open the history store {self.url!r}: {exc.orig}",
                hint="check the path or URL and its permissions, or pass --db",
            ) from exc

    def version(self) -> int:
        with self.read() as conn:
            return int(conn.execute(sa.select(schema_version.c.version)).scalar() or 0)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (committed on exit, rolled back on error)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (one consistent snapshot until it closes)."""
        with self.engine.connect().execution_options(bt_read=True) as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording ------------------------------------------------------------------------------

    def start_run(self, run: RunRecord) -> str:
        with self.write() as conn:
            conn.execute(runs.insert().values(**asdict(run)))  # its fields are bt_runs' columns
        return run.id

    def finish_run(self, run_id: str, status: str, finished_at: float | None = None) -> None:
        with self.write() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(status=status, finished_at=finished_at or time.time())
            )

    def _test_keys(self, conn: Connection, names: dict[str, str | None]) -> dict[str, int]:
        """Integer keys for test ids (name → file), creating the missing ones.

        Keys never change once made, so they are cached per store.
        """
        cache = self._key_cache
        missing = [n for n in names if n not in cache]
        if missing:
            marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            conn.exec_driver_sql(
                f"INSERT INTO bt_tests (test_id, file, first_seen) VALUES ({marker}, {marker}, "
                f"{marker}) ON CONFLICT (test_id) DO NOTHING",
                [(n, names[n], time.time()) for n in missing],
            )
            for i in range(0, len(missing), 500):
                chunk = missing[i : i + 500]
                holes = ", ".join(marker for _ in chunk)
                for key, name in conn.exec_driver_sql(
                    f"SELECT id, test_id FROM bt_tests WHERE test_id IN ({holes})", tuple(chunk)
                ):
                    cache[name] = key
        return cache

    def _insert_cases(
        self,
        conn: Connection,
        run_id: str,
        records: Sequence[CaseRecord],
        commit: str | None,
        ts: float,
    ) -> None:
        if not records:
            return
        keys = self._test_keys(conn, {r.test_id: r.file for r in records})
        per_test: dict[int, list[int]] = {}  # test key → [passes, fails, flips]
        rows: list[tuple[Any, ...]] = []
        for r in records:
            key = keys[r.test_id]
            failed = _FAILED.get(r.outcome, 0)
            flipped = 1 if r.flipped else 0
            rows.append(
                (
                    run_id,
                    key,
                    r.suite,
                    r.outcome,
                    failed,
                    flipped,
                    r.attempts,
                    1 if r.quarantined else 0,
                    r.duration_ms,
                    commit,
                    ts,
                )
            )
            if failed is not None:
                agg = per_test.setdefault(key, [0, 0, 0])
                agg[failed] += 1
                agg[2] += flipped
        _bulk_insert_tuples(conn, cases, _CASE_COLUMNS, rows)
        self._roll_up(conn, per_test, commit or "", ts)

    def _roll_up(
        self, conn: Connection, per_test: dict[int, list[int]], commit: str, ts: float
    ) -> None:
        day = int(ts // 86400)
        if not per_test:
            return
        m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        if not is_dirty_state(commit):
            # Failure rates count committed code only: while someone edits, failures say more
            # about the edit than about the test. Dirty runs still count for same-code flips.
            conn.exec_driver_sql(
                f"INSERT INTO bt_daily (test, day, runs, fails) VALUES ({m}, {m}, {m}, {m}) "
                "ON CONFLICT (test, day) DO UPDATE SET runs = bt_daily.runs + excluded.runs, "
                "fails = bt_daily.fails + excluded.fails",
                [(t, day, p + f, f) for t, (p, f, _) in per_test.items()],
            )
        conn.exec_driver_sql(
            'INSERT INTO bt_test_commits (test, "commit", passes, fails, flips, mixed, last_ts) '
            f"VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}) "
            'ON CONFLICT (test, "commit") DO UPDATE SET '
            "passes = bt_test_commits.passes + excluded.passes, "
            "fails = bt_test_commits.fails + excluded.fails, "
            "flips = bt_test_commits.flips + excluded.flips, "
            "last_ts = excluded.last_ts, "
            "mixed = CASE WHEN (bt_test_commits.passes + excluded.passes > 0 AND "
            "bt_test_commits.fails + excluded.fails > 0) OR "
            "bt_test_commits.flips + excluded.flips > 0 THEN 1 ELSE 0 END",
            [
                (t, commit, p, f, fl, int((p > 0 and f > 0) or fl > 0), ts)
                for t, (p, f, fl) in per_test.items()
            ],
        )
        if is_dirty_state(commit):
            return
        # On committed code (as the rates): a run that passed (on a retry too) ends a test's
        # failing streak; one that only failed extends it, and the streak keeps the commit and
        # time of its first failing run.
        conn.exec_driver_sql(
            "INSERT INTO bt_test_state (test, last_ts, last_pass_ts, streak, streak_ts, "
            f"streak_commit) VALUES ({m}, {m}, {m}, {m}, {m}, {m}) "
            "ON CONFLICT (test) DO UPDATE SET last_ts = excluded.last_ts, "
            "last_pass_ts = COALESCE(excluded.last_pass_ts, bt_test_state.last_pass_ts), "
            "streak = CASE WHEN excluded.streak = 0 THEN 0 ELSE bt_test_state.streak + 1 END, "
            "streak_ts = CASE WHEN excluded.streak = 0 THEN NULL "
            "ELSE COALESCE(bt_test_state.streak_ts, excluded.streak_ts) END, "
            "streak_commit = CASE WHEN excluded.streak = 0 THEN NULL "
            "WHEN bt_test_state.streak_ts IS NULL THEN excluded.streak_commit "
            "ELSE bt_test_state.streak_commit END",
            [
                (t, ts, None, 1, ts, commit or None) if p == 0 else (t, ts, ts, 0, None, None)
                for t, (p, _f, _fl) in per_test.items()
            ],
        )

    def add_cases(
        self,
        run_id: str,
        records: Iterable[CaseRecord],
        *,
        commit: str | None,
        ts: float | None = None,
    ) -> int:
        """Record case outcomes for a run in one transaction; return how many."""
        batch = [replace(r, test_id=self.redactor.text(r.test_id)) for r in records]
        if batch:
            with self.write() as conn:
                self._insert_cases(
                    conn, run_id, batch, commit, ts if ts is not None else time.time()
                )
        return len(batch)

    def add_metrics(self, run_id: str, suite: str, values: Mapping[str, float]) -> None:
        rows = [
            {"run_id": run_id, "suite": suite, "name": k, "value": float(v)}
            for k, v in values.items()
        ]
        if rows:
            with self.write() as conn:
                conn.execute(metrics.insert(), rows)

    def record_report(self, report: Report, *, commit: str | None, branch: str | None) -> str:
        """Record a whole report.json (cases, numeric metrics, findings, gate rows) as one run,
        from a redacted copy of it."""
        report = self.redactor.report(report)
        run_id = report.run.id
        started = report.run.started_at.timestamp()
        with self.write() as conn:
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    started_at=started,
                    finished_at=report.run.finished_at.timestamp()
                    if report.run.finished_at
                    else None,
                    commit=commit,
                    branch=branch,
                    profile=report.run.profile,
                    source="run",
                    status=report.summary.verdict,
                )
            )
            self._insert_cases(
                conn,
                run_id,
                [
                    CaseRecord(
                        test_id=f"{s.name}::{c.name}",
                        outcome=c.status.value,
                        duration_ms=c.duration_ms,
                        suite=s.name,
                    )
                    for s in report.suites
                    for c in s.cases
                ],
                commit,
                started,
            )
            metric_rows = [
                {"run_id": run_id, "suite": s.name, "name": name, "value": float(value)}
                for s in report.suites
                for name, value in _flat_numbers(s.metrics)
            ]
            if metric_rows:
                conn.execute(metrics.insert(), metric_rows)
            finding_rows = [
                {
                    "run_id": run_id,
                    "check_id": f.check_id,
                    "title": f.title,
                    "severity": f.severity.value,
                    "method": f.method,
                    "path": f.path,
                }
                for s in report.suites
                for f in s.findings
            ]
            if finding_rows:
                conn.execute(findings.insert(), finding_rows)
            gate_rows = [
                {
                    "run_id": run_id,
                    "name": g.name,
                    "limit_json": json.dumps(g.limit, default=str),
                    "measured_json": json.dumps(g.measured, default=str),
                    "passed": g.passed,
                    "reason": g.reason,
                }
                for g in report.gates
            ]
            if gate_rows:
                conn.execute(gates.insert(), gate_rows)
        return run_id

    # -- quarantine -----------------------------------------------------------------------------

    def set_quarantine(self, test_id: str, state: str, reason: str = "") -> None:
        if state not in ("quarantined", "released"):
            raise ValueError(state)
        with self.write() as conn:
            conn.execute(
                quarantine.insert().values(
                    test_id=test_id, state=state, reason=reason, at=time.time()
                )
            )

    def quarantine_decisions(self) -> dict[str, tuple[str, str, float]]:
        """test_id → (state, reason, at) of the latest manual decision per test."""
        out: dict[str, tuple[str, str, float]] = {}
        with self.read() as conn:
            rows = conn.execute(
                sa.select(
                    quarantine.c.test_id, quarantine.c.state, quarantine.c.reason, quarantine.c.at
                ).order_by(quarantine.c.at, quarantine.c.id)
            )
            for test_id, state, reason, at in rows:
                out[test_id] = (state, reason or "", at)
        return out

    # -- impact maps ----------------------------------------------------------------------------

    def save_impact_map(
        self,
        commit: str,
        dirty: bool,
        entries: Iterable[tuple[str, str, str]],
        *,
        map_id: str | None = None,
    ) -> str:
        """Store (test_id, file, function) rows under a map for ``commit``; return its id.

        Several writers (xdist workers) may add to the same ``map_id``; the map row is created
        by whichever comes first.
        """
        mid = map_id or new_id()
        rows = [{"map_id": mid, "test_id": t, "file": f, "function": fn} for t, f, fn in entries]
        with self.write() as conn:
            exists = conn.execute(
                sa.select(impact_maps.c.id).where(impact_maps.c.id == mid)
            ).first()
            if exists is None:
                conn.execute(
                    impact_maps.insert().values(
                        id=mid, commit=commit, dirty=dirty, recorded_at=time.time()
                    )
                )
            elif dirty:
                conn.execute(impact_maps.update().where(impact_maps.c.id == mid).values(dirty=True))
            if rows:
                conn.execute(impact_entries.insert(), rows)
        return mid

    def latest_impact_map(self, commit: str | None = None) -> tuple[str, str, bool] | None:
        """(map id, commit, dirty) of the newest map, for ``commit`` when given."""
        q = sa.select(impact_maps.c.id, impact_maps.c.commit, impact_maps.c.dirty)
        if commit is not None:
            q = q.where(impact_maps.c.commit == commit)
        q = q.order_by(impact_maps.c.recorded_at.desc()).limit(1)
        with self.read() as conn:
            row = conn.execute(q).first()
        return (row[0], row[1], bool(row[2])) if row else None

    def impact_entries_for(
        self, map_id: str, *, files: Sequence[str] | None = None
    ) -> list[tuple[str, str, str]]:
        """(test id, file, function) rows of a map, only for ``files`` when given."""
        q = sa.select(
            impact_entries.c.test_id, impact_entries.c.file, impact_entries.c.function
        ).where(impact_entries.c.map_id == map_id)
        out: list[tuple[str, str, str]] = []
        with self.read() as conn:
            if files is None:
                return [(t, f, fn) for t, f, fn in conn.execute(q)]
            wanted = list(dict.fromkeys(files))
            for i in range(0, len(wanted), 500):
                chunk = q.where(impact_entries.c.file.in_(wanted[i : i + 500]))
                out.extend((t, f, fn) for t, f, fn in conn.execute(chunk))
        return out

    def impact_tests(self, map_id: str) -> set[str]:
        """Every test id a map knows."""
        with self.read() as conn:
            return {
                row[0]
                for row in conn.execute(
                    sa.select(impact_entries.c.test_id)
                    .where(impact_entries.c.map_id == map_id)
                    .distinct()
                )
            }

    # -- maintenance ----------------------------------------------------------------------------

    def prune(self, older_than: float) -> dict[str, int]:
        """Delete runs (and their rows) started before ``older_than`` and stale impact maps."""
        removed: dict[str, int] = {}
        with self.write() as conn:
            old_runs = sa.select(runs.c.id).where(runs.c.started_at < older_than)
            for table in (cases, metrics, findings, gates):
                res = conn.execute(table.delete().where(table.c.run_id.in_(old_runs)))
                removed[table.name] = res.rowcount
            # Case rows written without a run row (interrupted writers) age out by timestamp.
            res = conn.execute(cases.delete().where(cases.c.ts < older_than))
            removed[cases.name] += res.rowcount
            res = conn.execute(daily.delete().where(daily.c.day < int(older_than // 86400)))
            removed[daily.name] = res.rowcount
            res = conn.execute(test_commits.delete().where(test_commits.c.last_ts < older_than))
            removed[test_commits.name] = res.rowcount
            res = conn.execute(test_state.delete().where(test_state.c.last_ts < older_than))
            removed[test_state.name] = res.rowcount
            res = conn.execute(runs.delete().where(runs.c.started_at < older_than))
            removed[runs.name] = res.rowcount
            # Keep the newest impact map even when old: it is still the best one there is.
            newest = conn.execute(
                sa.select(impact_maps.c.id).order_by(impact_maps.c.recorded_at.desc()).limit(1)
            ).scalar()
            stale = sa.select(impact_maps.c.id).where(
                impact_maps.c.recorded_at < older_than, impact_maps.c.id != (newest or "")
            )
            res = conn.execute(impact_entries.delete().where(impact_entries.c.map_id.in_(stale)))
            removed[impact_entries.name] = res.rowcount
            res = conn.execute(
                impact_maps.delete().where(
                    impact_maps.c.recorded_at < older_than, impact_maps.c.id != (newest or "")
                )
            )
            removed[impact_maps.name] = res.rowcount
        if self.is_sqlite:
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        return removed

    def counts(self) -> dict[str, int]:
        with self.read() as conn:
            return {
                t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0)
                for t in (runs, cases, metrics, findings, gates, impact_maps, impact_entries)
            }


def is_dirty_state(commit: str | None) -> bool:
    """Whether a tree-state key is HEAD plus uncommitted edits (``<sha>+<digest>``)."""
    return bool(commit) and "+" in str(commit)


def _bulk_insert_tuples(
    conn: Connection, table: sa.Table, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    q = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(q(n) for n in names)}) "
        f"VALUES ({', '.join(marker for _ in names)})"
    )
    conn.exec_driver_sql(sql, rows)


def _bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight on the driver: the hot path of ingesting many case rows.

    SQLAlchemy's per-row parameter processing costs more than SQLite itself here; the rows are
    plain str/int/float, so the driver can take them as they are.
    """
    names = list(rows[0])
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    q = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {q(table.name)} ({', '.join(q(n) for n in names)}) "
        f"VALUES ({', '.join(marker for _ in names)})"
    )
    conn.exec_driver_sql(sql, [tuple(r[n] for n in names) for r in rows])


def _flat_numbers(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Numeric leaves of a nested metrics dict as ("a.b.c", value) pairs."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            yield name, float(value)
        elif isinstance(value, Mapping):
            yield from _flat_numbers(value, f"{name}.")


def record_run_report(
    report: Report,
    root: Path,
    url: str | None = None,
    *,
    own_files: Iterable[Path | str] = (),
    redactor: Redactor | None = None,
) -> str:
    """Record a ``battletest run`` report in the project's history store; return the run id.

    One call for the run orchestration: the store is ``url`` or the default for ``root``
    (``$BATTLETEST_HISTORY_URL``, else ``ROOT/.battletest/history.db``), the commit and branch
    come from git (the commit keyed with uncommitted edits, as pytest sessions are; the store
    itself and ``own_files`` — e.g. the run folders — are no edit).
    """
    from battletest.quality.impact import branch_name, git_root, tree_state

    repo = git_root(root)
    url = url or default_url(root)
    own = [*own_files, *([url[len("sqlite:///") :]] if url.startswith("sqlite:///") else [])]
    with HistoryStore(url, redactor=redactor) as store:
        return store.record_report(
            report,
            commit=tree_state(repo, own) if repo else None,
            branch=branch_name(repo) if repo else None,
        )


def parse_keep(text: str) -> float:
    """A retention like ``90d``, ``12w``, ``36h`` → seconds."""
    units = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
    value, unit = text[:-1], text[-1:].lower()
    if unit not in units or not value.isdigit() or int(value) <= 0:
        raise ConfigError(
            f"--keep {text!r} is not a retention period", hint="use a number and h, d or w: 90d"
        )
    return int(value) * units[unit]


__all__ = [
    "DEFAULT_PATH",
    "ENV_URL",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CaseRecord",
    "HistoryStore",
    "RunRecord",
    "default_url",
    "is_dirty_state",
    "new_id",
    "parse_keep",
    "record_run_report",
    "sqlite_url",
]
