"""Running ``battletest`` in-process from a test: exit code, stdout and stderr."""

from __future__ import annotations

import signal
import subprocess

import pytest

from battletest.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``battletest ARGV`` through ``cli.main`` (which always exits); (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


def stop_process(
    proc: subprocess.Popen[str], sig: int = signal.SIGINT, timeout: float = 120
) -> tuple[str, str]:
    """Send ``sig`` to a ``battletest`` child and collect its output; (stdout, stderr).

    Under load a child can take long to shut down: it gets ``timeout`` seconds, then it is
    killed and reaped before the timeout is raised, so no orphan (and no unclosed pipe, whose
    ResourceWarning would fail whichever test ran next on the worker) outlives the test.
    """
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    return out or "", err or ""
