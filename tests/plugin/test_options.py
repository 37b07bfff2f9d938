"""The plugin seen from outside (pytester): markers, options, usage errors, LIVE_SMOKE, cost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from battletest import pytest_plugin

SMOKE_SUITE = """
import pytest

@pytest.mark.smoke
def test_health():
    pass

@pytest.mark.smoke
@pytest.mark.load
def test_smoke_but_load():
    pass

@pytest.mark.auth
def test_login():
    pass

def test_unmarked():
    pass
"""


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "\n".join(
            f"import pytest\n@pytest.mark.{name}\ndef test_{name}():\n    pass\n"
            for name in pytest_plugin.MARKERS
        )
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=len(pytest_plugin.MARKERS))
    listed = pytester.runpytest("--markers").stdout.str()
    for name in pytest_plugin.MARKERS:
        assert f"@pytest.mark.{name}:" in listed


def test_options_are_in_help(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--help").stdout.str()
    for option in ("--bt-target", "--bt-app", "--bt-profile", "--bt-mode", "--bt-config"):
        assert option in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bt-target", "localhost:8000"], "is not a URL: give http://HOST:PORT"),
        (["--bt-app", "mypkg"], "is not 'module:attribute', e.g. mypkg.main:app"),
        (["--bt-mode", "chaos"], "is not a mode: use MOCK, GOLDEN, LIVE_SMOKE, LIVE"),
        (
            ["--bt-target", "http://127.0.0.1:9", "--bt-app", "m:app"],
            "give --bt-target or --bt-app, not both",
        ),
        (["--bt-config", "missing.toml"], "--bt-config missing.toml not found"),
    ],
)
def test_bad_options_are_one_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_live_smoke_runs_only_non_destructive_smoke_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SMOKE_SUITE)
    result = pytester.runpytest("--bt-mode", "live_smoke", "-v")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["*test_health PASSED*"])
    assert "battletest: mode=LIVE_SMOKE" in result.stdout.str()


def test_other_modes_and_no_mode_deselect_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SMOKE_SUITE)
    pytester.runpytest().assert_outcomes(passed=4)
    pytester.runpytest("--bt-mode", "GOLDEN").assert_outcomes(passed=4)


def test_live_smoke_combines_with_marker_expressions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SMOKE_SUITE)
    result = pytester.runpytest("--bt-mode", "LIVE_SMOKE", "-m", "smoke or auth")
    result.assert_outcomes(passed=1, deselected=3)


def test_a_plain_run_prints_no_battletest_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert "battletest:" not in result.stdout.str()


def test_importing_the_plugin_is_cheap() -> None:
    code = textwrap.dedent(
        """
        import sys
        import battletest.pytest_plugin
        heavy = {"httpx", "pydantic", "jinja2", "fastapi", "uvicorn", "battletest.config",
                 "battletest.results", "battletest.target"}
        print(sorted(heavy & set(sys.modules)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_run_without_bt_fixtures_loads_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy_loaded():
            heavy = {"httpx", "battletest.config", "battletest.target", "battletest.auth"}
            assert sorted(heavy & set(sys.modules)) == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


PROFILES = """
[profiles.prod]
mode = "LIVE_SMOKE"

[profiles.dev]
mode = "MOCK"
"""


def test_a_profile_that_sets_live_smoke_selects_smoke_tests(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", battletest=PROFILES)
    pytester.makepyfile(SMOKE_SUITE)
    pytester.runpytest("--bt-profile", "prod").assert_outcomes(passed=1, deselected=3)
    pytester.runpytest("--bt-profile", "dev").assert_outcomes(passed=4)
    # the flag wins over the profile
    pytester.runpytest("--bt-profile", "prod", "--bt-mode", "MOCK").assert_outcomes(passed=4)


def test_mode_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SMOKE_SUITE)
    monkeypatch.setenv("BATTLETEST_MODE", "LIVE_SMOKE")
    pytester.runpytest().assert_outcomes(passed=1, deselected=3)
