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
    create.add_argument("--replication", type=int, default=1, help="default 1 (one broker)")


def run(args: argparse.Namespace) -> int:
    from services.common.settings import KafkaSettings, load_settings
    from services.common.topics import Topics, create_topics, topic_specs

    settings = load_settings(KafkaSettings)
    specs = topic_specs(Topics(settings.topic_prefix))
    created = asyncio.run(
        create_topics(
            settings.bootstrap_servers,
            specs,
            partitions=args.partitions,
            replication=args.replication,
        )
    )
    for name in created:
        sys.stdout.write(f"created {name}\n")
    sys.stdout.write(
        f"{len(specs)} topics present on {settings.bootstrap_servers} ({len(created)} new)\n"
    )
    return 0
