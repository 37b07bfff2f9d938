"""The vendored corpus (``data/NOTICE.md``) and one run of every suite over one of its documents.

``run_document`` is what ``bench/bench_corpus.py`` does for each document and what
``test_corpus_run.py`` does for the two smallest: battletest's own mock server answers from the
document on loopback (the honest stand-in for a service we do not have), ``battletest init``
writes the config for the document, and ``battletest run`` (a child process, as a user runs it)
puts every suite that applies through it with small, bounded budgets. The mock's journal says
which operations were reached and which got a 2xx.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from battletest.chaos.mock import MockServer
from battletest.errors import SpecError
from battletest.load.from_spec import scenario_from_spec
from battletest.scaffold import uncomment_identities
from battletest.spec import Spec, load_spec

DATA = Path(__file__).parent / "data"
# file → (version, operations, base path), written down from the documents
CORPUS: dict[str, tuple[str, int, str]] = {
    "swagger2-petstore.json": ("2.0", 20, "/v2"),
    "swagger2-schema-circular.json": ("2.0", 1, ""),
    "swagger2-jupyter-server.yaml": ("2.0", 32, ""),
    "swagger2-gitea.json": ("2.0", 159, "/api/v1"),
    "swagger2-kubernetes.json": ("2.0", 531, ""),
    "openapi30-clever-cloud.json": ("3.0.0", 324, "/v2"),
    "openapi30-discriminators.json": ("3.0.3", 10, "/anything"),
    "openapi30-polymorphism.json": ("3.0.3", 13, ""),
    "openapi30-circular.json": ("3.0.1", 1, ""),
    "openapi30-parameters-common.json": ("3.0.3", 5, ""),
    "openapi30-parameters-cookies.json": ("3.0.3", 1, ""),
    "openapi30-form-data.json": ("3.0.3", 1, ""),
    "openapi30-file-uploads.json": ("3.0.3", 3, ""),
    "openapi30-petstore-split/openapi.json": ("3.0.0", 20, "/v2"),
    "openapi31-petstore.json": ("3.1.0", 20, "/v2"),
    "openapi31-discourse.json": ("3.1.0", 84, ""),
}

# Every suite that applies to a document alone: pytest needs the user's own tests and
# resilience needs [[dependencies]] behind mocks, which no published document declares.
SUITES = ("contract", "auth", "errors", "load", "security")

# Appended to the config init wrote and chosen with --profile corpus. The mock is battletest's
# own stateless process on loopback, so nothing there can be harmed: allow_destructive lets
# every operation be exercised (the write policy's own tests live in tests/transport).
PROFILE = """
[profiles.corpus]
allow_destructive = true
target = {{ request_timeout_s = 5 }}
suites = {{ enabled = [{suites}], contract = {{ examples = {examples} }} }}
load = {{ from_spec = {doc}, vus = 2, duration = "{load}", thresholds = ["error_rate < 1%"] }}
security = {{ depth = "basic", timeout_s = 5 }}
"""


@dataclass(frozen=True, slots=True)
class SuiteFigures:
    """What one suite did: cases by outcome and its time (skipped: not run or not applicable)."""

    name: str
    status: str
    cases: int
    passed: int
    failed: int
    inconclusive: int
    skipped: int
    errors: int
    time_s: float


@dataclass
class DocumentRun:
    """One document put through ``battletest run`` against the mock answering from it."""

    name: str
    version: str
    operations: int
    exit_code: int = -1
    wall_s: float = 0.0
    suites: list[SuiteFigures] = field(default_factory=list)
    reached: int = 0  # operations the mock's journal saw a request for
    succeeded: int = 0  # … and answered with a 2xx
    requests: int = 0
    unmatched: int = 0  # requests no operation of the document matched (the mock's 404)
    crashes: list[str] = field(default_factory=list)  # tool errors: never acceptable
    failures: list[str] = field(default_factory=list)  # "suite: case — message"
    not_reached: list[str] = field(default_factory=list)
    no_success: list[str] = field(default_factory=list)  # reached, never answered 2xx
    not_applicable: dict[str, str] = field(default_factory=dict)  # suite → why

    def suite(self, name: str) -> SuiteFigures | None:
        return next((s for s in self.suites if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any]


def battletest(argv: list[str], workdir: Path, timeout_s: float = 60) -> Outcome:
    """``battletest ARGV`` as a child process in ``workdir`` (``run`` writes under
    ``workdir/reports``), without the caller's ``BATTLETEST_*`` overrides."""
    out = workdir / "reports"
    full = [*argv, "--out", str(out)] if argv[0] == "run" else argv
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTLETEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "battletest", *full],
        cwd=workdir,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    report = out / "latest" / "report.json"
    loaded = json.loads(report.read_text()) if report.exists() else {}
    return Outcome(proc.returncode, proc.stdout, proc.stderr, loaded)


def by_size() -> list[str]:
    """The documents, fewest operations (then fewest bytes) first."""
    return sorted(CORPUS, key=lambda name: (CORPUS[name][1], (DATA / name).stat().st_size))


def smallest(n: int) -> list[str]:
    """The ``n`` smallest documents, and the smallest that every suite applies to (the two
    smallest have no GET operation, so nothing to load from the spec)."""
    names = by_size()[:n]
    complete = next(m for m in by_size() if not applicable(load_spec(DATA / m, None)))
    return names if complete in names else [*names, complete]


def _inconclusive(case: dict[str, Any]) -> bool:
    details = case.get("details") or {}
    return details.get("outcome") == "inconclusive" or (case.get("message") or "").startswith(
        "inconclusive"
    )


def suite_figures(suite: dict[str, Any]) -> SuiteFigures:
    cases = suite["cases"]
    by = {s: sum(1 for c in cases if c["status"] == s) for s in ("passed", "failed", "error")}
    inconclusive = sum(1 for c in cases if c["status"] == "skipped" and _inconclusive(c))
    skipped = sum(1 for c in cases if c["status"] == "skipped") - inconclusive
    return SuiteFigures(
        name=suite["name"],
        status=suite["status"],
        cases=len(cases),
        passed=by["passed"],
        failed=by["failed"],
        inconclusive=inconclusive,
        skipped=skipped,
        errors=by["error"],
        time_s=round(float(suite["duration_s"]), 2),
    )


def applicable(spec: Spec) -> dict[str, str]:
    """The suites of ``SUITES`` that do not apply to ``spec``, with the reason."""
    try:
        scenario_from_spec(spec)
    except SpecError:  # e.g. no GET operation at all: nothing to load from the spec
        return {"load": "no GET operation whose parameters can be filled (from_spec refuses)"}
    return {}


def write_config(doc: Path, workdir: Path, *, suites: list[str], examples: int, load: str) -> Path:
    """``battletest init`` for the document, its identity templates uncommented (with literal
    secrets: the mock checks none), plus the bounded ``corpus`` profile."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "battletest.toml"
    outcome = battletest(["init", "--spec", str(doc), "-o", str(config), "--force"], workdir)
    if outcome.code != 0:
        raise RuntimeError(f"battletest init failed: {outcome.stdout}{outcome.stderr}")
    text = uncomment_identities(config.read_text())
    text = re.sub(r'"env:(BT_[A-Z0-9_]+)"', lambda m: f'"corpus-{m.group(1).lower()}"', text)
    enabled = ", ".join(f'"{s}"' for s in suites)
    profile = PROFILE.format(suites=enabled, examples=examples, load=load, doc=json.dumps(str(doc)))
    config.write_text(text + profile)
    return config


def run_document(
    name: str, workdir: Path, *, examples: int = 1, load: str = "1s", timeout_s: float = 900
) -> DocumentRun:
    """Mock from the document on loopback → init → ``battletest run`` with every suite."""
    version, operations, _ = CORPUS[name]
    doc = DATA / name
    result = DocumentRun(name, version, operations)
    spec = load_spec(doc, None)
    result.not_applicable = applicable(spec)
    suites = [s for s in SUITES if s not in result.not_applicable]
    config = write_config(doc, workdir, suites=suites, examples=examples, load=load)
    with MockServer.from_openapi(spec, validate=True) as mock:
        argv = ["run", "--config", str(config), "--profile", "corpus", "--mode", "live"]
        argv += ["--target", mock.url, "--spec", str(doc), "--seed", "1", "--no-history"]
        argv += ["--timeout", f"{timeout_s:g}"]
        started = time.monotonic()
        # the run stops itself at --timeout (reports written); this is for a hang
        outcome = battletest(argv, workdir, timeout_s=timeout_s + 120)
        result.wall_s = round(time.monotonic() - started, 1)
        journal = mock.requests()
    result.exit_code = outcome.code
    if outcome.code not in (0, 1):
        result.crashes.append(f"exit code {outcome.code}: {outcome.stderr.strip()[-300:]}")
    if "Traceback" in outcome.stdout + outcome.stderr:
        result.crashes.append("a traceback reached the user")
    if not outcome.report:
        result.crashes.append("no report.json written")
    for suite in outcome.report.get("suites", []):
        figures = suite_figures(suite)
        result.suites.append(figures)
        if suite["status"] == "error":
            result.crashes.append(f"{suite['name']}: {suite.get('message')}")
        elif suite["status"] == "skipped" and not suite["cases"]:
            result.failures.append(f"{suite['name']}: (suite) — not run: {suite.get('message')}")
        for case in suite["cases"]:
            what = f"{suite['name']}: {case['name']} — {(case.get('message') or '')[:160]}"
            if case["status"] == "error":
                result.crashes.append(what)
            elif case["status"] == "failed":
                result.failures.append(what)
    stubs = {op.operation_id: op.label for op in spec.operations}
    hit = {e.stub for e in journal if e.stub in stubs}
    ok = {e.stub for e in journal if e.stub in stubs and e.status and 200 <= e.status < 300}
    result.requests = len(journal)
    result.unmatched = sum(1 for e in journal if e.stub is None)
    result.reached, result.succeeded = len(hit), len(ok)
    result.not_reached = sorted(label for op_id, label in stubs.items() if op_id not in hit)
    result.no_success = sorted(label for op_id, label in stubs.items() if op_id in hit - ok)
    return result


def dump(runs: list[DocumentRun], path: Path) -> None:
    path.write_text(json.dumps([r.to_dict() for r in runs], indent=2) + "\n")
