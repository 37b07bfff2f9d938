"""Flaky tests: detection from the history store, quarantine, and the retry policy.

A test is *flaky* when, inside the window, it both passed and failed on the same commit (or
passed only on an automatic retry), or when it both passed and failed and its failure rate is
above ``flaky_rate`` over at least ``min_samples`` runs. Rates count runs of committed code only
(a clean tree, or no git): runs with uncommitted edits count only for same-code flips. A test that always fails is broken, not
flaky. It is *quarantined* when its failure rate is above ``quarantine_rate`` (same sample rule)
or by hand (``battletest flaky quarantine TEST``); ``release`` ends a manual quarantine and
restarts the automatic one from that moment. Quarantined tests still run but cannot fail the
build; known-flaky tests get up to ``max_retries`` automatic retries, others none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from battletest.quality.settings import FlakyPolicy
from battletest.quality.store import HistoryStore, cases, daily, test_commits, tests


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

    @property
    def rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


def analyse(
    store: HistoryStore,
    policy: FlakyPolicy | None = None,
    *,
    now: float | None = None,
    window_days: int | None = None,
) -> list[TestHealth]:
    """Every flaky or quarantined test in the window, most failing first."""
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
        candidates = set(mixed)
        for t, (runs_, fails) in totals.items():
            enough = 0 < fails < runs_ and runs_ >= policy.min_samples
            if enough and fails / runs_ > min(policy.flaky_rate, policy.quarantine_rate):
                candidates.add(t)
        names: dict[int, tuple[str, str | None, float]] = {}
        wanted = set(candidates)
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
    out: list[TestHealth] = []
    for key, (name, file, first) in names.items():
        runs_, fails = since_release.get(key, totals.get(key, (0, 0)))
        h = TestHealth(name, file, runs_, fails, mixed.get(key, 0), first)
        if h.mixed_commits:
            h.flaky = True
            h.reasons.append(f"passed and failed on {h.mixed_commits} commit(s)")
        enough = runs_ >= policy.min_samples and 0 < fails < runs_
        if enough and h.rate > policy.flaky_rate:
            h.flaky = True
            h.reasons.append(f"failure rate {h.rate:.0%} > {policy.flaky_rate:.0%}")
        if enough and h.rate > policy.quarantine_rate:
            h.quarantined = True
            h.reasons.append(f"quarantined: failure rate above {policy.quarantine_rate:.0%}")
        decision = decisions.get(name)
        if decision and decision[0] == "quarantined":
            h.quarantined = True
            h.reasons.append(f"quarantined by hand{': ' + decision[1] if decision[1] else ''}")
        if h.flaky or h.quarantined:
            out.append(h)
    seen = {h.test_id for h in out}
    for name, (state, reason, _at) in decisions.items():
        if state == "quarantined" and name not in seen and name not in key_of_names(names):
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
    out.sort(key=lambda h: (-h.rate, h.test_id))
    return out


def key_of_names(names: dict[int, tuple[str, str | None, float]]) -> set[str]:
    return {v[0] for v in names.values()}


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
        flaky=frozenset(h.test_id for h in found if h.flaky or h.quarantined),
        quarantined={h.test_id: "; ".join(h.reasons) for h in found if h.quarantined},
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
]
