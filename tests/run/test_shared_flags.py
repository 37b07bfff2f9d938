"""The flags run, load, scan and chaos run share, and the run folder each writes with --out."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from battletest.cli import main
from battletest.cli_options import OPTIONS, common_options, write_suite_folder
from battletest.results import Case, Status, SuiteResult


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def _flags(command: list[str], capsys: pytest.CaptureFixture[str]) -> set[str]:
    code, out, _ = run_cli([*command, "--help"], capsys)
    assert code == 0
    return {w.rstrip(",") for w in out.split() if w.startswith("--")}


@pytest.mark.parametrize(
    ("command", "shared"),
    [
        (["run"], ["--config", "--profile", "--out", "--json", "--verbose", "--seed", "--timeout"]),
        (["load"], ["--config", "--profile", "--out", "--seed", "--json", "--timeout"]),
        (["scan"], ["--config", "--profile", "--out", "--seed", "--json"]),
        (["chaos", "run"], ["--out", "--json"]),
    ],
)
def test_the_commands_take_the_shared_flags_after_the_subcommand(
    command: list[str], shared: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = set(shared) - _flags(command, capsys)
    assert not missing, f"{' '.join(command)} lacks {sorted(missing)}"


def test_common_options_adds_only_the_named_flags_and_refuses_unknown_names() -> None:
    @click.command()
    @common_options("out", "seed")
    def cmd(out: str | None, seed: int | None) -> None:
        click.echo(f"{out} {seed}")

    names = {p.name for p in cmd.params}
    assert names == {"out", "seed"}
    with pytest.raises(ValueError, match="unknown shared option"):
        common_options("outdir")
    assert set(OPTIONS) >= {"config", "profile", "out", "json", "verbose", "seed", "timeout"}


def test_a_suite_folder_has_the_run_layout(tmp_path: Path) -> None:
    suite = SuiteResult.from_cases(
        "chaos",
        [Case(name="steady", status=Status.PASSED), Case(name="fault", status=Status.FAILED)],
        2.0,
    )
    folder = write_suite_folder(suite, tmp_path / "out", target="http://127.0.0.1:1", seed=3)
    assert folder.parent == (tmp_path / "out").absolute()
    assert (tmp_path / "out" / "latest").resolve() == folder.resolve()
    for name in ("report.json", "junit.xml", "report.html"):
        assert (folder / name).is_file(), name
    report = json.loads((folder / "report.json").read_text())
    assert report["run"]["seed"] == 3 and report["summary"]["failed"] == 1
    assert report["summary"]["verdict"] == "fail"


@pytest.mark.network
@pytest.mark.slow
def test_load_reads_the_target_from_config_and_writes_a_run_folder(
    api_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "bt.toml"
    cfg.write_text(f'[target]\nurl = "{api_url}"\n')
    args = ["load", "--config", str(cfg), "--path", "/health", "--vus", "1", "--duration", "1s"]
    code, _, err = run_cli([*args, "--workers", "1", "--seed", "9", "--out", "out"], capsys)
    assert code == 0, err
    folder = (tmp_path / "out" / "latest").resolve()
    report = json.loads((folder / "report.json").read_text())
    assert report["suites"][0]["name"] == "load" and report["run"]["target"] == api_url
    assert report["run"]["seed"] == 9 and (folder / "load-latency.hdr").is_file()
    assert f"reports: {folder}" in err


@pytest.mark.network
@pytest.mark.slow
def test_scan_writes_a_run_folder(
    api_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["scan", "--target", api_url, "--checks", "security-headers", "--depth", "basic"]
    code, _, err = run_cli([*args, "--seed", "2", "--out", "out"], capsys)
    assert code in (0, 1), err
    report = json.loads((tmp_path / "out" / "latest" / "report.json").read_text())
    assert report["suites"][0]["name"] == "security" and report["run"]["seed"] == 2
