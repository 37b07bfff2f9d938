"""GOLDEN mode: every answer the contract, auth and errors suites (and the pytest plugin's
``bt_client``) get is compared with a reviewable snapshot of the same operation and input.

Snapshots live under ``.battletest/golden/`` (``--golden-dir``): one JSON file per operation
(``GET_v1_calls_{call_id}.json``), its answers sorted by input key, each with the request that
produced it, the status, the headers that matter and the body (JSON as JSON, text as text,
binary as base64), all redacted. ``masks.json`` beside them holds the volatile fields
(``replay.masks``: JSONPath + kind), which a user can edit; ``index.json`` the seed the
snapshots were taken with, so every run of GOLDEN generates the same inputs.

- The first run (no snapshot of an operation yet) and ``--update-golden`` write the answers
  and say so; the case reads "snapshot written", not passed: nothing was compared.
- Otherwise each answer is compared (``replay.diff``): a difference fails the operation's case
  ``golden: METHOD /path`` with both answers and a curl; an input without a snapshot is
  reported (inconclusive) and never written silently; snapshot entries no request reached are
  listed as stale.
- Volatile fields are learned, safe methods only: when a snapshot is written, and when a
  comparison finds a difference, the same GET/HEAD is sent once more; a field that differs
  between those two answers varies by itself, gets a proposed mask (saved to ``masks.json``)
  and is not a difference. Built-in recognisers (uuids, timestamps, same-shape tokens) mask
  ids and times that are new in every run.

An input is keyed by suite, identity, method, the path's shape (run-created ids vary), query
and body, plus its ordinal among identical requests. Docs: docs/golden.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from battletest.redact import Redactor
from battletest.replay.diff import MATTERING, Answer, Difference, diff
from battletest.replay.har import is_text
from battletest.replay.masks import MaskSet, learn, shape
from battletest.results import Case, Status

if TYPE_CHECKING:
    import httpx

    from battletest.spec import Spec

GOLDEN_SUITES = frozenset({"contract", "auth", "errors"})
PLUGIN = "pytest"
FORMAT = 1
DEFAULT_DIR = Path(".battletest") / "golden"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_SLUG = re.compile(r"[^A-Za-z0-9_{}.-]+")


class GoldenMismatch(AssertionError):
    """A plugin test's answer differs from its snapshot (the test fails with these lines)."""


@dataclass(slots=True)
class Observed:
    """One request a GOLDEN suite sent, and its answer."""

    suite: str
    who: str
    operation: str
    key: str
    request: httpx.Request
    answer: Answer
    curl: str
    differences: list[Difference] = field(default_factory=list)
    compared: bool = False


def fixed_generation() -> bool:
    """Make generated inputs a function of the seed alone: Hypothesis also draws string and
    number constants found in the source of the local modules imported so far, a pool that
    changes with the code's version and with import order (a module imported lazily mid-run).
    GOLDEN needs the same inputs every run, so that pool is emptied. False when this
    Hypothesis no longer has it (the inputs may then vary with the code)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover
        return False
    constants = getattr(providers, "Constants", None)
    if constants is None or not hasattr(providers, "_get_local_constants"):
        return False
    empty = constants()
    providers._get_local_constants = lambda: empty
    return True


def operation_of(spec: Spec | None, method: str, path: str) -> str:
    """``METHOD /template`` of the spec operation ``path`` belongs to (the path itself when
    none does)."""
    from battletest.transport.policy import path_params_of

    if spec is not None:
        for op in spec.operations:
            if op.method.upper() == method and (op.path == path or path_params_of(op.path, path)):
                return f"{method} {op.path}"
    return f"{method} {path}"


def file_name(operation: str) -> str:
    method, _, path = operation.partition(" ")
    slug = _SLUG.sub("_", path.strip("/")) or "root"
    return f"{method}_{slug}.json"


def _body_value(body: bytes, mime: str) -> dict[str, Any]:
    if not body:
        return {}
    try:
        return {"json": json.loads(body)}
    except ValueError:
        pass
    if is_text(mime):
        return {"text": body.decode("utf-8", "replace")}
    return {"base64": base64.b64encode(body).decode()}


def _body_bytes(entry: dict[str, Any]) -> bytes:
    body = entry.get("body", {})
    if "json" in body:
        return json.dumps(body["json"]).encode()
    if "text" in body:
        return str(body["text"]).encode()
    if "base64" in body:
        return base64.b64decode(body["base64"])
    return b""


def input_key(suite: str, who: str, request: httpx.Request, operation: str) -> str:
    """What identifies an input across runs: never a value the target made up in this run."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.url.params.multi_items()))
    body = request.content or b""
    digest = hashlib.sha256(body).hexdigest()[:12] if body else "-"
    method, _, template = operation.partition(" ")
    path = request.url.path
    # the path's values by shape: an id created in this run has the shape of last run's
    fixed = set(template.split("/"))
    concrete = "/".join(seg if seg in fixed else shape(seg) for seg in path.split("/"))
    return f"{suite} {who} {method} {concrete} ?{query} body:{digest}"


class Golden:
    """Snapshots of one folder, compared (or written) while a run's suites send requests.

    ``observe`` is the transport's hook (any thread); ``suite`` names the suite running now
    (None: nothing is observed); ``close_suite`` turns what a suite sent into its golden cases.
    """

    def __init__(
        self,
        folder: str | Path = DEFAULT_DIR,
        *,
        spec: Spec | None = None,
        update: bool = False,
        redactor: Redactor | None = None,
        resend: Callable[[str, httpx.Request], httpx.Response | None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.update = update
        self.redactor = redactor or Redactor(())
        self.resend = resend
        self.suite: str | None = None
        self._lock = threading.Lock()
        self._ordinals: dict[str, int] = defaultdict(int)
        self.observed: list[Observed] = []
        self._snapshots: dict[str, dict[str, Any]] = {}  # operation -> {key: entry}
        self._exists: dict[str, bool] = {}  # whether its file existed when the run began
        self._fresh: dict[str, dict[str, Any]] = {}  # what this run writes, by operation
        self.masks = self._load_masks()
        self.learned = 0
        self.written: set[str] = set()
        self.fixed = fixed_generation()

    # ---------------------------------------------------------------------- the folder
    @property
    def masks_file(self) -> Path:
        return self.folder / "masks.json"

    def _load_masks(self) -> MaskSet:
        return MaskSet.load(self.masks_file) if self.masks_file.exists() else MaskSet()

    def seed(self, given: int | None) -> int:
        """The seed to generate with: the one given, else the snapshots' own, else 0."""
        index = self.folder / "index.json"
        stored = None
        if index.exists():
            try:
                stored = json.loads(index.read_text(encoding="utf-8")).get("seed")
            except ValueError:
                stored = None
        seed = given if given is not None else stored if isinstance(stored, int) else 0
        if given is None or self.update or not index.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            index.write_text(json.dumps({"format": FORMAT, "seed": seed}, indent=2) + "\n")
        return seed

    def snapshots(self, operation: str) -> dict[str, Any] | None:
        """The stored answers of an operation by input key (None: no snapshot file)."""
        if operation not in self._snapshots:
            file = self.folder / file_name(operation)
            self._exists[operation] = file.exists()
            entries: dict[str, Any] = {}
            if file.exists():
                data = json.loads(file.read_text(encoding="utf-8"))
                entries = {e["key"]: e for e in data.get("answers", [])}
            self._snapshots[operation] = entries
        return self._snapshots[operation] if self._exists[operation] else None

    # ------------------------------------------------------------------------- observing
    def observe(self, who: str, request: httpx.Request, response: httpx.Response) -> None:
        """The transport's hook, for every answer (suites' and plugin tests' alike)."""
        suite = self.suite
        if who.startswith("test:"):
            suite, who = PLUGIN, who[5:]
        if suite is None or (suite != PLUGIN and suite not in GOLDEN_SUITES):
            return
        from battletest.transport.evidence import curl

        response.read()
        operation = operation_of(self.spec, request.method, request.url.path)
        base = input_key(suite, who, request, operation)
        answer = Answer.of(response.status_code, response.headers, response.content)
        with self._lock:
            self._ordinals[base] += 1
            key = f"{base} #{self._ordinals[base]}"
            seen = Observed(
                suite, who, operation, key, request, answer, curl(request, self.redactor)
            )
            self.observed.append(seen)
            stored = None if self.update else self.snapshots(operation)
            entry = _entry_for(stored, base, self._ordinals[base]) if stored is not None else None
        if entry is not None:
            seen.compared = True
            seen.differences = self._compare(entry, seen)
        if suite == PLUGIN and seen.differences:
            raise GoldenMismatch(self._mismatch_text(seen))

    def _compare(self, entry: dict[str, Any], seen: Observed) -> list[Difference]:
        found = [d for d in self._raw_compare(entry, seen) if not _random_pair(d)]
        return found

    def _raw_compare(self, entry: dict[str, Any], seen: Observed) -> list[Difference]:
        expected = Answer(
            int(entry["status"]),
            tuple((k, v) for k, v in entry.get("headers", {}).items()),
            _body_bytes(entry),
        )
        # ids the target made up sit in the path: the snapshot's are this run's in its answer
        recorded = str(entry.get("request", {}).get("path", "")).split("/")
        current = seen.request.url.path.split("/")
        subs = {
            old: new
            for old, new in zip(recorded, current, strict=False)
            if old != new and len(recorded) == len(current)
        }
        found = diff(
            expected,
            seen.answer,
            masks=self.masks,
            operation=seen.operation,
            substitutions=subs,
            redactor=self.redactor,
        )
        if found and seen.request.method in SAFE and self.resend is not None:
            found = self._volatile_removed(found, seen)
        return found

    def _volatile_removed(self, found: list[Difference], seen: Observed) -> list[Difference]:
        """Ask again: what also differs between two answers of this run varies by itself
        (its mask is learned), and is no difference from the snapshot."""
        again = self.resend(seen.who, seen.request) if self.resend else None
        if again is None:
            return found
        again.read()
        second = Answer.of(again.status_code, again.headers, again.content)
        self._learn(seen.operation, [seen.answer, second])
        plain = MaskSet([], builtin=False)
        varying = {
            (x.where, x.path)
            for x in diff(seen.answer, second, masks=plain, redactor=self.redactor)
        }
        return [
            d
            for d in found
            if (d.where, d.path) not in varying
            and (d.where != "body" or self.masks.find(seen.operation, _steps_of(d.path)) is None)
        ]

    def _learn(self, operation: str, answers: Sequence[Answer]) -> None:
        bodies = []
        for a in answers:
            try:
                bodies.append(json.loads(a.body))
            except ValueError:
                return
        before = len(self.masks.masks)
        self.masks.merge(learn(operation, bodies))
        self.learned += len(self.masks.masks) - before

    @staticmethod
    def _mismatch_text(seen: Observed) -> str:
        lines = "; ".join(d.line() for d in seen.differences[:5])
        return f"GOLDEN: {seen.operation} differs from its snapshot: {lines}"

    # ------------------------------------------------------------------------- results
    def close_suite(self, suite: str) -> list[Case]:
        """The golden cases of what ``suite`` sent (one per operation), and its snapshots
        written when there were none or ``--update-golden`` was given."""
        mine = [o for o in self.observed if o.suite == suite]
        by_op: dict[str, list[Observed]] = defaultdict(list)
        for o in mine:
            by_op[o.operation].append(o)
        cases = []
        for operation in sorted(by_op):
            items = by_op[operation]
            if self.update or self.snapshots(operation) is None:  # none before this run
                self._write(operation, items)
                first = "updated" if self.update else "written (first run: compared from the next)"
                cases.append(
                    Case(
                        name=f"golden: {operation}",
                        status=Status.SKIPPED,
                        message=f"snapshot {first}: {len(items)} answers",
                    )
                )
                continue
            cases.append(self._case(operation, items))
        return cases

    def _case(self, operation: str, items: list[Observed]) -> Case:
        differing = [o for o in items if o.differences]
        missing = [o for o in items if not o.compared]
        name = f"golden: {operation}"
        if differing:
            first = differing[0]
            return Case(
                name=name,
                status=Status.FAILED,
                message=(
                    f"{len(differing)} of {len(items)} answers differ from the snapshot: "
                    + "; ".join(d.line() for d in first.differences[:3])
                ),
                details={
                    # the first differing input in the shape the report's diff view reads
                    "differences": [d.to_json() for d in first.differences],
                    "expected": self._snapshots.get(operation, {}).get(first.key),
                    "actual": self._entry(first),
                    "golden": [
                        {
                            "input": o.key,
                            "differences": [d.to_json() for d in o.differences],
                            "lines": [d.line() for d in o.differences],
                            "expected": self._snapshots.get(operation, {}).get(o.key),
                            "actual": self._entry(o),
                        }
                        for o in differing[:20]
                    ],
                    "missing_snapshots": [o.key for o in missing],
                },
                reproduce=first.curl,
            )
        if missing and len(missing) == len(items):
            return Case(
                name=name,
                status=Status.SKIPPED,
                message=(
                    f"inconclusive: no snapshot for {len(missing)} inputs "
                    "(run with --update-golden to accept them)"
                ),
                details={"missing_snapshots": [o.key for o in missing]},
            )
        compared = len(items) - len(missing)
        note = f"; {len(missing)} inputs without a snapshot (not written)" if missing else ""
        return Case(
            name=name,
            status=Status.PASSED,
            message=f"{compared} answers match the snapshot{note}",
            details={"missing_snapshots": [o.key for o in missing]} if missing else {},
        )

    def _entry(self, o: Observed) -> dict[str, Any]:
        """A snapshot answer: the request that got it and the answer, redacted."""
        red = self.redactor
        request = o.request
        body = red.text((request.content or b"").decode("utf-8", "replace")).encode()
        return {
            "key": o.key,
            "suite": o.suite,
            "identity": o.who,
            "request": {
                "method": request.method,
                "path": red.text(request.url.path),
                "query": red.text(request.url.query.decode()),
                **_body_value(body, request.headers.get("content-type", "")),
            },
            "status": o.answer.status,
            "headers": {
                k.lower(): red.text(v)
                for k, v in sorted(o.answer.headers)
                if k.lower() in MATTERING
            },
            "body": _redact_body(_body_value(o.answer.body, o.answer.mime), red),
        }

    def _write(self, operation: str, items: Iterable[Observed]) -> None:
        items = list(items)
        safe = [o for o in items if o.request.method in SAFE]
        for o in safe[:10] if self.resend is not None else ():  # the same GET, twice
            again = self.resend(o.who, o.request) if self.resend else None
            if again is not None:
                again.read()
                second = Answer.of(again.status_code, again.headers, again.content)
                self._learn(operation, [o.answer, second])
        # what earlier suites of this run wrote for the operation stays (one file, all suites)
        entries = self._fresh.setdefault(operation, {})
        entries.update({o.key: self._entry(o) for o in items})
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "operation": operation,
            "answers": [entries[k] for k in sorted(entries)],
        }
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (self.folder / file_name(operation)).write_text(text, encoding="utf-8")
        self.written.add(operation)

    def finish(self) -> list[str]:
        """Notes for the run: what was written, learned, missing and stale."""
        notes = []
        if not self.fixed:
            notes.append(
                "GOLDEN: this Hypothesis version draws constants from the imported code; "
                "generated inputs may change with battletest's version"
            )
        if self.masks.masks:
            self.masks.save(self.masks_file)
        if self.written:
            how = "updated" if self.update else "written"
            notes.append(
                f"GOLDEN: snapshots {how} for {len(self.written)} operations in {self.folder}"
                " (review them, commit them)"
            )
        if self.learned:
            notes.append(
                f"GOLDEN: {self.learned} volatile fields learned (masks in {self.masks_file})"
            )
        missing = [o for o in self.observed if not o.compared and o.operation not in self.written]
        if missing:
            notes.append(
                f"GOLDEN: {len(missing)} answers had no snapshot and were not written "
                "(run with --update-golden to accept them)"
            )
        # an input no request reached (one more identical request of a reached input is not)
        reached = {(o.operation, _base(o.key)) for o in self.observed}
        stale = [
            (op, key)
            for op, entries in self._snapshots.items()
            if op not in self.written
            for key in entries
            if (op, _base(key)) not in reached
        ]
        if stale:
            notes.append(
                f"GOLDEN: {len(stale)} snapshot answers were not reached by any request (stale)"
            )
        return notes


_RANDOM = re.compile(r"^[A-Za-z0-9_-]+$")


def _random_pair(d: Difference) -> bool:
    """Two different random tokens (API keys, secrets: ``btk_k8ow…`` vs ``btk_0F-x…``): the
    same length (16 or more), the base64url alphabet, the same prefix up to its first ``_`` or
    ``-``. The built-in same-shape rule misses them when ``-``/``_`` fall elsewhere."""
    a, b = d.expected, d.actual
    if d.what != "changed" or not isinstance(a, str) or not isinstance(b, str):
        return False
    if len(a) != len(b) or len(a) < 16 or not (_RANDOM.match(a) and _RANDOM.match(b)):
        return False
    cut = min((i for i, c in enumerate(a) if c in "_-"), default=0)
    return cut > 0 and a[: cut + 1] == b[: cut + 1]


def _base(key: str) -> str:
    return key.rsplit(" #", 1)[0]


def _entry_for(stored: dict[str, Any], base: str, ordinal: int) -> dict[str, Any] | None:
    """The snapshot of the ``ordinal``-th identical request, or of the last one recorded: a
    suite may send an identical request once more than last time (a retry, a re-login), and
    identical requests deserve identical answers."""
    entry = stored.get(f"{base} #{ordinal}")
    while entry is None and ordinal > 1:
        ordinal -= 1
        entry = stored.get(f"{base} #{ordinal}")
    return entry


def _steps_of(path: str) -> tuple[str, ...]:
    from battletest.replay.masks import parse_path

    try:
        return parse_path(path)
    except Exception:
        return ()


def _redact_body(body: dict[str, Any], red: Redactor) -> dict[str, Any]:
    if "text" in body:
        return {"text": red.text(body["text"])}
    if "json" in body:
        return {"json": json.loads(red.text(json.dumps(body["json"])))}
    return body
