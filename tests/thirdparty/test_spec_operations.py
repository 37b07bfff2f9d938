"""The one spec model reads each real app's published document as the app declares it."""

from __future__ import annotations

import pytest
from tests.thirdparty.apps import APPS, Running, spec_operations

from battletest.spec import load_spec

pytestmark = [pytest.mark.slow, pytest.mark.network]

# GROUND_TRUTH.md: operations in each app's spec (all three publish Swagger 2.0).
OPERATIONS = {"kinto": 43, "httpbin": 78, "jupyter-server": 32}


@pytest.fixture(params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> Running:
    running: Running = request.getfixturevalue(request.param.replace("-", "_"))
    return running


def test_battletest_reads_every_operation_of_the_spec(app: Running) -> None:
    """The one spec model sees exactly the operations the document declares (ground truth)."""
    raw = spec_operations(app.spec_document(), app.app.base_path)
    assert len(raw) == OPERATIONS[app.app.name]
    spec = load_spec(app.spec, app.url)
    assert sorted((op.method, op.path) for op in spec.operations) == sorted(
        (op.method, op.path) for op in raw
    )
    # httpbin's document says host httpbin.org: the target named by the user stays the target
    assert all(not op.path.startswith("http") for op in spec.operations)
