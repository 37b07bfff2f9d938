"""Progress: plain lines in CI (rate-limited), a live panel on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from battletest.load.console import LiveProgress, PlainProgress, reporter_for
from battletest.load.coordinator import LiveStats

STATS = LiveStats(
    elapsed=3.0,
    planned=10.0,
    vus=50,
    rps=41234.5,
    p50=0.61,
    p95=1.2,
    p99=3.4,
    requests=120000,
    failed=2,
    dropped=0,
)


def test_plain_progress_prints_one_line_every_few_seconds() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, every=3600)
    progress(STATS)
    progress(STATS)  # within the interval: not repeated
    lines = out.getvalue().splitlines()
    assert lines == [
        "load    3.0s/10s  vus=50    rps=41234.5   p50=0.61ms p95=1.20ms p99=3.40ms "
        "requests=120000 failed=2 dropped=0"
    ]


def test_terminal_gets_the_live_view_and_ci_the_plain_lines() -> None:
    ci = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(reporter_for(ci), PlainProgress)
    tty_out = io.StringIO()
    tty = Console(file=tty_out, force_terminal=True, width=120)
    live = reporter_for(tty)
    assert isinstance(live, LiveProgress)
    live(STATS)
    live.close()
    assert "41,234" in tty_out.getvalue() and "3.40ms" in tty_out.getvalue()
