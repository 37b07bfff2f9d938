"""Advice for a gate row that did not pass: what its state means and what to change.

Every row that is not a pass gets one line (``GateResult.advice``), written where the state
is known — ``evaluate_gates`` — so the console, report.html, report.json and ``battletest
gate`` all say the same thing. The states:

- *not measured*: the gate's suite did not run (not enabled, nothing configured, a profile or
  the timeout stopped it) or gave nothing the gate reads; it fails only when ``[gates]
  required`` names it. The advice says how to make it measurable.
- *required but not measured*: the same, and the run fails.
- *no input*: the suite ran but errored, or every case was skipped or inconclusive; the advice
  names the first reason and the config that answers it.
- *below the limit* for the two coverage-honesty rows: ``exercised_operations`` names the
  operations that never got a documented success, grouped by what they got instead (a refusal:
  which security scheme needs an identity; a 404: which ids to give; …), and
  ``security_conclusive`` the commonest reasons check runs decided nothing.

Rows that failed on a measured value elsewhere (failed cases, findings, load thresholds) get
a line saying where the run shows the cause; report.html's recommendations add what to change,
derived from the failures themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from battletest.results import GateResult, Status, SuiteResult

# what makes each suite run (the [suites] list and the table that gives it something to do)
SUITE_SETUP: dict[str, str] = {
    "contract": 'add "contract" to [suites] enabled',
    "auth": 'add "auth" to [suites] enabled (it needs [[identities]] for the secured operations)',
    "errors": 'add "errors" to [suites] enabled',
    "pytest": 'add "pytest" to [suites] enabled and set [suites.pytest] path to your tests '
    "(coverage = true measures line and branch coverage)",
    "load": 'add "load" to [suites] enabled ([load] paths, scenario or from_spec say what to load)',
    "security": 'add "security" to [suites] enabled (or run battletest scan)',
    "resilience": 'add "resilience" to [suites] enabled and describe its probes in [resilience]',
}

# gates that read something other than a suite's presence: how to make each measurable
UNMEASURED: dict[str, str] = {
    "flakiness_budget": "it reads the history store: keep runs recorded (no --no-history, "
    "[history] record = true); once a test flips on the same code it is known as flaky",
    "load_thresholds": 'give the load suite a threshold, e.g. [load] thresholds = ["p95<300ms"]',
    "exercised_operations": 'add "contract" to [suites] enabled: it tries every operation and '
    "counts those that get a documented success",
    "no_failed_cases": "no suite ran a case: check [suites] enabled and each suite's message",
    "success_rate": "no case was executed (all skipped): check each suite's message",
    "suite_results": "no suite ran: check [suites] enabled and --suites",
    "line_coverage": "run the pytest suite under coverage: [suites.pytest] coverage = true "
    '(and source = ["your_package"] when the code is not under ./src)',
    "branch_coverage": "run the pytest suite under coverage: [suites.pytest] coverage = true "
    '(and source = ["your_package"] when the code is not under ./src)',
    "security_conclusive": SUITE_SETUP["security"],
    "max_severity": SUITE_SETUP["security"],
}

# a row that failed on a measured value: where the run shows the cause (report.html's
# recommendations add what to change from the failures themselves)
MEASURED: dict[str, str] = {
    "no_failed_cases": "Fix the failed cases: each has its message and a reproduce command "
    "(report.html groups them by cause).",
    "success_rate": "The same failed cases as no_failed_cases: fix them, biggest cause first.",
    "max_severity": "Fix the findings above the limit, highest first: report.html and "
    "security.sarif give each one's evidence, reproduce command and remediation.",
    "line_coverage": "Cover more: battletest history gaps lists the least-covered files by "
    "complexity and churn.",
    "branch_coverage": "Cover more: battletest history gaps lists the least-covered files by "
    "complexity and churn.",
    "flakiness_budget": "battletest flaky lists the flaky tests: fix them or quarantine them.",
    "load_error_rate": "report.html's error-rate chart shows when the load requests failed and "
    "its endpoint table which endpoint failed most.",
    "load_thresholds": "Each failed threshold has its own row (load: …) naming the measurement.",
    "perf_regression": "battletest baseline compare lists the rows that regressed; save a new "
    "baseline only if the change is intended.",
}

_NOT_REQUIRED = "Not measured never fails the run unless [gates] required names it."


def advise(
    row: GateResult,
    suites: list[SuiteResult],
    *,
    source: str | None = None,
    required: bool = False,
    problems: Iterable[str] = (),
) -> str:
    """The advice line for ``row`` ("" for a pass)."""
    if row.passed is True:
        return ""
    reason = row.reason.removeprefix("required but not measured: ")
    if reason.startswith("no input: "):
        return no_input(row.name, reason.removeprefix("no input: "))
    if row.passed is None or required:
        how = unmeasured(row.name, reason, source)
        if required:
            return (
                f"[gates] required names {row.name}, so not measuring it fails the run: {how}; "
                "or take it out of required."
            )
        return f"{how[0].upper()}{how[1:]}. {_NOT_REQUIRED}"
    if row.name == "exercised_operations":
        return exercised(suites, row.limit)
    if row.name == "security_conclusive":
        return conclusive(suites, row.limit)
    if row.name == "suite_results":
        return " ".join(no_input(row.name, p) for p in problems)
    return MEASURED.get(row.name, "")


def unmeasured(name: str, reason: str, source: str | None) -> str:
    """How to make a not-measured gate measurable (lower case, no final stop)."""
    if "conclusive" in reason and name == "max_severity":
        return (
            "the scan found nothing, but too few of its check runs decided anything to say there "
            "is nothing: follow security_conclusive's advice"
        )
    if source is not None and f"the {source} suite did not run" in reason:
        why = reason.split("did not run", 1)[1]
        if "timeout" in why:
            return f"the run's time budget ran out before the {source} suite: raise --timeout"
        if "profile" in why and "forbids" in why:
            return f"this profile forbids the {source} suite (allow_destructive = true lifts that)"
        return SUITE_SETUP.get(source, f'add "{source}" to [suites] enabled')
    if name in ("line_coverage", "branch_coverage") and "pytest suite measured none" not in reason:
        return f"{reason}: check [suites.pytest] source names the package the tests import"
    return UNMEASURED.get(name, f"{reason or 'nothing was measured'}")


def hint(reason: str, suite: str) -> str:
    """What answers one skip or inconclusive reason (the config key that gives what it lacked)."""
    text = reason.lower()
    if "not configured" in text:
        return SUITE_SETUP.get(suite, f"configure the {suite} suite")
    if "refusal" in text or "refused" in text or re.search(r"\b40[13]\b", text):
        return (
            "add an [[identities]] entry the target accepts for the operation's security scheme "
            "(battletest init writes a template per scheme), or fix the one that was refused"
        )
    if "rate limit" in text or "429" in text:
        return (
            "declare the target's limit in [rate_limits] (per_client, window_s) so requests are "
            "paced below it"
        )
    if "not found" in text or "404" in text:
        return "give ids that exist with [suites.contract] values (or [security.objects])"
    if "destructive" in text or "write policy" in text:
        return "the write policy kept it from running (allow_destructive = true for this profile)"
    if "identity" in text or "identities" in text or "role" in text:
        return "add [[identities]]: two per role and one per tenant let the access checks compare"
    if "unreachable" in text or "overloaded" in text or "no answer" in text or "timed out" in text:
        return "the target did not answer: check it is up and raise [target] request_timeout_s"
    return "give it what that reason names"


def no_input(name: str, problem: str) -> str:
    """A suite ran but gave the gate nothing: it errored, or every case skipped."""
    m = re.match(r"the (\S+) suite errored: (.*)", problem)
    if m:
        return (
            f"The {m.group(1)} suite errored, so {name} has nothing to judge: its traceback is "
            "in the run folder's errors.log; fix what the message names and re-run."
        )
    m = re.match(r"every case of the (\S+) suite was skipped or inconclusive \((.*)\)$", problem)
    if m:
        suite, detail = m.group(1), m.group(2)
        first = detail.split("first: ", 1)[1] if "first: " in detail else detail
        return (
            f"No case of the {suite} suite decided anything (first reason: {first[:120]}): "
            f"{hint(first, suite)}."
        )
    return f"{problem}: fix that and re-run."


# what an operation that never got a documented success got instead, and what answers it
_CAUSES: tuple[tuple[str, str], ...] = (
    ("refused", "refused (401/403)"),
    ("missing", "not found (404)"),
    ("limited", "rate limited (429)"),
    ("invalid", "rejected as invalid (4xx)"),
    ("server", "server errors (5xx)"),
    ("silent", "no answer"),
    ("undocumented", "answered, but not with a success the spec documents"),
)


def _cause(statuses: Mapping[str, int]) -> str:
    codes = {int(s) for s in statuses}
    if codes and codes <= {401, 403}:
        return "refused"
    if codes and codes <= {404}:
        return "missing"
    if 429 in codes and codes <= {429, 401, 403, 404}:
        return "limited"
    if any(c >= 500 for c in codes):
        return "server"
    if codes and codes <= {0}:
        return "silent"
    if any(400 <= c < 500 for c in codes):
        return "invalid"
    return "undocumented"


def _shown(statuses: Mapping[str, int]) -> str:
    return ", ".join(f"{n}× {'no answer' if s == '0' else s}" for s, n in statuses.items())


def _operations(suites: Iterable[SuiteResult]) -> tuple[dict[str, dict[str, int]], set[str]]:
    """Never-exercised operation → the answers it got (the contract suite's when it tried the
    operation: the auth and errors suites' answers are meant to be refusals), and the security
    schemes the refused ones need."""
    answers: dict[str, dict[str, int]] = {}
    exercised: set[str] = set()
    schemes: dict[str, list[str]] = {}
    for s in sorted(suites, key=lambda s: s.name != "contract"):
        ops = s.metrics.get("operations")
        if not isinstance(ops, dict):
            continue
        exercised.update(ops.get("exercised_operations") or [])
        for label, got in (ops.get("answers") or {}).items():
            answers.setdefault(str(label), dict(got))
        for label, names in (ops.get("schemes") or {}).items():
            schemes.setdefault(str(label), list(names))
    never = {k: v for k, v in answers.items() if k not in exercised}
    needed = {
        n
        for label, got in never.items()
        if _cause(got) == "refused"
        for n in schemes.get(label, [])
    }
    return never, needed


def exercised(suites: list[SuiteResult], limit: object) -> str:
    """``exercised_operations`` below its limit: which operations, what they got, what to do."""
    never, schemes = _operations(suites)
    if not never:
        return (
            f"Fewer than {limit}% of the operations tried got a documented success: make the "
            "requests reach the success path ([suites.contract] values, [[identities]])."
        )
    by_cause: dict[str, list[str]] = {}
    for label, got in sorted(never.items()):
        by_cause.setdefault(_cause(got), []).append(f"{label} ({_shown(got)})")
    todo = {
        "refused": "add an [[identities]] entry with credentials for security scheme "
        f"{', '.join(sorted(schemes)) or 'they declare'} (battletest init writes a template per "
        "scheme), or fix the identity that was refused",
        "missing": "give ids that exist with [suites.contract] values = { id_name = … }",
        "limited": "declare the target's limit in [rate_limits] so requests are paced below it",
        "invalid": "pin valid values with [suites.contract] values, or correct the spec's schema",
        "server": "fix the handler (the reproduce command is under Failures)",
        "silent": "check the target is up; raise [target] request_timeout_s if it is slow",
        "undocumented": "document that answer in the spec, or make the operation answer as "
        "documented",
    }
    parts = []
    for key, title in _CAUSES:
        ops = by_cause.get(key)
        if ops:
            shown = ", ".join(ops[:5]) + (f" and {len(ops) - 5} more" if len(ops) > 5 else "")
            parts.append(f"{title}: {shown} — {todo[key]}")
    return f"{len(never)} operation(s) never got a documented success. " + "; ".join(parts) + "."


def _key(message: str) -> str:
    """A reason with what varies between check runs (paths, ids, numbers) blanked."""
    text = message.removeprefix("inconclusive: ").strip().splitlines()[0] if message else ""
    text = re.sub(r"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\S*", "…", text)
    return re.sub(r"\d+(\.\d+)?", "N", text)[:140]


def conclusive(suites: list[SuiteResult], limit: object) -> str:
    """``security_conclusive`` below its limit: the commonest reasons check runs decided nothing."""
    security = next((s for s in suites if s.name == "security"), None)
    undecided = [
        c
        for c in (security.cases if security is not None else [])
        if c.details.get("conclusive") is False
        or (c.status is Status.SKIPPED and "conclusive" not in c.details)
    ]
    if not undecided:
        return f"Fewer than {limit}% of the check runs were conclusive: see the security suite."
    reasons = Counter(_key(c.message) for c in undecided)
    examples = {_key(c.message): c.message for c in reversed(undecided)}
    top = reasons.most_common(3)
    shown = "; ".join(f"{n}× “{examples[k].removeprefix('inconclusive: ')[:120]}”" for k, n in top)
    hints = list(dict.fromkeys(hint(k, "security") for k, _ in top))
    return (
        f"{len(undecided)} check run(s) decided nothing; the commonest reasons: {shown}. "
        f"{'; '.join(h[0].upper() + h[1:] for h in hints)}. Lower [gates] min_conclusive_percent "
        "only if that share is expected for this API."
    )


__all__ = ["SUITE_SETUP", "advise", "conclusive", "exercised", "hint", "no_input", "unmeasured"]
