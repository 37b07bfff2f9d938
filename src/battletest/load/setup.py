"""Scenario-level ``setup`` and ``teardown``: run once, in the coordinator, around the test.

What ``setup`` extracts (an admin token, an id it created) is handed to every VU as variables.
A failing setup step stops the run before any load (``ScenarioError``); a failing teardown
step becomes a warning of the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from battletest.errors import BattletestError, ScenarioError
from battletest.load.client import Client, RequestFailed
from battletest.load.flow import FlowScenario, VUState, check_response, render_step
from battletest.load.runtime import TLSOptions
from battletest.load.scenario import Target


def run_steps(
    scenario: Any,
    phase: str,
    target: Target,
    address: str,
    tls: TLSOptions,
    timeout: float,
    shared: dict[str, Any],
) -> dict[str, Any]:
    """Run the ``setup`` or ``teardown`` steps; return the variables they extracted."""

    def connect() -> Client:
        return Client(target, address, timeout, tls.context() if target.tls else None)

    if not isinstance(scenario, FlowScenario):
        return _python_hook(scenario, phase, connect, shared)
    steps = scenario.setup if phase == "setup" else scenario.teardown
    state = VUState(scenario, 0, shared)

    async def go() -> None:
        client = connect()
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


def _python_hook(
    scenario: Any, phase: str, connect: Callable[[], Client], shared: dict[str, Any]
) -> dict[str, Any]:
    """A Python scenario's module-level ``setup(client)`` / ``teardown(client, data)``."""
    from battletest.load.tasks import UserClient, import_file

    fn = getattr(import_file(scenario.file), phase)
    out: dict[str, Any] = {}

    async def go() -> None:
        client = connect()

        async def send(
            method: str, path: str, headers: dict[str, str], body: bytes, expect: tuple[int, ...]
        ) -> Any:
            try:
                resp = await client.send(method, path, headers, body)
            except RequestFailed as exc:
                raise ScenarioError(f"{phase}: {method} {path} failed: {exc.kind}") from None
            if (expect and resp.status not in expect) or (not expect and resp.status >= 400):
                raise ScenarioError(
                    f"{phase}: {method} {path} answered HTTP {resp.status}",
                    hint=f"fix the request in {phase}() or its expect",
                )
            return resp

        try:
            if phase == "setup":
                data = await fn(UserClient(send))
                if data is not None and not isinstance(data, dict):
                    raise ScenarioError(
                        f"setup() returned {type(data).__name__}", hint="return a dict or None"
                    )
                out.update(data or {})
            else:
                await fn(UserClient(send), dict(shared))
        except BattletestError:
            raise
        except Exception as exc:
            raise ScenarioError(
                f"{phase}() raised {type(exc).__name__}: {exc}",
                hint=f"run the scenario's {phase}() alone to see the traceback",
            ) from None
        finally:
            client.close()

    asyncio.run(go())
    return out
