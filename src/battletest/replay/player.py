"""Replay as regression: send a recording's requests again, in order, and diff every answer.

Each episode replays with its own client (its own cookie jar) through ``battletest.transport``,
so the write policy decides every request (a production profile refuses the first write before
anything is sent), and 429/503 are paced as everywhere else. Correlated values are taken from
the new answers (``entry.extract``) and filled into later requests; the recorded answer is
compared with the new one by ``diff.diff`` after masks, with the recorded values of those
variables replaced by the new ones. Each request is one ``Case`` of the ``replay`` suite: a
difference fails it and its details hold both answers, the differences and a curl command.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from battletest.errors import SafetyError, TargetUnreachable, UsageError
from battletest.redact import Redactor
from battletest.replay.correlate import PLACEHOLDER, MissingValue, extract, render_request
from battletest.replay.diff import Answer, Difference, diff
from battletest.replay.har import Entry, Episode, is_text
from battletest.replay.masks import MaskSet
from battletest.results import Case, Status, SuiteResult
from battletest.transport import Exchange, Inconclusive, PolicyRefused, WritePolicy, curl_command


class Sender(Protocol):
    """What a replay needs of ``battletest.transport.Transport`` (which is one)."""

    policy: WritePolicy | None
    redactor: Redactor

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str = ...,
        headers: Mapping[str, str] | None = ...,
        content: bytes | str | None = ...,
    ) -> Exchange: ...

    def release(self, key: str) -> None: ...

    def url(self, path: str) -> str: ...


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXCERPT = 2000
SUITE = "replay"


def operation_of(entry: Entry) -> str:
    """``METHOD /path`` with placeholders as ``{name}`` (the key masks are stored under); the
    second VU's ``{{call_id_2}}`` is the same operation as ``{{call_id}}``."""
    path = unquote(urlsplit(entry.url).path or "/")
    return f"{entry.method} " + PLACEHOLDER.sub(
        lambda m: "{" + re.sub(r"_\d+$", "", m.group(1)) + "}", path
    )


def _excerpt(answer: Answer | None, redactor: Redactor) -> dict[str, Any] | None:
    if answer is None:
        return None
    if answer.body and not is_text(answer.mime):
        body = f"({len(answer.body)} bytes of {answer.mime or 'binary'})"
    else:
        body = redactor.text(answer.text())
        body = body if len(body) <= EXCERPT else body[:EXCERPT] + "…"
    return {
        "status": answer.status,
        "headers": [list(pair) for pair in redactor.headers(answer.headers)],
        "body": body,
    }


@dataclass(slots=True)
class EpisodeRun:
    """What one episode's replay produced: its cases and the variables it ended with."""

    cases: list[Case] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def differences(self) -> int:
        return sum(len(c.details.get("differences", [])) for c in self.cases)


def check_writes(episodes: Sequence[Episode], http: Sender) -> None:
    """Refuse, before anything is sent, an episode that writes where the policy is read-only."""
    policy = http.policy
    if policy is None or not policy.read_only:
        return
    for episode in episodes:
        write = next((e for e in episode.entries if e.method not in SAFE_METHODS), None)
        if write is not None:
            raise SafetyError(
                f"{episode.name} writes ({write.method} {operation_of(write).split(' ', 1)[1]}) "
                f"and {policy.why_read_only}: replay refused",
                hint="replay against a non-production profile, or allow destructive work for it",
            )


def check_inputs(episodes: Sequence[Episode], inputs: Mapping[str, Any] | None) -> None:
    """Refuse, before anything is sent, recordings whose ``{{input.NAME}}`` have no value."""
    given = {k.removeprefix("input.") for k in inputs or {}}
    missing = sorted({n for e in episodes for n in e.inputs if n not in given})
    if missing:
        raise UsageError(
            "the recording needs " + ", ".join("{{input." + m + "}}" for m in missing),
            hint="give each with --var NAME=VALUE: " + ", ".join(missing),
        )


def replay_episode(
    episode: Episode,
    http: Sender,
    *,
    masks: MaskSet | None = None,
    inputs: Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
    key: str = "replay",
    on_case: Callable[[Case], None] | None = None,
    on_answer: Callable[[Entry, Answer], None] | None = None,
) -> EpisodeRun:
    """Replay one episode against ``http``'s target; one case per request. ``on_answer`` sees
    each recorded entry with the new answer (what a GOLDEN snapshot would store)."""
    masks = masks if masks is not None else MaskSet()
    red = redactor or http.redactor
    run = EpisodeRun()
    values: dict[str, Any] = {f"input.{k}": v for k, v in (inputs or {}).items()}
    values.update({k: v for k, v in (inputs or {}).items() if not k.startswith("input.")})
    subs: dict[str, Any] = {}
    try:
        for index, entry in enumerate(episode.entries):
            case = _replay_entry(
                episode, index, entry, http, masks, values, subs, red, key, on_answer
            )
            run.cases.append(case)
            if on_case is not None:
                on_case(case)
    finally:
        http.release(key)
    run.values = {k: v for k, v in values.items() if not k.startswith("input.")}
    return run


def _replay_entry(
    episode: Episode,
    index: int,
    entry: Entry,
    http: Sender,
    masks: MaskSet,
    values: dict[str, Any],
    subs: dict[str, Any],
    red: Redactor,
    key: str,
    on_answer: Callable[[Entry, Answer], None] | None = None,
) -> Case:
    operation = operation_of(entry)
    name = f"{episode.name} #{index + 1} {operation}"
    details: dict[str, Any] = {"episode": episode.name, "index": index + 1, "operation": operation}
    try:
        path, headers, body = render_request(entry, values)
    except MissingValue as exc:
        missing = str(exc.args[0])
        hint = (
            f"give it with --var {missing.removeprefix('input.')}=VALUE"
            if missing.startswith("input.")
            else "an earlier answer did not carry it"
        )
        return Case(
            name=name,
            status=Status.ERROR if missing.startswith("input.") else Status.FAILED,
            message=f"not sent: no value for {{{{{missing}}}}} ({hint})",
            details=details,
        )
    started = time.perf_counter()
    try:
        exchange = http.send(
            entry.method, path, key=key, headers=dict(headers), content=body or None
        )
    except PolicyRefused as exc:
        return Case(name=name, status=Status.SKIPPED, message=f"refused: {exc}", details=details)
    except Inconclusive as exc:
        return Case(name=name, status=Status.ERROR, message=str(exc), details=details)
    except TargetUnreachable:
        raise
    elapsed_ms = (time.perf_counter() - started) * 1000
    actual = Answer.of(exchange.status, exchange.response_headers, exchange.response_body)
    if on_answer is not None:
        on_answer(entry, actual)
    expected = Answer.of(entry.status, entry.response_headers, entry.response_body)
    found: list[Difference] = diff(
        expected, actual, masks=masks, operation=operation, substitutions=subs, redactor=red
    )
    if entry.extract:
        for var, extractor in entry.extract.items():
            new = extract(extractor, actual.status, actual.headers, actual.body)
            if new is None:
                continue
            values[var] = new
            recorded = episode.variables.get(var)
            if recorded is not None:
                subs[str(recorded)] = new
    reproduce = curl_command(entry.method, http.url(path), headers, body, red)
    details["request"] = {"method": entry.method, "path": red.text(path)}
    if found:
        details["differences"] = red([d.to_json() for d in found])
        details["expected"] = _excerpt(expected, red)
        details["actual"] = _excerpt(actual, red)
        lines = [d.line() for d in found]
        message = "; ".join(lines[:3]) + (f" (+{len(lines) - 3} more)" if len(lines) > 3 else "")
        return Case(
            name=name,
            status=Status.FAILED,
            duration_ms=round(elapsed_ms, 3),
            message=red.text(message),
            details=details,
            reproduce=reproduce,
        )
    return Case(
        name=name,
        status=Status.PASSED,
        duration_ms=round(elapsed_ms, 3),
        details=details,
        reproduce=reproduce,
    )


def replay_suite(
    episodes: Sequence[Episode],
    http: Sender,
    *,
    masks: MaskSet | None = None,
    inputs: Mapping[str, Any] | None = None,
    redactor: Redactor | None = None,
    on_case: Callable[[Case], None] | None = None,
) -> SuiteResult:
    """Replay every episode in order; the ``replay`` suite (failed when any answer differs).
    Ctrl-C stops after the request in flight: what was replayed is kept and the suite says
    ``interrupted``."""
    check_writes(episodes, http)
    check_inputs(episodes, inputs)
    started = time.perf_counter()
    cases: list[Case] = []

    def keep(case: Case) -> None:
        cases.append(case)
        if on_case is not None:
            on_case(case)

    interrupted = False
    try:
        for n, episode in enumerate(episodes):
            replay_episode(
                episode,
                http,
                masks=masks,
                inputs=inputs,
                redactor=redactor,
                key=f"replay-{n + 1}",
                on_case=keep,
            )
    except KeyboardInterrupt:
        interrupted = True
    failed = sum(c.status == Status.FAILED for c in cases)
    errors = sum(c.status == Status.ERROR for c in cases)
    differences = sum(len(c.details.get("differences", [])) for c in cases)
    status = Status.FAILED if failed else (Status.ERROR if errors else Status.PASSED)
    if not cases:
        status = Status.SKIPPED
    return SuiteResult(
        name=SUITE,
        status=status,
        duration_s=round(time.perf_counter() - started, 3),
        cases=cases,
        metrics={
            "episodes": len(episodes),
            "requests": len(cases),
            "differences": differences,
            "failed_requests": failed,
        },
        message=(
            f"{len(cases)} requests from {len(episodes)} episode(s): "
            f"{differences} difference(s) in {failed} answer(s)"
            + (f", {errors} not replayed" if errors else "")
            + (" (interrupted)" if interrupted else "")
        ),
    )


__all__ = [
    "EpisodeRun",
    "check_inputs",
    "check_writes",
    "operation_of",
    "replay_episode",
    "replay_suite",
]
