"""The published Toxiproxy Node client (npm ``toxiproxy-node-client``) drives our API.

The client is installed with ``npm ci`` from tests/chaos/node/package-lock.json into a
temporary directory (never into the work tree), then ``node drive.js`` runs create, toxic
add/update/remove, disable/enable, reset and populate against a ``FaultProxy`` API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from battletest.chaos.proxy import FaultProxy

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed (make system-deps installs them)"
    work = tmp_path_factory.mktemp("node-client")
    for name in ("package.json", "package-lock.json", "drive.js"):
        shutil.copy(NODE_DIR / name, work / name)
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"npm ci failed: {done.stderr[-2000:]}"
    return work


def test_toxiproxy_node_client_drives_the_api(node_client: Path, echo_server: Any) -> None:
    with FaultProxy(api="127.0.0.1:0") as faults:
        run = subprocess.run(
            ["node", "drive.js", str(faults.api_url), echo_server.address],
            cwd=node_client,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        facts = json.loads(run.stdout)
        assert sorted(faults.list()) == ["node_pop"]

    assert json.loads(facts["version"])["version"].startswith("2.")
    assert facts["created"]["name"] == "node_pms" and facts["created"]["enabled"] is True
    assert facts["plain"] == {"outcome": "ok", "got": "hello", "ms": facts["plain"]["ms"]}
    assert facts["toxic"]["name"] == "latency_downstream"
    assert facts["toxic"]["attributes"] == {"latency": 200, "jitter": 0}
    assert facts["slow"]["outcome"] == "ok" and facts["slow"]["ms"] >= 190
    assert facts["updated"]["attributes"]["latency"] == 50
    assert facts["fetched"]["attributes"]["latency"] == 50
    assert facts["after_remove"]["outcome"] == "ok"
    assert facts["disabled"]["enabled"] is False
    assert facts["while_disabled"]["outcome"] == "ECONNREFUSED"
    assert facts["after_reset"]["enabled"] is True and facts["after_reset_toxics"] == []
    assert facts["after_reset_trip"]["outcome"] == "ok"
    assert facts["populated"] == ["node_pop"]
    assert facts["all"] == ["node_pms", "node_pop"]
    assert "400" in facts["bad_toxic"]
    assert facts["after_delete"] == ["node_pop"]
