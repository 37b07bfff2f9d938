"""Every suite over every document of the vendored corpus, against the mock answering from it.

    python bench/bench_corpus.py [--only NAME] [--examples 1] [--load 1s] [--json out.json]

For each published document in tests/spec/data/ (NOTICE.md: Swagger 2.0, OpenAPI 3.0 and 3.1,
from 1 to 531 operations), battletest's own mock server answers from the document on loopback
(examples and schema-built bodies: the honest stand-in for a service we do not have),
``battletest init`` writes the config for it, and ``battletest run`` puts contract, auth,
errors, load (from the spec, a short phase) and security (basic depth) through it. pytest
(needs the user's tests) and resilience (needs [[dependencies]]) do not apply to a document
alone. Prints one table — document, then per suite cases / passed / failed / inconclusive /
skipped / time, operations reached and answered 2xx (the mock's journal), exit code, crashes —
and what failed and why per document. Exits 1 when a run crashed (exit code other than 0/1, a
traceback, a suite or case in error). tests/spec/test_corpus_run.py runs the same path for the
two smallest documents.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.spec.corpus import CORPUS, SUITES, DocumentRun, dump, run_document  # noqa: E402


def cell(run: DocumentRun, suite: str) -> str:
    s = run.suite(suite)
    if s is None:
        return "n/a" if suite in run.not_applicable else "—"
    text = f"{s.cases}/{s.passed}/{s.failed}/{s.inconclusive}/{s.skipped} {s.time_s:.1f}s"
    return text + (f" E{s.errors}" if s.errors else "")


def table(runs: list[DocumentRun]) -> str:
    head = ["document", "ver", "ops", *SUITES, "reached", "2xx", "exit", "crashes", "wall"]
    rows = [head]
    for r in runs:
        rows.append(
            [
                r.name.removesuffix(".json").removesuffix(".yaml"),
                r.version,
                str(r.operations),
                *(cell(r, s) for s in SUITES),
                f"{r.reached}/{r.operations}",
                f"{r.succeeded}/{r.operations}",
                str(r.exit_code),
                str(len(r.crashes)),
                f"{r.wall_s:.0f}s",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# What the mock does not model, by failure: the known reasons a case fails against the mock
# answering from the document with validation on (credentials present, parameters and JSON
# bodies as documented). Anything else is unexplained: a battletest bug until shown otherwise
# (spec model, data generation or the mock).
KNOWN = [
    (r"^errors: unknown id", "the mock keeps no data: every id exists"),
    (r"^errors: unsupported method", "the mock answers only the documented methods' paths"),
    (r"^auth: malformed token", "the mock checks that a credential is there, not that it is real"),
    (r"^auth: (expired|tampered|alg)", "the mock verifies no token"),
    (r"^security: .*BFLA", "the mock has no roles: an unprivileged identity is served"),
    (r"^security: .*BOLA", "the mock has no owners: another identity's object is served"),
    (r"^security: .*request body accepted", "the mock has no body size limit"),
    (
        r"^security: .*data exposure",
        "the document itself declares the sensitive property (e.g. a consumer's secret)",
    ),
    (
        r"^load: threshold",
        "load from the spec sends no identity's credentials: secured GETs get the mock's 401",
    ),
]


def why(run: DocumentRun, limit: int = 8) -> list[str]:
    """Failures grouped by suite, case kind and message (paths and long numbers folded), with
    the reason when it is a known limit of the mock."""
    shapes: Counter[str] = Counter()
    example: dict[str, str] = {}
    for line in run.failures:
        suite, _, rest = line.partition(": ")
        case, _, message = rest.partition(" — ")
        kind = case.split(": ")[0] if ": " in case else case.split(" ")[0]
        folded = re.sub(
            r"/\S*|\b\d{5,}\b|\b(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\b", "…", message
        )
        shape = f"{suite}: {kind} — " + folded[:90]
        shapes[shape] += 1
        example.setdefault(shape, rest[:110])
    out = []
    for i, (shape, n) in enumerate(shapes.most_common()):
        reason = next((r for pattern, r in KNOWN if re.search(pattern, shape)), "UNEXPLAINED")
        if i < limit or reason == "UNEXPLAINED":  # every unexplained kind is listed
            out.append(f"{n}× {shape}  [{reason}]  e.g. {example[shape]}")
    if len(out) < len(shapes):
        out.append(f"… and {len(shapes) - len(out)} more kinds, each with a known reason")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="documents whose file name contains this")
    parser.add_argument("--examples", type=int, default=1, help="contract examples per operation")
    parser.add_argument("--load", default="1s", help="the load phase (2 VUs)")
    parser.add_argument("--timeout", type=float, default=900, help="per-document run budget")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--keep", type=Path, help="keep configs and run folders here")
    args = parser.parse_args()
    names = [n for n in CORPUS if not args.only or any(w in n for w in args.only)]
    if not names:
        print(f"no document matches {args.only}; known: {', '.join(CORPUS)}")
        return 2
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    runs: list[DocumentRun] = []
    for i, name in enumerate(names):
        run = run_document(
            name,
            base / f"{i:02d}",
            examples=args.examples,
            load=args.load,
            timeout_s=args.timeout,
        )
        runs.append(run)
        print(f"{name}: exit {run.exit_code} in {run.wall_s:.0f}s", flush=True)
    print("\ncell = cases/passed/failed/inconclusive/skipped time (E: cases in error)\n")
    print(table(runs))
    print("\nwhat failed and why:")
    for run in runs:
        print(f"\n{run.name} ({len(run.failures)} failed cases)")
        for suite, reason in run.not_applicable.items():
            print(f"  {suite} does not apply: {reason}")
        for crash in run.crashes:
            print(f"  CRASH {crash[:200]}")
        for line in why(run):
            print(f"  {line}")
        for label, ops in (("not reached", run.not_reached), ("no 2xx", run.no_success)):
            if ops:
                more = f" and {len(ops) - 6} more" if len(ops) > 6 else ""
                print(f"  {label}: {', '.join(ops[:6])}{more}")
    if args.json:
        dump(runs, args.json)
        print(f"\nfigures: {args.json}")
    print(f"run folders under {base}")
    return 1 if any(r.crashes for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
