"""A target that answers 429 (Retry-After: 1) past 5 requests per second per client: every suite
completes and no case is decided on a 429; `battletest load` and `chaos run` refuse production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from tests.clitools import run_cli
from tests.transport.apps.throttled import KEY, make_app

from battletest.config import Config
from battletest.netutil import serve_app
from battletest.results import Status
from battletest.run import execute


@pytest.fixture
def throttled() -> Iterator[tuple[str, dict[str, int]]]:
    stats: dict[str, int] = {}
    with serve_app(make_app(stats)) as url:
        yield url, stats


def _decided_on_429(case: object) -> bool:
    details = getattr(case, "details", {})
    statuses = details.get("statuses") or {}
    return details.get("status") == 429 or "429" in statuses


@pytest.mark.slow
@pytest.mark.network
def test_every_suite_completes_with_no_case_decided_on_a_429(
    throttled: tuple[str, dict[str, int]], tmp_path: Path
) -> None:
    url, stats = throttled
    cfg = Config.model_validate(
        {
            "seed": 5,
            "out": str(tmp_path / "reports"),
            "target": {"url": url, "spec": f"{url}/openapi.json"},
            "history": {"record": False},
            "suites": {
                "enabled": ["contract", "auth", "errors", "security"],
                "contract": {"examples": 4},
                "errors": {"error_format": "any"},
            },
            "identities": [{"name": "svc", "role": "service", "api_key": KEY}],
            "security": {"checks": ["auth-missing", "bola", "stack-trace", "fuzz-5xx"]},
        }
    )
    out = execute(cfg)
    assert stats["throttled"] > 0  # the target did refuse: the transport had to back off
    suites = {s.name: s for s in out.report.suites}
    assert set(suites) == {"contract", "auth", "errors", "security"}
    assert all(s.status is not Status.ERROR for s in suites.values())
    decided = [c for c in out.report.test_results if c.status in (Status.PASSED, Status.FAILED)]
    assert decided and not [c.name for c in decided if _decided_on_429(c)]
    assert not [c.name for c in out.report.test_results if "still answered 429" in c.message]
    assert any("429/503" in n for n in out.report.run.notes)


def test_load_on_a_production_profile_refuses_a_post_scenario_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "battletest.toml").write_text("[profiles.production]\n")
    scenario = tmp_path / "orders.toml"
    scenario.write_text(
        '[[tasks]]\nname = "order"\n[[tasks.steps]]\nmethod = "POST"\npath = "/orders"\n'
        "json = {item = 1}\n"
    )
    code, _, err = run_cli(
        [
            "load",
            "--target",
            "http://127.0.0.1:9",
            "--profile",
            "production",
            "--scenario",
            str(scenario),
            "--duration",
            "1s",
        ],
        capsys,
    )
    assert code == 2
    assert "production is read-only: the load plan is refused before it starts" in err
    assert "POST /orders" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_several_scenarios_on_a_production_profile_are_checked_before_any_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "battletest.toml").write_text("[profiles.prd]\n")
    (tmp_path / "multi.toml").write_text(
        '[scenarios.reads]\npaths = ["/health"]\nduration = "1s"\n'
        '[scenarios.wipe]\nmethod = "DELETE"\npaths = ["/v1/members"]\nduration = "1s"\n'
    )
    code, _, err = run_cli(
        ["load", "--target", "http://127.0.0.1:9", "--profile", "prd", "--scenario", "multi.toml"],
        capsys,
    )
    assert code == 2 and "DELETE /v1/members is collection-wide" in err, err


def test_chaos_experiments_and_the_resilience_suite_refuse_production() -> None:
    from battletest.chaos.experiment import run_experiment
    from battletest.chaos.resilience import run_resilience_suite
    from battletest.errors import SafetyError

    with pytest.raises(SafetyError, match="refused in production"):
        run_experiment(SimpleNamespace(title="drill"), environment="production")  # type: ignore[arg-type]
    with pytest.raises(SafetyError, match="resilience suite is refused in production"):
        run_resilience_suite("http://127.0.0.1:9", {}, environment="production")
