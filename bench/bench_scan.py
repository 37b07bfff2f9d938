"""The scanner on the demo and on the two issue-19 test apps, with schemathesis beside it.

For each app — the demo (FastAPI, OpenAPI 3.1, JSON login), ``allotment`` (Flask, Swagger
2.0, form login, RPC URLs) and ``depot`` (Starlette, OpenAPI 3.0 YAML, HTTP Basic) — battletest
runs as a user would run it, ``battletest scan --config battletest.toml --depth standard
--json`` in a child process, with a config that holds the target, the login and the
identities and nothing vulnerability-specific (no ``[security]``, no ``[[rbac]]``, no objects,
no ``--allow-destructive``). It scans the vulnerable app and then the fixed app (the demo's
secure mode). Printed per app: ground-truth items found / total, false positives (findings
that match no item, listed), findings on the fixed app, operations that answered a 2xx during
the scan (counted by the app itself: its journal, or the demo's request log), wall time and
requests.

schemathesis (from ``.venv-peers``: ``python -m venv .venv-peers && .venv-peers/bin/pip
install schemathesis``; never a battletest dependency) runs on the same apps with two users in
a Web Fuzzing Commons auth file (the two unprivileged users, each other's ``peers`` for its
object-level-authorization check) and every check. It is credited by the same ground truth:
each of its checks is mapped below (``PEER_CREDIT``) to the scanner check ids whose items a
failure of it can reveal, and a failure credits an item when ``truth.match`` accepts it on the
failure's operation. Its raw failures per operation are printed too.

Matching is by the machine-readable ground truth only (``tests/security/apps/*/
ground_truth.toml`` through ``tests/security/apps/truth.py``; the demo's
``tests/security/demo_truth.py``, which names check ids but not operations).

    .venv/bin/python bench/bench_scan.py [--apps demo,allotment,depot] [--depth standard]
                                         [--no-peer] [--demo-depths] [--json FILE]

``--demo-depths`` adds the older table: the insecure demo at every depth with the demo's full
config (its ``[security]`` objects and RBAC matrix) in-process. Exits 1 when schemathesis did not
run or a goal of issue 19 is missed (≥ 90% found, no false positive, nothing on the fixed
app, ≥ 90% of operations reached, under 60 s and 5,000 requests per app).
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.security.apps import launch  # noqa: E402
from tests.security.apps.truth import GroundTruth, Item, load  # noqa: E402
from tests.security.demo_truth import IN_SCOPE  # noqa: E402  (the ground truth the tests use)

BATTLETEST = ROOT / ".venv" / "bin" / "battletest"
SCHEMATHESIS = ROOT / ".venv-peers" / "bin" / "schemathesis"
DEMO = {"rate_limit_per_client": 1_000_000, "kdf_time_cost": 1, "kdf_memory_kib": 8192}
GOAL = {"found": 0.9, "reached": 0.9, "time_s": 60.0, "requests": 5000}  # issue 19
APPS = ("demo", "allotment", "depot")
# the two unprivileged users each tool acts as (schemathesis: user and its peer)
PEERS = {"demo": ("guest1", "guest2"), "allotment": ("alice", "bob"), "depot": ("dana", "eli")}
# schemathesis check -> scanner check ids whose ground-truth items a failure of it can reveal
# (on the item's own operation). A 5xx reveals the injections whose proof is a server error;
# a response outside its schema reveals exposed properties only where the schema is strict;
# its other checks (status codes, content types, headers, Allow, positive/negative data,
# use-after-free, resource availability) are conformance checks with no item to reveal.
PEER_CREDIT: dict[str, set[str]] = {
    "not_a_server_error": {"sqli-error", "stack-trace", "fuzz-5xx", "nested-json"},
    "object_level_authorization": {"bola", "cross-tenant"},
    "ignored_auth": {"auth-missing", "jwt-bad-signature", "jwt-alg-none", "jwt-expired"},
    "response_schema_conformance": {"data-exposure"},
    "max_response_time": {"redos"},
}


# checks that also report a planted demo item (besides IN_SCOPE, which lists the one that
# must): docs/demo.md row 13, missing_headers, plants the version headers too
DEMO_ALSO = {"missing_headers": {"version-disclosure"}}


def demo_truth() -> GroundTruth:
    items = tuple(
        Item(
            id=name,
            title=name,
            method="*",
            paths=("*",),
            checks=frozenset(ids | DEMO_ALSO.get(name, set())),
        )
        for name, ids in IN_SCOPE.items()
    )
    return GroundTruth(app="demo", spec="", items=items, absent=())


@dataclass
class Target:
    """One app running on loopback, with what both tools need to act on it."""

    name: str
    base_url: str
    spec_url: str
    config: str  # battletest.toml text: target, login, identities only
    operations: list[tuple[str, str]]  # (METHOD, path template) of the spec
    answered: Callable[[], list[tuple[str, str, int]]]  # (METHOD, template, status) so far
    headers: dict[str, dict[str, str]]  # user -> the header(s) that authenticate it
    exclude_paths: list[str] = field(default_factory=list)

    def reached(self, since: int = 0) -> set[tuple[str, str]]:
        return {(m, p) for m, p, s in self.answered()[since:] if 200 <= s < 300}


def _templates(ops: list[tuple[str, str]]) -> Callable[[str, str], str]:
    """Concrete request path -> the spec's template ({id} segments), literal paths first."""
    literal = {p for _, p in ops}
    patterns = [
        (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"), p)
        for p in sorted(literal, key=lambda p: p.count("{"))
        if "{" in p
    ]

    def template(method: str, path: str) -> str:
        if path in literal:
            return path
        for pattern, p in patterns:
            if pattern.match(path):
                return p
        return path

    return template


def identities_only(config: str) -> str:
    """Keep [target], [auth] and [[identities]] of a battletest.toml; drop everything else."""
    keep, out = True, []
    for line in config.splitlines():
        header = re.match(r"^\s*\[\[?([^\]]+)\]\]?\s*$", line)
        if header:
            keep = header.group(1).strip() in {"target", "auth", "identities"}
        if keep:
            out.append(line)
    return "\n".join(out) + "\n"


def _spec_operations(spec_url: str, base_url: str) -> list[tuple[str, str]]:
    from battletest.spec import load_spec

    return [(op.method.upper(), op.path) for op in load_spec(spec_url, base_url).operations]


@contextmanager
def demo_target(vulnerable: bool, for_peer: bool = False) -> Iterator[Target]:
    from battletest.demo import start

    # the scanner gets 3-second tokens (its expired-token check waits one out); schemathesis,
    # which cannot log in again, gets the default lifetime
    knobs = DEMO if for_peer else {**DEMO, "token_ttl_s": 3}
    with start(insecure=vulnerable, **knobs) as demo:
        ops = _spec_operations(demo.spec_url, demo.base_url)
        template = _templates(ops)
        log = demo.log_path("app")
        line = re.compile(r" battletest\.demo (\w+) (\S+) (\d{3}) ")

        def answered() -> list[tuple[str, str, int]]:
            out = []
            for m in line.finditer(log.read_text(errors="replace")):
                path = m.group(2).split("?")[0]
                out.append((m.group(1), template(m.group(1), path), int(m.group(3))))
            return out

        headers = {}
        for ident in demo.identities:
            if ident.name in PEERS["demo"]:
                r = httpx.post(
                    demo.base_url + "/v1/auth/login",
                    json={"username": ident.username, "password": ident.password},
                )
                r.raise_for_status()
                headers[ident.name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield Target(
            name="demo",
            base_url=demo.base_url,
            spec_url=demo.spec_url,
            config=identities_only(demo.config_toml()),
            operations=ops,
            answered=answered,
            headers=headers,
            exclude_paths=["/v1/auth/logout"],  # it would revoke the tokens schemathesis holds
        )


@contextmanager
def app_target(name: str, vulnerable: bool) -> Iterator[Target]:
    with launch.served(name, vulnerable=vulnerable) as served:
        headers = {}
        for user in PEERS[name]:
            if name == "allotment":
                from tests.security.apps.allotment.app import COOKIE, MEMBERS

                r = httpx.post(
                    served.base_url + "/login",
                    data={"username": user, "password": MEMBERS[user][0]},
                )
                headers[user] = {"Cookie": f"{COOKIE}={r.cookies[COOKIE]}"}
            else:
                from tests.security.apps.depot.app import USERS

                pair = base64.b64encode(f"{user}:{USERS[user][0]}".encode()).decode()
                headers[user] = {"Authorization": f"Basic {pair}"}
        yield Target(
            name=name,
            base_url=served.base_url,
            spec_url=served.spec_url,
            config=launch.config_text(name, served.base_url),
            operations=_spec_operations(served.spec_url, served.base_url),
            answered=lambda: list(served.journal.entries),
            headers=headers,
            exclude_paths=["/logout"] if name == "allotment" else [],
        )


def target(name: str, vulnerable: bool, for_peer: bool = False) -> Any:
    if name == "demo":
        return demo_target(vulnerable, for_peer)
    return app_target(name, vulnerable)


def truth_of(name: str) -> GroundTruth:
    return demo_truth() if name == "demo" else load(name)


def battletest_scan(t: Target, depth: str) -> dict[str, Any]:
    """``battletest scan --config`` in a child process, as a user runs it."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-scan-{t.name}-"))
    (work / "battletest.toml").write_text(t.config)
    since = len(t.answered())
    cmd = [str(BATTLETEST), "scan", "--config", str(work / "battletest.toml")]
    cmd += ["--depth", depth, "--json", "--out", str(work / "runs")]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "no answer after 1,800 s", "time_s": time.perf_counter() - started}
    elapsed = time.perf_counter() - started
    try:
        report = json.loads(proc.stdout)
        suite = next(s for s in report["suites"] if s["name"] == "security")
    except (ValueError, StopIteration, KeyError):
        tail = (proc.stdout[-800:] + proc.stderr[-800:]).strip()
        return {"error": f"exit {proc.returncode}: {tail}", "time_s": elapsed}
    reached = t.reached(since) & set(t.operations)
    return {
        "exit": proc.returncode,
        "time_s": elapsed,
        "requests": suite["metrics"].get("requests", 0),
        "inconclusive": suite["metrics"].get("inconclusive", 0),
        "findings": suite["findings"],
        "reached": reached,
        "operations": len(t.operations),
        "spec_operations": list(t.operations),
    }


def judge(findings: list[dict[str, Any]], truth: GroundTruth) -> tuple[set[str], list[str]]:
    """(ids of the items found, the false positives as lines)."""
    found: set[str] = set()
    wrong: list[str] = []
    for f in findings:
        item = truth.match(f["check_id"], f.get("method"), f.get("path"))
        if item is not None:
            found.add(item.id)
            continue
        where = f"{f['check_id']} {f.get('method') or ''} {f.get('path') or ''}".strip()
        if f.get("parameter"):
            where += f" [{f['parameter']}]"
        absent = truth.absent_hit(f["check_id"], f.get("method"), f.get("path"))
        wrong.append(where + (f" (on {absent.id}: {absent.title})" if absent else ""))
    return found, wrong


def schemathesis_scan(t: Target, max_examples: int = 25) -> dict[str, Any] | None:
    if not SCHEMATHESIS.exists():
        return None
    work = Path(tempfile.mkdtemp(prefix=f"bench-schemathesis-{t.name}-"))
    users = list(PEERS[t.name])
    auth = [
        {"name": u, "fixedHeaders": [{"name": k, "value": v} for k, v in t.headers[u].items()]}
        for u in users
    ]
    (work / "auth.json").write_text(json.dumps({"auth": auth}))
    (work / "schemathesis.toml").write_text(
        "[auth.wfc]\n"
        f'path = "{work / "auth.json"}"\n'
        f'user = "{users[0]}"\n'
        f"peers = {json.dumps(users)}\n"
    )
    cmd = [str(SCHEMATHESIS), "--config-file", str(work / "schemathesis.toml"), "run"]
    cmd += [t.spec_url, "--url", t.base_url, "--checks", "all"]
    for path in t.exclude_paths:
        cmd += ["--exclude-path", path]
    cmd += ["--max-examples", str(max_examples), "--report", "ndjson"]
    cmd += ["--report-dir", str(work / "report"), "--no-color"]
    since = len(t.answered())
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        print(f"schemathesis gave no answer on {t.name} after 1,800 s")
        return None
    elapsed = time.perf_counter() - started
    reports = sorted((work / "report").glob("*.ndjson"))
    if not reports:
        print(f"schemathesis did not run on {t.name}:", proc.stdout[-1500:], proc.stderr[-1500:])
        return None
    failures: collections.Counter[tuple[str, str]] = collections.Counter()
    requests = 0
    for line in reports[0].read_text().splitlines():
        done = json.loads(line).get("ScenarioFinished")
        if not done:
            continue
        recorder = done["recorder"]
        requests += len(recorder.get("interactions") or {})
        for results in (recorder.get("checks") or {}).values():
            for check in results:
                if check.get("status") == "failure":
                    # a stateful-phase failure is labelled "Stateful tests"; its operation is
                    # in the failure itself
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    failures[(check["name"], info.get("operation") or recorder["label"])] += 1
    return {
        "time_s": elapsed,
        "requests": requests,
        "failures": failures,
        "reached": t.reached(since) & set(t.operations),
        "operations": len(t.operations),
    }


def credit(failures: collections.Counter[tuple[str, str]], truth: GroundTruth) -> set[str]:
    """Ground-truth items a schemathesis failure reveals, by ``PEER_CREDIT`` and the truth."""
    found = set()
    for name, label in failures:
        method, _, path = label.partition(" ")
        for check_id in PEER_CREDIT.get(name, ()):
            item = truth.match(check_id, method, path)
            if item is not None:
                found.add(item.id)
    return found


def run_app(name: str, depth: str, peer: bool) -> dict[str, Any]:
    truth = truth_of(name)
    out: dict[str, Any] = {"name": name, "total": len(truth.items)}
    for mode, vulnerable in (("vulnerable", True), ("fixed", False)):
        print(f"battletest scan {name} ({mode}, {depth}) …", flush=True)
        with target(name, vulnerable) as t:
            out[mode] = battletest_scan(t, depth)
        if "findings" in out[mode]:
            out[mode]["found"], out[mode]["false"] = judge(out[mode]["findings"], truth)
        if peer:
            print(f"schemathesis {name} ({mode}) …", flush=True)
            with target(name, vulnerable, for_peer=True) as t:
                theirs = schemathesis_scan(t)
            if theirs is not None:
                theirs["found"] = credit(theirs["failures"], truth)
            out[f"peer_{mode}"] = theirs
    return out


def _row(tool: str, app: str, r: dict[str, Any] | None, total: int, fixed: Any) -> str:
    if r is None:
        return f"{tool:<14}{app:<11}{'did not run':>12}"
    if "error" in r:
        return f"{tool:<14}{app:<11}  error: {r['error'][:200]}"
    fp = len(r["false"]) if "false" in r else "-"
    reached = f"{len(r['reached'])}/{r['operations']}"
    return (
        f"{tool:<14}{app:<11}{len(r['found']):>6}/{total:<5}{fp!s:>6}{fixed!s:>8}"
        f"{reached:>10}{r['time_s']:>9.1f}{r['requests']:>10}"
    )


def _fixed_count(r: dict[str, Any] | None, key: str) -> Any:
    if r is None or "error" in r:
        return "-"
    return len(r[key]) if key == "findings" else sum(r["failures"].values())


def report(results: list[dict[str, Any]], depth: str) -> bool:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h %cd", "--date=iso"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print()
    print(f"battletest at {commit or 'an unknown commit'}")
    print(f"scan at {depth} depth, identities only; schemathesis with two users, every check")
    print(
        f"{'tool':<14}{'app':<11}{'found':>12}{'FP':>6}{'fixed':>8}{'2xx ops':>10}"
        f"{'time s':>9}{'requests':>10}"
    )
    met = True
    for r in results:
        total = r["total"]
        print(
            _row(
                "battletest",
                r["name"],
                r["vulnerable"],
                total,
                _fixed_count(r["fixed"], "findings"),
            )
        )
        if "peer_vulnerable" in r:
            fixed = _fixed_count(r.get("peer_fixed"), "failures")
            print(_row("schemathesis", r["name"], r["peer_vulnerable"], total, f"{fixed}*"))
    print("  FP: findings matching no ground-truth item; fixed: findings on the fixed app")
    print("  (* schemathesis: raw failures on the fixed app); 2xx ops: spec operations that")
    print("  answered 2xx during that tool's run, counted by the app")
    for r in results:
        ours, truth = r["vulnerable"], truth_of(r["name"])
        print(f"\n{r['name']}:")
        if "error" in ours:
            print("  battletest error:", ours["error"])
            met = False
            continue
        print(f"  battletest exit {ours['exit']}, {ours['inconclusive']} check runs inconclusive")
        missed = [i for i in truth.items if i.id not in ours["found"]]
        for item in missed:
            print(f"  missed {item.id}: {item.title}")
        for line in ours["false"]:
            print(f"  false positive: {line}")
        fixed = r["fixed"]
        for f in fixed.get("findings", []):
            print(
                f"  on the fixed app: {f['check_id']} {f.get('method') or ''} {f.get('path') or ''}"
            )
        unreached = sorted(set(ours["spec_operations"]) - ours["reached"])
        if unreached:
            print("  no 2xx during the scan: " + ", ".join(f"{m} {p}" for m, p in unreached))
        share = len(ours["reached"]) / max(1, ours["operations"])
        goals = [
            len(ours["found"]) >= GOAL["found"] * r["total"],
            not ours["false"],
            "error" not in fixed and not fixed["findings"],
            share >= GOAL["reached"],
            ours["time_s"] < GOAL["time_s"],
            ours["requests"] < GOAL["requests"],
        ]
        print("  issue-19 goal: " + ("met" if all(goals) else "NOT met"))
        met = met and all(goals)
        peer = r.get("peer_vulnerable")
        if peer is not None:
            credited = ", ".join(sorted(peer["found"], key=_id_order)) or "none"
            print(f"  schemathesis credited with: {credited}")
            could = sorted(
                {i.id for i in truth.items if i.checks & set().union(*PEER_CREDIT.values())},
                key=_id_order,
            )
            print(f"  items any schemathesis check can reveal (PEER_CREDIT): {', '.join(could)}")
            print("  schemathesis failures (check, operation, count):")
            for (name, label), count in sorted(peer["failures"].items(), key=lambda x: x[0][::-1]):
                print(f"    {label:<42} {name} ({count})")
    return met


def _id_order(item_id: str) -> tuple[str, int]:
    digits = "".join(c for c in item_id if c.isdigit())
    return item_id.rstrip("0123456789"), int(digits or 0)


def demo_depths() -> None:
    """The older table: the insecure demo at each depth, full demo config, in-process."""
    from battletest.config import load_config
    from battletest.demo import start
    from battletest.security.context import identities_from
    from battletest.security.suite import scan, settings_from

    print(f"\n{'demo, full config':<22}{'time s':>9}{'requests':>10}{'findings':>10}{'found':>10}")
    for depth in ("basic", "standard", "comprehensive"):
        with start(insecure=True, token_ttl_s=3, **DEMO) as demo:
            folder = Path(tempfile.mkdtemp(prefix="bench-scan-"))
            config = load_config(demo.write_config(folder / "battletest.toml"))
            settings = settings_from(config, depth=depth, allow_destructive=True)
            people = identities_from(config.identities, config.auth.api_key_header)
            from battletest.spec import load_spec

            spec = load_spec(None, demo.base_url)
            log = demo.log_path("app")
            started = time.perf_counter()
            outcome = scan(
                demo.base_url,
                spec,
                people,
                settings,
                extra_secrets=config.secrets(),
                log_source=lambda log=log: log.read_text(errors="replace"),  # type: ignore[misc]
            )
            elapsed = time.perf_counter() - started
        checks = {f.check_id for f in outcome.findings}
        found = sum(1 for ids in IN_SCOPE.values() if ids & checks)
        print(
            f"{depth:<22}{elapsed:>9.1f}{outcome.requests:>10}{len(outcome.findings):>10}"
            f"{found:>7}/{len(IN_SCOPE)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--depth", default="standard")
    parser.add_argument("--no-peer", action="store_true", help="skip schemathesis")
    parser.add_argument("--demo-depths", action="store_true")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    peer = not args.no_peer
    if peer and not SCHEMATHESIS.exists():
        print(f"schemathesis is not installed at {SCHEMATHESIS}: see this file's docstring")
        return 1
    results = []
    for name in args.apps.split(","):
        results.append(run_app(name, args.depth, peer))
    met = report(results, args.depth)
    if args.demo_depths:
        demo_depths()
    if args.json:
        args.json.write_text(json.dumps(_plain(results), indent=1))
    peer_ran = not peer or all(r.get("peer_vulnerable") is not None for r in results)
    return 0 if met and peer_ran else 1


def _plain(value: Any) -> Any:
    """The results as JSON data (sets sorted, (check, operation) keys joined)."""
    if isinstance(value, dict):
        return {" ".join(k) if isinstance(k, tuple) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
