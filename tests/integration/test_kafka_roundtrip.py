"""The broker the tests run against is real Kafka: durable produce, consume back."""

from __future__ import annotations

import asyncio

from services.common.kafka import decode, encode, make_consumer, make_producer, send_with_deadline
from services.common.topics import Topic, Topics


async def test_idempotent_acks_all_produce_is_consumed_back_in_order(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    topic = kafka_topics.name(Topic.BUILDS)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    try:
        sent = [
            await send_with_deadline(
                producer, topic, encode({"n": n}), key=b"payments-api", deadline_s=10
            )
            for n in range(20)
        ]
    finally:
        await producer.stop()
    assert {md.partition for md in sent} == {sent[0].partition}  # one key, one partition
    assert [md.offset for md in sent] == sorted(md.offset for md in sent)

    consumer = make_consumer(kafka_bootstrap, topic, group_id=None)
    await consumer.start()
    try:
        got: list[int] = []
        async with asyncio.timeout(20):
            while len(got) < 20:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(decode(r.value)["n"] for r in records)
                    assert all(r.key == b"payments-api" for r in records)
    finally:
        await consumer.stop()
    assert got == list(range(20))


async def test_topic_creation_is_idempotent_and_state_topic_is_compacted(
    kafka_bootstrap: str, kafka_topics: Topics
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from services.common.topics import create_topics, topic_specs

    assert await create_topics(kafka_bootstrap, topic_specs(kafka_topics)) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        state = kafka_topics.name(Topic.FLAKINESS_STATE)
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, state)])
        entries = {e[0]: e[1] for e in response.resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
        described = await admin.describe_topics([kafka_topics.name(Topic.ALERTS)])
        assert len(described[0]["partitions"]) == 3
    finally:
        await admin.close()
