"""``battletest report RUN_FOLDER --format …``: re-render from report.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.clitools import run_cli as _cli

from battletest.report import write_run_folder

from .test_html import sample_report


def test_every_format_is_rendered_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_run_folder(sample_report(), tmp_path / "runs")
    target = tmp_path / "again"
    argv = ["report", str(folder), "--output", str(target)]
    for fmt in ("html", "json", "junit", "sarif", "prom"):
        argv += ["--format", fmt]
    code, out, _ = _cli(argv, capsys)
    assert code == 0
    names = sorted(p.name for p in target.iterdir())
    assert names == ["junit.xml", "metrics.prom", "report.html", "report.json", "security.sarif"]
    again = json.loads((target / "report.json").read_text())
    assert again == json.loads((folder / "report.json").read_text())
    assert (target / "report.html").read_text() == (folder / "report.html").read_text()
    assert list(text_string_to_metric_families((target / "metrics.prom").read_text()))
    assert out.count("wrote ") == 5


def test_default_is_html_in_the_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_run_folder(sample_report(), tmp_path)
    (folder / "report.html").unlink()
    code, _, _ = _cli(["report", str(tmp_path / "latest")], capsys)
    assert code == 0 and (folder / "report.html").is_file()


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (None, "does not exist"),
        ("{oops", "is not a battletest report"),
        ('{"run": 1}', "is not a battletest report"),
    ],
)
def test_bad_run_folder_is_exit_2(
    content: str | None, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content)
    code, _, err = _cli(["report", str(tmp_path)], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("battletest: error:") and text in lines[0]


def test_unknown_format_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["report", str(tmp_path), "--format", "pdf"], capsys)
    assert code == 2 and "pdf" in err
