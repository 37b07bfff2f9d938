"""Running ``battletest`` in-process from a test: exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from battletest.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``battletest ARGV`` through ``cli.main`` (which always exits); (code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err
