"""Distributed load on a Dask LocalCluster (worker processes) against a real nginx on loopback.

Ground truth comes from outside battletest: nginx's own request count (``stub_status``), the
arrival schedule (rate × duration), and the per-worker histograms each Dask task sent. The
unit tests at the top refuse bad input without starting anything.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from tests.clitools import run_cli

from battletest.errors import SafetyError, UsageError
from battletest.load import ExecutorSpec, LiveStats, histogram, run
from battletest.load.distributed import Cluster, ClusterSpec, check_target, refuse_unnamed

from .nginx_server import handled, nginx

distributed = pytest.importorskip("distributed")


def test_cluster_addresses_parse_and_bad_ones_are_refused() -> None:
    assert ClusterSpec.parse("local:3") == ClusterSpec(local_workers=3)
    assert ClusterSpec.parse("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    assert ClusterSpec.parse("tls://scheduler:8786").address == "tls://scheduler:8786"
    for bad in ("local:0", "local:x", "scheduler:8786", "http://scheduler:8786", "tcp://"):
        with pytest.raises(UsageError):
            ClusterSpec.parse(bad)


def test_a_target_the_user_did_not_name_is_refused() -> None:
    with pytest.raises(SafetyError, match="needs a target you name"):
        refuse_unnamed(False)
    refuse_unnamed(True)


def test_loopback_target_on_remote_workers_is_refused() -> None:
    remote = Cluster(None, ["tcp://127.0.0.1:4001", "tcp://10.1.2.3:4002"], ClusterSpec("x"))
    with pytest.raises(SafetyError, match="each worker would load its own machine"):
        check_target("http://127.0.0.1:8080", remote)
    check_target("http://10.9.9.9:8080", remote)  # a name every worker reaches: allowed
    local = Cluster(None, ["tcp://127.0.0.1:4001", "tcp://127.0.0.1:4002"], ClusterSpec("x"))
    check_target("http://127.0.0.1:8080", local)


@pytest.mark.slow
def test_cli_refuses_cluster_without_a_named_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["load", "--cluster", "local:2", "--duration", "1s"], capsys)
    assert code == 2
    assert "needs a target you name" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_cli_refuses_a_bad_cluster_address(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        ["load", "--target", "http://127.0.0.1:9", "--cluster", "8786", "--duration", "1s"],
        capsys,
    )
    assert code == 2
    assert "is not a Dask scheduler address" in err


def local_cluster() -> Any:
    """Two worker processes, one thread each, nothing on fixed ports."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",
        host="127.0.0.1",
        silence_logs=50,
    )


def test_the_load_section_names_a_cluster_for_battletest_run(tmp_path: Any) -> None:
    from battletest.config import load_config
    from battletest.errors import ConfigError
    from battletest.load.options import LoadSettings

    path = tmp_path / "battletest.toml"
    path.write_text('[load]\ncluster = "tcp://10.0.0.5:8786"\nvus = 4\n', encoding="utf-8")
    section = load_config(path, environ={}).load
    settings = LoadSettings.coerce(section.model_dump(exclude_none=True))
    assert settings.run_kwargs()["cluster"] == "tcp://10.0.0.5:8786"
    path.write_text("[load]\ncluster = 8786\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cluster"):
        load_config(path, environ={})


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    from battletest.errors import ConfigError
    from battletest.load.distributed import connect
    from battletest.netutil import free_port

    with pytest.raises(ConfigError, match="cannot reach the Dask cluster") as caught:
        connect(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    assert "dask scheduler" in (caught.value.hint or "")


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with nginx() as url:
        yield url


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A LocalCluster of two worker processes; the run connects to its tcp:// address."""
    cluster = local_cluster()
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _worker_histograms(result: Any) -> list[Any]:
    return [histogram.decode(w["histogram"]) for w in result.cluster["workers"]]


@pytest.mark.slow
@pytest.mark.network
def test_totals_are_the_workers_sum_and_nginx_count_and_rate_is_exact(
    target: str, scheduler: str
) -> None:
    before = handled(target)
    result = run(
        target,
        executor=ExecutorSpec("constant-arrival-rate", rate=300, duration=4),
        cluster=scheduler,
    )
    served = handled(target) - before - 2  # the preflight probe and the second stub_status
    workers = result.cluster["workers"]
    assert result.workers == 2 and len(workers) == 2
    assert all(w["lost_at"] is None for w in workers)
    assert result.requests == sum(w["requests"] for w in workers) == served
    # execution segments: worker i owns arrivals i, i+2, …: an exact half each
    assert all(abs(w["requests"] - 600) <= 6 for w in workers)
    intended = 300 * 4
    assert result.requests + result.dropped_iterations + result.interrupted_iterations == intended
    assert abs(result.requests - intended) <= intended * 0.01
    # exact HDR merge: the run's p99 is the p99 of every worker's samples together
    union = histogram.new_histogram()
    for hist in _worker_histograms(result):
        union.add(hist)
    merged = histogram.decode(result.histogram)
    assert union.get_total_count() == merged.get_total_count() == result.requests
    assert histogram.value_at_ms(union, 99.0) == histogram.value_at_ms(merged, 99.0)
    assert result.latency_ms.p99 == round(histogram.value_at_ms(union, 99.0), 3)
    assert sum(s.requests for s in result.series) <= result.requests
    assert len(result.series) >= 3


@pytest.mark.slow
@pytest.mark.network
def test_thresholds_pass_and_fail_as_in_a_one_process_run(target: str, scheduler: str) -> None:
    thresholds = ["p99<10s", "error_rate<1%", "p50<0.001ms", "requests>=100"]
    spec = ExecutorSpec("constant-arrival-rate", rate=100, duration=2)
    local = run(target, executor=spec, thresholds=thresholds, workers=1)
    dask = run(target, executor=spec, thresholds=thresholds, cluster=scheduler)
    verdicts = [(r.threshold, r.passed) for r in local.thresholds]
    assert verdicts == [(r.threshold, r.passed) for r in dask.thresholds]
    assert dict(verdicts)["p50<0.001ms"] is False and dict(verdicts)["p99<10s"] is True
    assert not dask.passed and not dask.interrupted


@pytest.mark.slow
@pytest.mark.network
def test_abort_on_fail_is_evaluated_on_merged_figures_while_running(
    target: str, scheduler: str
) -> None:
    result = run(
        target,
        executor=ExecutorSpec("constant-vus", vus=4, duration=60),
        thresholds=[{"threshold": "p50<0.001ms", "abortOnFail": True}],
        cluster=scheduler,
    )
    assert result.aborted and not result.interrupted
    assert result.duration_s < 30  # stopped after its first evaluated second, not at 60 s
    assert result.requests == sum(w["requests"] for w in result.cluster["workers"])


@pytest.mark.slow
@pytest.mark.network
def test_a_worker_killed_mid_run_is_reported_and_the_run_completes(target: str) -> None:
    cluster = local_cluster()
    client = distributed.Client(cluster)
    try:
        pids = client.run(os.getpid)
        victim = sorted(pids)[1]  # the run gives sorted worker addresses indexes 0, 1, …
        killed: list[float] = []

        def kill_at_two_seconds(stats: LiveStats) -> None:
            if stats.elapsed >= 2 and not killed:
                killed.append(stats.elapsed)
                os.kill(pids[victim], signal.SIGKILL)

        result = run(
            target,
            executor=ExecutorSpec("constant-arrival-rate", rate=100, duration=6),
            cluster=cluster.scheduler_address,
            progress=kill_at_two_seconds,
        )
    finally:
        client.close()
        cluster.close()
    assert killed
    lost = [w for w in result.cluster["workers"] if w["lost_at"] is not None]
    assert [w["address"] for w in lost] == [victim]
    line = next(w for w in result.warnings if w.startswith("worker 1 "))
    assert f"lost at {lost[0]['lost_at']} s" in line
    assert not result.interrupted and not result.aborted
    survivor = result.cluster["workers"][0]
    assert survivor["requests"] == 300  # its whole share: the run went on
    # the victim's share after its last snapshot is counted as dropped, and gated
    assert result.dropped_iterations > 0
    assert result.requests + result.dropped_iterations + result.interrupted_iterations <= 600
    assert result.requests + result.dropped_iterations >= 600 - 30  # in flight at the kill
    row = next(r for r in result.thresholds if r.threshold == "dropped_iterations==0")
    assert row.passed is False


@pytest.mark.slow
@pytest.mark.network
def test_cli_runs_on_a_local_cluster(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        ["load", "--target", target, "--cluster", "local:2", "--vus", "2", "--duration", "2s"],
        capsys,
    )
    assert code == 0, err
    assert "workers 2" in out


PYTHON_SCENARIO = """
from battletest.load.tasks import VirtualUser, task

# the Dask task imports the source it was sent, written to a temporary folder of its own
SHIPPED = "battletest-scenario-" in __file__


class Reader(VirtualUser):
    @task
    async def home(self) -> None:
        await self.client.get("/", expect=200 if SHIPPED else 201)
"""


@pytest.mark.slow
@pytest.mark.network
def test_a_python_scenario_ships_to_the_workers_as_source(
    target: str, scheduler: str, tmp_path: Any
) -> None:
    from battletest.load.tasks import load_python_scenario

    path = tmp_path / "reader.py"
    path.write_text(PYTHON_SCENARIO, encoding="utf-8")
    result = run(
        target,
        executor=ExecutorSpec("constant-vus", vus=2, duration=2),
        scenario=load_python_scenario(str(path)),
        cluster=scheduler,
    )
    home = result.endpoints["home"]
    assert home.requests > 0 and home.failed == 0, result.errors
    assert all(w["requests"] > 0 for w in result.cluster["workers"])
