"""Headless Chromium that tells whether an XSS payload executes in a response.

One browser per scan, started on first use and reused (``ScanBrowser.executes``): the
response's HTML is loaded as a ``data:`` document behind a hook that records every
``alert``/``confirm``/``prompt`` call, ``javascript:`` links are clicked, and the payload
counts as executed when its random marker was recorded. The browser never reaches the
network: its host resolver maps every name to nothing and its proxy is a closed loopback port,
so a page's scripts, images and links load nothing from anywhere.

It is Debian's ``/usr/bin/chromium`` driven through selenium with ``/usr/bin/chromedriver``
given explicitly (nothing is downloaded). Without them ``available()`` says why, and the XSS
checks report what they saw reflected as suspected, not confirmed.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import time
from typing import Any

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    # nothing the page names is fetched: no name resolves, every request goes to a closed port
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
)
HOOK = (
    "<script>window.__bt=[];window.alert=window.confirm=window.prompt="
    "function(m){window.__bt.push(String(m))};</script>"
)
# after the load event: fire javascript: links, then report what ran
COLLECT = """
for (const el of document.querySelectorAll('a[href],area[href]')) {
  if (el.getAttribute('href').trim().toLowerCase().startsWith('javascript:')) {
    try { el.click(); } catch (e) {}
  }
}
return window.__bt || [];
"""


def find_binaries() -> tuple[str, str] | str:
    """(chromium, chromedriver) paths, or why the browser cannot run."""
    chromium = next((p for p in CHROMIUM if shutil.which(p)), None)
    if chromium is None:
        return "no /usr/bin/chromium (apt-get install chromium chromium-driver)"
    if not shutil.which(CHROMEDRIVER):
        return f"no {CHROMEDRIVER} (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return chromium, CHROMEDRIVER


class ScanBrowser:
    """A lazily started headless Chromium, reused for every page of one scan."""

    def __init__(self, settle_s: float = 0.3) -> None:
        self.settle_s = settle_s
        self._driver: Any = None
        self.pages = 0
        found = find_binaries()
        self.missing: str | None = found if isinstance(found, str) else None
        self._paths = found if isinstance(found, tuple) else None

    @property
    def available(self) -> bool:
        return self._paths is not None and self.missing is None

    def _start(self) -> Any:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        assert self._paths is not None
        chromium, driver = self._paths
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in FLAGS:
            options.add_argument(flag)
        try:
            self._driver = webdriver.Chrome(service=Service(driver), options=options)
        except WebDriverException as exc:
            self.missing = f"chromium did not start: {str(exc).splitlines()[0][:120]}"
            raise
        self._driver.set_page_load_timeout(10)
        self._driver.set_script_timeout(5)
        return self._driver

    def executes(self, html: str, marker: str) -> bool | None:
        """Whether loading ``html`` calls alert/confirm/prompt with ``marker`` in it; None
        when no browser could run it (see ``missing``)."""
        if not self.available:
            return None
        from selenium.common.exceptions import WebDriverException

        try:
            driver = self._driver or self._start()
            document = base64.b64encode((HOOK + html).encode()).decode()
            driver.get("data:text/html;base64," + document)
            self.pages += 1
            deadline = time.monotonic() + self.settle_s
            while True:  # autofocus and load handlers may fire just after the load event
                calls = driver.execute_script(COLLECT)
                if any(marker in str(c) for c in calls) or time.monotonic() > deadline:
                    return any(marker in str(c) for c in calls)
                time.sleep(0.05)
        except WebDriverException as exc:
            self.missing = self.missing or f"the browser failed: {str(exc).splitlines()[0][:120]}"
            self.close()
            return None

    def close(self) -> None:
        if self._driver is not None:
            with contextlib.suppress(Exception):  # a browser that is gone has nothing to release
                self._driver.quit()
            self._driver = None


__all__ = ["CHROMEDRIVER", "FLAGS", "ScanBrowser", "find_binaries"]
