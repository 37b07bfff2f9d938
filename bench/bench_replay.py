"""Record/replay figures on the demo (loopback, rate limit off), all measured in one run.

1. A recording from a load run: the demo's call flow (13 requests) recorded once through
   ``Recorder``, converted to a scenario and run by the load engine through a second recording
   proxy (``--vus`` VUs × ``--loops`` loops: ≥ 1,000 requests) — that recording is replayed
   against a fresh demo instance. Goal: zero false differences.
2. Mask learning on that recording: time and the masks found.
3. The GOLDEN comparison cost: 10,000 recorded answers compared with their replayed answers
   through ``diff`` + masks + the redactor (the pairs of step 1, cycled). Goal: < 2 s.
4. Replay as load beside the equivalent hand-written TOML scenario (the same steps and the same
   extractions), alternated ``--rounds`` times in the same run, one worker process each:
   requests/s and client CPU per request (medians). Goal: HAR ≤ 1.5× the TOML scenario's CPU.

    .venv/bin/python bench/bench_replay.py [--vus 8] [--loops 10] [--rounds 3]

Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from battletest.demo import start
from battletest.load.coordinator import run as load_run
from battletest.load.har import har_scenario_file
from battletest.load.options import LoadSettings
from battletest.redact import Redactor
from battletest.replay.diff import Answer, diff
from battletest.replay.har import write_episode
from battletest.replay.learn import learn_from_episodes
from battletest.replay.player import operation_of, replay_episode
from battletest.replay.recorder import Recorder
from battletest.transport import Transport, WritePolicy

FAST: dict[str, Any] = {"kdf_time_cost": 1, "kdf_memory_kib": 64, "rate_limit": False}
STAFF = ("staff.h1@demo.test", "staff1-Demo-2026!")
INPUTS = {"username": STAFF[0], "password": STAFF[1], "caller": "+14155550100"}

# The call flow written by hand as a TOML scenario: the same steps and extractions the HAR
# conversion produces (the comparison of step 4).
TOML = """
name = "call flow (hand-written)"
[vars]
user = "staff.h1@demo.test"
pw = "staff1-Demo-2026!"
[[tasks]]
name = "flow"
[[tasks.steps]]
method = "POST"
path = "/v1/auth/login"
json = { username = "{user}", password = "{pw}" }
expect = [200]
extract = { access_token = "json:access_token", refresh_token = "json:refresh_token" }
[[tasks.steps]]
method = "POST"
path = "/v1/calls"
headers = { Authorization = "Bearer {access_token}" }
json = { caller = "+14155550100", hotel_id = "h1", voice = "alloy" }
expect = [201]
extract = { call_id = "json:id" }
[[tasks.steps]]
method = "POST"
path = "/v1/calls/{call_id}/events"
headers = { Authorization = "Bearer {access_token}" }
json = { type = "answered" }
expect = [200]
[[tasks.steps]]
method = "POST"
path = "/v1/calls/{call_id}/events"
headers = { Authorization = "Bearer {access_token}" }
json = { type = "transcript", text = "a late checkout" }
expect = [200]
[[tasks.steps]]
method = "POST"
path = "/v1/calls/{call_id}/events"
headers = { Authorization = "Bearer {access_token}" }
json = { type = "ended" }
expect = [200]
[[tasks.steps]]
method = "GET"
path = "/v1/calls/{call_id}"
headers = { Authorization = "Bearer {access_token}" }
expect = [200]
[[tasks.steps]]
method = "GET"
path = "/v1/calls/{call_id}/transcript"
headers = { Authorization = "Bearer {access_token}" }
expect = [200]
[[tasks.steps]]
method = "POST"
path = "/v1/auth/logout"
headers = { Authorization = "Bearer {access_token}" }
json = { refresh_token = "{refresh_token}" }
expect = [204]
"""


def drive(base_url: str) -> None:
    """The call flow of the TOML above, with httpx (what the first recording holds)."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        body = c.post("/v1/auth/login", json={"username": STAFF[0], "password": STAFF[1]}).json()
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        call = c.post(
            "/v1/calls",
            json={"caller": INPUTS["caller"], "hotel_id": "h1", "voice": "alloy"},
            headers=auth,
        ).json()["id"]
        for event in (
            {"type": "answered"},
            {"type": "transcript", "text": "a late checkout"},
            {"type": "ended"},
        ):
            c.post(f"/v1/calls/{call}/events", json=event, headers=auth)
        c.get(f"/v1/calls/{call}", headers=auth)
        c.get(f"/v1/calls/{call}/transcript", headers=auth)
        c.post("/v1/auth/logout", json={"refresh_token": body["refresh_token"]}, headers=auth)


def load(target: str, scenario: Path, vus: int, iterations: int) -> Any:
    settings = LoadSettings.coerce(
        {
            "scenario": str(scenario),
            "executor": "per-vu-iterations",
            "vus": vus,
            "iterations": iterations,
            "workers": 1,
        }
    )
    return load_run(target, allow_destructive=True, **settings.run_kwargs(target))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vus", type=int, default=8)
    parser.add_argument("--loops", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="Profile the comparison (step 3).")
    parser.add_argument("--skip-load", action="store_true", help="Leave step 4 out.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    ok = True
    with start(**FAST) as demo:
        with Recorder(demo.base_url, out=work / "flow.har") as rec:
            drive(rec.url)
        flow = work / "flow.har"
        scenario = har_scenario_file(flow, work, inputs=INPUTS)
        with Recorder(demo.base_url, out=work / "load-run.har") as rec:
            result = load(rec.url, scenario, args.vus, args.loops)
        big = rec.stop()
    print(
        f"1. recording of a load run: {len(big.entries)} requests "
        f"({args.vus} VUs x {args.loops} loops, load result {result.requests} requests, "
        f"{result.failed} failed), {len({n for e in big.entries for n in e.extract})} "
        "correlated variables"
    )
    write_episode(big, work / "load-run.har")
    started = time.perf_counter()
    masks = learn_from_episodes([big])
    learn_s = time.perf_counter() - started
    print(f"2. mask learning on {len(big.entries)} recorded answers: {learn_s * 1000:.0f} ms, "
          f"{len(masks.masks)} masks")  # fmt: skip
    for mask in masks.masks:
        bounds = f" {mask.to_json()['range']}" if mask.kind == "number-range" else ""
        print(f"     {mask.operation}  {mask.path}  {mask.kind}{bounds}")

    red = Redactor()
    with start(**FAST) as fresh:
        http = Transport(fresh.base_url, policy=WritePolicy(allow_destructive=True), redactor=red)
        started = time.perf_counter()
        pairs: list[tuple[Answer, Answer, str]] = []

        def keep(entry: Any, actual: Answer) -> None:
            recorded = Answer.of(entry.status, entry.response_headers, entry.response_body)
            pairs.append((recorded, actual, operation_of(entry)))

        plain = replay_episode(big, http, inputs=INPUTS, redactor=red)
        plain_s = time.perf_counter() - started
        http.close()
    with start(**FAST) as fresh:
        http = Transport(fresh.base_url, policy=WritePolicy(allow_destructive=True), redactor=red)
        started = time.perf_counter()
        run = replay_episode(big, http, inputs=INPUTS, redactor=red, masks=masks, on_answer=keep)
        replay_s = time.perf_counter() - started
        http.close()
    plain_failed = [c for c in plain.cases if c.status.value != "passed"]
    paths = sorted({d["path"] for c in plain_failed for d in c.details.get("differences", [])})
    print(
        f"   replayed against a fresh demo without masks in {plain_s:.1f}s: "
        f"{plain.differences} difference(s) in {len(plain_failed)} of {len(plain.cases)} "
        f"answers, at {', '.join(paths[:6]) or 'nothing'}{' …' if len(paths) > 6 else ''}"
    )
    diffs = run.differences
    failed = [c for c in run.cases if c.status.value != "passed"]
    print(
        f"   replayed against another fresh demo with the learned masks in {replay_s:.1f}s: "
        f"{diffs} difference(s) in {len(failed)} of {len(run.cases)} answers (goal: 0)"
    )
    for case in failed[:5]:
        print(f"     {case.name}: {case.message}")
    ok &= diffs == 0

    cycle = [pairs[i % len(pairs)] for i in range(args.answers)]
    started = time.perf_counter()
    found = sum(len(diff(a, b, masks=masks, operation=op, redactor=red)) for a, b, op in cycle)
    compare_s = time.perf_counter() - started
    print(f"3. GOLDEN comparison of {args.answers} answers (diff + masks + redactor): "
          f"{compare_s:.2f} s ({compare_s / args.answers * 1e6:.0f} µs/answer), {found} "
          "differences — the transcript pages name the call id, which only a replay's "
          "substitutions map (goal: < 2 s)")  # fmt: skip
    started = time.perf_counter()
    for a, b, _ in cycle:  # the floor in the same run: only parsing both bodies
        if "json" in a.mime:
            json.loads(a.body)
        if "json" in b.mime:
            json.loads(b.body)
    floor_s = time.perf_counter() - started
    print(f"   (parsing both JSON bodies alone, the floor: {floor_s:.2f} s; diff = "
          f"{compare_s / floor_s:.1f}x that)")  # fmt: skip
    ok &= compare_s < 2.0
    if args.profile:
        import cProfile
        import pickle
        import pstats

        (work / "pairs.pkl").write_bytes(pickle.dumps((cycle[: len(pairs)], masks)))
        print(f"   pairs saved to {work / 'pairs.pkl'}")

        with cProfile.Profile() as prof:
            for a, b, op in cycle[:2000]:
                diff(a, b, masks=masks, operation=op, redactor=red)
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    if args.skip_load:
        return 0 if ok else 1

    toml = work / "hand.toml"
    toml.write_text(TOML, encoding="utf-8")
    har_cpu: list[float] = []
    toml_cpu: list[float] = []
    har_rps: list[float] = []
    toml_rps: list[float] = []
    with start(**FAST) as demo:
        for _ in range(args.rounds):
            for name, path, cpu, rps in (
                ("har", scenario, har_cpu, har_rps),
                ("toml", toml, toml_cpu, toml_rps),
            ):
                res = load(demo.base_url, path, args.vus, args.loops)
                if res.failed:
                    print(f"   {name}: {res.failed} failed requests", file=sys.stderr)
                cpu.append(res.client_cpu_s / max(res.requests, 1) * 1e6)
                rps.append(res.rps)
    har_med, toml_med = statistics.median(har_cpu), statistics.median(toml_cpu)
    print(f"4. replay as load, {args.vus} VUs x {args.loops} loops, {args.rounds} rounds each, "
          "medians (the demo on the same 2 cores bounds requests/s):")  # fmt: skip
    print(
        f"     load --har          {statistics.median(har_rps):8.1f} req/s  {har_med:7.0f} µs CPU/request"
    )
    print(
        f"     hand-written TOML   {statistics.median(toml_rps):8.1f} req/s  {toml_med:7.0f} µs CPU/request"
    )
    print(f"     ratio HAR/TOML CPU per request: {har_med / toml_med:.2f} (goal: <= 1.5)")
    ok &= har_med <= 1.5 * toml_med
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
