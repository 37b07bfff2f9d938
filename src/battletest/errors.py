"""The one exception tree and the exit codes every command uses.

Anything a user can get wrong (config, target, spec, input files) raises a ``BattletestError``
subclass whose message is one line naming the problem and the fix; the CLI prints that line and
exits with the error's ``exit_code``. A traceback reaching a user is a bug.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    ModelT = TypeVar("ModelT", bound=BaseModel)


class ExitCode(IntEnum):
    """Process exit codes, documented in README.md and docs/ARCHITECTURE.md."""

    OK = 0
    FAILED = 1  # a gate or a test failed
    USAGE = 2  # usage or configuration error
    UNREACHABLE = 3  # the target could not be reached
    INTERRUPTED = 130  # Ctrl-C / SIGINT


class BattletestError(Exception):
    """Base of every error battletest reports to a user as one line."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(BattletestError):
    """The configuration (file, environment, flags) is invalid."""


def make_folder(path: Path, *, hint: str, what: str = "") -> Path:
    """Create ``path`` (and its parents) or raise one ConfigError line naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what}{path}: {exc.strerror}", hint=hint) from None
    return path


class ConfigErrors(ConfigError):
    """Several configuration problems found together, reported at once: one line each."""

    def __init__(self, problems: list[ConfigError]) -> None:
        super().__init__(problems[0].message, hint=problems[0].hint)
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UsageError(BattletestError):
    """A command was called with arguments that do not fit together."""


class SpecError(BattletestError):
    """The OpenAPI document is missing, not OpenAPI, or cannot be resolved."""


class TargetUnreachable(BattletestError):
    """The system under test could not be reached or started."""

    exit_code = ExitCode.UNREACHABLE


class AuthError(BattletestError):
    """An identity could not log in or its credentials are unusable."""


class ScenarioError(BattletestError):
    """A load scenario, experiment or stub file is invalid."""


class SafetyError(BattletestError):
    """A destructive action was refused (prod profile, non-loopback address, …)."""


class Interrupted(BattletestError):
    """The user pressed Ctrl-C; partial results were kept."""

    exit_code = ExitCode.INTERRUPTED


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """The first problem of a pydantic validation error: where (``a.b.0``) and what."""
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]), str(err["msg"])


def validated(
    model: type[ModelT],
    raw: object,
    message: str,
    hint: str,
    error: type[BattletestError] = ConfigError,
) -> ModelT:
    """``model`` validated from ``raw``, or ``error`` naming the first problem.

    ``message`` is the line with ``{where}`` (``a.b.0``) and ``{problem}`` filled in, e.g.
    ``"[security] {where}: {problem}"``; the text around them is kept as given (a path may hold
    braces).
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        where, problem = validation_problem(exc)
        line = message.replace("{where}", where).replace("{problem}", problem)
        raise error(line, hint=hint) from None


__all__ = [
    "AuthError",
    "BattletestError",
    "ConfigError",
    "ConfigErrors",
    "ExitCode",
    "Interrupted",
    "SafetyError",
    "ScenarioError",
    "SpecError",
    "TargetUnreachable",
    "UsageError",
    "validated",
    "validation_problem",
]
