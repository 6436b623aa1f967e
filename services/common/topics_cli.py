"""``kitestream topics create``: create every contract topic, idempotently."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser(
        "create",
        help="create missing topics",
        description=(
            "Create every contract topic that does not exist yet (flakiness.state "
            "compacted), under KITESTREAM_TOPIC_PREFIX, on KAFKA_BOOTSTRAP_SERVERS."
        ),
    )
    create.add_argument("--partitions", type=int, default=6, help="default 6")
    create.add_argument(
        "--replication",
        type=int,
        default=None,
        help="replication factor of new topics (default KITESTREAM_TOPIC_REPLICATION, "
        "else min(3, brokers))",
    )
    create.add_argument(
        "--min-insync",
        type=int,
        default=None,
        help="min.insync.replicas of new topics (default "
        "KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS, else 2 with three or more replicas)",
    )


def run(args: argparse.Namespace) -> int:
    from services.common.replication import ReplicationError
    from services.common.settings import KafkaSettings, load_settings
    from services.common.topics import Topics, ensure_topics, topic_specs

    settings = load_settings(KafkaSettings)
    specs = topic_specs(Topics(settings.topic_prefix))
    try:
        report = asyncio.run(
            ensure_topics(
                settings.bootstrap_servers,
                specs,
                partitions=args.partitions,
                replication=args.replication,
                min_insync=args.min_insync,
            )
        )
    except ReplicationError as exc:
        sys.stderr.write(f"kitestream topics create: {exc}\n")
        return 2
    sys.stdout.write(f"new topics: {report.replication.describe()}\n")
    for name in report.created:
        sys.stdout.write(f"created {name}\n")
    for name, count in sorted(report.under_replicated.items()):
        sys.stderr.write(
            f"warning: {name} has {count} replicas, fewer than "
            f"{report.replication.factor}; existing topics keep theirs (raise it with "
            "kafka-reassign-partitions)\n"
        )
    created = len(report.created)
    sys.stdout.write(
        f"{len(specs)} topics present on {settings.bootstrap_servers} ({created} new)\n"
    )
    return 0
