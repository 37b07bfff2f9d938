"""The ``load`` suite under ``battletest run``: the ``[load]`` section → ``battletest.load``.

Unset, ``[load]`` is a short baseline (5 VUs for 3 s) on the target's health path, else on the
spec's public GET operations without parameters that answer a plain GET without a 4xx, else on
``/``; its thresholds (default
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
DEFAULT_PATHS = 5  # public GET operations a default baseline loads
PROBED_PATHS = 15  # candidates asked once at most to find them


def load_settings(ctx: SuiteContext, left_out: list[str] | None = None) -> dict[str, Any]:
    """The ``LoadSettings`` table for this run: the ``[load]`` section with the run's defaults
    (``left_out``: see ``default_paths``)."""
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
        data["paths"] = default_paths(ctx, left_out)
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


def default_paths(ctx: SuiteContext, left_out: list[str] | None = None) -> list[str]:
    """What a baseline requests when ``[load]`` names nothing: the health path; else up to
    ``DEFAULT_PATHS`` of the spec's public GET operations without parameters that answer a plain
    GET without a 4xx; else ``/``. ``left_out`` gets the operations dropped, with their answer.

    "Public" in the document is not always public on the wire: httpbin's ``/bearer``, Jupyter
    Server's ``/api/kernels`` and Kinto's ``/v1/accounts`` declare no security yet answer 401/403
    without credentials. Such an answer is the service's design, not a failure under load, so
    each candidate is asked once (through the run's transport: read-only, paced) before it is
    loaded. A 5xx stays in the plan: that one is the service failing."""
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
        kept = []
        for path in public[:PROBED_PATHS]:
            why = _refused(ctx, path)
            if why is None:
                kept.append(path)
            elif left_out is not None:
                left_out.append(f"GET {path} ({why})")
            if len(kept) == DEFAULT_PATHS:
                break
        if kept:
            return kept
    return ["/"]


def _refused(ctx: SuiteContext, path: str) -> str | None:
    """Why a plain GET of ``path`` is no load target (a 4xx, or the write policy refused it),
    or None; an answer that decides nothing (unreachable, rate limited) keeps the path."""
    from battletest.errors import BattletestError
    from battletest.transport import PolicyRefused

    try:
        status = ctx.http.send("GET", path).status
    except PolicyRefused as exc:
        return f"not sent: {exc.decision.reason}"
    except BattletestError:
        return None
    if 400 <= status < 500:
        return f"HTTP {status} to a GET without credentials"
    return None


def load_suite(ctx: SuiteContext) -> SuiteResult:
    from battletest.load.suite import run_load_suite

    left_out: list[str] = []
    settings = load_settings(ctx, left_out)
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
    if left_out:
        result.metrics["left_out"] = left_out
        note = f"left out of the default plan (a 4xx to a plain GET): {', '.join(left_out)}"
        result.message = f"{result.message}; {note}" if result.message else note
    # what a baseline's target is checked against: a URL, or what battletest started (an app, a
    # command, the demo), whose loopback port is new every run
    target = ctx.target
    result.metrics["target_id"] = (
        target.base_url if target.kind == "url" else (target.description or target.kind)
    )
    return result


__all__ = ["default_paths", "load_settings", "load_suite"]
