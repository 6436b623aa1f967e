"""``kitestream flaky list``: the flaky tests and steps, read from ``flakiness.state``.

Reads the compacted topic from its beginning to its current end (committed records
only), keeps the latest record per key, and prints those flagged flaky::

    SCORE  SINCE             TEST                                     LAST EVIDENCE
    0.40   2027-01-15 11:00  pytest/tests.test_cart/test_total/…      https://buildkite.com/…
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic waits until the command runs
    from schemas.flakiness import FlakinessState

__all__ = ["add_arguments", "read_states", "render_json", "render_table", "run", "select"]

_KEY_WIDTH = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser(
        "list",
        help="list flaky tests and steps",
        description=(
            "Print the tests and pipeline steps currently flagged flaky, from the "
            "flakiness.state topic on KAFKA_BOOTSTRAP_SERVERS (under "
            "KITESTREAM_TOPIC_PREFIX), highest score first."
        ),
    )
    listing.add_argument("--suite", help="only tests of this suite (slug)")
    listing.add_argument("--pipeline", help="only steps of this pipeline (slug)")
    listing.add_argument("--all", action="store_true", help="stable ones too")
    listing.add_argument("--json", action="store_true", help="JSON (one array) instead of a table")
    listing.add_argument(
        "--timeout", type=float, default=30.0, help="give up reading after this many seconds"
    )
    from services.api.listing import add_source_arguments  # --api / --database: the store

    add_source_arguments(listing)


def run(args: argparse.Namespace) -> int:
    if args.api or args.database:  # the store's copy, not flakiness.state
        from services.api.listing import run_flaky_list

        return run_flaky_list(args)
    import asyncio
    import logging

    from aiokafka.errors import KafkaError

    from services.common.settings import KafkaSettings, load_settings
    from services.common.topics import Topic, Topics

    settings = load_settings(KafkaSettings)
    topic = Topics(settings.topic_prefix).name(Topic.FLAKINESS_STATE)
    try:
        states = asyncio.run(read_states(settings.bootstrap_servers, topic, args.timeout))
    except (KafkaError, TimeoutError) as exc:
        logging.getLogger(__name__).error("cannot read %s: %s", topic, exc)
        return 1
    chosen = select(states, suite=args.suite, pipeline=args.pipeline, everything=args.all)
    sys.stdout.write(render_json(chosen) if args.json else render_table(chosen))
    return 0


async def read_states(
    bootstrap_servers: str, topic: str, timeout_s: float = 30.0
) -> list[FlakinessState]:
    """The latest state per key (tombstones remove it), up to the topic's current end."""
    import asyncio

    from aiokafka.structs import TopicPartition

    from schemas.flakiness import FlakinessState
    from services.common.kafka import make_consumer
    from services.common.topics import partition_counts

    partitions = (await partition_counts(bootstrap_servers, [topic]))[topic]
    if not partitions:
        return []
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = make_consumer(bootstrap_servers, group_id=None, client_id="flaky-list")
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        latest: dict[bytes, bytes | None] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if loop.time() > deadline:
                raise TimeoutError(f"{topic} not read to its end in {timeout_s:g}s")
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for record in records:
                    if record.key is not None:
                        latest[record.key] = record.value
    finally:
        await consumer.stop()
    return [FlakinessState.model_validate_json(v) for v in latest.values() if v is not None]


def select(
    states: Iterable[FlakinessState],
    *,
    suite: str | None = None,
    pipeline: str | None = None,
    everything: bool = False,
) -> list[FlakinessState]:
    """Flaky ones (or all), of one suite or pipeline if asked, highest score first."""
    chosen = [
        s
        for s in states
        if (everything or s.status == "flaky")
        and (suite is None or s.suite == suite)
        and (pipeline is None or s.pipeline == pipeline)
    ]
    return sorted(chosen, key=lambda s: (-s.score, s.key))


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M")


def _short(key: str) -> str:
    return key if len(key) <= _KEY_WIDTH else key[: _KEY_WIDTH - 1] + "…"


def render_table(states: list[FlakinessState]) -> str:
    if not states:
        return "no flaky tests\n"
    header = ("SCORE", "STATUS", "SINCE", "TEST", "LAST EVIDENCE")
    rows = [header]
    for s in states:
        last = s.evidence[-1] if s.evidence else None
        link = (last.urls[0] if last.urls else last.detail) if last else "-"
        rows.append((f"{s.score:.2f}", s.status, _when(s.since), _short(s.key), link))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def render_json(states: list[FlakinessState]) -> str:
    import orjson

    return (
        orjson.dumps(
            [s.model_dump(mode="json") for s in states], option=orjson.OPT_INDENT_2
        ).decode()
        + "\n"
    )
