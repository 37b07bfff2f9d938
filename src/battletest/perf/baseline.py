"""Baselines: what a load run measured, as a reviewable JSON file per scenario.

``.battletest/baselines/<scenario>.json`` holds, for one scenario, the totals and each
endpoint's summary (requests, throughput, error rate, latency percentiles), the per-interval
samples of the whole run and of each endpoint (throughput and p50/p95/p99 per interval, with the
interval's real length — what the significance test compares), what was measured (the target,
the endpoints, the load shape) and the merged HdrHistogram (encoded) when the run folder kept
one. It is built from a run folder's ``report.json`` (the ``load`` suite's metrics) so any run
can become the baseline.

Format 2 added ``endpoint_samples``, ``target_id``, ``endpoint_names`` and ``shape``; format 3
adds each interval's latency histogram (``Sample.hist``, HdrHistogram-encoded), from which the
regression test reads run-level percentiles of blocks of intervals. A format-2 file is still
read: its latency rows are tested on the per-interval percentiles instead (less power: a
second's p95 is far noisier than a block's), and the comparison says so in a note. A format-1
file is read too: its totals are tested that way, its endpoint rows are shown without a test
(there are no per-endpoint samples), and what it did not record is not checked — the
comparison says both.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from battletest.errors import UsageError, make_folder
from battletest.results import Report

FORMAT_VERSION = 3
DEFAULT_DIR = Path(".battletest") / "baselines"
DEFAULT_SCENARIO = "default"
HISTOGRAM_FILE = "load-latency.hdr"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Stats(BaseModel):
    """One endpoint's (or the whole run's) figures."""

    model_config = ConfigDict(extra="ignore")

    requests: int = 0
    failed: int = 0
    error_rate: float = 0.0
    rps: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0


class Sample(BaseModel):
    """One interval of the load series (``t``: its end, seconds since the start)."""

    model_config = ConfigDict(extra="ignore")

    t: float
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int = 0
    span: float | None = None  # the interval's real length (s); None in format-1 baselines
    hist: str = ""  # the interval's latency histogram (µs, HdrHistogram-encoded); format 3


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = FORMAT_VERSION
    scenario: str
    run_id: str
    saved_at: str
    target: str | None = None
    # what the target is, stable across runs: the URL, or the app / command battletest started
    # (whose loopback port changes every run); None in format 1
    target_id: str | None = None
    endpoint_names: list[str] | None = None  # the load scenario's requests; None in format 1
    shape: dict[str, Any] | None = None  # executor, VUs or rate, duration…; None if unknown
    total: Stats
    endpoints: dict[str, Stats] = Field(default_factory=dict)
    samples: list[Sample] = Field(default_factory=list)
    endpoint_samples: dict[str, list[Sample]] = Field(default_factory=dict)
    histogram: str = ""  # merged latency histogram (µs), HdrHistogram-encoded; "" if not kept


def check_scenario(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"scenario name {name!r} cannot be a file name",
            hint="use letters, digits, '.', '_' or '-' (at most 64)",
        )
    return name


def _stats(data: dict[str, Any]) -> Stats:
    lat = data.get("latency_ms") or {}
    return Stats(
        requests=int(data.get("requests") or 0),
        failed=int(data.get("failed") or 0),
        error_rate=float(data.get("error_rate") or 0.0),
        rps=float(data.get("rps") or 0.0),
        p50=float(lat.get("p50") or 0.0),
        p95=float(lat.get("p95") or 0.0),
        p99=float(lat.get("p99") or 0.0),
    )


def load_metrics(report: Report) -> dict[str, Any]:
    """The ``load`` suite's metrics of a report; a UsageError when no load ran."""
    for suite in report.suites:
        if suite.name == "load" and suite.metrics.get("requests"):
            return suite.metrics
    raise UsageError(
        f"run {report.run.id} has no load measurements",
        hint="run the load suite first: battletest run --suites load",
    )


def target_identity(url: str | None, target_config: Any = None) -> str | None:
    """What the target is across runs when the load suite did not say (its
    ``metrics["target_id"]``): ``app mod:attr`` or ``command …`` when battletest started it
    (its port is new every run), else its URL."""
    cfg = target_config if isinstance(target_config, dict) else {}
    if cfg.get("app"):
        return f"app {cfg['app']}"
    if cfg.get("command"):
        return f"command {cfg['command']}"
    if cfg.get("url"):
        return str(cfg["url"]).rstrip("/")
    return url.rstrip("/") if url else None


def _samples(rows: Any) -> list[Sample]:
    return [Sample.model_validate(s) for s in rows or [] if isinstance(s, dict)]


def from_report(report: Report, scenario: str, histogram: str = "") -> Baseline:
    """A baseline from a report's load suite (``histogram``: the run folder's encoded one)."""
    metrics = load_metrics(report)
    endpoints = metrics.get("endpoints") or {}
    per_endpoint = metrics.get("endpoint_series") or {}
    shape = metrics.get("load_shape")
    return Baseline(
        scenario=check_scenario(scenario),
        run_id=report.run.id,
        saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        target=report.run.target,
        target_id=str(metrics.get("target_id") or "")
        or target_identity(report.run.target, report.run.config.get("target")),
        endpoint_names=sorted(str(k) for k in endpoints),
        shape=dict(shape) if isinstance(shape, dict) else None,
        total=_stats(metrics),
        endpoints={str(k): _stats(v) for k, v in endpoints.items() if isinstance(v, dict)},
        samples=_samples(metrics.get("series")),
        endpoint_samples={
            str(k): _samples(v) for k, v in per_endpoint.items() if isinstance(v, list)
        },
        histogram=histogram,
    )


def from_run_folder(run_folder: Path, scenario: str = DEFAULT_SCENARIO) -> Baseline:
    report = Report.load(run_folder / "report.json")
    hdr = run_folder / HISTOGRAM_FILE
    encoded = hdr.read_text(encoding="ascii").strip() if hdr.is_file() else ""
    return from_report(report, scenario, encoded)


def baseline_path(directory: Path, scenario: str) -> Path:
    return directory / f"{check_scenario(scenario)}.json"


def save(baseline: Baseline, directory: Path = DEFAULT_DIR) -> Path:
    """Write the baseline as indented JSON (stable key order, diff-friendly); return its path."""
    make_folder(directory, hint="pass --dir DIR")
    path = baseline_path(directory, baseline.scenario)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(baseline.model_dump(mode="json"), indent=1) + "\n", "utf-8")
    tmp.replace(path)
    return path


def load(directory: Path, scenario: str = DEFAULT_SCENARIO) -> Baseline:
    path = baseline_path(directory, scenario)
    if not path.is_file():
        raise UsageError(
            f"no baseline for scenario {scenario!r} in {directory}",
            hint="save one first: battletest baseline save",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("version", 1) if isinstance(data, dict) else None
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise UsageError(
                f"{path} is baseline format {version}; this battletest reads up to "
                f"{FORMAT_VERSION}",
                hint="upgrade battletest, or save the baseline again with this one",
            )
        return Baseline.model_validate(data)
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(
            f"{path} is not a battletest baseline ({first})",
            hint="save it again: battletest baseline save",
        ) from None


def latest_run_folder(out: Path) -> Path:
    """``OUT/latest`` (the newest run folder); a UsageError when there is none."""
    latest = out / "latest"
    if (latest / "report.json").is_file():
        return latest.resolve()
    folders = sorted(p for p in out.glob("*/report.json")) if out.is_dir() else []
    if folders:
        return folders[-1].parent
    raise UsageError(
        f"no run folder in {out}", hint="run battletest run first, or pass --run RUN_FOLDER"
    )


__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_SCENARIO",
    "FORMAT_VERSION",
    "Baseline",
    "Sample",
    "Stats",
    "baseline_path",
    "from_report",
    "from_run_folder",
    "latest_run_folder",
    "load",
    "load_metrics",
    "save",
    "target_identity",
]
