"""History store speed: ingest, flaky analysis and impact selection, beside their floors.

Goals (issue 12): 100,000 case results ingested into SQLite in under 5 s; ``flaky list`` and
``impact`` over 1,000 runs x 1,000 tests in under 1 s each.

Side by side in the same run:
- ingest: ``HistoryStore.add_cases`` (100 runs x 1,000 tests, one transaction per run, roll-ups
  kept current) vs the floor — bare ``sqlite3.executemany`` of the same rows into one table with
  no index and no roll-up — and vs plain SQLAlchemy Core ``conn.execute(insert, rows)``;
- flaky: ``flaky.analyse`` (reads the roll-ups) vs the straightforward query — one GROUP BY over
  every case row in the window — on the same 1,000,000-row store;
- impact: ``impact.select`` on a git repository of 50 modules x 20 functions with a 1,000-test
  map and an uncommitted change; ``battletest flaky list`` is also timed as a whole command.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from battletest.quality import store as store_mod
from battletest.quality.flaky import analyse
from battletest.quality.impact import select
from battletest.quality.store import CaseRecord, HistoryStore, RunRecord, sqlite_url

INGEST_GOAL_S = 5.0
QUERY_GOAL_S = 1.0
TESTS = 1000
RUNS_INGEST = 100
RUNS_HISTORY = 1000


def _records(rng: random.Random, run: int) -> list[CaseRecord]:
    out = []
    for i in range(TESTS):
        # 1 in 50 tests is flaky (fails 30% of the time); the rest always pass.
        failed = i % 50 == 7 and rng.random() < 0.3
        out.append(
            CaseRecord(
                f"tests/test_mod{i // 20}.py::test_{i}",
                "failed" if failed else "passed",
                rng.uniform(1, 30),
                file=f"tests/test_mod{i // 20}.py",
            )
        )
    return out


def bench_ingest(tmp: Path) -> dict[str, float]:
    rng = random.Random(7)
    batches = [_records(rng, r) for r in range(RUNS_INGEST)]
    now = time.time()

    store = HistoryStore(sqlite_url(tmp / "ingest.db"))
    t0, c0 = time.perf_counter(), time.process_time()
    for r, batch in enumerate(batches):
        rid = store.start_run(RunRecord(commit=f"{r // 5:040x}"))
        store.add_cases(rid, batch, commit=f"{r // 5:040x}", ts=now)
    ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()

    con = sqlite3.connect(tmp / "floor.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE cases (run TEXT, test TEXT, outcome TEXT, dur REAL, ts REAL)")
    t0, c0 = time.perf_counter(), time.process_time()
    for r, batch in enumerate(batches):
        with con:
            con.executemany(
                "INSERT INTO cases VALUES (?, ?, ?, ?, ?)",
                [(str(r), c.test_id, c.outcome, c.duration_ms, now) for c in batch],
            )
    floor, floor_cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()

    engine = sa.create_engine(sqlite_url(tmp / "core.db"))
    md = sa.MetaData()
    table = sa.Table(
        "cases",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run", sa.String),
        sa.Column("test", sa.String),
        sa.Column("outcome", sa.String),
        sa.Column("dur", sa.Float),
        sa.Column("ts", sa.Float),
        sa.Index("ix_test", "test"),
    )
    md.create_all(engine)
    t0, c0 = time.perf_counter(), time.process_time()
    for r, batch in enumerate(batches):
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {"run": str(r), "test": c.test_id, "outcome": c.outcome, "dur": c.duration_ms}
                    | {"ts": now}
                    for c in batch
                ],
            )
    core, core_cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return {
        "ours": ours,
        "floor": floor,
        "core": core,
        "ours_cpu": ours_cpu,
        "floor_cpu": floor_cpu,
        "core_cpu": core_cpu,
    }


def build_history(path: Path) -> HistoryStore:
    store = HistoryStore(sqlite_url(path))
    rng = random.Random(11)
    now = time.time()
    for r in range(RUNS_HISTORY):
        ts = now - 6 * 86400 + r * 500  # a week of runs, three per commit
        commit = f"{r // 3:040x}"
        rid = store.start_run(RunRecord(commit=commit, started_at=ts))
        store.add_cases(rid, _records(rng, r), commit=commit, ts=ts)
    return store


def naive_flaky(path: Path, since: float) -> int:
    """The straightforward query: aggregate every case row in the window."""
    con = sqlite3.connect(path)
    rows = con.execute(
        "SELECT test, SUM(n), SUM(f), SUM(CASE WHEN f > 0 AND f < n THEN 1 ELSE 0 END) FROM ("
        ' SELECT test, "commit", COUNT(failed) AS n, SUM(failed) AS f FROM bt_cases'
        ' WHERE ts >= ? GROUP BY test, "commit") GROUP BY test',
        (since,),
    ).fetchall()
    con.close()
    return sum(1 for _, n, f, mixed in rows if mixed or (n >= 10 and 0 < f < n and f / n > 0.1))


def median_time(fn: object, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def bench_impact(tmp: Path, store: HistoryStore) -> tuple[float, int]:
    repo = tmp / "repo"
    (repo / "pkg").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "b@example.com")
    git(repo, "config", "user.name", "b")
    for m in range(50):
        body = "".join(f"\n\ndef f{k}(x):\n    return x + {k}\n" for k in range(20))
        (repo / "pkg" / f"mod{m}.py").write_text(f'"""module {m}"""{body}')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    rows = {
        (f"tests/test_mod{i // 20}.py::test_{i}", f"pkg/mod{(i + j) % 50}.py", f"f{(i + j) % 20}")
        for i in range(TESTS)
        for j in range(20)
    }
    store.save_impact_map(head, False, rows)
    target = repo / "pkg" / "mod3.py"
    # f3 of mod3: run by every test with a row (…, "pkg/mod3.py", "f3") above.
    expected = {t for t, f, fn in rows if (f, fn) == ("pkg/mod3.py", "f3")}
    target.write_text(target.read_text().replace("return x + 3\n", "return x + 3 + 0\n"))
    picked = 0

    def run() -> None:
        nonlocal picked
        sel = select(store, repo, since="HEAD")
        assert not sel.full_run, sel.reason
        picked = len(sel.tests)
        assert set(sel.tests) == expected, (picked, len(expected))

    return median_time(run), picked


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bt-bench-history-") as d:
        tmp = Path(d)
        ing = bench_ingest(tmp)
        n = RUNS_INGEST * TESTS
        print(f"ingest {n:,} case results into SQLite ({RUNS_INGEST} runs x {TESTS} tests)")
        print(f"  {'writer':<44}{'wall s':>8}{'cpu s':>8}{'rows/s':>12}")
        for label, key in (
            ("battletest HistoryStore.add_cases (+roll-ups)", "ours"),
            ("SQLAlchemy Core execute(insert, rows)", "core"),
            ("floor: sqlite3.executemany, no index", "floor"),
        ):
            cpu = ing[key + "_cpu"]
            print(f"  {label:<44}{ing[key]:>8.2f}{cpu:>8.2f}{n / ing[key]:>12,.0f}")
        print(
            f"  battletest / floor: {ing['ours'] / ing['floor']:.1f}x wall, "
            f"{ing['ours_cpu'] / ing['floor_cpu']:.1f}x cpu; goal < {INGEST_GOAL_S} s wall"
        )

        t0 = time.perf_counter()
        db = tmp / "history.db"
        store = build_history(db)
        build = time.perf_counter() - t0
        with store.read() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(store_mod.cases)).scalar()
        print(
            f"\nhistory: {RUNS_HISTORY} runs x {TESTS} tests = {rows:,} case rows (built in {build:.0f} s)"
        )
        since = time.time() - 14 * 86400
        found: list[object] = []
        ours = median_time(lambda: found.__setitem__(slice(None), analyse(store)))
        naive_count = [0]
        naive = median_time(lambda: naive_count.__setitem__(0, naive_flaky(db, since)), repeat=3)
        cli_s = median_time(
            lambda: subprocess.run(
                [
                    str(Path(sys.executable).parent / "battletest"),
                    "flaky",
                    "list",
                    "--db",
                    sqlite_url(db),
                ],
                check=True,
                capture_output=True,
            ),
            repeat=3,
        )
        impact_s, picked = bench_impact(tmp, store)
        store.close()
        print(f"  {'operation':<44}{'s':>8}  result")
        print(f"  {'battletest flaky.analyse (roll-ups)':<44}{ours:>8.3f}  {len(found)} flaky")
        print(f"  {'naive GROUP BY over every case row':<44}{naive:>8.3f}  {naive_count[0]} flaky")
        print(f"  {'`battletest flaky list` (whole command)':<44}{cli_s:>8.3f}")
        print(
            f"  {'battletest impact.select (1 function changed)':<44}{impact_s:>8.3f}  {picked} tests"
        )
        print(f"  naive / battletest flaky: {naive / ours:.1f}x; goal < {QUERY_GOAL_S} s each")
        ok = (
            ing["ours"] < INGEST_GOAL_S
            and ours < QUERY_GOAL_S
            and impact_s < QUERY_GOAL_S
            and len(found) == naive_count[0]
        )
        if len(found) != naive_count[0]:
            print("  MISMATCH: roll-up and naive query disagree on the flaky count")
        print("goals met" if ok else "GOAL MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
