"""Flaky and broken tests: detection from the history store, quarantine, the retry policy.

A test is *flaky* when, inside the window, it both passed and failed on the same code (one
commit with a clean tree, or one commit with the same uncommitted edits — see
``impact.tree_state``), or passed only on an automatic retry. A failure rate alone never makes
a test flaky: a test that passes on commits c0–c14 and fails on every run from c15 on changed
with the code, it did not flip on it.

A test is *broken since X* when every run of it since commit X failed (no pass, no pass on a
retry). A test that was never flaky is broken from its first failing run on; for a flaky test
the failing streak must be longer than its flakiness explains (flakes that long would happen
less than once in 100 at its failure rate before the streak). A broken test is never
quarantined — not automatically and not by an earlier hand decision — so its failure fails the
build, and it gets no retries.

A flaky test is *quarantined* when its failure rate over committed runs is above
``quarantine_rate`` (at least ``min_samples`` runs), or by hand (``battletest flaky quarantine
TEST``); ``release`` ends a manual quarantine and restarts the automatic one from that moment.
Quarantined tests still run but cannot fail the build; known-flaky tests get up to
``max_retries`` automatic retries, others none.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from battletest.quality.settings import FlakyPolicy
from battletest.quality.store import (
    HistoryStore,
    cases,
    daily,
    test_commits,
    test_state,
    tests,
)

# A flaky test's failing streak is a break, not bad luck, once flakes that long would happen
# less often than this at the test's failure rate before the streak.
STREAK_CHANCE = 0.01


@dataclass(slots=True)
class TestHealth:
    """What the history says about one test."""

    __test__ = False  # not a pytest test class

    test_id: str
    file: str | None
    runs: int
    failures: int
    mixed_commits: int
    first_seen: float
    flaky: bool = False
    quarantined: bool = False
    reasons: list[str] = field(default_factory=list)
    last_flip: float | None = None
    broken_since: str | None = None  # the commit (tree state) of the first run of the streak
    broken_at: float | None = None  # when that run was
    broken_runs: int = 0  # failing runs in the streak

    @property
    def rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0

    @property
    def broken(self) -> bool:
        return self.broken_since is not None

    @property
    def status(self) -> str:
        """``broken``, ``quarantined`` or ``flaky`` — what ``battletest flaky list`` shows."""
        if self.broken:
            return "broken"
        return "quarantined" if self.quarantined else "flaky"


def short_commit(state: str | None) -> str:
    """A tree state as people read it: 12 hex digits, ``+edits`` for uncommitted edits."""
    if not state:
        return "no git"
    head, plus, _ = state.partition("+")
    return head[:12] + ("+edits" if plus else "")


def analyse(
    store: HistoryStore,
    policy: FlakyPolicy | None = None,
    *,
    now: float | None = None,
    window_days: int | None = None,
) -> list[TestHealth]:
    """Every broken, flaky or quarantined test in the window: broken first, then most failing."""
    policy = policy or FlakyPolicy()
    now = time.time() if now is None else now
    days = window_days or policy.window_days
    start = now - days * 86400
    start_day = int(start // 86400)
    decisions = store.quarantine_decisions()
    with store.read() as conn:
        totals = {
            t: (int(r), int(f))
            for t, r, f in conn.execute(
                sa.select(daily.c.test, sa.func.sum(daily.c.runs), sa.func.sum(daily.c.fails))
                .where(daily.c.day >= start_day)
                .group_by(daily.c.test)
            )
        }
        mixed = {
            t: int(n)
            for t, n in conn.execute(
                sa.select(test_commits.c.test, sa.func.count())
                .where(test_commits.c.mixed == 1, test_commits.c.last_ts >= start)
                .group_by(test_commits.c.test)
            )
        }
        # Tests whose latest run in the window failed: (failing runs, first at, on commit).
        streaks = {
            int(t): (int(n), float(at), commit)
            for t, n, at, commit in conn.execute(
                sa.select(
                    test_state.c.test,
                    test_state.c.streak,
                    test_state.c.streak_ts,
                    test_state.c.streak_commit,
                ).where(test_state.c.streak > 0, test_state.c.last_ts >= start)
            )
        }
        names: dict[int, tuple[str, str | None, float]] = {}
        wanted = set(mixed) | set(streaks)
        by_name: dict[str, int] = {}
        if decisions:
            for key, name in conn.execute(
                sa.select(tests.c.id, tests.c.test_id).where(tests.c.test_id.in_(list(decisions)))
            ):
                by_name[name] = key
            wanted |= set(by_name.values())
        if wanted:
            for key, name, file, first in conn.execute(
                sa.select(tests.c.id, tests.c.test_id, tests.c.file, tests.c.first_seen).where(
                    tests.c.id.in_(list(wanted))
                )
            ):
                names[key] = (name, file, first)
        flipped_ever = {k for k, n in mixed.items() if n}  # before a release counts too
        # A release restarts the judgement: only outcomes after it count for that test.
        since_release: dict[int, tuple[int, int]] = {}
        for name, (state, _reason, at) in decisions.items():
            key = by_name.get(name)
            if key is None or state != "released":
                continue
            row = conn.execute(
                sa.select(sa.func.count(cases.c.failed), sa.func.sum(cases.c.failed)).where(
                    cases.c.test == key,
                    cases.c.ts >= max(at, start),
                    sa.or_(cases.c.commit.is_(None), cases.c.commit.not_like("%+%")),
                )
            ).first()
            since_release[key] = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
            mixed[key] = int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        test_commits.c.test == key,
                        test_commits.c.mixed == 1,
                        test_commits.c.last_ts >= max(at, start),
                    )
                ).scalar()
                or 0
            )
        # Flaky tests now failing: how often they fail on unchanged code, to judge the streak.
        flaking = [k for k in streaks if k in flipped_ever]
        flake_rate = _flake_rates(conn, flaking, start)
        broken = {
            k: v
            for k, v in streaks.items()
            if _is_break(v[0], flake_rate.get(k) if k in flaking else None)
        }
        for k in flaking:
            if k in broken:
                n, at, commit = broken[k]
                broken[k] = (n, at, _first_failing_commit(conn, k, at) or commit)
    out: list[TestHealth] = []
    for key, (name, file, first) in names.items():
        runs_, fails = since_release.get(key, totals.get(key, (0, 0)))
        h = TestHealth(name, file, runs_, fails, mixed.get(key, 0), first)
        if h.mixed_commits:
            h.flaky = True
            h.reasons.append(f"passed and failed on the same code ({h.mixed_commits} commit(s))")
        decision = decisions.get(name)
        streak = broken.get(key)
        if streak is not None:
            h.broken_runs, h.broken_at, h.broken_since = streak[0], streak[1], streak[2] or ""
            why = f"broken since {short_commit(h.broken_since)}: failed all {h.broken_runs} run(s)"
            if key in flipped_ever:
                why += ", longer than its flakiness explains"
            h.reasons.insert(0, why)
            if decision and decision[0] == "quarantined":
                h.reasons.append("the hand quarantine does not hide a broken test")
            h.flaky = False  # a broken test is neither retried nor quarantined
            out.append(h)
            continue
        enough = runs_ >= policy.min_samples and 0 < fails < runs_
        if h.flaky and enough and h.rate > policy.quarantine_rate:
            h.quarantined = True
            h.reasons.append(
                f"quarantined: failure rate {h.rate:.0%} > {policy.quarantine_rate:.0%}"
            )
        if decision and decision[0] == "quarantined":
            h.quarantined = True
            h.reasons.append(f"quarantined by hand{': ' + decision[1] if decision[1] else ''}")
        if h.flaky or h.quarantined:
            out.append(h)
    known = {v[0] for v in names.values()}
    for name, (state, reason, _at) in decisions.items():
        if state == "quarantined" and name not in known:
            out.append(
                TestHealth(
                    name,
                    None,
                    0,
                    0,
                    0,
                    0.0,
                    quarantined=True,
                    reasons=[f"quarantined by hand{': ' + reason if reason else ''}"],
                )
            )
    if out:
        _fill_last_flips(store, out, names, start)
    out.sort(key=lambda h: (not h.broken, -h.rate, h.test_id))
    return out


def _is_break(runs: int, flake_rate: float | None) -> bool:
    """Whether a failing streak of ``runs`` is a break: always for a test that never flipped on
    the same code; for a flaky one, when flakes that long are rarer than ``STREAK_CHANCE`` at
    its failure rate on unchanged code (0.25: 4 in a row; 0.5: 7)."""
    if flake_rate is None or flake_rate <= 0:
        return True
    if flake_rate >= 1:
        return False
    return runs >= math.ceil(math.log(STREAK_CHANCE) / math.log(flake_rate))


def _flake_rates(conn: sa.Connection, keys: list[int], start: float) -> dict[int, float]:
    """Each test's failure rate on the code it flipped on (a pass on a retry counts as one
    failure): how often it fails when nothing changed."""
    if not keys:
        return {}
    c = test_commits.c
    q = (
        sa.select(c.test, sa.func.sum(c.passes), sa.func.sum(c.fails), sa.func.sum(c.flips))
        .where(c.test.in_(keys), c.mixed == 1, c.last_ts >= start)
        .group_by(c.test)
    )
    out: dict[int, float] = {}
    for key, passes, fails, flips in conn.execute(q):
        runs_ = int(passes or 0) + int(fails or 0)
        if runs_:
            out[int(key)] = min(1.0, (int(fails or 0) + int(flips or 0)) / runs_)
    return out


def _first_failing_commit(conn: sa.Connection, key: int, since: float) -> str | None:
    """The first tree state in a streak on which the test never passed (None: every commit of
    the streak also saw it pass — the same code that passed now fails)."""
    seen: list[str] = []
    for (commit,) in conn.execute(
        sa.select(cases.c.commit)
        .where(cases.c.test == key, cases.c.ts >= since, cases.c.failed == 1)
        .order_by(cases.c.ts, cases.c.id)
    ):
        if commit not in seen:
            seen.append(commit or "")
    passed = {
        str(cm)
        for (cm,) in conn.execute(
            sa.select(test_commits.c.commit).where(
                test_commits.c.test == key,
                test_commits.c.commit.in_(seen),
                test_commits.c.passes > 0,
            )
        )
    }
    return next((cm for cm in seen if cm not in passed), None)


def _fill_last_flips(
    store: HistoryStore,
    found: list[TestHealth],
    names: dict[int, tuple[str, str | None, float]],
    start: float,
) -> None:
    """The last time each test's outcome changed (pass ↔ fail, or a pass on a retry).

    One window-function query over the flagged tests' case rows (SQLite ≥ 3.25, PostgreSQL).
    """
    key_of = {v[0]: k for k, v in names.items()}
    keys = [key_of[h.test_id] for h in found if h.test_id in key_of]
    if not keys:
        return
    ordered = (
        sa.select(
            cases.c.test,
            cases.c.ts,
            cases.c.failed,
            cases.c.flipped,
            sa.func.lag(cases.c.failed)
            .over(partition_by=cases.c.test, order_by=(cases.c.ts, cases.c.id))
            .label("prev"),
        )
        .where(cases.c.test.in_(keys), cases.c.failed.is_not(None), cases.c.ts >= start)
        .subquery()
    )
    q = (
        sa.select(ordered.c.test, sa.func.max(ordered.c.ts))
        .where(
            sa.or_(
                ordered.c.flipped == 1,
                sa.and_(ordered.c.prev.is_not(None), ordered.c.prev != ordered.c.failed),
            )
        )
        .group_by(ordered.c.test)
    )
    with store.read() as conn:
        last = {int(t): float(ts) for t, ts in conn.execute(q)}
    for h in found:
        key = key_of.get(h.test_id)
        if key is not None and key in last:
            h.last_flip = last[key]


@dataclass(frozen=True, slots=True)
class PytestState:
    """What a pytest session needs from the history: whom to retry, whom to quarantine."""

    flaky: frozenset[str]
    quarantined: dict[str, str]  # test id → reason
    max_retries: int


def pytest_state(store: HistoryStore, policy: FlakyPolicy | None = None) -> PytestState:
    policy = policy or FlakyPolicy()
    found = analyse(store, policy)
    return PytestState(
        flaky=frozenset(h.test_id for h in found if not h.broken and (h.flaky or h.quarantined)),
        quarantined={
            h.test_id: "; ".join(h.reasons) for h in found if h.quarantined and not h.broken
        },
        max_retries=policy.max_retries,
    )


def quarantine(store: HistoryStore, test_id: str, reason: str = "") -> None:
    store.set_quarantine(test_id, "quarantined", reason)


def release(store: HistoryStore, test_id: str) -> None:
    store.set_quarantine(test_id, "released")


__all__ = [
    "FlakyPolicy",
    "PytestState",
    "TestHealth",
    "analyse",
    "pytest_state",
    "quarantine",
    "release",
    "short_commit",
]
