"""``kitestream alerts tail``: print alerts as they arrive on ``alerts``.

Readable (and coloured on a terminal; ``NO_COLOR`` turns colour off)::

    2026-08-01 10:00:05Z  CRITICAL  failure_deploy_incident  payments-api
      Deploy abc123 of payments-api lines up with failed build #42 and incident P123
      reasons: same commit · same service
      build: https://buildkite.com/acme/payments-api/builds/42
      alert 3f2a…

or one JSON object per line with ``--json`` (the alert format, for ``jq``). Starts at the
end of the topic unless ``--from-beginning``; stops on Ctrl-C, SIGTERM or ``--limit``.
It reads without a consumer group and commits nothing: tailing never moves the
dispatcher's offsets.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from schemas.alerts import Alert

if TYPE_CHECKING:
    import asyncio

    from services.common.settings import KafkaSettings

__all__ = ["add_arguments", "format_alert", "run"]

log = logging.getLogger(__name__)

_RESET = "\033[0m"
_BOLD = "\033[1m"
_DIM = "\033[2m"
_SEVERITY = {"critical": "\033[1;31m", "warning": "\033[1;33m", "info": "\033[1;36m"}


def format_alert(alert: Alert, *, color: bool) -> str:
    """A few readable lines for one alert, ending with a newline."""

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    when = alert.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
    head = "  ".join(
        [
            paint(when, _DIM),
            paint(f"{alert.severity.upper():<8}", _SEVERITY[alert.severity]),
            alert.kind,
            paint(alert.service or "-", _BOLD),
        ]
    )
    lines = [head, f"  {alert.summary}"]
    if alert.reasons:
        lines.append(f"  reasons: {' · '.join(alert.reasons)}")
    if alert.failing_tests_known_flaky:
        lines.append("  every failing test is known flaky")
    lines.extend(f"  {name}: {paint(url, _DIM)}" for name, url in alert.links.items())
    score = f"  score {alert.score:.2f}" if alert.score is not None else ""
    lines.append(paint(f"  alert {alert.alert_id}{score}", _DIM))
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    tail = sub.add_parser(
        "tail",
        help="print alerts as they arrive",
        description=(
            "Print alerts from the alerts topic as they arrive: readable (coloured on a "
            "terminal) or JSON lines with --json. Commits nothing."
        ),
    )
    tail.add_argument("--json", action="store_true", help="one JSON alert per line")
    tail.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest alert kept"
    )
    tail.add_argument(
        "--limit", type=int, metavar="N", help="exit after N alerts (default: run until stopped)"
    )
    from services.api.listing import add_alerts_list  # `alerts list`: the store's alerts

    add_alerts_list(sub)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        from services.api.listing import run_alerts_list

        return run_alerts_list(args)
    from aiokafka.errors import KafkaError

    from services.common.lifecycle import run_until_signalled
    from services.common.settings import KafkaSettings, load_settings

    settings = load_settings(KafkaSettings)
    color = not args.json and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    try:
        return run_until_signalled(lambda stop: _tail(settings, args, stop, color=color))
    except BrokenPipeError:  # `kitestream alerts tail | head`
        sys.stderr.close()
        return 0
    except (KafkaError, TimeoutError) as exc:
        log.error("cannot read alerts from %s: %r", settings.bootstrap_servers, exc)
        return 1


async def _tail(
    settings: KafkaSettings, args: argparse.Namespace, stop: asyncio.Event, *, color: bool
) -> None:
    from pydantic import ValidationError

    from services.common.kafka import make_consumer
    from services.common.topics import Topic, Topics

    topic = Topics(settings.topic_prefix).name(Topic.ALERTS)
    consumer = make_consumer(
        settings.bootstrap_servers,
        topic,
        group_id=None,
        client_id="kitestream-alerts-tail",
        auto_offset_reset="earliest" if args.from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    try:
        while not stop.is_set() and (args.limit is None or shown < args.limit):
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for record in records:
                    if record.value is None or (args.limit is not None and shown >= args.limit):
                        continue
                    try:
                        alert = Alert.model_validate_json(record.value)
                    except ValidationError:
                        log.warning("skipping an invalid alert at offset %d", record.offset)
                        continue
                    out = (
                        alert.to_json().decode() + "\n"
                        if args.json
                        else format_alert(alert, color=color)
                    )
                    sys.stdout.write(out)
                    shown += 1
            sys.stdout.flush()
    finally:
        await consumer.stop()
