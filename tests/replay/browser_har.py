"""A browser HAR built here: Chromium's DevTools network events, through /usr/bin/chromedriver.

``chromium_har(out)`` serves a page on loopback whose script GETs and POSTs JSON, loads it in
headless Chromium (Selenium with the Debian chromedriver given explicitly; Selenium Manager
never runs, nothing is downloaded), reads the ``Network.*`` events from the performance log and
the bodies with ``Network.getResponseBody``, and writes them as HAR 1.2 the way a browser's
export does (pseudo-headers, completion order, ``_initiator``-style extras left out). Run
``python -m tests.replay.browser_har tests/replay/data/chromium.har`` to refresh the vendored copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>har</title></head><body>
<script>
fetch('/api/items?page=1').then(r => r.json()).then(items =>
  fetch('/api/items', {method: 'POST', headers: {'Content-Type': 'application/json'},
                       body: JSON.stringify({hello: 'world'})}))
  .then(r => r.json()).then(() => { document.title = 'done'; });
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/api/items"):
            self._send(200, "application/json", json.dumps([{"id": "i_1001"}]).encode())
        elif self.path == "/":
            self._send(200, "text/html; charset=utf-8", PAGE)
        else:
            self._send(404, "text/plain", b"no")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(201, "application/json", json.dumps({"id": "i_1002", **body}).encode())


def _har(events: list[dict[str, Any]], bodies: dict[str, tuple[str, bool]]) -> dict[str, Any]:
    sent: dict[str, dict[str, Any]] = {}
    answered: dict[str, dict[str, Any]] = {}
    finished: list[str] = []
    for event in events:
        method, params = event["method"], event["params"]
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            sent[rid] = params
        elif method == "Network.responseReceived":
            answered[rid] = params
        elif method == "Network.loadingFinished":
            finished.append(rid)
    entries = []
    for rid in finished:  # completion order, as browsers export
        if rid not in sent or rid not in answered:
            continue
        request, response = sent[rid]["request"], answered[rid]["response"]
        if not request["url"].startswith("http"):
            continue  # chrome:// resources of the browser itself
        text, b64 = bodies.get(rid, ("", False))
        req_headers = {**request.get("headers", {}), **response.get("requestHeaders", {})}
        post = request.get("postData")
        entry: dict[str, Any] = {
            "startedDateTime": datetime.fromtimestamp(sent[rid]["wallTime"], UTC).isoformat(),
            "time": float(response.get("timing", {}).get("receiveHeadersEnd", 0.0)),
            "request": {
                "method": request["method"],
                "url": request["url"],
                "httpVersion": response.get("protocol", "http/1.1"),
                "headers": [{"name": k, "value": v} for k, v in req_headers.items()],
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": len(post or ""),
            },
            "response": {
                "status": response["status"],
                "statusText": response.get("statusText", ""),
                "httpVersion": response.get("protocol", "http/1.1"),
                "headers": [{"name": k, "value": v} for k, v in response["headers"].items()],
                "cookies": [],
                "content": {
                    "size": len(text),
                    "mimeType": response.get("mimeType", ""),
                    "text": text,
                    **({"encoding": "base64"} if b64 else {}),
                },
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
            },
            "cache": {},
            "timings": {"send": 0, "wait": 0, "receive": 0},
        }
        if post is not None:
            entry["request"]["postData"] = {"mimeType": "application/json", "text": post}
        entries.append(entry)
    return {"log": {"version": "1.2", "creator": {"name": "Chromium DevTools (via chromedriver)",
                    "version": "built by tests/replay/browser_har.py"}, "pages": [],
                    "entries": entries}}  # fmt: skip


def chromium_har(out: Path) -> Path:
    """Serve the page, load it in Chromium, write what the network events say as HAR."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="bt-chromium-")
    os.environ["SE_OFFLINE"] = "1"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.get(f"http://127.0.0.1:{server.server_port}/")
        WebDriverWait(driver, 30).until(lambda d: d.title == "done")
        events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        bodies: dict[str, tuple[str, bool]] = {}
        for event in events:
            if event["method"] == "Network.loadingFinished":
                rid = event["params"]["requestId"]
                try:
                    got = driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": rid})
                except Exception:
                    continue
                bodies[rid] = (got["body"], bool(got.get("base64Encoded")))
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    out.write_text(json.dumps(_har(events, bodies), indent=1) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    chromium_har(Path(sys.argv[1]))
