"""``kitestream kafka up|down|status``: the local development broker, or a local cluster."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]

_BROKERS_HELP = (
    "1 (default): the single development broker on 127.0.0.1:9092 "
    "(KITESTREAM_LOCAL_KAFKA_PORT); more: a local KRaft cluster of that many brokers "
    "on ports from 19092 (KITESTREAM_LOCAL_KAFKA_CLUSTER_PORT), beside the single one"
)


def _brokers(value: str) -> int:
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError(f"at least 1 broker, not {count}")
    return count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser(
        "up",
        help="start the broker (fetches the jars with mvn on first use)",
        description=(
            "Start a KRaft broker on 127.0.0.1 and wait until it answers; with "
            "--brokers 3, a three-broker cluster (each broker also a controller, "
            "heap -Xmx384m each), e.g. `kitestream kafka up --brokers 3`."
        ),
    )
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    down = sub.add_parser("down", help="stop the broker", description="Stop the local broker.")
    down.add_argument("--wipe", action="store_true", help="also delete its data")
    status = sub.add_parser(
        "status",
        help="say whether it runs and answers",
        description="Exit 0 when the local broker (or cluster) runs and answers, 3 otherwise.",
    )
    for command in (up, down, status):
        command.add_argument("--brokers", type=_brokers, default=1, help=_BROKERS_HELP)


def run(args: argparse.Namespace) -> int:
    from services.localkafka.broker import BrokerError

    try:
        if args.brokers > 1:
            return _cluster(args)
        return _single(args)
    except BrokerError as exc:
        sys.stderr.write(f"kitestream kafka {args.action}: {exc}\n")
        return 1


def _single(args: argparse.Namespace) -> int:
    from services.localkafka.broker import LocalBroker
    from services.localkafka.cluster import LocalCluster

    broker = LocalBroker()
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
    cluster = LocalCluster.existing()
    if cluster is not None and any(node.pid() is not None for node in cluster.nodes):
        sys.stdout.write(f"(also running: {cluster.status().describe()})\n")
    return 0 if status.running else 3


def _cluster(args: argparse.Namespace) -> int:
    from services.localkafka.cluster import LocalCluster

    cluster = LocalCluster(args.brokers)
    if args.action == "up":
        started = cluster.up(timeout_s=args.timeout)
        verb = "started" if started else "already running"
        sys.stdout.write(
            f"kafka cluster of {cluster.brokers} {verb} (logs: {cluster.root})\n"
            f"export KAFKA_BOOTSTRAP_SERVERS={cluster.bootstrap}\n"
        )
        return 0
    if args.action == "down":
        stopped = cluster.down(wipe=args.wipe)
        sys.stdout.write(
            "kafka cluster stopped\n" if stopped else "kafka cluster was not running\n"
        )
        return 0
    status = cluster.status()
    sys.stdout.write(f"kafka {status.describe()}\n")
    return 0 if status.running else 3
