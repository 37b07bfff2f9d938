"""The ground-truth files parse, agree with their apps, and match findings by one rule."""

from __future__ import annotations

import pytest

from .allotment.app import ALL as ALLOTMENT
from .depot.app import ALL as DEPOT
from .truth import APPS, load


@pytest.mark.parametrize("app", APPS)
def test_ground_truth_meets_the_issue_shape(app: str) -> None:
    truth = load(app)
    switches = {"allotment": ALLOTMENT, "depot": DEPOT}[app]
    assert set(truth.ids) == switches  # one switch per item, nothing unlisted
    assert len(truth.items) >= 10
    assert len({i.owasp for i in truth.items}) >= 6
    hard = [i for i in truth.items if i.reach != "plain"]
    assert 3 * len(hard) >= len(truth.items)
    assert all(i.checks for i in truth.items)


def test_a_finding_matches_by_check_method_and_path() -> None:
    truth = load("allotment")
    match = truth.match
    assert match("bola", "GET", "/rpc/plots.get").id == "A1"
    assert match("bola", "POST", "/rpc/plots.rename").id == "A2"
    assert match("bola", "GET", "/rpc/plots.rename") is None  # wrong method
    assert match("bfla", "GET", "/rpc/plots.get") is None  # wrong check
    assert match("jwt-weak-secret", None, None).id == "A4"
    assert match("csrf", "POST", "/rpc/notes.add").id == "A15"
    assert match("xss-reflected", "GET", "/rpc/help.page") is None
    assert truth.absent_hit("xss-reflected", "GET", "/rpc/help.page").id == "N1"
    depot = load("depot")
    assert depot.match("undocumented-endpoint", "GET", "/v0/vehicles").id == "B8"
    assert depot.match("stack-trace", "PUT", "/v1/vehicles/{plate}").id == "B11"
    assert depot.match("bola", "PUT", "/v1/vehicles/{plate}") is None
