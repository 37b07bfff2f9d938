"""Test impact selection: which tests a change needs, from per-test coverage.

Recording (``pytest --bt-impact-record``): coverage.py runs with one dynamic context per test
(setup, call and teardown, so fixtures count); each executed line is mapped to the innermost
function around it, and the map (test, file, function) is stored with the commit it was recorded
at. Selection (``battletest impact --since REF``, ``pytest --bt-impact REF``) diffs the working
tree against the merge base of REF and HEAD (uncommitted and untracked files are part of the
change), maps each changed line to its function in the old and the new version, and keeps every
test that executed a changed function. Safety comes first — the selection falls back to a full
run when:

- no map was recorded at the base commit (or it was recorded with uncommitted edits);
- module-level code changed outside imports in a non-test module or in a conftest.py (its effect
  on other modules cannot be traced by coverage);
- a non-Python file changed that no ``[impact] file_map`` glob maps and no ``ignore`` glob skips.

Tests the map does not know (new tests) always run.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from battletest.errors import UsageError
from battletest.quality.settings import ImpactSettings
from battletest.quality.store import HistoryStore

MODULE = "<module>"  # a line outside every function
IMPORTS = "<imports>"  # a module-level import statement

# -- git ----------------------------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    """Run git in ``root``; a failure becomes a UsageError naming the command."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError as exc:
        raise UsageError(
            "git is not installed", hint="install git or pass --changed-files"
        ) from exc
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        raise UsageError(f"git {' '.join(args)}: {msg}", hint="check the ref and the repository")
    return proc.stdout


def _git_value(cwd: Path, *args: str) -> str | None:
    """git's stripped output, or None when git is missing, fails or prints nothing."""
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError:
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def git_root(path: Path) -> Path | None:
    top = _git_value(path, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def head_commit(root: Path) -> str | None:
    return _git_value(root, "rev-parse", "--verify", "-q", "HEAD")


def branch_name(root: Path) -> str | None:
    return _git_value(root, "rev-parse", "--abbrev-ref", "HEAD")


def is_dirty(root: Path) -> bool:
    """Tracked files differ from HEAD (untracked files do not count)."""
    proc = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--"], cwd=root, capture_output=True, check=False
    )
    return proc.returncode != 0


# battletest's own files and Python's byte-code: they change on every run without the code
# changing, so the same-code digest leaves them out (git's ignore rules are honoured as well).
OWN_PATHS = (".battletest", "battletest-reports")
_EXCLUDE = (":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.py[co]")
HASH_LIMIT = 8 << 20  # untracked files above this are keyed by size and mtime, not content


def _pathspec(repo: Path, exclude: Iterable[Path | str]) -> list[str]:
    """``git`` pathspecs for "everything but battletest's own files" in ``repo``."""
    specs = [".", *_EXCLUDE, *(f":(exclude){p}" for p in OWN_PATHS)]
    top = repo.resolve()
    for path in exclude:
        try:
            rel = Path(path).resolve().relative_to(top)
        except ValueError:
            continue  # outside the repository: git never sees it
        if rel.parts:
            specs.append(f":(exclude){rel.as_posix()}")
    return specs


def tree_state(repo: Path, exclude: Iterable[Path | str] = ()) -> str | None:
    """HEAD, plus a digest of uncommitted edits when there are any.

    Flakiness compares outcomes "on the same code"; two runs on one commit with different
    uncommitted edits are not the same code, so they get different keys. Left out, as they
    are no edit to the code: what git ignores, battletest's own files (``OWN_PATHS``, and
    ``exclude`` — the configured history database and run folders), ``__pycache__``.
    Untracked files count by content, so rewriting one unchanged does not change the key.
    """
    head = head_commit(repo)
    if head is None:
        return None
    spec = _pathspec(repo, exclude)
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--", *spec],
        cwd=repo,
        capture_output=True,
        check=False,
        timeout=60,
    ).stdout
    others = subprocess.run(
        ["git", "ls-files", "-z", "--others", "--exclude-standard", "--", *spec],
        cwd=repo,
        capture_output=True,
        check=False,
        timeout=60,
    ).stdout
    if not diff and not others:
        return head
    digest = hashlib.sha1(diff, usedforsecurity=False)
    for name in sorted(others.split(b"\0")):
        if not name:
            continue
        path = repo / os.fsdecode(name)
        try:
            st = path.stat()
            if st.st_size > HASH_LIMIT:
                digest.update(b"%s\0%d\0%d\0" % (name, st.st_size, st.st_mtime_ns))
            else:
                digest.update(
                    b"%s\0%s\0"
                    % (name, hashlib.sha1(path.read_bytes(), usedforsecurity=False).digest())
                )
        except OSError:
            continue
    return f"{head}+{digest.hexdigest()[:12]}"


@dataclass(frozen=True, slots=True)
class Change:
    status: str  # A added, M modified, D deleted
    path: str  # relative to the repository root, POSIX separators


def changed_files(root: Path, base: str) -> list[Change]:
    """Files that differ between ``base`` and the working tree, untracked files included."""
    out: list[Change] = []
    for line in git(root, "diff", "--name-status", "--no-renames", base, "--").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out.append(Change(parts[0][0], parts[-1]))
    for path in git(root, "ls-files", "--others", "--exclude-standard").splitlines():
        if path:
            out.append(Change("A", path))
    return out


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def diff_hunks(root: Path, base: str, path: str) -> list[tuple[int, int, int, int]]:
    """(old start, old count, new start, new count) of each hunk, zero lines of context."""
    hunks = []
    for line in git(root, "diff", "-U0", "--no-renames", base, "--", path).splitlines():
        m = _HUNK.match(line)
        if m:
            os_, oc, ns, nc = m.groups()
            hunks.append(
                (int(os_), 1 if oc is None else int(oc), int(ns), 1 if nc is None else int(nc))
            )
    return hunks


# -- source → functions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Which function (qualified name) or module-level statement each line belongs to."""

    functions: tuple[tuple[int, int, str], ...]  # (first line incl. decorators, last, qualname)
    imports: frozenset[int]
    lines: tuple[str, ...]

    @classmethod
    def parse(cls, source: str) -> SourceMap | None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return None
        funcs: list[tuple[int, int, str]] = []
        imports: set[int] = set()

        def walk(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    name = f"{prefix}{child.name}"
                    funcs.append((first, child.end_lineno or child.lineno, name))
                    walk(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    walk(child, f"{prefix}{child.name}.")
                elif isinstance(child, ast.Import | ast.ImportFrom) and not prefix:
                    imports.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
                else:
                    walk(child, prefix)

        walk(tree, "")
        # Innermost first: sort by span so the narrowest enclosing function wins.
        funcs.sort(key=lambda f: f[1] - f[0])
        return cls(tuple(funcs), frozenset(imports), tuple(source.splitlines()))

    def unit(self, line: int) -> str | None:
        """The function around ``line``, IMPORTS, MODULE, or None for blank/comment lines."""
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        if not text or text.startswith("#"):
            return None
        for first, last, name in self.functions:
            if first <= line <= last:
                return name
        return IMPORTS if line in self.imports else MODULE


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# -- recording ----------------------------------------------------------------------------------


class ImpactRecorder:
    """Per-test coverage with coverage.py dynamic contexts, turned into (test, file, function)."""

    def __init__(self, root: Path) -> None:
        import coverage

        self.root = root.resolve()
        self.repo = git_root(self.root) or self.root
        self._cov = coverage.Coverage(
            data_file=None,
            branch=False,
            config_file=False,
            source=[str(self.root)],
            omit=["*/site-packages/*", "*/.venv*/*", "*/.tox/*"],
        )
        self._started = False

    def start(self) -> None:
        self._cov.start()
        self._started = True

    def switch(self, test_id: str) -> None:
        if self._started:
            self._cov.switch_context(test_id)

    def stop(self) -> set[tuple[str, str, str]]:
        """Stop measuring; return the (test id, file, function) rows measured."""
        if not self._started:
            return set()
        self._started = False
        self._cov.stop()
        data = self._cov.get_data()
        rows: set[tuple[str, str, str]] = set()
        for filename in data.measured_files():
            try:
                rel = Path(filename).resolve().relative_to(self.repo).as_posix()
            except ValueError:
                continue
            by_line = data.contexts_by_lineno(filename)
            if not any(ctx for ctxs in by_line.values() for ctx in ctxs):
                continue
            try:
                smap = SourceMap.parse(Path(filename).read_text(encoding="utf-8"))
            except OSError:
                continue
            for line, contexts in by_line.items():
                unit = (smap.unit(line) if smap else MODULE) or MODULE
                for ctx in contexts:
                    if ctx:
                        rows.add((ctx, rel, unit))
        self._cov.erase()
        return rows


# -- selection ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Selection:
    """The outcome of impact selection: a full run (and why) or the tests to run (and why)."""

    full_run: bool
    reason: str
    base: str | None = None
    changed: list[str] = field(default_factory=list)
    tests: dict[str, str] = field(default_factory=dict)  # test id → why it was selected
    patterns: dict[str, str] = field(default_factory=dict)  # test id glob → why
    known: frozenset[str] = frozenset()

    def keeps(self, test_id: str) -> bool:
        """Whether pytest should run ``test_id``."""
        if self.full_run or test_id in self.tests or test_id not in self.known:
            return True
        return any(fnmatch.fnmatchcase(test_id, p) for p in self.patterns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "full_run": self.full_run,
            "reason": self.reason,
            "base": self.base,
            "changed": self.changed,
            "tests": dict(sorted(self.tests.items())),
            "patterns": self.patterns,
            "known_tests": len(self.known),
        }


def _matches(path: str, globs: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, g) for g in globs)


def select(
    store: HistoryStore,
    root: Path,
    *,
    since: str | None = None,
    changed: list[str] | None = None,
    settings: ImpactSettings | None = None,
) -> Selection:
    """The tests a change needs. ``since``: a git ref; ``changed``: explicit paths."""
    settings = settings or ImpactSettings()
    if since is None and changed is None:
        raise UsageError("impact needs a change", hint="pass --since REF or --changed-files a,b")
    repo = git_root(root)
    base: str | None = None
    if since is not None:
        if repo is None:
            raise UsageError(
                f"{root} is not in a git repository", hint="pass --changed-files instead"
            )
        base = git(repo, "merge-base", since, "HEAD").strip()
        found = store.latest_impact_map(base)
    else:
        found = store.latest_impact_map()
        if found is not None:
            base = found[1]
    if found is None:
        where = f" at base {base[:12]}" if base else ""
        return Selection(True, f"no impact map recorded{where}; run pytest --bt-impact-record")
    map_id, map_commit, dirty = found
    if dirty:
        return Selection(
            True, f"the impact map at {map_commit[:12]} was recorded with uncommitted edits", base
        )
    if changed is not None:
        changes = []
        for p in changed:
            if p.strip():
                rel = _repo_relative(repo or root, root, p.strip())
                changes.append(Change("M" if ((repo or root) / rel).exists() else "D", rel))
    else:
        assert repo is not None and base is not None
        changes = changed_files(repo, base)
    # Only the rows of the changed Python files are read, and the set of tests the map knows.
    by_unit: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_file: dict[str, set[str]] = defaultdict(set)
    py_files = [c.path for c in changes if c.path.endswith(".py")]
    for test_id, file, function in store.impact_entries_for(map_id, files=py_files):
        by_unit[(file, function)].add(test_id)
        by_file[file].add(test_id)
    known = store.impact_tests(map_id)
    sel = Selection(False, "", base, [c.path for c in changes], known=frozenset(known))
    prefix = _rootdir_prefix(repo or root, root)

    def pick(tests: Iterable[str], why: str) -> None:
        for t in tests:
            sel.tests.setdefault(t, why)

    for ch in changes:
        path = ch.path
        if _matches(path, settings.ignore):
            continue
        if not path.endswith(".py"):
            mapped = [pats for g, pats in settings.file_map.items() if fnmatch.fnmatchcase(path, g)]
            if not mapped:
                return _full(sel, f"{path} changed and no [impact] file_map glob maps it")
            for pats in mapped:
                for pat in pats:
                    if pat == "*":
                        return _full(sel, f"{path} changed and its file_map entry is '*'")
                    sel.patterns.setdefault(pat, f"{path} changed ([impact] file_map)")
            continue
        test_file = is_test_file(path)
        conftest = PurePosixPath(path).name == "conftest.py"
        if ch.status == "A":
            if test_file:
                sel.patterns.setdefault(f"{_strip(path, prefix)}::*", f"new test file {path}")
            continue
        units: set[str] | None
        if ch.status == "D":
            units = None
        elif repo is None or base is None:
            units = {MODULE}
        else:
            units = changed_units(repo, base, path)
            if not units and changed is not None:
                units = None  # named as changed but equal to the base: every test that ran it
        if changed is not None and test_file:
            sel.patterns.setdefault(f"{_strip(path, prefix)}::*", f"{path} changed")
        if units is None:  # deleted (or no line detail): every test that ran it
            pick(by_file.get(path, ()), f"{path} changed")
            continue
        if MODULE in units:
            if conftest or not test_file:
                return _full(sel, f"module-level code changed in {path}")
            pick(by_file.get(path, ()), f"module-level code changed in {path}")
            sel.patterns.setdefault(f"{_strip(path, prefix)}::*", f"{path} changed")
        if IMPORTS in units:
            pick(by_file.get(path, ()), f"imports changed in {path}")
        for unit in units - {MODULE, IMPORTS}:
            pick(by_unit.get((path, unit), ()), f"{path}::{unit} changed")
    for pat in settings.always_run:
        sel.patterns.setdefault(pat, "[impact] always_run")
    for t in known:
        if t not in sel.tests and any(fnmatch.fnmatchcase(t, p) for p in sel.patterns):
            sel.tests[t] = sel.patterns[next(p for p in sel.patterns if fnmatch.fnmatchcase(t, p))]
    sel.reason = f"{len(sel.tests)} of {len(known)} recorded tests affected by {len(changes)} changed file(s)"
    return sel


def _full(sel: Selection, reason: str) -> Selection:
    sel.full_run = True
    sel.reason = reason
    sel.tests.clear()
    sel.patterns.clear()
    return sel


def _repo_relative(repo: Path, root: Path, path: str) -> str:
    p = Path(path)
    absolute = p if p.is_absolute() else (root / p)
    try:
        return absolute.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return PurePosixPath(path).as_posix()


def _rootdir_prefix(repo: Path, root: Path) -> str:
    try:
        rel = root.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel + "/"


def _strip(path: str, prefix: str) -> str:
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def changed_units(repo: Path, base: str, path: str) -> set[str]:
    """Functions (and MODULE / IMPORTS) touched by the diff of ``path`` since ``base``."""
    hunks = diff_hunks(repo, base, path)
    if not hunks:
        return set()
    try:
        old_src = git(repo, "show", f"{base}:{path}")
    except UsageError:
        old_src = ""
    new_file = repo / path
    new_src = new_file.read_text(encoding="utf-8") if new_file.is_file() else ""
    old_map, new_map = SourceMap.parse(old_src), SourceMap.parse(new_src)
    if old_map is None or new_map is None:
        return {MODULE}
    units: set[str] = set()
    for os_, oc, ns, nc in hunks:
        for line in range(os_, os_ + oc):
            u = old_map.unit(line)
            if u:
                units.add(u)
        for line in range(ns, ns + nc):
            u = new_map.unit(line)
            if u:
                units.add(u)
    return units


def record_map(
    store: HistoryStore, root: Path, rows: set[tuple[str, str, str]], map_id: str
) -> str:
    """Store recorded rows as the impact map of the current commit."""
    repo = git_root(root) or root
    commit = head_commit(repo) or "no-git"
    return store.save_impact_map(
        commit, is_dirty(repo) if commit != "no-git" else True, rows, map_id=map_id
    )


__all__ = [
    "IMPORTS",
    "MODULE",
    "Change",
    "ImpactRecorder",
    "Selection",
    "SourceMap",
    "changed_files",
    "changed_units",
    "diff_hunks",
    "git",
    "head_commit",
    "is_test_file",
    "record_map",
    "select",
    "tree_state",
]
