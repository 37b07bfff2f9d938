"""battletest against a service that plants what harmed real ones (tests/transport/apps): under
a production profile, in LIVE_SMOKE and in LIVE every account still logs in and a member the
test created beforehand reads back byte for byte; a recording reverse proxy in front shows no
unsafe method at all in production and LIVE_SMOKE; a deleted identity makes cases inconclusive."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.transport.apps.members import ACCOUNTS, make_app, recording_proxy

from battletest.config import load_config
from battletest.netutil import serve_app
from battletest.results import Status
from battletest.run import execute

pytestmark = [pytest.mark.slow, pytest.mark.network]

SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Service:
    url: str  # the recording proxy, which battletest is pointed at
    direct: str  # the app itself, for the test's own requests
    log: list[tuple[str, str]] = field(default_factory=list)
    seeded_path: str = ""
    seeded_body: bytes = b""


@pytest.fixture
def service() -> Iterator[Service]:
    log: list[tuple[str, str]] = []
    with serve_app(make_app()) as direct, serve_app(recording_proxy(direct, log)) as url:
        svc = Service(url, direct, log)
        # created outside battletest: it must survive every run unchanged
        made = httpx.post(
            f"{direct}/v1/members", json={"name": "seeded"}, auth=("alice", "alice pw")
        )
        assert made.status_code == 201
        svc.seeded_path = made.headers["location"]
        svc.seeded_body = httpx.get(direct + svc.seeded_path, auth=("alice", "alice pw")).content
        yield svc


def _config(svc: Service, tmp_path: Path, profile: str | None = None, **extra: Any) -> Any:
    path = tmp_path / "battletest.toml"
    path.write_text(
        f"""
seed = 3
out = "{tmp_path / "reports"}"
[target]
url = "{svc.url}"
spec = "{svc.url}/swagger.json"
[history]
record = false
[suites]
enabled = ["contract", "auth", "errors"]
[suites.contract]
examples = 2
[[identities]]
name = "admin"
role = "admin"
username = "admin"
password = "adm+&%pw"
[[identities]]
name = "alice"
role = "user"
username = "alice"
password = "alice pw"
[profiles.prod]
[profiles.wrecker]
allow_destructive = true
""",
        encoding="utf-8",
    )
    return load_config(path, profile, extra, environ={})


def _unharmed(svc: Service) -> None:
    for user, (password, _) in ACCOUNTS.items():
        assert httpx.get(f"{svc.direct}/v1/me", auth=(user, password)).status_code == 200, user
    seeded = httpx.get(svc.direct + svc.seeded_path, auth=("alice", "alice pw"))
    assert seeded.content == svc.seeded_body


def _decisions(report: Any) -> set[str]:
    return {d["kind"] for s in report.suites for d in s.metrics.get("policy_decisions", [])}


@pytest.mark.parametrize(
    ("profile", "overrides"), [("prod", {}), (None, {"mode": "LIVE_SMOKE"})], ids=["prod", "smoke"]
)
def test_production_and_live_smoke_send_no_unsafe_method_at_all(
    service: Service, tmp_path: Path, profile: str | None, overrides: dict[str, Any]
) -> None:
    suites = {"suites.enabled": ["contract", "auth", "errors", "security"]}
    out = execute(_config(service, tmp_path, profile, **overrides, **suites))
    methods = {m for m, _ in service.log}
    assert methods and methods <= SAFE, methods
    assert ("GET", "/v1/admin/reset") not in service.log  # a documented GET that resets
    _unharmed(service)
    assert {"read_only", "destructive_name"} <= _decisions(out.report)
    not_run = [c for c in out.report.test_results if c.details.get("outcome") == "not_run"]
    assert any(c.name == "DELETE /members" for c in not_run)
    assert all(c.status is Status.SKIPPED for c in not_run)
    # traffic stayed on the target named, base path kept (the document names another host)
    assert all(path.startswith(("/v1/", "/swagger.json", "/")) for _, path in service.log)


def test_live_writes_only_to_what_battletest_created(service: Service, tmp_path: Path) -> None:
    out = execute(_config(service, tmp_path))
    _unharmed(service)
    sent = set(service.log)
    assert ("DELETE", "/v1/members") not in sent  # collection-wide
    assert ("DELETE", "/v1/me") not in sent  # deletes the calling identity
    assert ("GET", "/v1/admin/reset") not in sent
    assert not any(p == service.seeded_path and m != "GET" for m, p in sent)
    assert ("POST", "/v1/members") in sent  # creates are allowed …
    created = {p for m, p in sent if m == "DELETE" and p.startswith("/v1/members/")}
    assert created and service.seeded_path not in created  # … and battletest deletes its own
    assert {"collection_wide", "destructive_name", "deletes_identity"} <= _decisions(out.report)
    contract = next(s for s in out.report.suites if s.name == "contract")
    cases = {c.name: c for c in contract.cases}
    assert cases["PUT /members/{id}"].status is Status.PASSED  # on its own member
    assert "collection-wide" in cases["DELETE /members"].message


def test_an_identity_deleted_mid_run_is_reported_and_its_cases_are_inconclusive(
    service: Service, tmp_path: Path
) -> None:
    cfg = _config(service, tmp_path, "wrecker", **{"suites.enabled": ["contract", "auth"]})
    out = execute(cfg)  # allow_destructive: the collection-wide DELETE is sent and kills admin
    notes = "\n".join(out.report.run.notes)
    assert "identity admin stopped working after DELETE /v1/members" in notes
    inconclusive = [
        c for c in out.report.test_results if c.details.get("outcome") == "inconclusive"
    ]
    assert inconclusive and all(c.status is Status.SKIPPED for c in inconclusive)
    # the broken identity's cases say so; any other inconclusive case names its own reason
    # (e.g. a 404 for the object it named: case evidence, issue 18)
    assert any("admin stopped working" in c.message for c in inconclusive)
    assert all(c.message.startswith("inconclusive: ") for c in inconclusive)
    # nothing that needed admin after the break passed on a 401
    after = [c for c in out.report.test_results if c.suite == "auth" and "rbac: admin" in c.name]
    assert all(c.status is not Status.PASSED for c in after)


def test_live_smoke_is_a_small_read_only_subset(service: Service, tmp_path: Path) -> None:
    enabled = {"suites.enabled": ["contract", "auth", "errors", "security", "load"]}
    out = execute(_config(service, tmp_path, mode="LIVE_SMOKE", **enabled))
    smoke_log = list(service.log)
    assert {m for m, _ in smoke_log} <= SAFE
    suites = {s.name: s for s in out.report.suites}
    ran = [c for c in suites["contract"].cases if c.details.get("examples")]
    assert ran and all(c.details["examples"] == 1 for c in ran)  # one case per safe operation
    assert suites["contract"].metrics["smoke"] is True
    expired = [c.name for c in suites["auth"].cases if c.name.startswith("expired token: ")]
    assert len(expired) == 1  # bad tokens on one representative secured read, not on all
    assert not [c for c in suites["errors"].cases if c.name.startswith("unsupported method")]
    assert "LIVE_SMOKE runs no active probes" in (suites["security"].message or "")
    load = suites["load"]
    assert load.status is not Status.SKIPPED, load.message
    assert max(s["vus"] for s in load.metrics["series"]) == 1  # smoke-level load
    _unharmed(service)
    # the same suites in LIVE (load aside) send far more reads than the smoke subset
    service.log.clear()
    live = {"suites.enabled": ["contract", "auth", "errors", "security"]}
    execute(_config(service, tmp_path, **live))
    loaded = set(load.metrics["paths"])  # the smoke load's own requests are not counted
    smoke_reads = sum(1 for m, p in smoke_log if m == "GET" and p not in loaded)
    live_reads = sum(1 for m, _ in service.log if m == "GET")
    assert smoke_reads < live_reads, (smoke_reads, live_reads)
