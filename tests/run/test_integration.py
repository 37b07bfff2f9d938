"""The load, security and resilience suites plugged into `run`: config sections, defaults,
gate rows, the prod profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.run.conftest import make_config

from battletest.config import Config, LoadConfig
from battletest.errors import ConfigError
from battletest.results import Case, Status, SuiteResult
from battletest.run import SUITES, execute, select_suites
from battletest.sections import load_checked_config as load_config
from battletest.suites.base import SilentProgress, SuiteContext


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "battletest.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("[load]\nvu = 3\n", "load.vu", "vus"),
        ("[[load.endpoints]]\npath = '/x'\nwieght = 2\n", "load.endpoints[0].wieght", "weight"),
        ("[security]\ndepht = 'basic'\n", "[security] depht", "depth"),
        ("[security.login]\npath = '/l'\n", "security.login", "[auth]"),
        ("[resilience]\nheaderz = {}\n", "[resilience] headerz", "headers"),
        ("[[resilience.dependencies]]\nname = 'pms'\n", "[resilience] dependencies.0.mock_url", ""),
    ],
)
def test_unknown_or_bad_keys_in_the_suite_sections_name_the_key_path(
    tmp_path: Path, text: str, where: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_toml(tmp_path, text), environ={})
    assert where in str(err.value) and hint in str(err.value)


def test_a_bad_value_in_security_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"\[security\] depth: .*got 'deep'"):
        load_config(None, overrides={"security.depth": "deep"}, environ={}, cwd=Path("/"))


def test_the_load_section_has_exactly_the_keys_the_load_engine_accepts() -> None:
    from battletest.config import LoadEndpoint
    from battletest.load.options import EndpointSettings, LoadSettings

    assert set(LoadConfig.model_fields) == set(LoadSettings._KINDS)
    assert set(LoadEndpoint.model_fields) == set(EndpointSettings._KINDS)


def test_load_and_security_run_by_default_and_resilience_on_request() -> None:
    cfg = Config()
    assert select_suites(cfg) == ["contract", "auth", "errors", "pytest", "load", "security"]
    assert select_suites(cfg, only=["resilience"]) == ["resilience"]


def _ctx(cfg: Config, spec: Any = None) -> SuiteContext:
    from battletest.redact import Redactor
    from battletest.target import Target
    from battletest.transport import Identities, Transport

    http = Transport("http://127.0.0.1:9")
    return SuiteContext(
        config=cfg,
        target=Target("http://127.0.0.1:9", "url"),
        spec=spec,
        identities=Identities([], cfg.auth, http),
        http=http,
        seed=5,
        progress=SilentProgress(),
        redactor=Redactor([]),
    )


def test_an_empty_load_section_is_a_short_baseline_on_the_health_path() -> None:
    from battletest.load.options import LoadSettings
    from battletest.suites.load import load_settings

    data = load_settings(_ctx(Config.model_validate({"target": {"health": "/healthz"}})))
    assert data["vus"] == 5 and data["duration"] == "3s" and data["seed"] == 5
    assert data["paths"] == ["/healthz"] and data["thresholds"] == ["error_rate<1%"]
    spec = LoadSettings.coerce(data).executor_spec()  # the engine accepts what we hand it
    assert spec.kind == "constant-vus" and spec.vus == 5
    mine = load_settings(_ctx(Config.model_validate({"load": {"rate": 50, "paths": ["/a"]}})))
    assert "vus" not in mine and mine["rate"] == 50 and mine["paths"] == ["/a"]


def test_without_health_the_baseline_uses_the_public_get_operations(api_url: str) -> None:
    from battletest.spec import load_spec
    from battletest.suites.load import default_paths

    spec = load_spec(None, api_url)
    paths = default_paths(_ctx(Config(), spec))
    assert "/health" in paths and not any("{" in p for p in paths) and "/me" not in paths


def test_security_settings_default_to_basic_depth_and_follow_the_prod_profile() -> None:
    from battletest.suites.security import security_settings

    settings = security_settings(_ctx(Config()))
    assert settings.depth == "basic" and settings.active_allowed
    deep = security_settings(_ctx(Config.model_validate({"security": {"depth": "standard"}})))
    assert deep.depth == "standard"
    prod = security_settings(_ctx(Config(profile="prod")))
    assert prod.profile == "prod" and not prod.active_allowed
    allowed = security_settings(_ctx(Config(profile="prod", allow_destructive=True)))
    assert allowed.active_allowed


def _fake(name: str) -> Any:
    def suite(ctx: SuiteContext) -> SuiteResult:
        return SuiteResult.from_cases(name, [Case(name="ran", status=Status.PASSED)], 0.0)

    return suite


def test_a_prod_profile_skips_load_and_resilience_but_runs_security(
    api_url: str, tmp_path: Path
) -> None:
    table = {**SUITES, **{n: _fake(n) for n in ("load", "security", "resilience")}}
    cfg = make_config(api_url, tmp_path, profile="prod")
    out = execute(
        cfg, only=["load", "security", "resilience"], suites_table=table, write_reports=False
    )
    status = {s.name: s.status for s in out.report.suites}
    assert status == {
        "load": Status.SKIPPED,
        "security": Status.PASSED,
        "resilience": Status.SKIPPED,
    }


@pytest.mark.slow
def test_the_load_suite_runs_and_its_thresholds_become_gate_rows(
    api_url: str, tmp_path: Path
) -> None:
    load = {
        "vus": 2,
        "duration": "1s",
        "workers": 1,
        "thresholds": ["error_rate<1%", "rps>100000000"],
    }
    out = execute(make_config(api_url, tmp_path, load=load), only=["load"])
    suite = out.report.suites[0]
    assert suite.name == "load" and suite.metrics["requests"] > 0
    assert suite.metrics["paths"] == ["/health"]
    gates = {g.name: g for g in out.report.gates}
    assert gates["load: error_rate<1%"].passed is True
    assert gates["load: rps>100000000"].passed is False
    assert out.exit_code == 1  # an unmet threshold fails the run
    assert out.folder is not None and (out.folder / "load-latency.hdr").is_file()
    saved = json.loads((out.folder / "report.json").read_text())
    assert any(g["name"] == "load: rps>100000000" for g in saved["gates"])


@pytest.mark.slow
def test_the_security_suite_runs_passive_checks_only_under_prod(
    api_url: str, tmp_path: Path
) -> None:
    cfg = make_config(api_url, tmp_path, profile="prod")
    out = execute(cfg, only=["security"], write_reports=False)
    suite = out.report.suites[0]
    assert suite.name == "security" and suite.status is not Status.ERROR, suite.message
    assert "passive checks only" in suite.message
    not_run = suite.metrics["not_run"]
    assert not_run and all("passive" in why for why in not_run.values())


def test_a_login_refused_inside_a_suite_errs_that_suite_and_the_run_goes_on(
    api_url: str, tmp_path: Path
) -> None:
    from battletest.errors import AuthError

    def refused(ctx: SuiteContext) -> SuiteResult:
        raise AuthError("identity 'x' could not log in: HTTP 429", hint="wait")

    table = {**SUITES, "security": refused, "load": _fake("load")}
    out = execute(
        make_config(api_url, tmp_path),
        only=["load", "security"],
        suites_table=table,
        write_reports=False,
    )
    status = {s.name: s.status for s in out.report.suites}
    assert status == {"load": Status.PASSED, "security": Status.ERROR}
    assert "HTTP 429" in out.report.suites[1].cases[0].message and out.exit_code == 1


def test_a_resilience_section_reaches_the_resilience_suite(api_url: str, tmp_path: Path) -> None:
    cfg = make_config(api_url, tmp_path, resilience={"unrelated": {"path": "/health"}})
    out = execute(cfg, only=["resilience"], write_reports=False)
    cases = {c.name: c for c in out.report.suites[0].cases}
    # nothing to break without dependencies: every property says which table it needs
    assert "[[resilience.dependencies]]" in cases["circuit_breaker"].message
    assert cases["rate_limit"].status is Status.SKIPPED


USER_SUITE = """
def test_the_runs_identities_log_in(bt_identities, bt_config):
    assert bt_config.profile == "staging"
    assert bt_identities["admin"].get("/me").status_code == 200


def test_a_broken_expectation(bt_client):
    assert bt_client.get("/health").status_code == 418
"""


@pytest.mark.slow
def test_the_pytest_suite_hands_the_target_and_identities_to_the_child(
    api_url: str, tmp_path: Path
) -> None:
    tests = tmp_path / "user_suite"
    tests.mkdir()
    (tests / "test_user.py").write_text(USER_SUITE)
    cfg = make_config(api_url, tmp_path, profile="staging", suites={"pytest": {"path": str(tests)}})
    out = execute(cfg, only=["pytest"])
    cases = {c.name.split("::")[-1]: c for c in out.report.test_results}
    assert cases["test_the_runs_identities_log_in"].status is Status.PASSED, cases[
        "test_the_runs_identities_log_in"
    ].message
    broken = cases["test_a_broken_expectation"]
    assert broken.status is Status.FAILED and "418" in broken.message
    assert broken.reproduce == f"pytest {broken.name}"
    assert "traceback" in broken.details and broken.details["location"].startswith("test_user.py")
    assert out.exit_code == 1 and out.folder is not None
    saved = json.loads((out.folder / "report.json").read_text())
    failed = [t["name"] for t in saved["failed_tests"]]
    assert failed == [broken.name]


def test_the_child_gets_the_profile_mode_and_no_history_of_its_own(
    api_url: str, tmp_path: Path
) -> None:
    from battletest.suites.pytest_suite import child_argv, child_environment

    cfg = make_config(api_url, tmp_path, profile="staging", mode="MOCK")
    ctx = _ctx(cfg)
    argv = child_argv(ctx, Path("t"), Path("r.json"))
    assert "--bt-profile=staging" in argv and "--bt-mode=MOCK" in argv
    assert "--bt-no-history" in argv and "--bt-results=r.json" in argv
    env = child_environment(ctx, {"BATTLETEST_TARGET__URL": "http://elsewhere"})
    assert env["BATTLETEST_BASE_URL"] == "http://127.0.0.1:9"
    assert "BATTLETEST_TARGET__URL" not in env
    assert json.loads(env["BATTLETEST_IDENTITIES"])[0]["name"] == "admin"
    assert json.loads(env["BATTLETEST_AUTH"])["login_path"] == "/auth/login"


@pytest.mark.slow
def test_every_run_is_recorded_in_the_history_store(api_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from battletest.quality.store import HistoryStore, cases, runs

    url = f"sqlite:///{tmp_path}/h.db"
    cfg = make_config(api_url, tmp_path, history={"url": url})
    first = execute(cfg, only=["errors"], write_reports=False)
    execute(cfg, only=["errors"], write_reports=False)
    gates = {g.name: g for g in first.report.gates}
    assert gates["flakiness_budget"].passed is None  # nothing to read before the first run
    with HistoryStore(url) as store, store.read() as conn:
        sources = conn.execute(sa.select(runs.c.source)).scalars().all()
        recorded = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
    assert sources == ["run", "run"]
    assert recorded == 2 * first.report.summary.total_tests
    second = execute(cfg, only=["errors"], write_reports=False)
    flaky = {g.name: g for g in second.report.gates}["flakiness_budget"]
    assert flaky.passed is True and "known flaky" in (flaky.reason or "")


def test_no_history_records_nothing(api_url: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    cfg = make_config(api_url, tmp_path, history={"url": url, "record": False})
    execute(cfg, only=["errors"], write_reports=False)
    assert not (tmp_path / "h.db").exists()


def test_an_unwritable_history_store_is_a_note_not_a_lost_run(api_url: str, tmp_path: Path) -> None:
    cfg = make_config(api_url, tmp_path, history={"url": "sqlite:////proc/nope/h.db"})
    out = execute(cfg, only=["errors"])
    assert out.folder is not None and (out.folder / "report.json").is_file()
    assert any("not recorded in the history store" in n for n in out.report.run.notes)
