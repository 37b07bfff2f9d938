"""Case evidence on a service that mostly answers 401 (tests/run/walled_app.py, its ground truth
in the module doc): inconclusive cases, the exercised_operations gate, doctor's warnings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from battletest.config import Config
from battletest.doctor import Mark, diagnose, render
from battletest.errors import ExitCode
from battletest.run import execute


@pytest.fixture(scope="module")
def walled_url() -> Iterator[str]:
    from a2wsgi import WSGIMiddleware
    from tests.run.walled_app import make_walled_app

    from battletest.netutil import serve_app

    with serve_app(WSGIMiddleware(make_walled_app())) as url:  # type: ignore[arg-type]
        yield url


def _config(url: str, tmp_path: Path, **extra: Any) -> Config:
    return Config.model_validate(
        {
            "target": {"url": url, "spec": f"{url}/openapi.json"},
            "suites": {"enabled": ["contract"], "errors": {"error_format": "any"}},
            "out": str(tmp_path / "reports"),
            "seed": 5,
            "history": {"record": False},
            **extra,
        }
    )


def _gate(outcome: Any, name: str) -> Any:
    return next(g for g in outcome.report.gates if g.name == name)


@pytest.mark.slow
def test_cases_behind_a_401_wall_are_inconclusive_and_the_run_fails(
    walled_url: str, tmp_path: Path
) -> None:
    out = execute(_config(walled_url, tmp_path))
    cases = {c.name: c for c in out.report.test_results}
    secured = [n for n in cases if n not in {"GET /status", "GET /catalog"}]
    assert cases["GET /status"].status.value == "passed"
    assert cases["GET /status"].details["statuses"] == {"200": 1}
    assert secured and not [n for n in secured if cases[n].status.value == "passed"]
    for name in secured:
        case = cases[name]
        assert case.details["outcome"] == "inconclusive", name
        assert set(case.details["statuses"]) == {"401"}, name
        assert "no identity in the config has credentials" in case.message
    row = _gate(out, "exercised_operations")
    assert row.passed is False
    assert row.measured == 25.0
    assert row.reason.startswith("2/8 operations tried got a documented success")
    # the advice names what they got and the scheme an identity is missing for
    assert row.advice.startswith("6 operation(s) never got a documented success. refused")
    assert "GET /account (1× 401)" in row.advice
    assert "credentials for security scheme bearer" in row.advice
    assert out.exit_code is ExitCode.FAILED


@pytest.mark.slow
def test_an_owner_token_exercises_every_operation(walled_url: str, tmp_path: Path) -> None:
    from tests.run.walled_app import TOKEN_OWNER

    cfg = _config(walled_url, tmp_path, identities=[{"name": "owner", "token": TOKEN_OWNER}])
    out = execute(cfg)
    row = _gate(out, "exercised_operations")
    assert row.passed is True and row.measured == 100, row.reason
    assert out.report.summary.failed == 0
    assert out.exit_code is ExitCode.OK


def test_doctor_fails_when_no_identity_is_configured_for_secured_operations(
    walled_url: str, tmp_path: Path
) -> None:
    toml = tmp_path / "battletest.toml"
    toml.write_text(f'[target]\nurl = "{walled_url}"\nspec = "{walled_url}/openapi.json"\n')
    checks = diagnose(str(toml), tools=())
    failed = [c for c in checks if c.failed]
    assert [c.name for c in failed] == ["identities"]
    assert "6 operations need credentials" in failed[0].detail
    assert "ready to run" not in render(checks)


def _toml(url: str, tmp_path: Path, name: str, token: str) -> str:
    toml = tmp_path / "battletest.toml"
    toml.write_text(
        f'[target]\nurl = "{url}"\nspec = "{url}/openapi.json"\n\n'
        f'[[identities]]\nname = "{name}"\ntoken = "{token}"\n'
    )
    return str(toml)


def test_doctor_warns_when_an_identity_gets_only_refusals(walled_url: str, tmp_path: Path) -> None:
    from tests.run.walled_app import TOKEN_READER

    checks = diagnose(_toml(walled_url, tmp_path, "reader", TOKEN_READER), tools=())
    reader = next(c for c in checks if c.name == "identity reader")
    assert reader.mark is Mark.WARN
    assert "got only refusals" in reader.detail and "→ 403" in reader.detail
    text = render(checks)
    assert "ready to run" not in text.replace("not ready to run", "")
    assert "1 warning: not ready to run" in text


def test_doctor_is_ready_when_the_identity_is_granted(walled_url: str, tmp_path: Path) -> None:
    from tests.run.walled_app import TOKEN_OWNER

    checks = diagnose(_toml(walled_url, tmp_path, "owner", TOKEN_OWNER), tools=())
    assert not [c.line() for c in checks if c.failed or c.warning]
    assert render(checks).endswith("ready to run.")
