"""Scenario-level ``setup`` and ``teardown``: run once, in the coordinator, around the test.

What ``setup`` extracts (an admin token, an id it created) is handed to every VU as variables.
A failing setup step stops the run before any load (``ScenarioError``); a failing teardown
step becomes a warning of the result.
"""

from __future__ import annotations

import asyncio
from typing import Any

from battletest.errors import ScenarioError
from battletest.load.client import Client, RequestFailed
from battletest.load.flow import FlowScenario, VUState, check_response, render_step
from battletest.load.runtime import TLSOptions
from battletest.load.scenario import Target


def run_steps(
    scenario: FlowScenario,
    phase: str,
    target: Target,
    address: str,
    tls: TLSOptions,
    timeout: float,
    shared: dict[str, Any],
) -> dict[str, Any]:
    """Run the ``setup`` or ``teardown`` steps; return the variables they extracted."""
    steps = scenario.setup if phase == "setup" else scenario.teardown
    state = VUState(scenario, 0, shared)

    async def go() -> None:
        client = Client(target, address, timeout, tls.context() if target.tls else None)
        try:
            for step in steps:
                path, headers, body = render_step(step, state)
                try:
                    resp = await client.send(step.method, path, headers, body)
                except RequestFailed as exc:
                    raise ScenarioError(
                        f"{phase} step {step.label!r} failed: {exc.kind}",
                        hint="check the target and the step's path",
                    ) from None
                kind = check_response(step, resp.status, resp.body)
                if kind:
                    raise ScenarioError(
                        f"{phase} step {step.label!r} failed its check: HTTP {resp.status}",
                        hint="fix the step's request or its expect list",
                    )
                for ex in step.extract:
                    found, value = ex.apply(resp.status, resp.headers, resp.body)
                    if not found:
                        raise ScenarioError(
                            f"{phase} step {step.label!r}: extractor {ex.var!r} matched nothing",
                            hint="check the extractor's JSON path against the response",
                        )
                    state.vars[ex.var] = value
                for name, template in step.headers_after:
                    client.headers[name] = template.render(state.lookup)
        finally:
            client.close()

    asyncio.run(go())
    return {k: v for k, v in state.vars.items() if k not in ("vu", "iteration")}
