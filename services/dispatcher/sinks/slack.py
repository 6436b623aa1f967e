"""The Slack sink: an incoming webhook, Block Kit messages, bursts coalesced.

Slack accepts about one message per second per incoming webhook. The worker calls this
sink at most once per ``min_interval_s`` and hands it every alert that queued up in the
meantime (up to ``max_batch``), so a burst becomes one message with a section per alert.
One alert::

    🚨 Critical: failure, deploy and incident line up        (header)
    *Deploy abc123 of payments-api broke the build …*        (summary, service, score)
    • same commit  • same service                            (reasons)
    build · deploy · incident                                (links)
    kitestream · 10:00 · alert 3f2a…                         (context)

The webhook URL is the credential: it is never logged or put in an error message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import SecretStr

from schemas.alerts import Alert
from services.dispatcher.outbound import SinkClient
from services.dispatcher.sinks.base import Envelope, Receipt
from services.dispatcher.sinks.request import raise_for_answer, request

__all__ = ["SlackSink", "slack_message"]

MAX_ALERTS_PER_MESSAGE = 10  # at most 4 blocks each, under Slack's 50-block limit

_EMOJI = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_TITLE = {
    "failure_deploy_incident": "failure, deploy and incident line up",
    "flaky_test": "flaky test",
    "flaky_test_recovered": "flaky test recovered",
}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(name: str, url: str) -> str | None:
    if not url.startswith(("https://", "http://")):
        return None
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{safe}|{_escape(name)}>"


def _title(alert: Alert) -> str:
    return f"{alert.severity.capitalize()}: {_TITLE.get(alert.kind, alert.kind)}"


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut(text, limit)}


def _alert_blocks(alert: Alert, *, titled: bool) -> list[dict[str, Any]]:
    head = f"{_EMOJI[alert.severity]} *{_escape(_title(alert))}*\n" if titled else ""
    facts = [f"*Service:* `{_escape(alert.service)}`"] if alert.service else []
    if alert.score is not None:
        facts.append(f"*Score:* {alert.score:.2f}")
    if alert.failing_tests_known_flaky:
        facts.append("_every failing test is known flaky_")
    summary = f"{head}*{_escape(alert.summary)}*" + ("\n" + "  ·  ".join(facts) if facts else "")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(summary)}]
    if alert.reasons:
        reasons = "\n".join(f"• {_escape(reason)}" for reason in alert.reasons)
        blocks.append({"type": "section", "text": _mrkdwn(reasons)})
    links = [link for name, url in alert.links.items() if (link := _link(name, url))]
    stamp = int(alert.created_at.timestamp())
    when = f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{alert.created_at.isoformat()}>"
    context = [_mrkdwn("  ·  ".join(links))] if links else []
    context.append(_mrkdwn(f"kitestream · {when} · alert `{alert.alert_id}`"))
    blocks.append({"type": "context", "elements": context})
    return blocks


def slack_message(alerts: Sequence[Alert]) -> dict[str, Any]:
    """The webhook body for one or more alerts: ``text`` (notifications) and ``blocks``."""
    if len(alerts) == 1:
        [alert] = alerts
        header = _cut(f"{_EMOJI[alert.severity]} {_title(alert)}", 150)
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
            *_alert_blocks(alert, titled=False),
        ]
        text = f"{_title(alert)}: {alert.summary}"
    else:
        worst = min(alerts, key=lambda a: ("critical", "warning", "info").index(a.severity))
        header = f"{_EMOJI[worst.severity]} {len(alerts)} kitestream alerts"
        blocks = [{"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}]
        for alert in alerts:
            blocks.append({"type": "divider"})
            blocks.extend(_alert_blocks(alert, titled=True))
        text = f"{len(alerts)} alerts: " + "; ".join(a.summary for a in alerts)
    return {"text": _cut(_escape(text), 3000), "blocks": blocks}


class SlackSink:
    max_batch = MAX_ALERTS_PER_MESSAGE

    def __init__(
        self, name: str, *, url: SecretStr, client: SinkClient, min_interval_s: float
    ) -> None:
        self.name = name
        self.min_interval_s = min_interval_s
        self._url = url
        self._client = client

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        body = orjson.dumps(slack_message([d.alert for d in batch]))
        response = await request(
            self._client,
            "POST",
            self._url.get_secret_value(),
            content=body,
            headers={"Content-Type": "application/json"},
        )
        raise_for_answer(response)
        return Receipt(
            f"HTTP {response.status_code}, {len(batch)} alert(s) in one message",
            status=response.status_code,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
