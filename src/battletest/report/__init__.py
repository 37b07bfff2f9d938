"""Reports: a run folder holding one file per output format, and the console summary.

Each format is a module with ``write(report, folder) -> Path``; ``WRITERS`` lists them by module
name (imported when a run folder is written, so a format's dependencies load only then).
To add a format, append its module name to ``WRITERS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from battletest.redact import Redactor
from battletest.report.rundir import create_run_folder, update_latest
from battletest.results import Report

WRITERS: list[str] = [
    "battletest.report.json",
    "battletest.report.junit",
    "battletest.report.html",
    "battletest.report.sarif",
    "battletest.report.prom",
]


def write_run_folder(
    report: Report,
    out_dir: Path,
    *,
    folder: Path | None = None,
    redactor: Redactor | None = None,
) -> Path:
    """Write every format into a new ``out_dir/<UTC time>-<run id>/`` (or ``folder``, created
    earlier by ``create_run_folder``) and update ``latest``.

    Every format is written from one redacted copy of ``report`` (``redactor``: the run's,
    knowing its secrets; else the patterns alone), so no writer redacts — or forgets to — by
    itself."""
    report = (redactor or Redactor()).report(report)
    if folder is None:
        folder = create_run_folder(Path(out_dir), report.run.started_at, report.run.id)
    for name in WRITERS:
        module = importlib.import_module(name)
        module.write(report, folder)
    update_latest(folder)
    return folder


__all__ = ["WRITERS", "write_run_folder"]
