"""The CLI skeleton: help, version, error mapping to exit codes."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

import battletest
from battletest import cli as cli_module
from battletest.errors import ConfigError, ExitCode, TargetUnreachable


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "battletest", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_registered_command() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in cli_module.COMMANDS:
        assert name in proc.stdout


def test_help_does_not_import_subsystems() -> None:
    code = (
        "import sys; from battletest.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('fastapi', 'httpx', 'pydantic', 'uvicorn') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_version() -> None:
    proc = run_cli("--version")
    assert battletest.__version__ in proc.stdout


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_cli("no-such-command")
    assert proc.returncode == ExitCode.USAGE
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("exc", "code"),
    [(ConfigError("bad key 'x'"), ExitCode.USAGE), (TargetUnreachable("no"), ExitCode.UNREACHABLE)],
)
def test_errors_map_to_exit_codes_and_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception, code: int
) -> None:
    @click.command()
    def boom() -> None:
        raise exc

    monkeypatch.setitem(cli_module.COMMANDS, "boom", (__name__, "_boom", "x"))
    monkeypatch.setitem(globals(), "_boom", boom)
    with pytest.raises(SystemExit) as info:
        cli_module.main(["boom"])
    assert info.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("battletest: error: ")


def test_keyboard_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @click.command()
    def stop() -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(cli_module.COMMANDS, "stop", (__name__, "_stop", "x"))
    monkeypatch.setitem(globals(), "_stop", stop)
    with pytest.raises(SystemExit) as info:
        cli_module.main(["stop"])
    assert info.value.code == ExitCode.INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_exit_code_from_ctx_exit_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command()
    @click.pass_context
    def judge(ctx: click.Context) -> None:
        ctx.exit(1)

    monkeypatch.setitem(cli_module.COMMANDS, "judge", (__name__, "_judge", "x"))
    monkeypatch.setitem(globals(), "_judge", judge)
    with pytest.raises(SystemExit) as info:
        cli_module.main(["judge"])
    assert info.value.code == 1


@pytest.mark.parametrize("name", sorted(cli_module.COMMANDS))
def test_every_registered_command_loads_and_has_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli_module.main([name, "--help"])
    assert info.value.code == 0
    assert "Usage:" in capsys.readouterr().out
