"""The load suite's default plan on a service whose document declares no security although some
reads need credentials (as httpbin, Jupyter Server and Kinto publish theirs): an answer a plain
GET gets by design (401/403/404) is left out and named, not counted as errors under load; a
5xx stays in the plan, because that one is the service failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, Header, HTTPException

from battletest.config import Config
from battletest.netutil import serve_app
from battletest.results import Status
from battletest.run import execute

pytestmark = [pytest.mark.slow, pytest.mark.network]


def make_app(*, broken: bool) -> FastAPI:
    app = FastAPI(title="undeclared auth", version="1")

    @app.get("/open")
    def open_() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/locked")  # needs a token, but the document does not say so
    def locked(authorization: str | None = Header(default=None)) -> dict[str, str]:
        if authorization != "Bearer right":
            raise HTTPException(401, "token required")
        return {"ok": "yes"}

    @app.get("/staff-only")
    def staff_only() -> dict[str, str]:
        raise HTTPException(403, "staff only")

    @app.get("/flaky")
    def flaky() -> dict[str, str]:
        if broken:
            raise HTTPException(500, "database gone")
        return {"ok": "yes"}

    return app


def run_load(url: str, tmp_path: Path) -> object:
    cfg = Config.model_validate(
        {
            "target": {"url": url},
            "load": {"vus": 1, "duration": "1s"},
            "out": str(tmp_path),
            "history": {"record": False},
        }
    )
    out = execute(cfg, only=["load"], write_reports=False)
    return next(s for s in out.report.suites if s.name == "load")


def test_reads_refused_by_design_are_left_out_of_the_default_plan(tmp_path: Path) -> None:
    with serve_app(make_app(broken=False)) as url:
        load = run_load(url, tmp_path)
    paths = load.metrics["paths"]  # type: ignore[attr-defined]
    assert "/open" in paths and "/flaky" in paths
    assert "/locked" not in paths and "/staff-only" not in paths
    assert load.metrics["left_out"] == [  # type: ignore[attr-defined]
        "GET /locked (HTTP 401 to a GET without credentials)",
        "GET /staff-only (HTTP 403 to a GET without credentials)",
    ]
    assert "left out of the default plan" in load.message  # type: ignore[attr-defined]
    assert load.status is Status.PASSED  # type: ignore[attr-defined]
    assert load.metrics["requests"] > 0 and load.metrics["failed"] == 0  # type: ignore[attr-defined]


def test_a_read_that_fails_with_a_5xx_stays_in_the_plan_and_fails_the_threshold(
    tmp_path: Path,
) -> None:
    with serve_app(make_app(broken=True)) as url:
        load = run_load(url, tmp_path)
    assert "/flaky" in load.metrics["paths"]  # type: ignore[attr-defined]
    assert load.status is Status.FAILED  # type: ignore[attr-defined]
    failed = [c for c in load.cases if c.status is Status.FAILED]  # type: ignore[attr-defined]
    assert [c.name for c in failed] == ["threshold error_rate<1%"]
    assert "status_500" in load.metrics["errors"]  # type: ignore[attr-defined]
