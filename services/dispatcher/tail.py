"""``kitestream alerts tail``: the last alerts on ``alerts``, then new ones as they arrive.

Like ``tail``: the last 10 alerts (``-n N``; ``-n all`` or ``--from-beginning`` for every
alert kept), then, when stdout is a terminal or with ``-f``/``--follow``, each new alert as
it arrives (``--no-follow`` exits after the last ones). ``--kind``, ``--service`` and
``--since`` choose which alerts count. The last N are read from the end of each
partition and merged by ``created_at`` (:mod:`~services.dispatcher.alertreader`,
:mod:`~services.dispatcher.alertfilter`).

Readable (and coloured on a terminal; ``NO_COLOR`` turns colour off)::

    2026-08-01 10:00:05Z  CRITICAL  failure_deploy_incident  payments-api
      Deploy abc123 of payments-api lines up with failed build #42 and incident P123
      reasons: same commit · same service
      build: https://buildkite.com/acme/payments-api/builds/42
      alert 3f2a…

or one JSON object per line with ``--json`` (the alert format, for ``jq``). Stops on
Ctrl-C, SIGTERM or ``--limit``. It reads without a consumer group and commits nothing:
tailing never moves the dispatcher's offsets.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, get_args

from schemas.alerts import Alert, AlertKind
from services.dispatcher.alertfilter import AlertFilter, parse_since

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
        help="print the last alerts, then follow new ones",
        description=(
            "Print the last alerts on the alerts topic (10 unless -n), then follow new\n"
            "ones as they arrive when stdout is a terminal or with --follow. Readable\n"
            "(coloured on a terminal) or JSON lines with --json. Commits nothing."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  kitestream alerts tail -n 2 --no-follow\n"
            "  kitestream alerts tail --kind flaky_test --since 1d\n"
            "  kitestream alerts tail --service payments-api --json | jq -r .summary"
        ),
    )
    tail.add_argument(
        "-n",
        "--lines",
        type=_count,
        default=10,
        metavar="N",
        help="print the last N alerts first (default 10; 0 for none, 'all' for every one kept)",
    )
    tail.add_argument(
        "-f",
        "--follow",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="then print new alerts as they arrive (default: when stdout is a terminal)",
    )
    tail.add_argument(
        "--since",
        type=_since,
        metavar="TIME",
        help="only alerts created at or after TIME: 2026-08-01T10:00:00Z, 2026-08-01, "
        "or how long ago (90s, 15m, 2h, 1d, 1w)",
    )
    tail.add_argument(
        "--kind",
        action="append",
        choices=get_args(AlertKind),
        help="only alerts of this kind (repeat for several)",
    )
    tail.add_argument(
        "--service", action="append", metavar="NAME", help="only this service's (repeatable)"
    )
    tail.add_argument("--json", action="store_true", help="one JSON alert per line")
    tail.add_argument(
        "--from-beginning", action="store_true", help="every alert kept (same as -n all)"
    )
    tail.add_argument("--limit", type=int, metavar="N", help="exit after printing N alerts in all")
    from services.api.listing import add_alerts_list  # `alerts list`: the store's alerts

    add_alerts_list(sub)


def _count(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count (0 or more) or 'all', got {text!r}")
    return value


def _since(text: str) -> datetime:
    try:
        return parse_since(text, datetime.now(UTC))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        from services.api.listing import run_alerts_list

        return run_alerts_list(args)
    from aiokafka.errors import KafkaError

    from services.common.lifecycle import run_until_signalled
    from services.common.settings import KafkaSettings, load_settings

    settings = load_settings(KafkaSettings)
    terminal = sys.stdout.isatty()
    color = not args.json and terminal and "NO_COLOR" not in os.environ
    printer = _Printer(args.json, color, args.limit)
    follow: bool = terminal if args.follow is None else args.follow
    chosen = AlertFilter(frozenset(args.kind or ()), frozenset(args.service or ()), args.since)
    lines: int | None = None if args.from_beginning else args.lines
    try:
        return run_until_signalled(
            lambda stop: _tail(
                settings, stop, chosen=chosen, lines=lines, follow=follow, printer=printer
            )
        )
    except BrokenPipeError:  # `kitestream alerts tail | head`
        sys.stderr.close()
        return 0
    except (KafkaError, TimeoutError) as exc:
        log.error("cannot read alerts from %s: %r", settings.bootstrap_servers, exc)
        return 1


class _Printer:
    """Writes alerts to stdout, and says when ``--limit`` of them have been written."""

    def __init__(self, as_json: bool, color: bool, limit: int | None) -> None:
        self._json = as_json
        self._color = color
        self._limit = limit
        self.shown = 0

    @property
    def done(self) -> bool:
        return self._limit is not None and self.shown >= self._limit

    def show(self, alert: Alert) -> None:
        if self.done:
            return
        out = (
            alert.to_json().decode() + "\n"
            if self._json
            else format_alert(alert, color=self._color)
        )
        sys.stdout.write(out)
        self.shown += 1


async def _tail(
    settings: KafkaSettings,
    stop: asyncio.Event,
    *,
    chosen: AlertFilter,
    lines: int | None,
    follow: bool,
    printer: _Printer,
) -> None:
    from aiokafka import TopicPartition

    from services.common.kafka import make_consumer
    from services.common.topics import Topic, Topics
    from services.dispatcher.alertreader import decode, partition_count, read_last

    topic = Topics(settings.topic_prefix).name(Topic.ALERTS)
    count = await partition_count(settings.bootstrap_servers, topic, wait=follow, stop=stop)
    if not count:
        return
    partitions = [TopicPartition(topic, n) for n in range(count)]
    consumer = make_consumer(
        settings.bootstrap_servers, group_id=None, client_id="kitestream-alerts-tail"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if lines != 0:
            for seen in await read_last(consumer, ends, lines, chosen):
                printer.show(seen.alert)
            sys.stdout.flush()
        if not follow:
            return
        for tp in partitions:
            consumer.seek(tp, ends[tp])
        while not stop.is_set() and not printer.done:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for record in records:
                    alert = decode(record.value, record.offset)
                    if alert is not None and chosen.matches(alert):
                        printer.show(alert)
            sys.stdout.flush()
    finally:
        await consumer.stop()
