"""Impact selection on a small git repository: record per-test coverage, change, select."""

from __future__ import annotations

import json
from pathlib import Path

import coverage  # noqa: F401  (imported once here: in-process pytester runs drop modules they
import pytest  # import, and coverage's C tracer cannot be imported a second time)
from click.testing import CliRunner

from battletest.cli import cli
from battletest.errors import UsageError
from battletest.quality.impact import IMPORTS, MODULE, SourceMap, select
from battletest.quality.settings import ImpactSettings, load_settings
from battletest.quality.store import HistoryStore, sqlite_url

from .conftest import commit_all, git, init_repo

QUIET = ("-p", "no:faker", "-p", "no:hypothesispytest")

CORE = """import os

LIMIT = 3


def helper(x):
    return x * 2


def used_by_a(x):
    # only test_a reaches helper, through this function
    return helper(x) + 1


def used_by_b(x):
    return x - 1
"""

PYPROJECT = """
[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]

[tool.battletest.impact]
file_map = { "app/templates/*" = ["tests/test_page.py::*"] }
always_run = ["tests/test_smoke.py::*"]
"""


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Path:
    root = pytester.path
    init_repo(root)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "app" / "templates").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "core.py").write_text(CORE)
    (root / "app" / "templates" / "page.html").write_text("<p>hello</p>\n")
    (root / "README.md").write_text("# demo\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text(
        "from app.core import used_by_a\n\ndef test_a():\n    assert used_by_a(1) == 3\n"
    )
    (root / "tests" / "test_b.py").write_text(
        "from app.core import used_by_b\n\ndef test_b():\n    assert used_by_b(1) == 0\n"
    )
    (root / "tests" / "test_page.py").write_text(
        "from pathlib import Path\n\n"
        "def test_page():\n"
        "    assert 'hello' in Path('app/templates/page.html').read_text()\n"
    )
    (root / "tests" / "test_smoke.py").write_text("def test_smoke():\n    pass\n")
    commit_all(root, "base")
    result = pytester.runpytest("--bt-impact-record", *QUIET)
    result.assert_outcomes(passed=4)
    return root


def _store(root: Path) -> HistoryStore:
    return HistoryStore(sqlite_url(root / ".battletest" / "history.db"))


def _select(root: Path, **kw: object) -> set[str] | None:
    store = _store(root)
    try:
        sel = select(store, root, settings=load_settings(root).impact, **kw)  # type: ignore[arg-type]
    finally:
        store.close()
    return None if sel.full_run else set(sel.tests) | set(sel.patterns)


@pytest.mark.slow
def test_impact_selection_on_a_git_repository(repo: Path, pytester: pytest.Pytester) -> None:
    always = {"tests/test_smoke.py::*", "tests/test_smoke.py::test_smoke"}
    # Nothing changed: only the always-run list.
    assert _select(repo, since="HEAD") == always

    # A function covered only indirectly (test_a → used_by_a → helper), uncommitted.
    core = repo / "app" / "core.py"
    core.write_text(CORE.replace("return x * 2", "return x + x"))
    assert _select(repo, since="HEAD") == {"tests/test_a.py::test_a"} | always

    # Comments and blank lines change no behaviour.
    core.write_text(CORE.replace("# only test_a", "# still only test_a"))
    assert _select(repo, since="HEAD") == always

    # An import at module level: every test that ran code of the module.
    core.write_text(CORE.replace("import os", "import sys"))
    assert (
        _select(repo, since="HEAD")
        == {"tests/test_a.py::test_a", "tests/test_b.py::test_b"} | always
    )

    # Other module-level code (a constant other modules may read): a full run.
    core.write_text(CORE.replace("LIMIT = 3", "LIMIT = 4"))
    assert _select(repo, since="HEAD") is None
    core.write_text(CORE)

    # A non-Python file mapped by a glob, a documentation file, an unmapped data file.
    page = repo / "app" / "templates" / "page.html"
    page.write_text("<p>hello, world</p>\n")
    assert (
        _select(repo, since="HEAD")
        == {"tests/test_page.py::*", "tests/test_page.py::test_page"} | always
    )
    page.write_text("<p>hello</p>\n")
    (repo / "README.md").write_text("# demo, documented\n")
    assert _select(repo, since="HEAD") == always
    (repo / "data.csv").write_text("a,b\n")
    assert _select(repo, since="HEAD") is None
    (repo / "data.csv").unlink()
    git(repo, "checkout", "-q", "README.md")

    # A new (untracked) test file always runs.
    (repo / "tests" / "test_new.py").write_text("def test_new():\n    pass\n")
    assert _select(repo, since="HEAD") == {"tests/test_new.py::*"} | always

    # pytest --bt-impact runs exactly the selection.
    core.write_text(CORE.replace("return x - 1", "return x - 1 + 0"))
    result = pytester.runpytest("--bt-impact", "HEAD", "-v", *QUIET)
    result.assert_outcomes(passed=3, deselected=2)
    result.stdout.fnmatch_lines(["*test_b.py::test_b PASSED*", "*battletest impact: 3 of 5*"])

    # Explicit changed files (what a CI system hands over).
    core.write_text(CORE)
    (repo / "tests" / "test_new.py").unlink()
    sel = _select(repo, changed=["app/templates/page.html"])
    assert sel == {"tests/test_page.py::*", "tests/test_page.py::test_page"} | always

    # Once the change is committed the map no longer matches the base: a full run.
    core.write_text(CORE.replace("return x * 2", "return x + x"))
    commit_all(repo, "change")
    assert _select(repo, since="HEAD") is None
    assert _select(repo, since="HEAD~1") == {"tests/test_a.py::test_a"} | always


@pytest.mark.slow
def test_impact_command_prints_the_selection(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "app" / "core.py").write_text(CORE.replace("return x - 1", "return x - 2"))
    result = CliRunner().invoke(cli, ["impact", "--since", "HEAD", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["full_run"] is False
    assert set(data["tests"]) == {"tests/test_b.py::test_b", "tests/test_smoke.py::test_smoke"}
    text = CliRunner().invoke(cli, ["impact", "--changed-files", "data.csv"]).stdout
    assert text.startswith("full run: data.csv changed")


def test_without_a_map_it_is_a_full_run(tmp_path: Path) -> None:
    init_repo(tmp_path)
    (tmp_path / "a.py").write_text("x = 1\n")
    commit_all(tmp_path)
    store = HistoryStore(sqlite_url(tmp_path / "h.db"))
    sel = select(store, tmp_path, since="HEAD")
    store.close()
    assert sel.full_run and "no impact map" in sel.reason
    assert sel.keeps("anything::at_all")


def test_a_bad_ref_is_a_usage_error(tmp_path: Path) -> None:
    init_repo(tmp_path)
    (tmp_path / "a.py").write_text("x = 1\n")
    commit_all(tmp_path)
    store = HistoryStore(sqlite_url(tmp_path / "h.db"))
    with pytest.raises(UsageError, match="no-such-ref"):
        select(store, tmp_path, since="no-such-ref")
    store.close()


def test_impact_command_needs_a_change(tmp_path: Path) -> None:
    from battletest.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["impact"])
    assert exc.value.code == 2


def test_source_map_finds_the_innermost_function() -> None:
    src = (
        "import os\n"
        "X = 1\n"
        "\n"
        "class C:\n"
        "    @staticmethod\n"
        "    def m():\n"
        "        def inner():\n"
        "            return 1\n"
        "        return inner()\n"
        "# comment\n"
    )
    smap = SourceMap.parse(src)
    assert smap is not None
    assert [smap.unit(n) for n in range(1, 11)] == [
        IMPORTS,
        MODULE,
        None,
        MODULE,
        "C.m",
        "C.m",
        "C.m.inner",
        "C.m.inner",
        "C.m",
        None,
    ]
    assert SourceMap.parse("def broken(:\n") is None


def test_impact_settings_reject_unknown_keys(tmp_path: Path) -> None:
    from battletest.errors import ConfigError

    (tmp_path / "battletest.toml").write_text("[impact]\nrecrod = true\n")
    with pytest.raises(ConfigError, match=r"impact\.recrod"):
        load_settings(tmp_path)
    assert ImpactSettings().record is False


@pytest.mark.slow
def test_config_switches_impact_recording_on_and_history_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_repo(pytester.path)
    db = pytester.path / "explicit.db"
    monkeypatch.setenv("BATTLETEST_HISTORY_URL", sqlite_url(db))
    pytester.makepyprojecttoml(
        "[tool.battletest.impact]\nrecord = true\n[tool.battletest.history]\nrecord = false\n"
    )
    pytester.makepyfile(
        test_one="def helper():\n    return 1\n\ndef test_one():\n    assert helper() == 1\n"
    )
    commit_all(pytester.path)
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)
    store = HistoryStore(sqlite_url(db))
    found = store.latest_impact_map(git(pytester.path, "rev-parse", "HEAD"))
    assert found is not None
    assert set(store.impact_entries_for(found[0])) == {
        ("test_one.py::test_one", "test_one.py", "test_one"),
        ("test_one.py::test_one", "test_one.py", "helper"),
    }
    assert store.counts()["bt_runs"] == 0  # [history] record = false
    store.close()


def test_ignored_python_files_select_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    init_repo(repo)
    (repo / "bench" / "b.py").write_text("X = 1\n")
    head = commit_all(repo)
    store = HistoryStore(sqlite_url(tmp_path / "h.db"))
    store.save_impact_map(head, False, {("tests/test_a.py::test_a", "a.py", "f")})
    (repo / "bench" / "b.py").write_text("X = 2\n")
    full = select(store, repo, since="HEAD")
    quiet = select(store, repo, since="HEAD", settings=ImpactSettings(ignore=["bench/*"]))
    store.close()
    assert full.full_run and "module-level code changed in bench/b.py" in full.reason
    assert not quiet.full_run and quiet.tests == {}
    assert not quiet.keeps("tests/test_a.py::test_a") and quiet.keeps("tests/test_new.py::t")
