"""The live web view: its refusals over real loopback sockets, then the page in a real headless
Chromium while ``battletest load`` runs against nginx (a 5 s run on a Dask LocalCluster that the
page follows to its report.html, and a long run the stop button ends with exit 130).

Debian's ``chromium`` and ``chromium-driver`` are driven through selenium with both paths given
explicitly; Selenium Manager (which would download a browser or driver) is disabled.
"""

from __future__ import annotations

import importlib.util
import json
import queue
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tests.report.test_html_chromium as chromium_setup

from battletest.errors import SafetyError
from battletest.load.web import LiveView

from .nginx_server import nginx

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BATTLETEST = Path(sys.executable).with_name("battletest")
browser = chromium_setup.browser  # the same Chromium set-up as report.html's tests
needs_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian chromium and chromium-driver (make system-deps)",
)


def _status(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_non_loopback_bind_needs_allow_remote_and_a_token() -> None:
    stop = threading.Event()
    with pytest.raises(SafetyError, match="not loopback"):
        LiveView("0.0.0.0:0", stop=stop)
    with pytest.raises(SafetyError, match="needs a token"):
        LiveView("0.0.0.0:0", stop=stop, allow_remote=True)


@pytest.mark.network
def test_a_token_is_required_on_every_request_when_given() -> None:
    stop = threading.Event()
    with LiveView("127.0.0.1:0", stop=stop, token="s3cret") as view:
        base = f"http://127.0.0.1:{view.port}"
        assert _status(f"{base}/") == 401
        assert _status(f"{base}/state") == 401
        assert _status(f"{base}/?token=wrong") == 401
        assert _status(f"{base}/?token=s3cret") == 200
        assert _status(f"{base}/state", headers={"X-Battletest-Token": "s3cret"}) == 200
        assert not stop.is_set()


@pytest.mark.network
def test_stop_needs_the_pages_token_and_a_loopback_host(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:  # an attacker's DNS answer
        return real("127.0.0.1" if host == "rebind.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    stop = threading.Event()
    with LiveView("127.0.0.1:0", stop=stop) as view:
        base = f"http://127.0.0.1:{view.port}"
        assert _status(f"{base}/stop", "POST") == 403  # another page cannot read the token
        for name in ("attacker.example", "rebind.example"):  # DNS rebinding: Host is theirs
            rebound = {"Host": f"{name}:{view.port}", "X-Battletest-Token": view.page_token}
            assert _status(f"{base}/stop", "POST", rebound) == 403
            assert _status(f"{base}/state", headers={"Host": f"{name}:{view.port}"}) == 403
        assert _status(f"{base}/state", headers={"Host": f"localhost:{view.port}"}) == 200
        assert not stop.is_set()
        ok = {"X-Battletest-Token": view.page_token}
        assert _status(f"{base}/stop", "POST", ok) == 202
        assert stop.is_set()


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with nginx() as url:
        yield url


class LoadProcess:
    """``battletest load … --web 127.0.0.1:0`` as a real process; its page URL from stderr."""

    def __init__(self, argv: list[str], out: Path) -> None:
        self.proc = subprocess.Popen(
            [str(BATTLETEST), "load", *argv, "--web", "127.0.0.1:0", "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)
            self.lines.put(line)

    def url(self) -> str:
        while True:
            line = self.lines.get(timeout=120)
            found = re.search(r"live view: (\S+)", line)
            if found:
                return found.group(1)

    def __enter__(self) -> LoadProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def finish(self) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=180)
        return self.proc.returncode, out


def _wait(driver: Any, condition: str, timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: d.execute_script(f"return {condition}")
    )


@needs_chromium
@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="--cluster needs the battletest[cluster] extra (make installs it)",
)
@pytest.mark.chromium
@pytest.mark.slow
@pytest.mark.network
def test_the_page_follows_a_5s_run_shows_a_failing_threshold_and_ends_with_the_report(
    browser: Any, target: str, tmp_path: Path
) -> None:
    with LoadProcess(
        [
            "--target",
            target,
            "--rate",
            "50",
            "--duration",
            "5s",
            "--cluster",
            "local:2",
            "--threshold",
            "p50<0.001ms",
            "--threshold",
            "p99<10s",
        ],
        tmp_path,
    ) as run:
        browser.get(run.url())
        _wait(browser, "frames.length >= 1")
        first = browser.execute_script("return frames.length")
        _wait(browser, f"frames.length >= {first + 2}")  # it updates while the run goes
        failing = _wait(
            browser,
            "document.querySelector('#thresholds tr.fail') && "
            "document.querySelector('#thresholds tr.fail').dataset.threshold",
        )
        assert failing == "p50<0.001ms"
        passing = browser.execute_script(
            "return [...document.querySelectorAll('#thresholds tr.pass')]"
            ".map((tr) => tr.dataset.threshold)"
        )
        assert "p99<10s" in passing
        workers = _wait(browser, "document.querySelectorAll('#workers tr').length")
        assert workers == 2  # one row per Dask worker
        assert int(browser.find_element("id", "requests").text) > 0
        _wait(browser, "document.getElementById('report') !== null")
        assert "thresholds failed" in browser.find_element("id", "status").text
        code, out = run.finish()
    assert code == 1, "".join(run.err)
    assert "p50<0.001ms" in out
    report = browser.execute_script(
        "return fetch(document.getElementById('report').href).then((r) => r.text())"
    )
    written = (tmp_path / "latest" / "report.html").read_text(encoding="utf-8")
    assert report == written  # the run's own report.html


@needs_chromium
@pytest.mark.chromium
@pytest.mark.slow
@pytest.mark.network
def test_the_stop_button_ends_the_run_like_ctrl_c_with_exit_130(
    browser: Any, target: str, tmp_path: Path
) -> None:
    argv = ["--target", target, "--vus", "2", "--duration", "120s", "--workers", "1"]
    with LoadProcess(argv, tmp_path) as run:
        browser.get(run.url())
        _wait(browser, "frames.length >= 2")
        browser.find_element("id", "stop").click()
        _wait(browser, "document.getElementById('status').textContent.includes('interrupted')")
        code, out = run.finish()
    assert code == 130, "".join(run.err)
    assert "interrupted: partial result" in out
    summary = json.loads((tmp_path / "latest" / "report.json").read_text(encoding="utf-8"))
    assert summary["run"]["interrupted"] is True
    requests = int(re.search(r"requests (\d+)", out).group(1))  # type: ignore[union-attr]
    assert requests > 0  # the partial result is kept
