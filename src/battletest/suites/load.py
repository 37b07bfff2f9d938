"""The ``load`` suite under ``battletest run``: the ``[load]`` section → ``battletest.load``.

Unset, ``[load]`` is a short baseline (5 VUs for 3 s) on the target's health path, else on the
spec's public GET operations without parameters, else on ``/``; its thresholds (default
``error_rate<1%``) become cases here and gate rows in the report. The merged latency histogram
is saved in the run folder.
"""

from __future__ import annotations

from typing import Any

from battletest.results import Status, SuiteResult
from battletest.suites.base import SuiteContext

NAME = "load"
DEFAULT_VUS = 5
DEFAULT_DURATION = "3s"
SHAPE_KEYS = ("vus", "rate", "stages", "iterations", "concurrent_users", "requests_per_user")
# the smoke subset (LIVE_SMOKE, production allowed to load): one VU for two seconds, k6's smoke
SMOKE_SHAPE: dict[str, Any] = {"vus": 1, "duration": "2s"}
SHAPE_FIELDS = (*SHAPE_KEYS, "executor", "duration", "test_duration", "max_vus", "preset")


def load_settings(ctx: SuiteContext) -> dict[str, Any]:
    """The ``LoadSettings`` table for this run: the ``[load]`` section with the run's defaults."""
    section = ctx.config.load
    data: dict[str, Any] = section.model_dump(exclude_none=True)
    if not any(getattr(section, key) is not None for key in SHAPE_KEYS):
        data["vus"] = DEFAULT_VUS
    if section.duration is None and section.test_duration is None:
        data["duration"] = DEFAULT_DURATION
    if section.seed is None:
        data["seed"] = ctx.seed
    if section.target_pid is None and ctx.target.pid is not None:
        data["target_pid"] = ctx.target.pid  # battletest owns the target: sample its resources
    if not (section.paths or section.endpoints or section.scenario or section.from_spec):
        data["paths"] = default_paths(ctx)
    if ctx.config.smoke:  # what to request stays; how hard is a smoke test's
        data = {k: v for k, v in data.items() if k not in SHAPE_FIELDS} | SMOKE_SHAPE
    return data


def refused_plan(ctx: SuiteContext, settings: dict[str, Any]) -> str | None:
    """In a read-only run, why the load plan may not run (a write or a destructive-looking
    path in it), checked before anything is sent; None when it may."""
    if not ctx.config.read_only:
        return None
    from battletest.errors import SafetyError
    from battletest.load.options import LoadSettings
    from battletest.transport.policy import plan_requests, refuse_unsafe_plan

    kwargs = LoadSettings.coerce(settings).run_kwargs(ctx.target.base_url)
    why = "production is read-only" if ctx.config.is_prod else "LIVE_SMOKE is read-only"
    try:
        refuse_unsafe_plan(plan_requests(kwargs["endpoints"], kwargs["scenario"]), why=why)
    except SafetyError as exc:
        return str(exc)
    return None


def default_paths(ctx: SuiteContext) -> list[str]:
    """What a baseline requests when ``[load]`` names nothing."""
    health = ctx.config.target.health
    if health:
        return [health]
    if ctx.spec is not None:
        public = [
            op.url_path
            for op in ctx.spec.operations
            if op.method == "GET"
            and not op.secured
            and "{" not in op.path
            and not any(p.required for p in op.parameters)
        ]
        if public:
            return public[:5]
    return ["/"]


def load_suite(ctx: SuiteContext) -> SuiteResult:
    from battletest.load.suite import run_load_suite

    settings = load_settings(ctx)
    if settings.get("cluster") and ctx.target.kind == "demo":
        # the distributed safety rule: load only a target the user named, never a default
        return SuiteResult(
            name=NAME,
            status=Status.ERROR,
            message="not run: a distributed load run ([load] cluster) needs a target you name; "
            "the built-in demo is only the default (give [target] url, app or command)",
        )
    refused = refused_plan(ctx, settings)
    if refused is not None:
        return SuiteResult(name=NAME, status=Status.SKIPPED, message=f"not run: {refused}")
    ctx.progress.suite_started(NAME, None)
    last = [0.0]

    def on_stats(stats: Any) -> None:
        if stats.elapsed - last[0] >= 1.0:
            last[0] = stats.elapsed
            ctx.progress.note(
                f"load: {stats.elapsed:.0f}s {stats.rps:.0f} req/s p95 {stats.p95:.1f} ms "
                f"{stats.failed} failed"
            )

    result = run_load_suite(ctx.target.base_url, settings, progress=on_stats, run_dir=ctx.run_dir)
    result.metrics["paths"] = settings.get("paths", [])
    # what a baseline's target is checked against: a URL, or what battletest started (an app, a
    # command, the demo), whose loopback port is new every run
    target = ctx.target
    result.metrics["target_id"] = (
        target.base_url if target.kind == "url" else (target.description or target.kind)
    )
    return result


__all__ = ["default_paths", "load_settings", "load_suite"]
