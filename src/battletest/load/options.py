"""``LoadSettings``: the one typed description of a load run, shared by the CLI, the ``load``
suite (the profile's ``[load]`` section) and Python callers.

It maps the flags users know onto an executor, as k6 does: ``vus`` → constant-vus, ``rate`` →
constant-arrival-rate, ``stages`` → ramping-vus (or ramping-arrival-rate with ``rate``),
``vus`` + ``iterations`` → shared-iterations, and the legacy ``concurrent_users`` /
``requests_per_user`` / ``test_duration`` of older in-house runners → per-vu-iterations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from battletest.durations import parse_duration
from battletest.errors import ConfigError, UsageError
from battletest.load.executors import EXECUTORS, ExecutorSpec, Stage
from battletest.load.runtime import TLSOptions
from battletest.load.scenario import Endpoint, parse_header
from battletest.load.units import parse_stages

Duration = str | float | int
_DURATION = (str, int, float)


def _check(where: str, value: Any, kinds: tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"invalid [load] setting {where!r}: expected {what}, got {value!r}")
    if not isinstance(value, kinds):
        raise ConfigError(
            f"invalid [load] setting {where!r}: expected {what}, got {value!r}",
            hint="see docs/load.md for the accepted keys",
        )
    return value


def _fields(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Check a table against a dataclass's annotated kinds; unknown keys are errors."""
    kinds: dict[str, tuple[tuple[type, ...], str]] = cls._KINDS  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in kinds:
            raise ConfigError(
                f"unknown [load] setting {where}{key!r}",
                hint="known keys: " + ", ".join(sorted(kinds)),
            )
        if value is None:
            continue
        allowed, what = kinds[key]
        if what.startswith("list"):
            _check(where + key, value, (list, tuple), what)
            out[key] = [_check(f"{where}{key}[]", v, allowed, what) for v in value]
        else:
            out[key] = _check(where + key, value, allowed, what)
    return out


@dataclass(slots=True)
class EndpointSettings:
    path: str
    method: str = "GET"
    name: str = ""
    weight: float = 1.0
    headers: list[str] = field(default_factory=list)
    body: str = ""
    expect: list[int] = field(default_factory=list)
    expected_statuses: list[int] = field(default_factory=list)  # the same as ``expect``

    _KINDS: ClassVar[dict[str, tuple[tuple[type, ...], str]]] = {
        "path": ((str,), "a path"),
        "method": ((str,), "an HTTP method"),
        "name": ((str,), "a name"),
        "weight": ((int, float), "a number"),
        "headers": ((str,), "list of 'Name: value'"),
        "body": ((str,), "a string"),
        "expect": ((int,), "list of status codes"),
        "expected_statuses": ((int,), "list of status codes"),
    }

    def statuses(self) -> tuple[int, ...]:
        """The expected statuses (``expect`` or ``expected_statuses``), 5xx refused."""
        from battletest.load.scenario import check_expected

        return check_expected([*self.expect, *self.expected_statuses], f"endpoint {self.path}")


@dataclass(slots=True)
class LoadSettings:
    """A load run; every field is optional and has the default of a short baseline."""

    executor: str | None = None
    vus: int | None = None
    duration: Duration | None = None
    rate: float | None = None
    max_vus: int | None = None
    stages: str | list[tuple[Duration, float]] | None = None
    iterations: int | None = None
    max_duration: Duration = "10m"
    graceful_stop: Duration = "30s"
    graceful_ramp_down: Duration = "30s"
    paths: list[str] = field(default_factory=list)
    method: str = "GET"
    headers: list[str] = field(default_factory=list)
    body: str = ""
    endpoints: list[EndpointSettings] = field(default_factory=list)
    think_time: Duration = 0
    workers: int | None = None
    timeout: Duration = "10s"
    thresholds: Any = field(default_factory=list)  # strings, k6 objects or a k6 mapping
    dropped_iterations_threshold: str | int | bool | None = None
    abort_on_fail: bool = False
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure: bool = False
    snapshot_interval: float = 1.0
    seed: int = 0
    concurrent_users: int | None = None
    requests_per_user: int | None = None
    test_duration: Duration | None = None
    scenario: str | None = None  # FILE.toml or FILE.py[:Class]
    from_spec: str | None = None  # OpenAPI file or URL: GET operations become the scenario
    preset: str | None = None  # baseline, stress, spike, soak, breakpoint
    target_pid: int | None = None
    resource_interval: float = 1.0
    memory_threshold_mb: float | None = None
    leak_threshold_mb: float | None = None
    cluster: str | None = None  # local:N or a Dask scheduler address (distributed.py)

    _KINDS: ClassVar[dict[str, tuple[tuple[type, ...], str]]] = {
        "executor": ((str,), "an executor name"),
        "vus": ((int,), "an integer"),
        "duration": (_DURATION, "a duration like '30s'"),
        "rate": ((int, float), "a number"),
        "max_vus": ((int,), "an integer"),
        "stages": ((str, list, tuple), "stages like '30s:10,1m:50'"),
        "iterations": ((int,), "an integer"),
        "max_duration": (_DURATION, "a duration like '10m'"),
        "graceful_stop": (_DURATION, "a duration like '30s'"),
        "graceful_ramp_down": (_DURATION, "a duration like '30s'"),
        "paths": ((str,), "list of paths"),
        "method": ((str,), "an HTTP method"),
        "headers": ((str,), "list of 'Name: value'"),
        "body": ((str,), "a string"),
        "endpoints": ((dict,), "list of tables with path, method, weight…"),
        "think_time": (_DURATION, "a duration like '1s' or '0.5s..2s'"),
        "workers": ((int,), "an integer"),
        "timeout": (_DURATION, "a duration like '10s'"),
        "thresholds": ((list, tuple, dict, str), "thresholds like ['p95<300ms']"),
        "dropped_iterations_threshold": ((str, int, bool), "a number, a threshold or false"),
        "abort_on_fail": ((bool,), "true or false"),
        "ca_cert": ((str,), "a file path"),
        "client_cert": ((str,), "a file path"),
        "client_key": ((str,), "a file path"),
        "insecure": ((bool,), "true or false"),
        "snapshot_interval": ((int, float), "a number of seconds"),
        "seed": ((int,), "an integer"),
        "concurrent_users": ((int,), "an integer"),
        "requests_per_user": ((int,), "an integer"),
        "test_duration": (_DURATION, "seconds or a duration like '5m'"),
        "scenario": ((str,), "a scenario file (.toml or .py)"),
        "from_spec": ((str,), "an OpenAPI file or URL"),
        "preset": ((str,), "baseline, stress, spike, soak or breakpoint"),
        "target_pid": ((int,), "a process id"),
        "resource_interval": ((int, float), "a number of seconds"),
        "memory_threshold_mb": ((int, float), "megabytes"),
        "leak_threshold_mb": ((int, float), "megabytes"),
        "cluster": ((str,), "local:N or a Dask scheduler address like tcp://host:8786"),
    }

    @classmethod
    def coerce(cls, settings: LoadSettings | Mapping[str, Any] | None) -> LoadSettings:
        """From a ``[load]`` table (or None, or an instance); bad keys raise ``ConfigError``."""
        if settings is None:
            return cls()
        if isinstance(settings, LoadSettings):
            return settings
        if not isinstance(settings, Mapping):
            raise ConfigError("[load] must be a table", hint="see docs/load.md")
        values = _fields(cls, dict(settings), "")
        if "endpoints" in values:
            values["endpoints"] = [
                EndpointSettings(**_fields(EndpointSettings, dict(e), "endpoints."))
                for e in values["endpoints"]
            ]
            if any(not e.path for e in values["endpoints"]):
                raise ConfigError("every [[load.endpoints]] needs a path", hint="path = '/health'")
        if "thresholds" in values:
            from battletest.load.thresholds import parse_thresholds

            try:  # bad thresholds fail before any load, as a config error
                parse_thresholds(values["thresholds"])
            except UsageError as exc:
                raise ConfigError(f"[load] thresholds: {exc.message}", hint=exc.hint) from None
        return cls(**values).with_scenario_and_preset()

    def with_scenario_and_preset(self) -> LoadSettings:
        """Fold a TOML scenario's ``[load]`` table (explicit settings win) and a preset in."""
        if self.scenario and self.from_spec:
            raise UsageError("--scenario and --from-spec exclude each other", hint="pick one")
        changes: dict[str, Any] = {}
        if self.scenario and self.scenario.endswith(".toml"):
            table = dict(self.load_scenario().load)
            if table:
                merged = LoadSettings.coerce(table)
                defaults = LoadSettings()
                for key in table:
                    mine = getattr(self, key)
                    if mine == getattr(defaults, key) or mine in (None, [], 0, "0"):
                        changes[key] = getattr(merged, key)
        if self.preset:
            from battletest.load.presets import preset_settings

            vus = changes.get("vus", self.vus)
            duration = changes.get("duration", self.duration)
            values = preset_settings(self.preset, vus, self.rate, duration)
            changes.update(values)
            if self.preset != "baseline":
                changes["duration"] = None
            if self.preset == "breakpoint":
                changes["vus"] = None
        for key, value in changes.items():
            setattr(self, key, value)
        return self

    def load_scenario(self) -> Any:
        """The scenario these settings name (None without one)."""
        if not self.scenario:
            return None
        if self.scenario.endswith(".toml"):
            from battletest.load.flow import load_scenario_file

            return load_scenario_file(self.scenario)
        from battletest.load.tasks import load_python_scenario

        return load_python_scenario(self.scenario, self.seed)

    def executor_spec(self) -> ExecutorSpec:
        """The executor these settings describe, or ``UsageError`` if flags contradict."""
        common: dict[str, Any] = {
            "graceful_stop": parse_duration(self.graceful_stop, what="graceful stop"),
            "graceful_ramp_down": parse_duration(self.graceful_ramp_down, what="ramp-down"),
            "max_duration": parse_duration(self.max_duration, what="max duration"),
        }
        stages = self._stages()
        legacy = (self.concurrent_users, self.requests_per_user, self.test_duration)
        if any(v is not None for v in legacy):
            if self.vus is not None or self.rate is not None or stages:
                raise UsageError(
                    "--concurrent-users/--requests-per-user/--test-duration cannot be mixed "
                    "with --vus, --rate or --stages",
                    hint="use one style of flags",
                )
            if self.test_duration is not None:
                common["max_duration"] = parse_duration(self.test_duration, what="test duration")
            return ExecutorSpec(
                kind="per-vu-iterations",
                vus=self.concurrent_users or 1,
                iterations=self.requests_per_user or 1,
                **common,
            ).validate()
        duration = parse_duration(self.duration if self.duration is not None else "10s")
        kind = self.executor
        if kind is None:
            if stages:
                kind = "ramping-arrival-rate" if self.rate is not None else "ramping-vus"
            elif self.rate is not None:
                if self.vus is not None:
                    raise UsageError(
                        "--vus and --rate choose different executors",
                        hint="with --rate, cap connections with --max-vus",
                    )
                kind = "constant-arrival-rate"
            elif self.iterations is not None:
                kind = "shared-iterations"
            else:
                kind = "constant-vus"
        if kind not in EXECUTORS:
            raise UsageError(
                f"unknown executor {kind!r}", hint=f"use one of {', '.join(EXECUTORS)}"
            )
        return ExecutorSpec(
            kind=kind,
            vus=self.vus if self.vus is not None else (0 if kind == "ramping-vus" else 10),
            duration=duration,
            rate=self.rate or 0.0,
            max_vus=self.max_vus or 0,
            stages=stages,
            iterations=self.iterations or 1,
            **common,
        ).validate()

    def _stages(self) -> tuple[Stage, ...]:
        if self.stages is None:
            return ()
        if isinstance(self.stages, str):
            pairs = parse_stages(self.stages)
        else:
            pairs = [(parse_duration(d, what="stage duration"), float(t)) for d, t in self.stages]
        return tuple(Stage(d, t) for d, t in pairs)

    def endpoint_list(self) -> list[Endpoint]:
        headers = tuple(parse_header(h) for h in self.headers)
        eps = [
            Endpoint(path=p, method=self.method, headers=headers, body=self.body.encode())
            for p in (self.paths or ([] if self.endpoints else ["/"]))
        ]
        for e in self.endpoints:
            eps.append(
                Endpoint(
                    path=e.path,
                    method=e.method,
                    name=e.name,
                    weight=e.weight,
                    headers=headers + tuple(parse_header(h) for h in e.headers),
                    body=e.body.encode(),
                    expect=e.statuses(),
                )
            )
        return [e.validate() for e in eps]

    def dropped_threshold(self) -> str | int | bool | None:
        """``dropped_iterations_threshold`` as ``run`` takes it ('off' and '50' from a flag)."""
        value = self.dropped_iterations_threshold
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("off", "false", "none", "no"):
                return False
            if text.isdigit():
                return int(text)
        return value

    def think(self) -> tuple[float, float]:
        if isinstance(self.think_time, str) and ".." in self.think_time:
            low, _, high = self.think_time.partition("..")
            return parse_duration(low, what="think time"), parse_duration(high, what="think time")
        value = parse_duration(self.think_time, what="think time")
        return value, value

    def tls(self) -> TLSOptions:
        if self.client_key and not self.client_cert:
            raise UsageError("--client-key needs --client-cert")
        return TLSOptions(self.ca_cert, self.client_cert, self.client_key, self.insecure)

    def run_kwargs(self, target: str | None = None) -> dict[str, Any]:
        """Keyword arguments for ``battletest.load.run`` (target, progress and folder aside).

        ``target`` is needed only with ``from_spec`` and no spec file (the spec is discovered).
        """
        scenario = self.load_scenario()
        if self.from_spec:
            from battletest.load.from_spec import scenario_from_spec
            from battletest.spec import load_spec

            headers = [parse_header(h) for h in self.headers]
            scenario = scenario_from_spec(load_spec(self.from_spec, target), headers)
        return {
            "scenario": scenario,
            "target_pid": self.target_pid,
            "resource_interval": self.resource_interval,
            "memory_threshold_mb": self.memory_threshold_mb,
            "leak_threshold_mb": self.leak_threshold_mb,
            "breakpoint": self.preset == "breakpoint",
            "executor": self.executor_spec(),
            "endpoints": self.endpoint_list(),
            "thresholds": self.thresholds,
            "dropped_iterations_threshold": self.dropped_threshold(),
            "abort_on_fail": self.abort_on_fail,
            "workers": self.workers,
            "timeout": parse_duration(self.timeout, what="timeout"),
            "think_time": self.think(),
            "tls": self.tls(),
            "snapshot_interval": self.snapshot_interval,
            "seed": self.seed,
            "cluster": self.cluster,
        }
