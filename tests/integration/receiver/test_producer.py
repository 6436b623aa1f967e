"""Wedged producers are detected and replaced (aiokafka #1017), on a real broker.

A real broker does not produce ``OutOfOrderSequenceNumber`` on demand, so these tests
put the producer into the states #1017 and its relatives leave it in (a fatal error
seen, the sender task dead, sends that never complete while Kafka answers) and check
that the receiver replaces it and delivers everything it acknowledged meanwhile.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka.errors import OutOfOrderSequenceNumber

from services.common.topics import Topic, Topics, TopicSpec, create_topics
from services.receiver.errors import ProduceFailed
from services.receiver.frames import Outgoing
from services.receiver.producer import ProducerLink
from tests.integration.receiver.conftest import read_all
from tests.unit.receiver.clients import Receiver
from tests.unit.receiver.payloads import build_webhook


def _message(topics: Topics, n: int) -> Outgoing:
    return Outgoing(topics.name(Topic.BUILDS), b"k", orjson.dumps({"event_id": str(n)}))


async def test_a_producer_that_failed_fatally_is_replaced_and_delivers(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    replaced: list[str] = []
    link = ProducerLink(kafka_bootstrap, on_replace=replaced.append)
    assert await link.start()
    try:
        await link.send([_message(kafka_topics, 0)], 10)
        failure = link._classify(OutOfOrderSequenceNumber())  # what the broker answered in #1017
        assert failure.fatal
        assert not _ready(link)
        await link.recover()
        assert _ready(link)
        assert len(replaced) == 1
        await link.send([_message(kafka_topics, 1)], 10)
    finally:
        await link.close()
    records = await read_all(kafka_bootstrap, kafka_topics, 2)
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == ["0", "1"]


async def test_a_producer_stuck_while_kafka_answers_is_replaced(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    missing = kafka_topics.name("not-yet-created")  # sends to it never complete
    replaced: list[str] = []
    link = ProducerLink(kafka_bootstrap, on_replace=replaced.append)
    assert await link.start()
    try:
        for _ in range(2):
            with pytest.raises(ProduceFailed) as failed:
                await link.send([Outgoing(missing, b"k", b"{}")], 0.5)
            assert not failed.value.fatal
            assert not failed.value.rejected
        await link.recover()
        assert replaced == ["Kafka answers but the producer does not deliver"]
        await create_topics(kafka_bootstrap, [TopicSpec(missing)], partitions=1)
        await link.send([Outgoing(missing, b"k", b"{}")], 10)
    finally:
        await link.close()


async def test_events_accepted_while_the_producer_is_dead_are_delivered_by_its_replacement(
    receiver: Receiver,
) -> None:
    first = await receiver.post(build_webhook(build_id="before"))
    assert first.json()["delivery"] == "kafka"
    # Kill the producer's sender task: the producer can no longer deliver anything.
    link = _link_of(receiver)
    sender = link._producer._sender.sender_task  # type: ignore[union-attr]
    sender.cancel()
    await asyncio.wait([sender])
    assert not _ready(link)
    second = await receiver.post(build_webhook(build_id="during"))
    assert second.status_code == 202
    assert second.json()["delivery"] == "spool"
    records = await read_all(receiver.settings.bootstrap_servers, receiver.topics, 2)
    assert {orjson.loads(r.value)["build"]["id"] for r in records} == {"before", "during"}
    metrics = (await receiver.client.get("/metrics")).text
    assert "kitestream_receiver_producer_replacements_total 1.0" in metrics


def _ready(link: ProducerLink) -> bool:
    return link.ready


def _link_of(receiver: Receiver) -> ProducerLink:
    context = receiver.app.state.context()
    link = context.delivery.link
    assert isinstance(link, ProducerLink)
    return link
