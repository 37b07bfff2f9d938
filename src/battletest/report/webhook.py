"""A webhook on gate failure: a Slack-compatible JSON message (``text`` + ``blocks``).

Slack incoming webhooks, Mattermost and most chat bridges accept ``{"text": …}``; the
``blocks`` carry the failed gates with their measured value beside the limit. ``notify``
sends nothing when every gate passed (unless ``always``); what it sends is built from a
redacted copy of the report (``redactor``: the run's, else the patterns alone).
"""

from __future__ import annotations

from typing import Any

from battletest.errors import TargetUnreachable, UsageError
from battletest.redact import Redactor
from battletest.results import Report


def message(report: Report, link: str | None = None) -> dict[str, Any]:
    """The Slack-compatible payload for ``report`` (redact the report first: ``notify`` does)."""
    failed = [g for g in report.gates if g.passed is False]
    s = report.summary
    head = (
        f"battletest run {report.run.id} on {report.run.target or 'the target'}: "
        f"{'FAILED' if s.verdict == 'fail' else 'passed'} — {len(failed)} gate(s) failed, "
        f"{s.passed}/{s.total_tests} cases passed"
    )
    lines = [f"• *{g.name}*: measured {g.measured} (limit {g.limit}) — {g.reason}" for g in failed]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": "battletest: gates failed" if failed else "battletest: all gates passed",
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return {
        "text": head,
        "blocks": blocks,
        "battletest": {
            "run_id": report.run.id,
            "verdict": s.verdict,
            "failed_gates": [g.model_dump(mode="json") for g in failed],
        },
    }


def notify(
    report: Report,
    url: str,
    *,
    always: bool = False,
    link: str | None = None,
    timeout: float = 10.0,
    redactor: Redactor | None = None,
) -> bool:
    """POST the message to ``url`` when a gate failed (or ``always``); True when sent."""
    import httpx

    safe = redactor or Redactor([url])  # the webhook URL itself is a credential
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            f"webhook {safe.text(url)!r} is not an http(s) URL", hint="pass the full URL"
        )
    if not always and not any(g.passed is False for g in report.gates):
        return False
    try:
        response = httpx.post(url, json=message(safe.report(report), link), timeout=timeout)
    except httpx.HTTPError as exc:
        raise TargetUnreachable(
            safe.text(f"cannot reach the webhook at {url}: {exc}"), hint="check the webhook URL"
        ) from None
    if response.status_code >= 300:
        raise UsageError(
            f"the webhook answered {response.status_code}", hint="check the webhook URL"
        )
    return True


__all__ = ["message", "notify"]
