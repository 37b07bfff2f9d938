"""Every suite over the smallest corpus documents, the path ``bench/bench_corpus.py`` takes.

The mock answers from the document itself, so whatever the contract suite sees there is what
the document describes: every contract case must pass, and every operation must be reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.spec.corpus import SUITES, run_document, smallest


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("name", smallest(2))
def test_every_suite_runs_over_the_document_against_its_mock(name: str, tmp_path: Path) -> None:
    run = run_document(name, tmp_path, load="0.5s", timeout_s=60)
    assert run.crashes == [], run.crashes
    assert run.exit_code in (0, 1)
    ran = {s.name for s in run.suites}
    assert ran == set(SUITES) - set(run.not_applicable), (ran, run.not_applicable)
    contract = run.suite("contract")
    assert contract is not None
    assert (contract.cases, contract.passed) == (run.operations, run.operations), run.failures
    assert (run.reached, run.succeeded) == (run.operations, run.operations), run.not_reached
