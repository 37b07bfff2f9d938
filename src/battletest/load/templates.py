"""Path, header and body templates of TOML scenarios: ``/v1/calls/{call_id}/events``.

A template is compiled once (when the scenario is loaded) into literal and variable pieces, so
a bad template — an unclosed brace, a format spec, a variable no earlier step provides — is a
``ConfigError`` before the run, never a crash during it. Variables come from ``[vars]``, from
extractors of earlier steps (``setup``, ``on_start`` or the same task), the built-ins ``vu``
and ``iteration``, and ``faker.PROVIDER`` (per-VU Faker with a seed).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from battletest.errors import ConfigError

BUILTINS = frozenset({"vu", "iteration"})
_FORMATTER = string.Formatter()


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text and ``{name}`` fields, in order: ``pieces[i]`` is (literal, field or "")."""

    source: str
    pieces: tuple[tuple[str, str], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f in self.pieces if f)

    @property
    def whole_field(self) -> str:
        """The variable when the template is exactly ``{name}`` (its value keeps its type)."""
        if len(self.pieces) == 1 and not self.pieces[0][0] and self.pieces[0][1]:
            return self.pieces[0][1]
        return ""

    def render(self, lookup: Callable[[str], Any]) -> str:
        out = []
        for literal, name in self.pieces:
            out.append(literal)
            if name:
                out.append(str(lookup(name)))
        return "".join(out)


def compile_template(text: str, where: str) -> Template:
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"bad template in {where}: {text!r} ({exc})",
            hint="write variables as {name}; a literal brace is {{ or }}",
        ) from None
    pieces: list[tuple[str, str]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, ""))
            continue
        if spec or conversion:
            raise ConfigError(
                f"bad template in {where}: {text!r} uses a format spec or conversion",
                hint="write a plain {name}",
            )
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(
                f"bad template in {where}: {text!r} has an invalid variable {{{name}}}",
                hint="variable names are identifiers, e.g. {call_id} or {faker.name}",
            )
        if "." in name and not name.startswith("faker."):
            raise ConfigError(
                f"bad template in {where}: {{{name}}} is not a known variable",
                hint="only faker.PROVIDER may contain a dot, e.g. {faker.phone_number}",
            )
        pieces.append((literal, name))
    return Template(text, tuple(pieces))


def check_fields(template: Template, known: set[str], where: str) -> None:
    """Every variable must be defined before use (faker providers must exist)."""
    for name in template.fields:
        if name.startswith("faker."):
            provider = name.partition(".")[2]
            if not faker_has(provider):
                raise ConfigError(
                    f"bad template in {where}: Faker has no provider {provider!r}",
                    hint="see https://faker.readthedocs.io/en/master/providers.html",
                )
            continue
        if name not in known and name not in BUILTINS:
            raise ConfigError(
                f"bad template in {where}: variable {{{name}}} is not defined before this step",
                hint="define it in [vars] or extract it in an earlier step (setup, on_start)",
            )


@functools.cache
def faker_has(provider: str) -> bool:
    return callable(getattr(_faker(), provider, None))


@functools.cache
def _faker() -> Any:
    from faker import Faker

    return Faker()


def compile_value(value: Any, where: str) -> Any:
    """A JSON body with every string compiled into a ``Template``."""
    if isinstance(value, str):
        return compile_template(value, where)
    if isinstance(value, Mapping):
        return {str(k): compile_value(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v, where) for v in value]
    return value


def value_fields(value: Any) -> list[Template]:
    if isinstance(value, Template):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in value_fields(v)]
    if isinstance(value, list):
        return [t for v in value for t in value_fields(v)]
    return []


def render_value(value: Any, lookup: Callable[[str], Any]) -> Any:
    if isinstance(value, Template):
        whole = value.whole_field
        return lookup(whole) if whole else value.render(lookup)
    if isinstance(value, dict):
        return {k: render_value(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, lookup) for v in value]
    return value
