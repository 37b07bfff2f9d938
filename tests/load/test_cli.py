"""``battletest load`` from the outside: output, exit codes, bad input, Ctrl-C."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.clitools import stop_process

from battletest.cli import main
from battletest.errors import ConfigError
from battletest.load.coordinator import ensure_fd_limit

from .servers import serve

pytestmark = [pytest.mark.network]


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.slow
def test_failing_threshold_exits_1_and_prints_the_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with serve("ok") as (url, _):
        code, out, _ = _main(
            [
                "load",
                "--target",
                url,
                "--vus",
                "2",
                "--duration",
                "1s",
                "--workers",
                "1",
                "--threshold",
                "p99<0.001ms",
                "--threshold",
                "error_rate<1%",
                "--json",
                str(tmp_path / "r.json"),
            ],
            capsys,
        )
    assert code == 1
    assert re.search(r"threshold p99<0.001ms: [\d.]+ms \(FAILED\)", out)
    assert "threshold error_rate<1%: 0.00% (ok)" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["thresholds"][0]["passed"] is False and saved["requests"] > 0


@pytest.mark.slow
def test_legacy_flags_run_per_vu_iterations(capsys: pytest.CaptureFixture[str]) -> None:
    with serve("ok") as (url, server):
        code, out, _ = _main(
            [
                "load",
                "--target",
                url,
                "--concurrent-users",
                "2",
                "--requests-per-user",
                "5",
                "--test-duration",
                "30",
                "--workers",
                "1",
            ],
            capsys,
        )
    assert code == 0
    assert "executor per-vu-iterations" in out and "requests 10 " in out
    assert server.requests == 11


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "p95 is fast"], "invalid threshold 'p95 is fast'"),
        (["--duration", "soon"], "invalid duration 'soon'"),
        (["--vus", "2", "--rate", "5"], "--vus and --rate choose different executors"),
        (["--header", "no-colon"], "invalid header 'no-colon'"),
        (["--target", "ftp://x"], "invalid --target 'ftp://x'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = (
        ["load", *args] if "--target" in args else ["load", "--target", "http://127.0.0.1:9", *args]
    )
    code, _, err = _main(argv, capsys)
    assert code == 2
    assert err.startswith("battletest: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_target_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    with serve("garbage") as (url, _):
        code, _, err = _main(["load", "--target", url, "--duration", "1s"], capsys)
    assert code == 3 and "does not speak HTTP/1.1" in err


def test_descriptor_limit_is_raised_or_refused_clearly() -> None:
    calls: list[tuple[int, int]] = []
    assert ensure_fd_limit(5000, lambda _: (1024, 8192), lambda _, v: calls.append(v)) == 5000
    assert calls == [(5000, 8192)]
    with pytest.raises(ConfigError, match="hard limit is 4096") as info:
        ensure_fd_limit(10_064, lambda _: (1024, 4096), lambda _, v: calls.append(v))
    assert "--workers" in str(info.value)


def test_more_vus_than_descriptors_exit_2_from_the_command() -> None:
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256));"
        "from battletest.cli import main; main(sys.argv[1:])"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "load",
            "--target",
            "http://127.0.0.1:9",
            "--vus",
            "1000",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "needs 1064 file descriptors per worker but the hard limit is 256" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_the_partial_result_and_exits_130() -> None:
    with serve("ok") as (url, _):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "battletest",
                "load",
                "--target",
                url,
                "--vus",
                "2",
                "--duration",
                "60s",
                "--workers",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        first = ""
        while not first.startswith("load ") and time.monotonic() < deadline:
            first = proc.stderr.readline()  # the first progress line: the run is going
        out, err = stop_process(proc)
    assert proc.returncode == 130, err
    assert "interrupted: partial result" in out
    requests = int(re.search(r"requests (\d+)", out).group(1))  # type: ignore[union-attr]
    assert requests > 0
    assert "load run interrupted" in err


@pytest.mark.slow
def test_without_target_the_demo_is_started_and_loaded(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(
        [
            "load",
            "--vus",
            "2",
            "--duration",
            "1s",
            "--workers",
            "1",
            "--threshold",
            "error_rate<1%",
        ],
        capsys,
    )
    assert code == 0, out
    assert re.search(r"target http://127\.0\.0\.1:\d+ ", out)
    assert int(re.search(r"requests (\d+)", out).group(1)) > 0  # type: ignore[union-attr]
    assert "threshold error_rate<1%: 0.00% (ok)" in out
