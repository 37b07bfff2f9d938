"""Discovery and ``battletest scan`` on a Swagger 2.0 service that is not the demo (loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from tests.clitools import run_cli

from battletest.errors import SpecError, TargetUnreachable
from battletest.netutil import free_port, serve_app
from battletest.spec import discover, load_spec
from battletest.spec.discover import MAX_REQUESTS, _page_links

from .petshop_app import DOCUMENT, SPEC_URL, build_app

pytestmark = [pytest.mark.network]


@pytest.fixture(scope="module")
def petshop() -> Iterator[str]:
    with serve_app(build_app()) as base:
        yield base


def test_discovery_follows_the_root_links_to_a_swagger_ui_page_and_its_spec_url(
    petshop: str,
) -> None:
    doc, where = discover(petshop)
    assert where == petshop + SPEC_URL
    assert doc == DOCUMENT
    spec = load_spec(None, petshop)
    assert spec.version == "2.0" and spec.base_path == "/shop"
    assert sorted(op.key for op in spec.operations) == [
        "GET /shop/pets",
        "GET /shop/pets/{petId}",
        "POST /shop/pets",
        "POST /shop/pets/{petId}/photo",
    ]


def test_nothing_found_is_one_line_listing_what_was_tried() -> None:
    calls: list[str] = []

    async def nothing(request: object) -> Response:
        calls.append(str(getattr(request, "url", "")))
        return HTMLResponse("<html>no docs here</html>", status_code=404)

    app = Starlette(routes=[Route("/{path:path}", nothing)])
    with serve_app(app) as base, pytest.raises(SpecError) as caught:
        discover(base)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"no OpenAPI document found under {base}")
    for tried in ("/openapi.json (404)", "/swagger.json (404)", "/v3/api-docs (404)", "/api/v1/"):
        assert tried in message
    assert "pass --spec" in message
    assert len(calls) <= MAX_REQUESTS


def test_a_link_to_another_host_is_never_followed() -> None:
    async def root(request: object) -> Response:
        return JSONResponse({"links": {"openapi": {"href": "http://127.0.0.2:9/openapi.json"}}})

    app = Starlette(routes=[Route("/", root)])
    with serve_app(app) as base, pytest.raises(SpecError) as caught:
        discover(base)
    assert "127.0.0.2" not in str(caught.value)


def test_a_document_under_a_versioned_prefix_is_found() -> None:
    # Kinto publishes /v1/__api__ and its root answers JSON without a link to it
    async def api(request: object) -> Response:
        return JSONResponse(DOCUMENT)

    async def root(request: object) -> Response:
        return JSONResponse({"project_name": "kinto", "url": "/v1/"})

    app = Starlette(routes=[Route("/v1/__api__", api), Route("/", root)])
    with serve_app(app) as base:
        doc, where = discover(base)
    assert where == base + "/v1/__api__" and doc == DOCUMENT


def test_a_link_the_classifier_calls_destructive_is_never_fetched() -> None:
    fetched: list[str] = []

    async def root(request: object) -> Response:
        return JSONResponse({"links": {"openapi": {"href": "/admin/reset/openapi.json"}}})

    async def reset(request: object) -> Response:
        fetched.append("reset")
        return JSONResponse(DOCUMENT)

    app = Starlette(routes=[Route("/", root), Route("/admin/reset/openapi.json", reset)])
    with serve_app(app) as base, pytest.raises(SpecError) as caught:
        discover(base)
    assert fetched == [] and "/admin/reset/openapi.json (not run: " in str(caught.value)


def test_discovery_backs_off_a_rate_limited_target_instead_of_missing_its_document() -> None:
    answered: list[int] = []

    async def spec(request: object) -> Response:
        if not answered:  # the first ask is refused, as a rate-limited service does
            answered.append(429)
            return JSONResponse(
                {"error": "slow down"}, status_code=429, headers={"Retry-After": "0"}
            )
        answered.append(200)
        return JSONResponse(DOCUMENT)

    app = Starlette(routes=[Route("/openapi.json", spec)])
    with serve_app(app) as base:
        doc, where = discover(base)
    assert answered == [429, 200] and doc["info"] == DOCUMENT["info"]
    assert where.endswith("/openapi.json")


def test_discovery_on_a_closed_port_is_target_unreachable() -> None:
    with pytest.raises(TargetUnreachable, match="cannot reach"):
        discover(f"http://127.0.0.1:{free_port()}")


@pytest.mark.parametrize(
    ("page", "link"),
    [
        ('<redoc spec-url="/specs/api.yaml"></redoc>', "/specs/api.yaml"),
        ("Redoc.init('/specs/r.json', {}, el)", "/specs/r.json"),
        ('SwaggerUIBundle({urls: [{url: "/a.json", name: "A"}]})', "/a.json"),
        ('SwaggerUIBundle({configUrl: "/swagger-config"})', "/swagger-config"),
        ('<script src="./swagger-initializer.js"></script>', "./swagger-initializer.js"),
        ('{"url": "/v3/api-docs/public", "validatorUrl": ""}', "/v3/api-docs/public"),
    ],
)
def test_doc_pages_and_configs_yield_their_spec_links(page: str, link: str) -> None:
    assert link in _page_links(page)


@pytest.mark.slow
def test_scan_reads_a_swagger_2_document_and_probes_under_its_base_path(
    petshop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "swagger2.json"
    spec.write_text(json.dumps(DOCUMENT))
    argv = ["scan", "--target", petshop, "--spec", str(spec), "--checks", "sqli-error", "--json"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err  # a Swagger 2.0 document is scanned (it used to exit 2)
    [suite] = json.loads(out)["suites"]  # --json prints report.json: one security suite
    targets = {c["details"]["target"] for c in suite["cases"]}
    assert {"GET /shop/pets", "GET /shop/pets/{petId}"} <= targets, targets
    assert all(" /shop/" in t for t in targets), targets
    assert suite["findings"] == []  # the shop parses its integers: nothing to find
    # the spec's host (petshop.invalid) was never used: the target answered
    assert httpx.get(petshop + "/shop/pets").status_code == 200


@pytest.mark.slow
def test_run_on_a_discovered_swagger_2_spec_runs_contract_and_errors_without_a_crash(
    petshop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contract and errors suites crashed (AssertionError) on a Swagger 2.0 document
    discovered on the target; now they run every operation under the base path."""
    argv = ["run", "--target", petshop, "--suites", "contract,errors", "--out", str(tmp_path)]
    argv += ["--no-history"]
    code, out, err = run_cli(argv, capsys)
    assert code in (0, 1), err
    assert "crashed" not in out + err
    report = json.loads(next(tmp_path.glob("*/report.json")).read_text())
    suites = {s["name"]: s for s in report["suites"]}
    cases = {c["name"]: c for c in suites["contract"]["cases"]}
    assert {"POST /pets", "POST /pets/{petId}/photo", "GET /pets", "GET /pets/{petId}"} <= set(
        cases
    )
    listing = cases["GET /pets"]  # reached under /shop, answered as documented
    assert listing["status"] == "passed" and set(listing["details"]["statuses"]) == {"200"}
    assert suites["errors"]["cases"]


BAD_REF = {
    "swagger": "2.0",
    "info": {"title": "t", "version": "1"},
    "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/responses/Nope"}}}}},
}


@pytest.mark.parametrize(
    "argv",
    [
        ["init", "--spec", "{spec}", "-o", "{tmp}/battletest.toml"],
        ["scan", "--target", "http://127.0.0.1:9", "--spec", "{spec}"],
        ["mock", "serve", "--spec", "{spec}"],
        ["load", "--target", "http://127.0.0.1:9", "--from-spec", "{spec}"],
    ],
)
def test_every_consumer_refuses_a_broken_document_with_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "swagger.json"
    spec.write_text(json.dumps(BAD_REF))
    filled = [a.format(spec=spec, tmp=tmp_path) for a in argv]
    code, _, err = run_cli(filled, capsys)
    assert code == 2
    assert err == f"battletest: error: {spec}: unresolvable $ref '#/responses/Nope' " + (
        "(fix the reference or add the missing component)\n"
    )
    assert not (tmp_path / "battletest.toml").exists()
