"""The ``resilience`` suite under ``battletest run``: ``[resilience]`` → ``battletest.chaos``.

Each case is reported to the run's progress as it finishes; without a ``[resilience]`` section
every property is a skipped case saying which table to add.
"""

from __future__ import annotations

from battletest.results import SuiteResult
from battletest.suites.base import SuiteContext

NAME = "resilience"


def resilience_suite(ctx: SuiteContext) -> SuiteResult:
    from battletest.chaos.resilience import run_resilience_suite

    ctx.progress.suite_started(NAME, None)
    return run_resilience_suite(
        ctx.target.base_url,
        dict(ctx.config.resilience),
        on_case=lambda case: ctx.progress.case_done(NAME, case),
        environment=ctx.config.environment,
        allow_destructive=ctx.config.allow_destructive,
        read_only=ctx.config.read_only,
    )


__all__ = ["resilience_suite"]
