"""battletest never harms a real app: production and LIVE_SMOKE send nothing that writes.

Kinto holds data that the test made through Kinto's own API before battletest ran (accounts
with HTTP Basic, buckets, collections, records, a group), and documents operations that destroy
it (collection-wide DELETEs, ``DELETE /__user_data__/{principal}``, ``DELETE /accounts/{id}``;
GROUND_TRUTH.md). Jupyter Server holds files made through its contents API, and documents
``DELETE /api/contents/{path}``. After every suite ran under a production profile and in
LIVE_SMOKE, each object reads back byte for byte (for Jupyter: every file on disk), every
account or token still logs in, and the app's own journal holds no request with an unsafe
method.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.thirdparty.apps import JUPYTER, Running
from tests.thirdparty.configs import write_config
from tests.thirdparty.kinto_seed import logged_in, seed_objects, snapshot
from tests.thirdparty.runs import assert_completed, battletest, target_args

pytestmark = [pytest.mark.slow, pytest.mark.network]

SAFE = {"GET", "HEAD", "OPTIONS"}

# (label, flags): a profile named production (read-only whatever the mode), and LIVE_SMOKE on a
# staging profile (read-only by mode).
READ_ONLY_RUNS = [
    ("production", ["--profile", "production"]),
    ("live-smoke", ["--profile", "staging", "--mode", "live_smoke"]),
]


def _unsafe(app: Running, since: int) -> list[str]:
    return [
        f"{e['method']} {e['path']} -> {e['status']}"
        for e in app.journal()[since:]
        if e["method"] not in SAFE
    ]


def _read_only_runs(app: Running, tmp_path: Path) -> None:
    """Every suite, under a production profile and then in LIVE_SMOKE: nothing unsafe sent."""
    for label, flags in READ_ONLY_RUNS:
        workdir = tmp_path / label
        config = write_config(workdir, app.app.name)
        mark = app.journal_mark()
        argv = ["run", "--config", str(config), *target_args(app), *flags, "--no-history"]
        outcome = battletest(argv, workdir)
        assert_completed(outcome)
        assert _unsafe(app, mark) == [], f"{label}\n{outcome.describe()}"


def test_read_only_runs_leave_kinto_data_and_accounts_intact(
    fresh_kinto: Running, tmp_path: Path
) -> None:
    kinto = fresh_kinto
    seed_objects(kinto)
    before = snapshot(kinto)
    assert all(key.endswith("-> 200") for key in before.bodies), list(before.bodies)
    _read_only_runs(kinto, tmp_path)
    assert snapshot(kinto) == before
    assert logged_in(kinto) == {"admin": True, "alice": True, "bob": True}


# What the test puts in Jupyter's root folder through the contents API before battletest runs.
JUPYTER_FILES = {
    "keep.txt": "written before the run\n",
    "notes/plan.md": "# plan\n- nothing may change\n",
    "notes/data.json": '{"n": 1}',
}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_read_only_runs_leave_jupyter_files_and_token_intact(
    fresh_jupyter_server: Running, tmp_path: Path
) -> None:
    app = fresh_jupyter_server
    headers = dict(JUPYTER.headers)
    with httpx.Client(base_url=app.url, headers=headers, timeout=10) as client:
        assert client.put("/api/contents/notes", json={"type": "directory"}).status_code == 201
        for path, text in JUPYTER_FILES.items():
            body = {"type": "file", "format": "text", "content": text}
            assert client.put(f"/api/contents/{path}", json=body).status_code == 201
    root = app.workdir / "root"
    before = _files(root)
    assert sorted(before) == sorted(JUPYTER_FILES)
    _read_only_runs(app, tmp_path)
    assert _files(root) == before
    assert httpx.get(app.url + "/api/status", headers=headers, timeout=10).status_code == 200
