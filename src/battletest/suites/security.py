"""The ``security`` suite under ``battletest run``: the ``[security]`` section → the scanner.

Under ``run`` the depth defaults to ``basic`` (``battletest scan`` keeps ``standard``). The
profile and ``allow_destructive`` come from the top level of the config, so a ``prod`` profile
runs the passive checks only unless ``allow_destructive = true``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from battletest.results import Status, SuiteResult
from battletest.suites.base import SuiteContext

NAME = "security"
RUN_DEPTH = "basic"


def security_settings(ctx: SuiteContext) -> Any:
    """The scanner's ``ScanSettings`` for this run."""
    from battletest.security.suite import settings_from

    cfg = ctx.config
    section = {"depth": RUN_DEPTH, **cfg.security}
    view = SimpleNamespace(
        security=section,
        auth=cfg.auth,
        rbac=cfg.rbac,
        profile=cfg.profile,
        environment=cfg.environment,
        allow_destructive=cfg.allow_destructive,
    )
    settings = settings_from(view)
    if cfg.smoke and settings.active_allowed:  # LIVE_SMOKE: the passive checks only
        from battletest.security.suite import default_scanner

        active = [c.info.id for c in default_scanner().checks if c.info.active]
        settings = settings.model_copy(update={"skip_checks": [*settings.skip_checks, *active]})
    if reuses_auth(ctx, settings):
        # the auth suite owns these on every secured operation; the scanner reuses its cases
        skip = sorted({*settings.skip_checks, *owned_by_auth(ctx)})
        settings = settings.model_copy(update={"skip_checks": skip})
    return settings


# scanner checks the auth suite already ran on every secured operation (alg none, tampered,
# expired tokens, a missing token): under `run` the scanner reuses its cases
OWNED_BY_AUTH = ("jwt-alg-none", "jwt-bad-signature", "jwt-expired", "auth-missing")


# the name each owned check's auth-suite cases start with
AUTH_CASE = {
    "jwt-alg-none": "alg none:",
    "jwt-bad-signature": "tampered token:",
    "jwt-expired": "expired token:",
    "auth-missing": "missing token:",
}


def owned_by_auth(ctx: SuiteContext) -> list[str]:
    """The ``OWNED_BY_AUTH`` checks the auth suite decided on some operation. One whose every
    case it skipped stays the scanner's: expired tokens without ``[auth].jwt_secret`` and a
    lifetime over ``max_expiry_wait_s``, which the scanner can forge with a cracked secret."""
    decided = {
        c.name.split(":", 1)[0] + ":"
        for rec in ctx.recorders
        if rec.suite == "auth"
        for c in list(rec.cases)
        if c.status in (Status.PASSED, Status.FAILED)
    }
    return [check for check in OWNED_BY_AUTH if AUTH_CASE[check] in decided]


def auth_suite_ran(ctx: SuiteContext) -> bool:
    return any(rec.suite == "auth" for rec in ctx.recorders)


def reuses_auth(ctx: SuiteContext, settings: Any) -> bool:
    """Whether the scanner leaves to the auth suite what that suite already tested: it ran in
    this run, ``[security] reuse_auth`` is on, and no explicit ``checks`` list asks for more."""
    return auth_suite_ran(ctx) and settings.reuse_auth and not settings.checks


def rbac_verdicts(ctx: SuiteContext) -> list[Any]:
    """The ``[[rbac]]`` pairs the auth suite decided where the rule leaves the identity's role
    out: refused (a passed case, 401/403) or accepted (a failed case, 2xx). The auth suite owns
    them; the scanner's ``bfla`` reuses them. A case left inconclusive (404, 429, no answer, a
    write the policy did not send) or failed on another status decides nothing: the scanner,
    which fills real object ids, tries that pair itself."""
    from battletest.security.settings import RbacVerdict

    verdicts = []
    for rec in ctx.recorders:
        for case in list(rec.cases) if rec.suite == "auth" else []:
            pair = case.details.get("rbac")
            if not isinstance(pair, dict) or pair.get("allowed"):
                continue
            status = pair.get("status")
            if not isinstance(status, int):
                continue  # not sent (the write policy), or no answer
            refused = case.status is Status.PASSED and status in (401, 403)
            accepted = case.status is Status.FAILED and 200 <= status < 300
            if refused or accepted:
                verdicts.append(
                    RbacVerdict(
                        method=str(pair["method"]),
                        path=str(pair["path"]),
                        identity=str(pair["identity"]),
                        role=str(pair["role"]),
                        status=status,
                        case=case.name,
                        evidence=dict(pair.get("evidence") or {}),
                        reproduce=case.reproduce,
                    )
                )
    return verdicts


def scan_identities(ctx: SuiteContext) -> list[Any]:
    """The config's identities for the scanner, carrying the tokens the run already holds (the
    target's login rate limit is not spent again); an identity whose session cannot be had
    keeps its credentials and logs in itself."""
    from battletest.errors import BattletestError
    from battletest.security.context import identities_from

    auth = ctx.config.auth
    people = identities_from(ctx.config.identities, auth.api_key_header, auth.api_key_in)
    for person in people:
        if person.token or person.api_key or not person.username:
            continue
        try:
            person.token = ctx.identities.get(person.name).bearer
        except (BattletestError, KeyError):
            continue
    return people


def security_suite(ctx: SuiteContext) -> SuiteResult:
    from battletest.security.suite import run_security_suite

    settings = security_settings(ctx)
    ctx.progress.suite_started(NAME, None)
    people = scan_identities(ctx)
    reused = rbac_verdicts(ctx) if reuses_auth(ctx, settings) else []
    result = run_security_suite(
        ctx.target.base_url,
        ctx.spec,
        people,
        settings=settings,
        client=ctx.http,  # the run's transport: its policy, pacing and watched identities
        rbac_verdicts=reused,
    )
    if not settings.active_allowed or ctx.config.smoke:
        why = "production forbids" if not settings.active_allowed else "LIVE_SMOKE runs no"
        note = f"passive checks only: {why} active probes"
        result.message = f"{result.message}; {note}" if result.message else note
    if reuses_auth(ctx, settings):
        result.metrics["reused_from_auth"] = owned_by_auth(ctx)
        # the (operation, identity) pairs of the matrix bfla did not send: the auth suite's
        result.metrics["rbac_reused_from_auth"] = [
            {
                "operation": f"{v.method} {v.path}",
                "identity": v.identity,
                "role": v.role,
                "status": v.status,
                "verdict": "accepted" if v.accepted else "refused",
                "case": v.case,
            }
            for v in reused
        ]
        # e.g. "alg none, tampered and missing tokens" (expired left out when it stayed here)
        words = [AUTH_CASE[c].removesuffix(":").removesuffix(" token") for c in owned_by_auth(ctx)]
        parts = [f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else "".join(words)]
        parts = [f"{parts[0]} tokens"] if words else []
        if reused:
            parts.append(f"{len(reused)} [[rbac]] pair{'s' if len(reused) != 1 else ''}")
        if parts:
            note = " and ".join(parts) + ": see the auth suite's cases"
            result.message = f"{result.message}; {note}" if result.message else note
    return result


__all__ = ["rbac_verdicts", "scan_identities", "security_settings", "security_suite"]
