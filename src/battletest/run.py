"""The main job: ``battletest run`` — config → target → spec → identities → suites → gates → reports.

``execute(config, …)`` is the library entry point; the ``run`` command is a thin click wrapper
around it. ``SUITES`` maps each suite name to the ``module:callable`` that runs it (a suite takes
a ``SuiteContext`` and returns a ``SuiteResult``); the load, security and resilience suites are
added to that table as they are built. ``COMMON_OPTIONS`` are the flags ``run``, ``load``,
``scan`` and ``chaos run`` share (defined in ``cli_options``), and ``overrides_from_options`` turns them
into config overrides.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from battletest import __version__
from battletest.cli_options import COMMON_OPTIONS, common_options, interrupt_signals
from battletest.config import (
    DESTRUCTIVE_SUITES,
    SUITE_NAMES,
    UNSET,
    Config,
    read_config_file,
)
from battletest.errors import BattletestError, ConfigError, ExitCode, SafetyError, UsageError
from battletest.redact import Redactor
from battletest.results import Case, Report, RunInfo, Status, SuiteResult, utcnow
from battletest.sections import load_checked_config as load_config

if TYPE_CHECKING:
    from battletest.spec import SecurityScheme

# suite name → "module:callable" (imported when the suite runs)
SUITES: dict[str, str] = {
    "contract": "battletest.suites.contract:contract_suite",
    "auth": "battletest.suites.auth:auth_suite",
    "errors": "battletest.suites.errors:errors_suite",
    "pytest": "battletest.suites.pytest_suite:pytest_suite",
    "load": "battletest.suites.load:load_suite",
    "security": "battletest.suites.security:security_suite",
    "resilience": "battletest.suites.resilience:resilience_suite",
}
# suites a 'prod' profile skips unless allow_destructive (security runs its passive checks)
SKIPPED_IN_PROD = DESTRUCTIVE_SUITES - {"security"}
# The demo as `run` starts it: 600 requests/min per client (its declared limit, which the suites
# pace themselves by) instead of 120, so a whole run with load and security takes about a minute.
DEMO_OPTIONS: dict[str, Any] = {"rate_limit_per_client": 600}
# saved baselines (``battletest baseline save``), relative to the working directory
BASELINES = Path(".battletest/baselines")
TREND_RUNS = 10  # recorded runs drawn in the dashboard's trend section
NEEDS_SPEC = frozenset({"contract", "auth", "errors", "security", "load"})


@dataclass(slots=True)
class RunOutcome:
    report: Report
    folder: Path | None
    exit_code: ExitCode
    notes: list[str] = field(default_factory=list)


def select_suites(
    config: Config,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    table: Mapping[str, Any] | None = None,
) -> list[str]:
    """The suites to run, in canonical order; unknown or unbuilt names are a UsageError."""
    available = [n for n in SUITE_NAMES if n in (table if table is not None else SUITES)]
    wanted = list(only) if only else list(config.suites.enabled)
    for name in [*wanted, *(skip or [])]:
        if name not in available:
            state = "not built yet" if name in SUITE_NAMES else "unknown"
            raise UsageError(
                f"suite '{name}' is {state}",
                hint=f"available suites: {', '.join(available)}",
            )
    chosen = [n for n in SUITE_NAMES if n in wanted and n not in (skip or [])]
    if not chosen:
        raise UsageError("no suite left to run", hint=f"choose from: {', '.join(available)}")
    return chosen


def resolve_suite(name: str, table: Mapping[str, Any] | None = None) -> Callable[..., SuiteResult]:
    entry = (table if table is not None else SUITES)[name]
    if callable(entry):
        return entry  # type: ignore[no-any-return]
    module, _, attr = str(entry).partition(":")
    fn = getattr(importlib.import_module(module), attr)
    assert callable(fn)
    return fn  # type: ignore[no-any-return]


@contextmanager
def demo_config(
    config_path: str | Path | None,
    profile: str | None,
    overrides: Mapping[str, Any],
    *,
    mock: bool = False,
    resilience: bool = False,
    notes: list[str] | None = None,
) -> Iterator[tuple[Config, Any]]:
    """Start the built-in demo and yield the run config layered over the config it writes.

    ``mock`` (MOCK mode): the demo's PMS and TTS are battletest mocks serving stubs of their
    APIs (``battletest.suites.dependencies``) instead of the demo's own dependency processes.
    ``resilience`` (the resilience suite runs and the config has no ``[resilience]``): the same
    mocks, with a ``[resilience]`` table probing the PMS through them and a 3 s breaker reset.
    """
    import tempfile

    try:
        from battletest.demo import start
    except ImportError:
        raise UsageError(
            "no target given and the built-in demo is not available in this install",
            hint="pass --target URL or --app module:attr",
        ) from None
    with contextlib.ExitStack() as stack:
        own = load_config(config_path, profile, overrides) if resilience else None
        probe = own is not None and not own.resilience
        if mock or probe:
            from battletest.suites.dependencies import mocked_demo

            options = {**DEMO_OPTIONS, **({"breaker_reset_s": 3.0} if probe else {})}
            mocked = stack.enter_context(mocked_demo(**options))
            handle = mocked.demo
            if notes is not None:
                why = "MOCK mode" if mock else "for the resilience suite"
                notes.append(
                    f"{why}: the demo's dependencies are battletest mocks ("
                    + ", ".join(f"{n} {m.url}" for n, m in mocked.mocks.items())
                    + ")"
                )
        else:
            handle = stack.enter_context(start(**DEMO_OPTIONS))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="battletest-demo-"))
        written = Path(tmp) / "battletest.toml"
        handle.write_config(written)
        base = read_config_file(written)
        if probe:
            from battletest.suites.dependencies import resilience_section

            base["resilience"] = resilience_section(mocked)
        yield load_config(config_path, profile, overrides, base=base), handle


def execute(
    config: Config,
    *,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    progress: Any = None,
    suites_table: Mapping[str, Any] | None = None,
    write_reports: bool = True,
    target_factory: Callable[[Config, Path | None], contextlib.AbstractContextManager[Any]]
    | None = None,
    notes: list[str] | None = None,
) -> RunOutcome:
    """Run the selected suites against the configured target and write the run folder.

    ``notes``: lines for the report's ``run.notes`` from the caller (e.g. how the demo runs).
    Ctrl-C or SIGTERM stops the run after (or inside) the current suite: no next suite runs,
    the reports of what was done are written with ``run.interrupted`` and the verdict
    ``interrupted``, and the exit code is 130."""
    from battletest.quality.gates import evaluate_gates
    from battletest.report import write_run_folder
    from battletest.report.rundir import create_run_folder
    from battletest.spec import load_spec
    from battletest.suites.base import RedactedProgress, SilentProgress, SuiteContext
    from battletest.target import open_target
    from battletest.transport import Identities, Transport, WritePolicy

    with interrupt_signals() as signals:
        names = select_suites(config, only, skip, suites_table)
        explicit = chosen_explicitly(config, only)
        redactor = Redactor(config.secrets(), config.credential_headers())
        # every line the console shows while the run goes passes through the run's redactor
        progress = RedactedProgress(progress or SilentProgress(), redactor)
        golden = None
        if config.golden.update and config.mode != "GOLDEN":
            raise UsageError(
                "--update-golden needs --mode GOLDEN (it accepts GOLDEN snapshots)",
                hint="battletest run --mode GOLDEN --update-golden",
            )
        if config.mode == "GOLDEN":
            from battletest.golden import Golden

            golden = Golden(config.golden.dir, update=config.golden.update, redactor=redactor)
            seed = golden.seed(config.seed)  # the snapshots' inputs: the same every run
        else:
            seed = (
                config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
            )
        run_id = secrets.token_hex(4)
        started_at = utcnow()
        notes = list(notes or [])
        results: list[SuiteResult] = []
        interrupted = False
        target_desc: str | None = None
        identities: Identities | None = None
        opener = target_factory or (lambda cfg, logs: open_target(cfg.target, logs))
        deadline = time.monotonic() + config.timeout_s if config.timeout_s else None
        # created first, so suites can save raw data (e.g. the load histogram) beside the reports
        folder = (
            create_run_folder(Path(config.out).absolute(), started_at, run_id)
            if write_reports
            else None
        )

        try:
            with opener(config, None) as target:
                target_desc = target.base_url
                spec = None
                if NEEDS_SPEC & set(names):
                    spec_source = config.target.spec
                    spec = load_spec(
                        spec_source, target.base_url, timeout=config.target.request_timeout_s
                    )
                    notes.append(
                        f"spec: {spec.source} (OpenAPI {spec.version}, "
                        f"{len(spec.operations)} operations)"
                    )
                    register_schemes(redactor, spec.security_schemes)
                    # the spec's apiKey scheme says where the key goes unless [auth] says
                    auth = config.auth.api_key_from(spec.security_schemes.values())
                    config = config.model_copy(update={"auth": auth})
                service_keys = frozenset(i.name for i in config.identities if i.role == "service")
                # a target battletest launched (an app, a command, the demo) holds only its data
                policy = WritePolicy.from_config(
                    config,
                    operations=spec.operations if spec else (),
                    base_path=spec.base_path if spec else "",
                    owns_target=target.kind != "url",
                )
                http = Transport(
                    target.base_url,
                    timeout=config.target.request_timeout_s,
                    rate_limits=config.rate_limits,
                    service_keys=service_keys,
                    policy=policy,
                    redactor=redactor,
                )
                identities = Identities(
                    config.identities, config.auth, http, redactor=redactor, spec=spec
                )
                if golden is not None:
                    golden.spec = spec
                    golden.resend = http.resend
                    http.observer = golden.observe
                ctx = SuiteContext(
                    config=config,
                    target=target,
                    spec=spec,
                    identities=identities,
                    http=http,
                    seed=seed,
                    progress=progress,
                    redactor=redactor,
                    deadline=deadline,
                    run_dir=folder,
                )
                try:
                    identities.login_all()
                    register_tokens(redactor, identities)
                    if NEEDS_SPEC & set(names):
                        from battletest.suites.evidence import credentials_note

                        lacking = credentials_note(spec, identities)
                        if lacking:
                            progress.note(lacking)
                            notes.append(lacking)
                    for name in names:
                        if name in SKIPPED_IN_PROD and not config.destructive_allowed:
                            note = (
                                f"suite {name} not run: profile '{config.profile}' forbids "
                                "destructive suites in production (set allow_destructive = "
                                "true to allow)"
                            )
                            notes.append(note)
                            results.append(
                                SuiteResult(name=name, status=Status.SKIPPED, message=note)
                            )
                            continue
                        if ctx.out_of_time():
                            notes.append(f"suite {name} not run: the run's timeout was reached")
                            results.append(
                                SuiteResult(
                                    name=name, status=Status.SKIPPED, message="timeout reached"
                                )
                            )
                            continue
                        decided = len(policy.decisions)
                        if golden is not None:
                            golden.suite = name
                        result = unconfigured(_run_one(name, ctx, suites_table), explicit)
                        if golden is not None:
                            golden.suite = None
                            add_golden_cases(result, golden.close_suite(name))
                        if len(policy.decisions) > decided:  # what the write policy refused
                            result.metrics["policy_decisions"] = policy.report()[decided:]
                        results.append(result)
                        progress.suite_done(results[-1])
                        # A suite that caught Ctrl-C itself (load, security keep their partial
                        # result) ends the run as much as one the signal broke off: no next suite.
                        if signals.seen or suite_interrupted(results[-1]):
                            interrupted = True
                            break
                except KeyboardInterrupt:
                    interrupted = True
                    ctx.cancel.set()  # threads of the broken-off suite stop at their next case
                    done = {r.name for r in results}
                    for rec in ctx.recorders:
                        if rec.suite not in done:
                            results.append(rec.result(message="interrupted: partial results"))
                finally:
                    if not interrupted:
                        notes.extend(http.clean_up())
                    notes.extend(http.summary_notes())
                    if golden is not None:
                        notes.extend(golden.finish())
                    http.close()
        except KeyboardInterrupt:
            interrupted = True
        except BaseException:
            # A start-up failure (unreachable target, bad spec, bad input): no run folder is left
            # behind holding nothing; the error is the one line the CLI prints.
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        # From here on Ctrl-C is only noted: the reports of what was done get written.
        signals.shield()
        interrupted = interrupted or signals.seen
        if interrupted:
            not_run = [n for n in names if n not in {r.name for r in results}]
            for name in not_run:
                results.append(
                    SuiteResult(name=name, status=Status.SKIPPED, message="not run: interrupted")
                )
            how = signals.signal_name or "SIGINT"
            notes.append(
                f"interrupted ({how}): partial results"
                + (f"; not run: {', '.join(not_run)}" if not_run else "")
            )
        history_url = _history_url(config)
        current = RunInfo(id=run_id, started_at=started_at, version=__version__, target=target_desc)
        compare_with_baseline(results, history_url, notes, run=current)
        health = history_health(history_url, config, notes) if history_url else None
        if health:
            annotate_cases(results, health)
        flaky = (
            [h.test_id for h in health if not h.broken and (h.flaky or h.quarantined)]
            if health is not None
            else None
        )
        gates = evaluate_gates(results, config.gates, flaky_tests=flaky)
        gates += _load_threshold_gates(results)
        run = RunInfo(
            id=run_id,
            started_at=started_at,
            finished_at=utcnow(),
            version=__version__,
            target=target_desc,
            profile=config.profile,
            mode=config.mode,
            seed=seed,
            config=config.redacted(),
            interrupted=interrupted,
            notes=notes,
        )
        if identities is not None:  # tokens refreshed or issued since the suites started
            register_tokens(redactor, identities)
        # the one redaction pass: the run folder, history store, webhook and Pushgateway all
        # get this report, and the console prints it
        report = redactor.report(Report.build(run, results, gates))
        if history_url:
            failed = record_history(report, history_url, own_files=[config.out], redactor=redactor)
            if failed:
                report.run.notes.append(redactor.text(failed))
        report.run.notes += [redactor.text(n) for n in publish(report, config, folder, redactor)]
        if folder is not None:
            folder = write_run_folder(report, folder.parent, folder=folder, redactor=redactor)
        if interrupted:
            code = ExitCode.INTERRUPTED
        else:
            code = ExitCode.OK if report.summary.verdict == "pass" else ExitCode.FAILED
        return RunOutcome(report, folder, code, notes)


def chosen_explicitly(config: Config, only: list[str] | None) -> set[str]:
    """The suites the user asked for by name (``--suites``, or ``[suites].enabled`` written in
    the config), as opposed to the default list."""
    if only:
        return set(only)
    if "enabled" in config.suites.model_fields_set:
        return set(config.suites.enabled)
    return set()


def unconfigured(result: SuiteResult, explicit: set[str]) -> SuiteResult:
    """A suite on the default list that had nothing configured to run (every case a plain
    skip, e.g. the pytest suite without ``[suites.pytest].path``) did not run: a result
    without cases, so its gates read "not measured". A suite asked for by name keeps its
    skipped cases, and the ``suite_results`` gate fails it."""
    if result.name in explicit or result.status is not Status.SKIPPED or not result.cases:
        return result
    if any("outcome" in c.details for c in result.cases):  # inconclusive or refused: evidence
        return result
    reasons = sorted({c.message.removeprefix("not run: ") for c in result.cases if c.message})
    why = reasons[0] if len(reasons) == 1 else f"{len(result.cases)} cases skipped"
    return SuiteResult(
        name=result.name,
        status=Status.SKIPPED,
        duration_s=result.duration_s,
        metrics=result.metrics,
        message=f"not run: {why} (not configured; name it in [suites].enabled to require it)",
    )


def suite_interrupted(result: SuiteResult) -> bool:
    """Whether a suite says Ctrl-C stopped it (load and security keep their partial results
    and say so in their message; the load suite also in ``metrics["interrupted"]``)."""
    return result.metrics.get("interrupted") is True or result.message.startswith("interrupted")


def _history_url(config: Config) -> str | None:
    """The history store this run is recorded in; None when recording is switched off."""
    if not config.history.record:
        return None
    from battletest.quality.store import default_url

    return config.history.url or default_url(Path.cwd())


def compare_with_baseline(
    results: list[SuiteResult],
    history_url: str | None,
    notes: list[str],
    baselines: Path = BASELINES,
    run: RunInfo | None = None,
) -> None:
    """Compare a load suite with its saved baseline (``metrics["baseline"]``, the
    ``perf_regression`` gate) and add the trend of recent runs and this one (``run``: its id,
    start and target); a note when there is no baseline, or one of another target or shape."""
    if not any(r.name == "load" and r.metrics.get("requests") for r in results):
        return
    from battletest.perf import DEFAULT_SCENARIO, attach_comparison

    try:
        found = attach_comparison(
            results,
            baselines,
            trend_last=TREND_RUNS if history_url else 0,
            history_url=history_url,
            run=run,
        )
    except BattletestError as exc:
        notes.append(f"no baseline comparison: {exc}")
        return
    if found is None:
        notes.append(
            f"no baseline comparison: {baselines / (DEFAULT_SCENARIO + '.json')} does not exist "
            "(save one with: battletest baseline save)"
        )


def publish(
    report: Report, config: Config, folder: Path | None, redactor: Redactor | None = None
) -> list[str]:
    """Send the gate-failure webhook and push metrics to a Pushgateway, when configured;
    notes on what was sent or why not (a delivery failure never changes the verdict)."""
    notes: list[str] = []
    cfg = config.report
    if cfg.webhook_url and report.summary.verdict == "fail":
        from battletest.report.webhook import notify

        try:
            notify(report, cfg.webhook_url, link=str(folder) if folder else None, redactor=redactor)
            notes.append("gate-failure webhook sent ([report].webhook_url)")
        except BattletestError as exc:
            notes.append(f"gate-failure webhook not sent: {exc}")
    if cfg.pushgateway_url:
        from battletest.report.prom import push

        try:
            push(report, cfg.pushgateway_url, redactor=redactor)
            notes.append(f"metrics pushed to the Pushgateway at {cfg.pushgateway_url}")
        except BattletestError as exc:
            notes.append(f"metrics not pushed: {exc}")
    return notes


def history_health(url: str, config: Config, notes: list[str]) -> list[Any] | None:
    """What the history says about broken, flaky and quarantined tests (``quality.flaky``
    ``TestHealth`` rows); None when there is no history to read yet."""
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        return None
    from battletest.quality.flaky import analyse
    from battletest.quality.store import HistoryStore

    try:
        with HistoryStore(url) as store:
            return list(analyse(store, config.flaky))
    except BattletestError as exc:
        notes.append(f"history not read: {exc}")
        return None


def annotate_cases(results: list[SuiteResult], health: list[Any]) -> None:
    """Mark the run's cases the history judges broken, quarantined or flaky (``details``), so
    the report lists them apart; a case is matched by its id as pytest or the store knows it."""
    from battletest.quality.flaky import short_commit

    by_id = {h.test_id: h for h in health}
    for suite in results:
        for case in suite.cases:
            h = by_id.get(case.name) or by_id.get(f"{suite.name}::{case.name}")
            if h is None:
                continue
            why = "; ".join(h.reasons)
            if h.broken:
                case.details.update(
                    broken=True, broken_since=short_commit(h.broken_since), broken_reason=why
                )
            elif h.quarantined:
                case.details.update(quarantined=True, quarantine_reason=why)
            elif h.flaky:
                case.details.update(flaky=True, flaky_reason=why)


def register_schemes(redactor: Redactor, schemes: Mapping[str, SecurityScheme]) -> None:
    """Mask the values of every header, query parameter or cookie an apiKey scheme names."""
    for scheme in schemes.values():
        if scheme.type == "apiKey" and scheme.param_name:
            redactor.add_header(scheme.param_name)


def register_tokens(redactor: Redactor, identities: Any) -> None:
    """Mask the tokens the identities were issued (login, refresh) from now on."""
    for session in identities:
        for attr in ("access_token", "refresh_token", "token", "cookie", "session_cookie"):
            value = getattr(session, attr, None)
            if isinstance(value, str):
                redactor.add_secret(value)


def record_history(
    report: Report,
    url: str,
    *,
    own_files: list[str] | None = None,
    redactor: Redactor | None = None,
) -> str | None:
    """Record the run in the history store; a note when that failed (the run still counts).

    ``own_files``: battletest's output (the run folders), which is no edit to the code;
    ``redactor``: the run's (every row is written through it)."""
    from battletest.quality.store import record_run_report

    try:
        record_run_report(report, Path.cwd(), url, own_files=own_files or [], redactor=redactor)
    except BattletestError as exc:
        return f"run not recorded in the history store: {exc}"
    except Exception as exc:  # a broken store must not lose the run's reports
        return f"run not recorded in the history store: {exc.__class__.__name__}: {exc}"
    return None


def _load_threshold_gates(results: list[SuiteResult]) -> list[Any]:
    """One gate row per load threshold (measured beside the limit)."""
    load = next((r for r in results if r.name == "load" and r.status is not Status.SKIPPED), None)
    if load is None or not load.metrics.get("threshold_results"):
        return []
    from battletest.load.suite import thresholds_to_gates

    return list(thresholds_to_gates(load))


# bad input the user must fix: the run stops with exit 2 instead of reporting an errored suite
INPUT_ERRORS: tuple[type[BattletestError], ...] = (ConfigError, UsageError, SafetyError)


def _run_one(name: str, ctx: Any, table: Mapping[str, Any] | None) -> SuiteResult:
    """Run one suite; a bug inside it becomes an errored suite, never a traceback."""
    started = time.monotonic()
    try:
        result = resolve_suite(name, table)(ctx)
    except KeyboardInterrupt:
        raise
    except INPUT_ERRORS:
        raise
    except BattletestError as exc:  # e.g. a login refused mid-run: this suite errs, the run goes on
        return SuiteResult(
            name=name,
            status=Status.ERROR,
            duration_s=round(time.monotonic() - started, 3),
            cases=[Case(name=f"{name} suite", status=Status.ERROR, message=str(exc))],
            message=str(exc),
        )
    except Exception as exc:  # a tool error: reported as data, the run goes on
        kept = _keep_traceback(name, ctx)
        return SuiteResult(
            name=name,
            status=Status.ERROR,
            duration_s=round(time.monotonic() - started, 3),
            cases=[
                Case(
                    name=f"{name} suite",
                    status=Status.ERROR,
                    message=f"suite crashed: {exc.__class__.__name__}: {exc}",
                )
            ],
            message="the suite crashed (a battletest bug; please report it"
            + (f" with {kept}, which holds its traceback)" if kept else ")"),
        )
    return result


def _keep_traceback(name: str, ctx: Any) -> str | None:
    """Append the current exception's traceback (redacted) to the run folder's ``errors.log``;
    its file name, or None when there is no run folder. The console shows one line."""
    import traceback

    folder = getattr(ctx, "run_dir", None)
    if folder is None:
        return None
    text = traceback.format_exc()
    redactor = getattr(ctx, "redactor", None)
    if redactor is not None:
        text = redactor.text(text)
    path = Path(folder) / "errors.log"
    try:
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- the {name} suite crashed at {utcnow().isoformat()}\n{text}\n")
    except OSError:
        return None
    return path.name


# ------------------------------------------------------------------------------------------- CLI


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _default_seed(config: Config) -> str:
    """What the banner says of an unset seed: random, or in GOLDEN the snapshots' own."""
    return "of the snapshots" if config.mode == "GOLDEN" else "random"


def add_golden_cases(result: SuiteResult, cases: list[Case]) -> None:
    """GOLDEN's cases join their suite's; one that differs from its snapshot fails the suite."""
    result.cases.extend(cases)
    if any(c.status is Status.FAILED for c in cases) and result.status is Status.PASSED:
        result.status = Status.FAILED


def overrides_from_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Config overrides (dotted keys) from the common flags; unset flags are left out."""
    out: dict[str, Any] = {
        "target.spec": options.get("spec"),
        "timeout_s": options.get("timeout"),
        "parallel": options.get("parallel"),
        "out": options.get("out"),
        "verbose": options.get("verbose"),
        "seed": options.get("seed"),
        "mode": options["mode"].upper() if options.get("mode") else None,
        "golden.dir": options.get("golden_dir"),
        "golden.update": options.get("update_golden"),
    }
    if options.get("target"):
        out.update({"target.url": options["target"], "target.app": UNSET, "target.command": UNSET})
    if options.get("app"):
        out.update({"target.app": options["app"], "target.url": UNSET, "target.command": UNSET})
    return out


def _has_target(config: Config) -> bool:
    return bool(config.target.url or config.target.app or config.target.command)


def run_from_options(
    options: Mapping[str, Any], *, stdout: Any = None, stderr: Any = None
) -> RunOutcome:
    """What ``battletest run`` does with parsed flags; returns the outcome (library use)."""
    from battletest.report.console import (
        ConsoleProgress,
        make_console,
        print_summary,
        summary_json,
    )

    overrides = overrides_from_options(options)
    if options.get("examples"):
        overrides["suites.contract.examples"] = options["examples"]
    if options.get("no_history"):
        overrides["history.record"] = False
    config = load_config(options.get("config_path"), options.get("profile"), overrides)
    console = make_console(stderr or sys.stderr, force_plain=bool(options.get("as_json")))
    only, skip = _csv(options.get("suites")), _csv(options.get("skip_suites"))
    # fail fast on a bad suite name, before starting anything
    chosen = select_suites(config, only, skip)

    def go(cfg: Config, target_factory: Any = None, notes: list[str] | None = None) -> RunOutcome:
        console.print(
            f"battletest {__version__}: run (profile {cfg.profile}, mode {cfg.mode}, "
            f"seed {cfg.seed if cfg.seed is not None else _default_seed(cfg)})",
            markup=False,
        )
        with ConsoleProgress(console, verbose=cfg.verbose) as progress:
            return execute(
                cfg,
                only=only,
                skip=skip,
                progress=progress,
                target_factory=target_factory,
                notes=notes,
            )

    if _has_target(config):
        outcome = go(config)
    else:
        mock = config.mode == "MOCK"
        console.print(
            "no target given: starting the built-in demo"
            + (" with mocked PMS and TTS (MOCK mode)" if mock else ""),
            markup=False,
        )
        demo_notes: list[str] = []
        with demo_config(
            options.get("config_path"),
            options.get("profile"),
            overrides,
            mock=mock,
            resilience="resilience" in chosen,
            notes=demo_notes,
        ) as (cfg, handle):
            outcome = go(cfg, _demo_target_factory(handle), demo_notes)
    print_summary(console, outcome.report, outcome.folder)
    if options.get("as_json"):
        click.echo(summary_json(outcome.report, outcome.folder), file=stdout)
    return outcome


def _demo_target_factory(handle: Any) -> Callable[[Config, Path | None], Any]:
    from battletest.target import Target

    @contextmanager
    def factory(config: Config, logs: Path | None) -> Iterator[Target]:
        yield Target(
            str(handle.base_url).rstrip("/"),
            "demo",
            logs_path=handle.log_path("app"),
            description="built-in demo",
            external_pid=handle.pids.get("app"),
        )

    return factory


@click.command("run", context_settings={"help_option_names": ["-h", "--help"]})
@common_options()
@click.option("--examples", "examples", type=int, help="Contract examples per operation.")
@click.option(
    "--no-history",
    "no_history",
    is_flag=True,
    help="Do not record this run in the history store (.battletest/history.db).",
)
def run_command(**options: Any) -> None:
    """Run the enabled suites against a target (the built-in demo when none is given).

    Writes OUT/<UTC time>-<run id>/ (report.json, junit.xml, …) and OUT/latest. Exit codes:
    0 all gates passed, 1 a gate failed, 2 usage or config error, 3 target unreachable,
    130 interrupted (partial results written).
    """
    # Hypothesis keeps a small cache; in the user's cache folder, not a .hypothesis/ in their cwd.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache / "battletest" / "hypothesis"))
    outcome = run_from_options(options)
    # sys.exit, not click's Exit: the CLI runs click with standalone_mode=False, where an Exit
    # would be returned (and lost) instead of ending the process with its code.
    sys.exit(int(outcome.exit_code))


__all__ = [
    "COMMON_OPTIONS",
    "SUITES",
    "RunOutcome",
    "common_options",
    "execute",
    "overrides_from_options",
    "run_command",
    "run_from_options",
    "select_suites",
    "suite_interrupted",
]
