"""``battletest record``, ``battletest replay`` and ``battletest har …``: thin commands.

    battletest record --target http://127.0.0.1:8000 --listen 127.0.0.1:8090 --out episode.har
    battletest replay episode.har --target http://127.0.0.1:8000 --var password=…   # exit 1 on a difference
    battletest replay recordings/ --frozen                    # against a mock of the recording
    battletest har to-scenario|to-stubs|to-tests|learn-masks episode.har

Exit codes: 0 no difference, 1 a replayed answer differs, 2 bad input, 3 target unreachable,
130 interrupted (what was replayed is reported).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from battletest.cli_options import common_options, interrupt_signals
from battletest.errors import BattletestError, ExitCode, Interrupted, UsageError


class DifferencesFound(BattletestError):
    """A replayed answer differs from the recording: exit 1."""

    exit_code = ExitCode.FAILED


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r} is not NAME=VALUE", hint="e.g. --var password=s3cret")
        out[name.strip().removeprefix("input.")] = value
    return out


def _config(config_path: str | None, profile: str | None) -> Any:
    from battletest.sections import load_checked_config

    return load_checked_config(config_path, profile)


def _redactor(config: Any) -> Any:
    from battletest.redact import Redactor

    return Redactor(config.secrets(), config.credential_headers())


@click.command("record", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", help="Base URL of the service to record (http://HOST:PORT).")
@click.option("--listen", default="127.0.0.1:0", show_default=True, help="Proxy address.")
@click.option("--out", "out", default="episode.har", show_default=True, help="HAR file to write.")
@click.option("--duration", help="Stop after this long (default: at Ctrl-C).")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --listen address.")
@common_options("config", "profile")
def record(
    target: str | None,
    listen: str,
    out: str,
    duration: str | None,
    allow_remote: bool,
    config_path: str | None,
    profile: str | None,
) -> None:
    """Record the traffic through a reverse proxy to TARGET as HAR 1.2 (redacted on write)."""
    from battletest.durations import parse_duration
    from battletest.replay.recorder import Recorder

    config = _config(config_path, profile)
    url = target or config.target.url
    if not url:
        raise UsageError("record needs --target URL", hint="the service whose traffic to record")
    seconds = parse_duration(duration, what="--duration", positive=True) if duration else None
    recorder = Recorder(
        url, out=out, listen=listen, allow_remote=allow_remote, redactor=_redactor(config)
    )
    recorder.start()
    click.echo(f"recording {recorder.url} → {url} (Ctrl-C to stop)", err=True)
    try:
        with interrupt_signals():
            deadline = time.monotonic() + seconds if seconds else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        episode = recorder.stop()
    names = sorted({n for e in episode.entries for n in e.extract})
    click.echo(
        f"wrote {out}: {len(episode.entries)} requests"
        + (f", correlated {', '.join(names)}" if names else "")
        + (f"; inputs to give on replay: {', '.join(episode.inputs)}" if episode.inputs else ""),
        err=True,
    )


@click.command("replay", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("recordings", nargs=-1)
@click.option("--target", help="Base URL to replay against (default: [target].url).")
@click.option(
    "--batch", type=click.Path(dir_okay=False), help="File listing recordings, one a line."
)
@click.option("--frozen", is_flag=True, help="Replay against a mock built from the recordings.")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), help="Masks file (JSON).")
@click.option("--var", "variables", multiple=True, help="NAME=VALUE for an {{input.NAME}}.")
@click.option("--strict", is_flag=True, help="No built-in recognisers: only masks hide changes.")
@common_options("config", "profile", "out", "json")
def replay(
    recordings: tuple[str, ...],
    target: str | None,
    batch: str | None,
    frozen: bool,
    masks_path: str | None,
    variables: tuple[str, ...],
    strict: bool,
    config_path: str | None,
    profile: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    """Replay RECORDINGS (.har files, folders, globs) in order and diff every answer.

    Exit codes: 0 no difference, 1 an answer differs, 2 bad input, 3 target unreachable."""
    from contextlib import ExitStack, closing

    from battletest.cli_options import write_suite_folder
    from battletest.replay.har import episode_paths, read_episode
    from battletest.replay.masks import MaskSet
    from battletest.replay.player import replay_suite
    from battletest.transport import Transport, WritePolicy

    config = _config(config_path, profile)
    episodes = [read_episode(p) for p in episode_paths(recordings, batch)]
    masks = MaskSet.load(masks_path) if masks_path else MaskSet()
    masks.builtin = not strict
    inputs = parse_vars(variables)
    # the recording was redacted by the rules alone, so the new answers are too (an input
    # value as a secret would mask a phone number as *** where the recording says [phone]);
    # the run folder masks the inputs as secrets as well
    redactor = _redactor(config)
    with ExitStack() as stack:
        if frozen:
            from battletest.replay.mock import mock_for

            server = stack.enter_context(mock_for(episodes, masks))
            url = server.url
            policy = WritePolicy(owns_target=True)
        else:
            url = target or config.target.url
            if not url:
                raise UsageError("replay needs --target URL (or --frozen)")
            policy = WritePolicy.from_config(config)
        http = stack.enter_context(closing(Transport(url, policy=policy, redactor=redactor)))
        with interrupt_signals():
            suite = replay_suite(episodes, http, masks=masks, inputs=inputs, on_case=_progress())
    folder = write_suite_folder(
        suite,
        out or config.out,
        target=url,
        profile=config.profile,
        config=config.redacted(),
        secret_values=[*config.secrets(), *inputs.values()],
        secret_headers=config.credential_headers(),
    )
    if as_json:
        click.echo(json.dumps(suite.model_dump(mode="json"), indent=2))
    else:
        for case in suite.cases:
            if case.status.value != "passed":
                click.echo(f"{case.status.value.upper():7} {case.name}: {case.message}")
        click.echo(suite.message)
    click.echo(f"reports: {folder}", err=True)
    if suite.message.endswith("(interrupted)"):
        raise Interrupted("replay interrupted; what was replayed is reported")
    if suite.status.value == "failed":
        raise DifferencesFound(suite.message)
    if suite.status.value == "error":
        raise UsageError(suite.message, hint="see the cases marked ERROR above")


def _progress() -> Any:
    """A plain line on stderr every 100 replayed requests (a long replay shows it is alive)."""
    seen = [0, 0]

    def on_case(case: Any) -> None:
        seen[0] += 1
        seen[1] += case.status.value == "failed"
        if seen[0] % 100 == 0:
            click.echo(f"replayed {seen[0]} requests, {seen[1]} differ", err=True)

    return on_case


@click.group("har")
def har() -> None:
    """Convert a recording: load scenario, mock stubs, pytest module, masks."""


def _one(path: str) -> Any:
    from battletest.replay.har import read_episode

    return read_episode(path)


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@har.command("to-scenario")
@click.argument("recording")
@click.option("--out", "-o", help="TOML file to write (default: stdout).")
@click.option("--speed", default="100%", show_default=True, help="200% halves the think times.")
@click.option("--var", "variables", multiple=True, help="NAME=VALUE for an {{input.NAME}}.")
def to_scenario_command(
    recording: str, out: str | None, speed: str, variables: tuple[str, ...]
) -> None:
    """Write RECORDING as a load scenario (TOML) with its extractions and think times."""
    from battletest.replay.convert import scenario_toml, to_scenario

    table = to_scenario(_one(recording), speed=parse_speed(speed), inputs=parse_vars(variables))
    _write(scenario_toml(table), out)


@har.command("to-stubs")
@click.argument("recording")
@click.option("--out", "-o", help="JSON stub file to write (default: stdout).")
@click.option("--masks", "masks_path", type=click.Path(dir_okay=False), help="Masks file (JSON).")
def to_stubs_command(recording: str, out: str | None, masks_path: str | None) -> None:
    """Write RECORDING as mock stubs (`battletest mock serve FILE`), sequences included."""
    from battletest.replay.convert import to_stubs
    from battletest.replay.masks import MaskSet

    masks = MaskSet.load(masks_path) if masks_path else None
    _write(json.dumps({"stubs": to_stubs(_one(recording), masks)}, indent=2) + "\n", out)


@har.command("to-tests")
@click.argument("recording")
@click.option("--out", "-o", help="Python file to write (default: stdout).")
def to_tests_command(recording: str, out: str | None) -> None:
    """Write a pytest module that replays RECORDING with the plugin's bt_client."""
    import os

    from battletest.replay.convert import to_tests

    where = os.path.relpath(recording, Path(out).parent) if out else recording
    _write(to_tests(_one(recording), where), out)


@har.command("learn-masks")
@click.argument("recordings", nargs=-1, required=True)
@click.option("--out", "-o", help="Masks file to write (default: stdout).")
def learn_masks_command(recordings: tuple[str, ...], out: str | None) -> None:
    """Propose masks from the answers RECORDINGS hold (nothing is sent)."""
    from battletest.replay.har import episode_paths, read_episode
    from battletest.replay.learn import learn_from_episodes

    episodes = [read_episode(p) for p in episode_paths(recordings)]
    _write(json.dumps(learn_from_episodes(episodes).to_json(), indent=2) + "\n", out)


def parse_speed(text: str) -> float:
    """``200%``, ``2x`` or ``2`` → 2.0 (a positive factor)."""
    raw = text.strip().lower()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw.removesuffix("x"))
    except ValueError:
        raise UsageError(f"--speed {text!r} is not a speed", hint="e.g. 200% or 0.5x") from None
    if value <= 0:
        raise UsageError(f"--speed {text!r} must be positive", hint="e.g. 200% or 0.5x")
    return value


__all__ = ["DifferencesFound", "har", "parse_speed", "parse_vars", "record", "replay"]
