"""The history store: schema, recording, migrations, pruning, concurrent writers, PostgreSQL."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from battletest.errors import ConfigError
from battletest.quality import store as store_mod
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, parse_keep, sqlite_url
from battletest.results import (
    Case,
    Finding,
    GateResult,
    Report,
    RunInfo,
    Severity,
    Status,
    SuiteResult,
)


def test_sqlite_store_uses_wal_and_records_the_schema_version(store: HistoryStore) -> None:
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("bt_cases")}
    assert store.version() == store_mod.SCHEMA_VERSION == 4
    assert "ix_bt_cases_run" not in indexes  # dropped by migration 2


def test_a_version_1_store_is_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_url(tmp_path / "v1.db")
    with monkeypatch.context() as mp:
        mp.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:1])
        mp.setattr(store_mod, "SCHEMA_VERSION", 1)
        old = HistoryStore(url)
        with old.write() as conn:
            conn.exec_driver_sql("CREATE INDEX ix_bt_cases_run ON bt_cases (run_id)")
        old.close()
    s = HistoryStore(url)
    with s.read() as conn:
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("bt_cases")}
    assert s.version() == store_mod.SCHEMA_VERSION and "ix_bt_cases_run" not in indexes
    s.close()


def test_a_version_3_store_gets_its_failing_streaks_back_filled(tmp_path: Path) -> None:
    from battletest.quality.flaky import analyse

    url = sqlite_url(tmp_path / "v3.db")
    old = HistoryStore(url)
    for i, outcome in enumerate(["passed", "failed", "failed"]):
        rid = old.start_run(RunRecord(commit=f"c{i}"))
        old.add_cases(rid, [CaseRecord("t::a", outcome)], commit=f"c{i}", ts=1000.0 + i)
    rid = old.start_run(RunRecord(commit="c2"))  # uncommitted edits: not part of the streak
    old.add_cases(rid, [CaseRecord("t::a", "failed")], commit="c2+0123456789ab", ts=1010.0)
    with old.write() as conn:  # as a version-3 store: no streak table yet
        conn.exec_driver_sql("DROP TABLE bt_test_state")
        conn.execute(store_mod.schema_version.update().values(version=3))
    old.close()
    s = HistoryStore(url)
    (h,) = analyse(s, now=2000.0)
    assert (h.broken_since, h.broken_runs) == ("c1", 2)
    s.close()


def test_cases_are_recorded_with_outcomes_and_rollups(store: HistoryStore) -> None:
    run = store.start_run(RunRecord(commit="abc", branch="main"))
    store.add_cases(
        run,
        [
            CaseRecord("t.py::a", "passed", 1.5, file="t.py"),
            CaseRecord("t.py::b", "failed", 2.0, file="t.py"),
            CaseRecord("t.py::c", "skipped"),
        ],
        commit="abc",
    )
    store.finish_run(run, "failed")
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                store_mod.tests.c.test_id, store_mod.cases.c.outcome, store_mod.cases.c.failed
            )
            .join(store_mod.tests, store_mod.tests.c.id == store_mod.cases.c.test)
            .order_by(store_mod.tests.c.test_id)
        ).all()
        daily = conn.execute(sa.select(sa.func.sum(store_mod.daily.c.runs))).scalar()
        status = conn.execute(sa.select(store_mod.runs.c.status)).scalar()
    assert [tuple(r) for r in rows] == [
        ("t.py::a", "passed", 0),
        ("t.py::b", "failed", 1),
        ("t.py::c", "skipped", None),
    ]
    assert daily == 2  # skipped cases do not count as runs
    assert status == "failed"


def test_a_whole_report_is_recorded(store: HistoryStore) -> None:
    suite = SuiteResult.from_cases(
        "security",
        [Case(name="GET /a", status=Status.PASSED)],
        0.1,
        metrics={"requests": 10, "latency": {"p95_ms": 12.5}, "ok": True},
        findings=[Finding(check_id="bola", title="BOLA", severity=Severity.HIGH)],
    )
    report = Report.build(
        RunInfo(id="r1", started_at=datetime.now(UTC), version="0"),
        [suite],
        [GateResult(name="success_rate", limit=95, measured=100, passed=True)],
    )
    store.record_report(report, commit="c1", branch="main")
    counts = store.counts()
    assert counts["bt_runs"] == 1
    assert counts["bt_cases"] == 1
    assert counts["bt_metrics"] == 2  # requests, latency.p95_ms (booleans are not metrics)
    assert counts["bt_findings"] == 1
    assert counts["bt_gates"] == 1


def test_migrations_bring_an_old_store_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "m.db")
    HistoryStore(url).close()
    extra = sa.Table("bt_extra", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    monkeypatch.setattr(
        store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, lambda conn: extra.create(conn)]
    )
    newer = store_mod.SCHEMA_VERSION + 1
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", newer)
    s = HistoryStore(url)
    assert s.version() == newer
    with s.read() as conn:
        assert sa.inspect(conn).has_table("bt_extra")
    s.close()


def test_a_newer_store_is_refused_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "n.db")
    HistoryStore(url).close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 0)
    monkeypatch.setattr(store_mod, "MIGRATIONS", [])
    with pytest.raises(ConfigError, match="newer than this battletest"):
        HistoryStore(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a SQLAlchemy URL"),
        ("mysql://u@h/db", "SQLite or PostgreSQL"),
    ],
)
def test_bad_store_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HistoryStore(url)


def test_an_unwritable_sqlite_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((ConfigError, OSError)):
        HistoryStore(sqlite_url(blocker / "sub" / "h.db"))


def test_prune_drops_old_runs_but_keeps_recent_ones(store: HistoryStore) -> None:
    now = time.time()
    old = store.start_run(RunRecord(started_at=now - 100 * 86400))
    store.add_cases(old, [CaseRecord("t::a", "passed")], commit="c", ts=now - 100 * 86400)
    new = store.start_run(RunRecord(started_at=now))
    store.add_cases(new, [CaseRecord("t::a", "failed")], commit="c", ts=now)
    removed = store.prune(now - parse_keep("90d"))
    assert removed["bt_runs"] == 1
    assert removed["bt_cases"] == 1
    counts = store.counts()
    assert counts["bt_runs"] == 1 and counts["bt_cases"] == 1


@pytest.mark.parametrize("text", ["90", "d", "0d", "-3d", "9y", "1.5d"])
def test_bad_retention_periods_are_rejected(text: str) -> None:
    with pytest.raises(ConfigError, match="not a retention period"):
        parse_keep(text)


def test_retention_units() -> None:
    assert parse_keep("36h") == 36 * 3600
    assert parse_keep("2w") == 14 * 86400


def _writer(url: str, worker: int, runs: int) -> None:
    s = HistoryStore(url)
    for i in range(runs):
        rid = s.start_run(RunRecord(commit="c"))
        s.add_cases(
            rid,
            [CaseRecord(f"tests/test_{worker}.py::t{j}", "passed") for j in range(50)]
            + [CaseRecord("tests/test_shared.py::t", "passed" if i % 2 else "failed")],
            commit="c",
        )
        s.finish_run(rid, "passed")
    s.close()


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "c.db")
    HistoryStore(url).close()  # created up front; the writers below also race on migrate()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 10)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    s = HistoryStore(url)
    counts = s.counts()
    assert counts["bt_runs"] == 40
    assert counts["bt_cases"] == 40 * 51
    with s.read() as conn:
        shared = conn.execute(
            sa.select(store_mod.test_commits.c.passes, store_mod.test_commits.c.fails)
            .join(store_mod.tests, store_mod.tests.c.id == store_mod.test_commits.c.test)
            .where(store_mod.tests.c.test_id == "tests/test_shared.py::t")
        ).one()
        n_tests = conn.execute(sa.select(sa.func.count()).select_from(store_mod.tests)).scalar()
    assert tuple(shared) == (20, 20)  # every writer's upserts landed
    assert n_tests == 4 * 50 + 1  # the shared test id was created once
    s.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_store_records_and_survives_concurrent_writers(postgres_url: str) -> None:
    s = HistoryStore(postgres_url)
    assert s.version() == store_mod.SCHEMA_VERSION
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(postgres_url, w, 5)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    counts = s.counts()
    assert counts["bt_runs"] == 15
    assert counts["bt_cases"] == 15 * 51
    s.set_quarantine("tests/test_shared.py::t", "quarantined", "by hand")
    assert s.quarantine_decisions()["tests/test_shared.py::t"][0] == "quarantined"
    removed = s.prune(time.time() + 1)
    assert removed["bt_runs"] == 15
    s.close()


def test_a_run_report_is_recorded_with_its_commit(tmp_path: Path) -> None:
    from battletest.quality.store import record_run_report

    from .conftest import commit_all, init_repo

    init_repo(tmp_path)
    (tmp_path / "a.txt").write_text("a")
    head = commit_all(tmp_path)
    report = Report.build(
        RunInfo(id="run-7", started_at=datetime.now(UTC), version="0"),
        [SuiteResult.from_cases("contract", [Case(name="GET /", status=Status.PASSED)], 0.1)],
        [],
    )
    assert record_run_report(report, tmp_path) == "run-7"
    s = HistoryStore(sqlite_url(tmp_path / ".battletest" / "history.db"))
    with s.read() as conn:
        row = conn.execute(sa.select(store_mod.runs.c.commit, store_mod.runs.c.source)).one()
    s.close()
    assert tuple(row) == (head, "run")
