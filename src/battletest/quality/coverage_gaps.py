"""Coverage gaps: functions and branches no test covers, ranked by complexity and churn.

Reads a coverage.py data file (``.coverage``, from ``pytest --cov`` / ``coverage run -m pytest``
over the user's own suite). A function is a gap when some of its statements never ran (all of
them: *uncovered*; some: *partial*) or, with branch coverage, some of its branches were never
taken. Each gap is ranked by ``score = complexity x (1 + ln(1 + churn)) x missing share``, where
complexity is the function's cyclomatic complexity and churn the lines added and deleted in its
file over the last ``churn_days`` (git) — untested, complicated code that keeps changing first.

Coverage.py only sees the files a test imported, so the least-tested code — a module no test
imports at all — would never show up. ``find_gaps`` and ``coverage_summary`` therefore take
``sources`` (coverage's ``source`` set: by default the project's packages, ``project_sources``)
and count every Python file under them that the data does not know as wholly uncovered.

``coverage_summary`` gives the line and branch percentages the coverage gates read
(``metrics["coverage"]`` of the pytest suite); ``gaps_for_report`` the rows for report.json
(``metrics["coverage_gaps"]``).
"""

from __future__ import annotations

import ast
import math
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from battletest.errors import UsageError

DECISIONS = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.IfExp,
    ast.ExceptHandler,
    ast.With,
    ast.AsyncWith,
    ast.Assert,
    ast.comprehension,
    ast.match_case,
)


@dataclass(frozen=True, slots=True)
class CoverageGap:
    file: str
    function: str
    first_line: int
    last_line: int
    kind: str  # "uncovered" | "partial"
    statements: int
    missing_lines: int
    missing_branches: int
    complexity: int
    churn: int
    score: float


def complexity(node: ast.AST) -> int:
    """Cyclomatic complexity: 1 + decision points (nested functions excluded)."""
    total = 1
    for child in ast.walk(node):
        if child is not node and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(child, DECISIONS):
            total += 1
        elif isinstance(child, ast.BoolOp):
            total += len(child.values) - 1
        if isinstance(child, ast.comprehension):
            total += len(child.ifs)
    return total


def _functions(tree: ast.AST) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((f"{prefix}{child.name}", child))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def churn_by_file(repo: Path, days: int) -> dict[str, int]:
    """Lines added + deleted per file (repository-relative) over the last ``days``."""
    try:
        proc = subprocess.run(
            ["git", "log", f"--since={days}.days", "--numstat", "--format=", "--no-renames"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError:
        return {}
    churn: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            churn[parts[2]] = churn.get(parts[2], 0) + int(parts[0]) + int(parts[1])
    return churn


def _load(data_file: Path) -> Any:
    import coverage

    if not data_file.is_file():
        raise UsageError(
            f"no coverage data at {data_file}",
            hint="run the tests under coverage first: coverage run -m pytest (or pytest --cov)",
        )
    cov = coverage.Coverage(data_file=str(data_file), config_file=False)
    try:
        cov.load()
    except coverage.CoverageException as exc:
        raise UsageError(
            f"{data_file} is not coverage.py data: {exc}", hint="pass a .coverage file"
        ) from exc
    return cov


def project_sources(root: Path) -> list[str]:
    """The project's packages, as coverage's ``source``: ``ROOT/src``, else the package folders
    (with an ``__init__.py``) at ``root`` other than tests."""
    if (root / "src").is_dir():
        return [str(root / "src")]
    return [
        str(d)
        for d in sorted(root.iterdir())
        if d.is_dir() and (d / "__init__.py").is_file() and not d.name.startswith(("test", "."))
    ]


def unimported_files(data_file: Path, sources: list[str]) -> list[str]:
    """Python files under ``sources`` that the coverage data does not know: no test imported
    them (absolute paths, sorted)."""
    data = _load(data_file).get_data()
    known = {str(Path(f).resolve()) for f in data.measured_files()}
    found: set[str] = set()
    for source in sources:
        base = Path(source)
        files = [base] if base.is_file() else base.rglob("*.py") if base.is_dir() else []
        for path in files:
            if path.suffix == ".py" and not any(p.startswith(".") for p in path.parts[-3:]):
                full = str(path.resolve())
                if full not in known:
                    found.add(full)
    return sorted(found)


def _files(cov: Any, data_file: Path, sources: list[str] | None) -> list[str]:
    measured = sorted(cov.get_data().measured_files())
    return measured + (unimported_files(data_file, sources) if sources else [])


def find_gaps(
    data_file: Path,
    root: Path,
    *,
    churn_days: int = 90,
    limit: int | None = 50,
    sources: list[str] | None = None,
) -> list[CoverageGap]:
    """The functions with statements or branches no test covered, best first; with
    ``sources``, the files under them no test imported are gaps too (every function
    uncovered)."""
    cov = _load(data_file)
    data = cov.get_data()
    root = root.resolve()
    churn = churn_by_file(root, churn_days)
    gaps: list[CoverageGap] = []
    for filename in _files(cov, data_file, sources):
        path = Path(filename)
        try:
            rel = path.resolve().relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            _, statements, _, missing, _ = cov.analysis2(filename)
        except (ValueError, OSError, SyntaxError):
            continue
        except Exception as exc:  # coverage.NoSource and friends: the file is gone
            if type(exc).__module__.startswith("coverage"):
                continue
            raise
        missing_set = set(missing)
        branch_lines = _missing_branch_lines(cov, filename) if data.has_arcs() else {}
        for name, fn in _functions(tree):
            body_first = fn.body[0].lineno
            last = fn.end_lineno or fn.lineno
            stmts = [s for s in statements if body_first <= s <= last]
            if not stmts:
                continue
            miss = sum(1 for s in stmts if s in missing_set)
            miss_br = sum(n for line, n in branch_lines.items() if body_first <= line <= last)
            if not miss and not miss_br:
                continue
            cc = complexity(fn)
            ch = churn.get(rel, 0)
            share = max(miss / len(stmts), 0.5 if miss_br else 0.0)
            gaps.append(
                CoverageGap(
                    file=rel,
                    function=name,
                    first_line=fn.lineno,
                    last_line=last,
                    kind="uncovered" if miss == len(stmts) else "partial",
                    statements=len(stmts),
                    missing_lines=miss,
                    missing_branches=miss_br,
                    complexity=cc,
                    churn=ch,
                    score=round(cc * (1 + math.log1p(ch)) * share, 3),
                )
            )
    gaps.sort(key=lambda g: (-g.score, g.file, g.first_line))
    return gaps[:limit] if limit is not None else gaps


def _missing_branch_lines(cov: Any, filename: str) -> dict[int, int]:
    """Line → number of branch destinations from it never taken."""
    try:
        analysis = cov._analyze(filename)
        missing = analysis.missing_branch_arcs()
    except Exception:  # a private API: without it, statements alone decide
        return {}
    return {int(line): len(dests) for line, dests in missing.items()}


def coverage_summary(data_file: Path, sources: list[str] | None = None) -> dict[str, float | None]:
    """Line and branch coverage percent over the measured files and, with ``sources``, the
    files under them no test imported (branch None without arcs)."""
    cov = _load(data_file)
    data = cov.get_data()
    statements = missing = 0
    branches = missing_branches = 0
    for filename in _files(cov, data_file, sources):
        try:
            _, stmts, _, miss, _ = cov.analysis2(filename)
        except Exception as exc:
            if type(exc).__module__.startswith("coverage"):
                continue
            raise
        statements += len(stmts)
        missing += len(miss)
        if data.has_arcs():
            try:
                analysis = cov._analyze(filename)
                nums = analysis.numbers
                branches += nums.n_branches
                missing_branches += nums.n_missing_branches
            except Exception:
                continue
    line = 100.0 * (statements - missing) / statements if statements else None
    branch = 100.0 * (branches - missing_branches) / branches if branches else None
    return {
        "line": round(line, 2) if line is not None else None,
        "branch": round(branch, 2) if branch is not None else None,
    }


def gaps_for_report(gaps: list[CoverageGap]) -> list[dict[str, Any]]:
    """Plain rows for report.json (``metrics["coverage_gaps"]`` of the pytest suite)."""
    return [asdict(g) for g in gaps]


__all__ = [
    "CoverageGap",
    "churn_by_file",
    "complexity",
    "coverage_summary",
    "find_gaps",
    "gaps_for_report",
    "project_sources",
    "unimported_files",
]
