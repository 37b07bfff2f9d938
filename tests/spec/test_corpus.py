"""Every consumer reads every published document of the corpus (``data/NOTICE.md``).

Ground truth: each document's version and operation count, written down from the documents
(and re-counted here straight from the raw files, independent of ``battletest.spec``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, settings
from jsonschema import Draft202012Validator
from tests.spec.corpus import CORPUS, DATA

from battletest.chaos.mock import MockServer
from battletest.chaos.mock.http import Request
from battletest.chaos.mock.openapi import stubs_from_openapi
from battletest.chaos.mock.validate import media_problem, request_problem
from battletest.config import load_config
from battletest.errors import SpecError
from battletest.load.from_spec import scenario_from_spec
from battletest.scaffold import init_config, required_env
from battletest.security.suite import operations_of
from battletest.spec import METHODS, Operation, Spec, load_spec, response_spec_for, select
from battletest.suites.data import RequestData, probe_request, request_strategy

_DRAW = settings(
    database=None,
    deadline=None,
    phases=[Phase.generate],
    max_examples=50,
    suppress_health_check=list(HealthCheck),
)
_SPECS: dict[str, Spec] = {}
# the documents of hundreds of operations take seconds per consumer on a loaded machine
NAMES = [
    pytest.param(name, marks=pytest.mark.slow) if count >= 300 else name
    for name, (_, count, _) in sorted(CORPUS.items())
]


def spec_of(name: str) -> Spec:
    if name not in _SPECS:
        _SPECS[name] = load_spec(DATA / name, None)
    return _SPECS[name]


def raw_operation_count(name: str) -> int:
    text = (DATA / name).read_text()
    doc = yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)
    return sum(
        1 for item in doc["paths"].values() if isinstance(item, dict) for m in item if m in METHODS
    )


def sample(ops: list[Operation], n: int = 4) -> list[Operation]:
    """Up to ``n`` operations spread over the document (the same ones every run)."""
    if len(ops) <= n:
        return ops
    step = len(ops) / n
    return [ops[int(i * step)] for i in range(n)]


@pytest.mark.slow  # reads every document
def test_the_corpus_covers_every_version_and_feature() -> None:
    versions = {v[:3] for v, _, _ in CORPUS.values()}
    assert versions == {"2.0", "3.0", "3.1"}
    assert max(n for _, n, _ in CORPUS.values()) >= 300
    # large documents of both generations: hundreds of operations in Swagger 2.0 and in 3.x
    assert max(n for v, n, _ in CORPUS.values() if v == "2.0") >= 300
    assert max(n for v, n, _ in CORPUS.values() if v != "2.0") >= 300
    notice = (DATA / "NOTICE.md").read_text()
    for name in CORPUS:
        assert f"`{name.split('/')[0]}" in notice, f"{name} has no NOTICE line"
    ops = [op for name in CORPUS for op in spec_of(name).operations]
    kinds = {m for op in ops for m in op.bodies}
    assert {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} <= kinds
    locations = {p.location for op in ops for p in op.parameters}
    assert locations == {"path", "query", "header", "cookie"}
    assert any(not op.security for op in ops) and any(op.secured for op in ops)


@pytest.mark.parametrize("name", NAMES)
def test_the_spec_model_reads_each_document(name: str) -> None:
    version, count, base = CORPUS[name]
    spec = spec_of(name)
    assert (spec.version, len(spec.operations), spec.base_path) == (version, count, base)
    assert raw_operation_count(name) == count
    assert len({op.operation_id for op in spec.operations}) == count  # unique, stable
    json.dumps(spec.document)  # resolved and finite (recursive schemas cut)


def _valid(schema: dict[str, Any] | None, value: Any) -> bool:
    return Draft202012Validator(schema or {}).is_valid(value)


def _check_request(op: Operation, data: RequestData, base: str) -> None:
    """The drawn request is valid for the model's own schemas and encoded as its media type."""
    params = {(p.location, p.name): p for p in op.parameters}
    for where, values in (("path", data.path_params), ("query", data.query)):
        for key, value in values.items():
            assert _valid(params[(where, key)].schema, value), (op.label, where, key, value)
    for p in op.parameters:
        if p.required:
            got = {
                "path": data.path_params,
                "query": data.query,
                "header": data.headers,
                "cookie": data.cookies,
            }[p.location]
            assert p.name in got, (op.label, p.location, p.name)
    if data.has_body:
        assert _valid(op.request_body, data.body), (op.label, data.body)
    with httpx.Client(base_url="http://127.0.0.1:9") as client:  # built, never sent
        request = data.build(client, op, base, {})
    assert request.url.path.startswith(base or "/")
    if not data.has_body:
        return
    media = op.request_content_type or ""
    sent = request.headers.get("content-type", "")
    if "json" in media:
        assert sent == media and json.loads(request.content) == data.body
    elif "x-www-form-urlencoded" in media and isinstance(data.body, dict):
        assert sent == "application/x-www-form-urlencoded"
        form = parse_qs(request.content.decode(), keep_blank_values=True)
        assert {k for k, v in data.body.items() if v is not None} == set(form)
    elif "multipart/form-data" in media and isinstance(data.body, dict):
        assert sent.startswith("multipart/form-data; boundary=")
        for field in (k for k, v in data.body.items() if v is not None):
            assert f'name="{field}"'.encode() in request.content


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_contract_data_is_valid_for_a_sample_of_operations(name: str) -> None:
    spec = spec_of(name)
    for op in sample(spec.operations):
        drawn = find(request_strategy(op), lambda _: True, settings=_DRAW)
        _check_request(op, drawn, spec.base_path)
        _check_request(op, probe_request(op), spec.base_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_validating_mock_accepts_contract_data_and_probes(name: str) -> None:
    """The requests the suites build are ones the document allows: the mock that checks each
    request against its operation (``validate=True``) refuses none of them (it refused
    Petstore's probe of ``GET /pet/findByStatus``: a required array query parameter left
    empty is not sent at all)."""
    spec = spec_of(name)
    stubs = stubs_from_openapi(spec)
    mock = MockServer(stubs)  # its stub matching, not started: no socket
    with httpx.Client(base_url="http://127.0.0.1:9") as client:  # built, never sent
        for op in sample(spec.operations, 8):
            drawn = find(request_strategy(op), lambda _: True, settings=_DRAW)
            for data in (drawn, probe_request(op)):
                built = data.build(client, op, spec.base_path, {})
                target = built.url.raw_path.decode()
                request = Request(built.method, target, list(built.headers.items()), built.content)
                stub, params = mock._match(request, stubs)
                assert stub is not None and stub.name == op.operation_id, (op.label, target)
                # the document's rules (credentials are the identities' business, not data's);
                # a body goes as a media type the operation takes (image/png was sent as JSON)
                assert request_problem(op, request, params, _valid) is None, (op.label, target)
                assert media_problem(op, request) is None, (op.label, built.headers)


@pytest.mark.slow  # reads Gitea's document
def test_a_required_text_body_is_never_empty() -> None:
    """Gitea's POST /markdown/raw takes a required text/plain string: an empty one is no body
    at all, which the validating mock (as Gitea) refuses with its 422."""
    spec = spec_of("swagger2-gitea.json")
    op = spec.operation("POST", "/markdown/raw")
    assert op is not None
    drawn = find(request_strategy(op), lambda d: True, settings=_DRAW)
    with httpx.Client(base_url="http://127.0.0.1:9") as client:  # built, never sent
        for data in (drawn, probe_request(op)):
            built = data.build(client, op, spec.base_path, {})
            request = Request(
                "POST", built.url.raw_path.decode(), list(built.headers.items()), built.content
            )
            assert built.content and request_problem(op, request, {}, _valid) is None


@pytest.mark.parametrize("name", NAMES)
def test_the_scanner_lists_the_same_operations_under_the_base_path(name: str) -> None:
    spec = spec_of(name)
    ops = operations_of(spec)
    assert [op.key for op in ops] == [f"{op.method} {spec.base_path}{op.path}" for op in ops]
    assert [op.key for op in operations_of(spec.document)] == [op.key for op in ops]
    everything = select(ops, [(spec.base_path or "") + "/*"])
    assert len(everything) == len(ops)


@pytest.mark.parametrize("name", NAMES)
def test_mock_stubs_one_per_operation(name: str) -> None:
    spec = spec_of(name)
    stubs = stubs_from_openapi(spec)
    ops = {op.operation_id: op for op in spec.operations}
    mock = MockServer(stubs)  # its stub matching, not started: no socket
    assert [(s.name, s.method) for s in stubs] == [
        (op.operation_id, op.method) for op in spec.operations
    ]
    for stub in stubs:
        op = ops[stub.name]
        # every answer is one the document lists (Petstore's POST /pet documents only 405): a
        # mock that invents a 200 fails the contract of the document it stands in for
        assert not op.responses or response_spec_for(op, stub.response.status), (op.label, stub)
        # and the request for an operation reaches its own stub, not a templated sibling's
        # (parameters-common: GET /anything/{id}/override beside /anything/{id}/{action})
        answered = mock._match(Request(op.method, op.url_path, [], b""), stubs)[0]
        assert answered is not None and answered.name == stub.name, (op.label, answered)


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize(
    ("name", "method", "path", "url"),
    [
        ("swagger2-petstore.json", "GET", "/pet/{petId}", "/v2/pet/7"),
        (
            "openapi30-petstore-split/openapi.json",
            "GET",
            "/store/order/{orderId}",
            "/v2/store/order/3",
        ),
        ("swagger2-jupyter-server.yaml", "GET", "/api/sessions", "/api/sessions"),
    ],
)
def test_the_mock_answers_schema_valid_bodies(name: str, method: str, path: str, url: str) -> None:
    op = spec_of(name).operation(method, path)
    assert op is not None
    schema = op.response_schema()
    assert schema is not None
    with MockServer.from_openapi(DATA / name) as mock:
        answer = httpx.request(method, mock.url + url, timeout=10)
    assert answer.status_code == 200
    assert _valid(schema, answer.json()), answer.text


@pytest.mark.parametrize("name", NAMES)
def test_load_from_spec_builds_a_scenario_of_safe_operations(name: str) -> None:
    spec = spec_of(name)
    gets = {op.label for op in spec.operations if op.method == "GET"}
    try:
        scenario = scenario_from_spec(spec)
    except SpecError as exc:  # nothing fillable: said in one line, naming the document
        assert "no safe (GET) operation" in str(exc) and spec.source in str(exc)
        return
    assert scenario.tasks and {t.name for t in scenario.tasks} <= gets
    for task in scenario.tasks:
        for step in task.steps:
            assert step.path.source.startswith(spec.base_path + "/")


@pytest.mark.parametrize("name", NAMES)
def test_load_from_spec_correlates_what_the_mock_from_spec_lists(name: str) -> None:
    """Each id a load task extracts from a listing is in the answer the mock gives for that
    listing (Kubernetes lists ``items[].metadata.name``, Clever-Cloud's consumers ``key``):
    none of the load from the spec fails on the mock of the same document."""
    spec = spec_of(name)
    try:
        scenario = scenario_from_spec(spec)
    except SpecError:
        return
    stubs = stubs_from_openapi(spec)
    mock = MockServer(stubs)  # its stub matching, not started: no socket
    for task in scenario.tasks:
        for step in (s for s in task.steps if s.extract):
            stub = mock._match(Request(step.method, step.path.source, [], b""), stubs)[0]
            assert stub is not None and stub.response.body is not None, step.label
            body = stub.response.body.removeprefix("{% raw %}").removesuffix("{% endraw %}")
            for extractor in step.extract:
                found, value = extractor.apply(stub.response.status, {}, body.encode())
                assert found and value not in (None, ""), (step.label, extractor, body[:200])


@pytest.mark.parametrize("name", NAMES)
def test_init_writes_a_config_the_loader_accepts(name: str, tmp_path: Path) -> None:
    spec = spec_of(name)
    path, text = init_config(str(DATA / name), tmp_path / "battletest.toml")
    config = load_config(path, environ={n: "x" for n in required_env(text)})
    assert config.target.spec == str(DATA / name)
    for op in spec.operations:
        if op.secured:
            assert f"# path = {json.dumps(op.url_path)}" in text
