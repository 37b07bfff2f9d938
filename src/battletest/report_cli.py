"""``battletest report RUN_FOLDER``: re-render a run folder's report.json in other formats,
push its metrics to a Pushgateway, or send the gate-failure webhook."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from battletest.results import Report

FORMATS: dict[str, str] = {
    "html": "battletest.report.html",
    "json": "battletest.report.json",
    "junit": "battletest.report.junit",
    "sarif": "battletest.report.sarif",
    "prom": "battletest.report.prom",
}


def render_formats(report: Report, formats: list[str], folder: Path) -> list[Path]:
    """Write each format into ``folder`` from one redacted copy of ``report``; return the
    paths written."""
    from battletest.redact import Redactor

    report = Redactor().report(report)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name in formats:
        module = importlib.import_module(FORMATS[name])
        paths.append(module.write(report, folder))
    return paths


@click.command("report")
@click.argument("run_folder", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(sorted(FORMATS)),
    help="Format(s) to write (repeatable; default html).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder to write into (default: the run folder itself).",
)
@click.option(
    "--push",
    "push_url",
    default=None,
    metavar="URL",
    help="Also push the metrics to this Pushgateway (http://host:9091).",
)
@click.option(
    "--webhook",
    "webhook_url",
    default=None,
    metavar="URL",
    help="POST a Slack-compatible message to URL when a gate failed.",
)
def report(
    run_folder: Path,
    formats: tuple[str, ...],
    output: Path | None,
    push_url: str | None,
    webhook_url: str | None,
) -> None:
    """Re-render RUN_FOLDER/report.json as html, json, junit, sarif or prom."""
    data = Report.load(run_folder)
    folder = output or (run_folder if run_folder.is_dir() else run_folder.parent)
    for path in render_formats(data, list(formats) or ["html"], folder):
        click.echo(f"wrote {path}")
    if push_url:
        from battletest.report.prom import push

        click.echo(f"pushed metrics to {push(data, push_url)}")
    if webhook_url:
        from battletest.report.webhook import notify

        sent = notify(data, webhook_url)
        click.echo("webhook sent" if sent else "webhook not sent: every gate passed")


__all__ = ["FORMATS", "render_formats", "report"]
