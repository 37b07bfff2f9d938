"""What a case exercised: the status codes its requests got, and whether any reached the logic.

A case passes only on evidence. An answer that comes from in front of the operation's logic —
a refusal of the credentials (401/403), a rate limit (429), an overloaded or unreachable
upstream (502/503/504), no answer at all (a connection error, recorded as status 0) — says
nothing about the operation; a 404 says the object the request named was not there, so the
operation's success path was not reached either. A case whose every answer is such a wall is
inconclusive with the reason, never passed.

Each suite also tallies operations: *tried* (some request was sent), *exercised* (some answer
was a documented success, 2xx/3xx with a response in the spec) and *not run* (the write policy
refused every request). The ``exercised_operations`` gate reads the union over the suites from
``metrics["operations"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from battletest.spec import Operation, SecurityScheme, Spec, response_spec_for

NO_ANSWER = 0  # a connection error or timeout: no status at all
REFUSED = frozenset({401, 403})
# 502/503/504: a gateway, an overloaded service or a dependency outage answered, not the operation
OVERLOAD = frozenset({502, 503, 504})
WALLS = REFUSED | OVERLOAD | {NO_ANSWER, 429}


def count(statuses: Iterable[int]) -> dict[str, int]:
    """Status code → how many answers had it (keys are strings, as report.json holds them)."""
    out: dict[str, int] = {}
    for s in statuses:
        out[str(s)] = out.get(str(s), 0) + 1
    return dict(sorted(out.items()))


def is_wall(status: int, op: Operation | None = None) -> bool:
    """An answer from in front of the operation's logic (see the module doc); 404 is not one
    here: what a 404 means depends on whether the object should exist. A public operation
    that documents the refusal (a login answering 401 to wrong credentials) refuses in its
    own logic: not a wall."""
    if status in REFUSED and op is not None and not op.secured and str(status) in op.responses:
        return False
    return status in WALLS


def reached(
    statuses: Iterable[int], *, op: Operation | None = None, missing_is_wall: bool = True
) -> bool:
    """Whether some answer came from the operation's logic."""
    return any(not is_wall(s, op) and not (missing_is_wall and s == 404) for s in statuses)


def documented_success(op: Operation, status: int) -> bool:
    """A 2xx or 3xx answer the spec documents for ``op`` (exactly, by range or by default)."""
    return 200 <= status < 400 and response_spec_for(op, status) is not None


def wall_reason(statuses: Mapping[str, int], *, identity: str | None, secured: bool) -> str:
    """Why no answer reached the logic, in words a user can act on."""
    seen = ", ".join(f"{n}× {'no answer' if s == '0' else s}" for s, n in statuses.items())
    codes = {int(s) for s in statuses}
    if codes and codes <= REFUSED:
        if identity is None and secured:
            why = "no identity in the config has credentials for its security scheme"
        elif identity is None:
            why = "the spec declares it public but it refused an anonymous request"
        else:
            why = f"identity {identity} was refused"
        return f"inconclusive: every answer was a refusal ({seen}): {why}"
    if codes and codes <= {404}:
        return f"inconclusive: the object the requests named was not found ({seen})"
    if codes and codes <= {429}:
        return f"inconclusive: every answer was rate limited ({seen})"
    if codes and codes <= OVERLOAD | {NO_ANSWER}:
        return f"inconclusive: the service was overloaded or unreachable ({seen})"
    return f"inconclusive: no answer reached the operation's logic ({seen})"


def lacking_credentials(spec: Spec | None, identities: Any) -> list[Operation]:
    """The secured operations none of ``identities`` (a ``transport.Identities``, or None for
    none) has credentials for: every alternative of their security asks for a scheme no
    identity fits."""
    if spec is None:
        return []
    out = []
    for op in spec.operations:
        if not op.secured:
            continue
        fits = identities is not None and any(
            _fitting(
                identities,
                [spec.security_schemes.get(n) or SecurityScheme(n, "other") for n in alt],
            )
            for alt in op.security
        )
        if not fits:
            out.append(op)
    return out


def _fitting(identities: Any, schemes: list[SecurityScheme]) -> bool:
    """Some identity's credentials fit every scheme of one alternative (no login is made)."""
    from battletest.transport.identities import fits, scheme_kind

    kinds = {scheme_kind(s) for s in schemes}
    return any(fits(session, kinds) for session in identities)


def credentials_note(spec: Spec | None, identities: Any) -> str | None:
    """One line naming the operations that need credentials the config lacks (None: none)."""
    lacking = lacking_credentials(spec, identities)
    if not lacking or spec is None:
        return None
    schemes = sorted({n for op in lacking for alt in op.security for n in alt})
    shown = ", ".join(op.label for op in lacking[:6]) + (
        f" and {len(lacking) - 6} more" if len(lacking) > 6 else ""
    )
    return (
        f"{len(lacking)} of {len(spec.operations)} operations need credentials the config does "
        f"not have (security scheme {', '.join(schemes)}): {shown}; their cases are "
        "inconclusive until you add [[identities]] (battletest init writes a template per scheme)"
    )


@dataclass(slots=True)
class OperationTally:
    """Per suite: which operations were tried, exercised, or not run by the write policy."""

    tried: set[str] = field(default_factory=set)
    exercised: set[str] = field(default_factory=set)
    not_run: dict[str, str] = field(default_factory=dict)
    answers: dict[str, list[int]] = field(default_factory=dict)  # label → statuses received
    schemes: dict[str, list[str]] = field(default_factory=dict)  # label → its security schemes

    def sent(self, op: Operation, statuses: Iterable[int]) -> None:
        """``op`` got these answers (a documented success marks it exercised)."""
        codes = list(statuses)
        if not codes:
            return
        self.tried.add(op.label)
        self.answers.setdefault(op.label, []).extend(codes)
        if op.secured:
            self.schemes[op.label] = sorted({n for alt in op.security for n in alt})
        if any(documented_success(op, s) for s in codes):
            self.exercised.add(op.label)

    def refused(self, op: Operation, reason: str) -> None:
        self.not_run.setdefault(op.label, reason)

    def metrics(self) -> dict[str, Any]:
        """``metrics["operations"]`` of the suite; for each operation never exercised, the
        answers it got and the security schemes it needs (what the gate's advice names)."""
        not_run = {k: v for k, v in sorted(self.not_run.items()) if k not in self.tried}
        never = sorted(self.tried - self.exercised)
        return {
            "tried": len(self.tried),
            "exercised": len(self.exercised),
            "tried_operations": sorted(self.tried),
            "exercised_operations": sorted(self.exercised),
            "not_exercised": never,
            "not_run": not_run,
            "answers": {k: count(self.answers.get(k, ())) for k in never},
            "schemes": {k: self.schemes[k] for k in never if k in self.schemes},
        }


__all__ = [
    "OVERLOAD",
    "REFUSED",
    "WALLS",
    "OperationTally",
    "count",
    "credentials_note",
    "documented_success",
    "is_wall",
    "lacking_credentials",
    "reached",
    "wall_reason",
]
