"""``kitestream kafka up|down|status``: the local development broker."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser(
        "up",
        help="start the broker (fetches the jars with mvn on first use)",
        description="Start a single-node KRaft broker on 127.0.0.1 and wait until it answers.",
    )
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait (default 90)")
    down = sub.add_parser("down", help="stop the broker", description="Stop the local broker.")
    down.add_argument("--wipe", action="store_true", help="also delete its data")
    sub.add_parser(
        "status",
        help="say whether it runs and answers",
        description="Exit 0 when the local broker runs and answers, 3 otherwise.",
    )


def run(args: argparse.Namespace) -> int:
    from services.localkafka.broker import BrokerError, LocalBroker

    broker = LocalBroker()
    try:
        if args.action == "up":
            started = broker.up(timeout_s=args.timeout)
            verb = "started" if started else "already running"
            sys.stdout.write(f"kafka {verb}: {broker.bootstrap} (logs: {broker.paths.root})\n")
            return 0
        if args.action == "down":
            stopped = broker.down(wipe=args.wipe)
            sys.stdout.write("kafka stopped\n" if stopped else "kafka was not running\n")
            return 0
        status = broker.status()
        sys.stdout.write(f"kafka {status.describe()}\n")
        return 0 if status.running else 3
    except BrokerError as exc:
        sys.stderr.write(f"kitestream kafka {args.action}: {exc}\n")
        return 1
