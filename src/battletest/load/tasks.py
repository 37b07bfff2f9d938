"""Python scenarios with a Locust-like feel: async tasks on a virtual user class.

    from battletest.load.tasks import VirtualUser, between, task

    class Staff(VirtualUser):
        wait_time = between(0.5, 2)

        async def on_start(self) -> None:
            r = await self.client.post("/v1/auth/login", json={"username": ..., "password": ...})
            self.client.headers["Authorization"] = "Bearer " + r.json()["access_token"]

        @task(3)
        async def lookup(self) -> None:
            await self.client.get("/v1/reservations/r-1001", expect=200)

Requests are recorded under the running task's name (``on_start`` and ``on_stop`` under those
names). A task that raises is reported as ``task_error:NAME: Type: message`` and the run goes
on. An optional module-level ``Shape`` class with ``tick(elapsed) -> (users, spawn_rate) | None``
drives the number of users (None ends the test), as a Locust ``LoadTestShape`` does. Module-level
``async def setup(client) -> dict`` runs once before the test (in the coordinator; its dict is
``self.shared`` in every user) and ``async def teardown(client, data)`` once after.
"""

from __future__ import annotations

import importlib.util
import inspect
import json as jsonlib
import random
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar, overload

from battletest.errors import ConfigError, ScenarioError
from battletest.load.client import Response

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
WaitTime = Callable[["VirtualUser"], float]


@overload
def task(weight: F) -> F: ...
@overload
def task(weight: float = 1) -> Callable[[F], F]: ...
def task(weight: Any = 1) -> Any:
    """Mark an async method as a task: ``@task`` or ``@task(3)`` (relative weight)."""
    if callable(weight):
        weight._bt_weight = 1.0
        return weight

    def mark(fn: F) -> F:
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise ConfigError(f"@task weight of {fn.__name__} must be positive", hint="@task(3)")
        fn._bt_weight = float(weight)  # type: ignore[attr-defined]
        return fn

    return mark


def between(low: float, high: float) -> WaitTime:
    """Wait a uniformly random time between ``low`` and ``high`` seconds after each task."""
    if low < 0 or high < low:
        raise ConfigError(f"between({low}, {high}): need 0 <= low <= high")
    return lambda user: user.random.uniform(low, high)


def constant(seconds: float) -> WaitTime:
    if seconds < 0:
        raise ConfigError(f"constant({seconds}): need seconds >= 0")
    return lambda user: seconds


def constant_throughput(per_second: float) -> WaitTime:
    """Pace each user to ``per_second`` task runs per second (wait = 1/rate − task time)."""
    if per_second <= 0:
        raise ConfigError(f"constant_throughput({per_second}): need a positive rate")
    return lambda user: max(0.0, 1.0 / per_second - user.last_task_s)


class UserClient:
    """What a task sees as ``self.client``: ``get/post/put/patch/delete`` returning responses."""

    def __init__(self, send: Callable[..., Awaitable[Response]]) -> None:
        self._send = send
        self.headers: dict[str, str] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: int | Iterable[int] | None = None,
    ) -> Response:
        body = b""
        merged = dict(self.headers)
        if headers:
            merged.update(headers)
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
        statuses = (expect,) if isinstance(expect, int) else tuple(expect or ())
        return await self._send(method.upper(), path, merged, body, statuses)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Response:
        return await self.request("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)


class VirtualUser:
    """Subclass it, give it ``@task`` methods and a ``wait_time``."""

    wait_time: ClassVar[WaitTime] = staticmethod(constant(0.0))
    client: UserClient
    vu: int
    shared: dict[str, Any]  # what the module's setup() returned
    random: random.Random
    last_task_s: float = 0.0

    async def on_start(self) -> None:
        return None

    async def on_stop(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class PythonScenario:
    """Where the user class lives (workers import the file themselves) and its task names."""

    file: str
    user_class: str
    tasks: tuple[tuple[str, float], ...]
    shape: bool
    seed: int = 0
    setup: bool = False  # module-level ``async def setup(client) -> dict``: once, before
    teardown: bool = False  # module-level ``async def teardown(client, data)``: once, after

    @property
    def names(self) -> tuple[str, ...]:
        return ("on_start", *(name for name, _ in self.tasks), "on_stop")


def import_file(file: str) -> Any:
    path = Path(file).resolve()
    name = f"battletest_scenario_{abs(hash(str(path)))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import scenario {file!r}", hint="give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(
            f"scenario {Path(file).name} failed to import: {type(exc).__name__}: {exc}",
            hint="run it with python to see the traceback",
        ) from None
    return module


def user_tasks(cls: type[VirtualUser]) -> tuple[tuple[str, float], ...]:
    found = []
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        weight = getattr(fn, "_bt_weight", None)
        if weight is not None:
            if not inspect.iscoroutinefunction(fn):
                raise ConfigError(
                    f"task {cls.__name__}.{name} must be 'async def'",
                    hint="tasks await self.client.get(...)",
                )
            found.append((name, float(weight)))
    return tuple(found)


def load_python_scenario(spec: str, seed: int = 0) -> PythonScenario:
    """``FILE.py`` or ``FILE.py:ClassName`` → a picklable ``PythonScenario``."""
    file, _, wanted = spec.partition(".py:")
    file = file + ".py" if wanted else spec
    if not Path(file).is_file():
        raise ConfigError(f"scenario file {file!r} not found", hint="check the --scenario path")
    module = import_file(file)
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, VirtualUser)
        and obj is not VirtualUser
        and obj.__module__ == module.__name__
    ]
    if wanted:
        classes = [c for c in classes if c.__name__ == wanted]
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        raise ConfigError(
            f"{Path(file).name} must define exactly one VirtualUser subclass (found {names})",
            hint="pick one with --scenario FILE.py:ClassName",
        )
    cls = classes[0]
    tasks = user_tasks(cls)
    if not tasks:
        raise ConfigError(f"{cls.__name__} has no @task methods", hint="decorate with @task(1)")
    shape = getattr(module, "Shape", None)
    if shape is not None:
        if not callable(getattr(shape, "tick", None)):
            raise ConfigError("Shape must have a tick(elapsed) method", hint="see docs/load.md")
        shape_target(shape().tick(0.0))  # nonsense at the start is refused before any load
    hooks = {}
    for hook in ("setup", "teardown"):
        fn = getattr(module, hook, None)
        if fn is not None and not inspect.iscoroutinefunction(fn):
            raise ConfigError(f"{hook} in {Path(file).name} must be 'async def'")
        hooks[hook] = fn is not None
    return PythonScenario(
        str(Path(file).resolve()), cls.__name__, tasks, shape is not None, seed, **hooks
    )


def shape_target(value: Any) -> tuple[int, float] | None:
    """Validate what ``Shape.tick`` returned; nonsense raises ``ScenarioError``."""
    if value is None:
        return None
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and value[0] >= 0
        and isinstance(value[1], int | float)
        and not isinstance(value[1], bool)
        and value[1] > 0
    ):
        return int(value[0]), float(value[1])
    raise ScenarioError(
        f"Shape.tick returned {value!r}",
        hint="return (users >= 0, spawn_rate > 0) or None to end the test",
    )
