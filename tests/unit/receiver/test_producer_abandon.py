"""An abandoned producer's queued batches fail without leaving errors nobody retrieves."""

from __future__ import annotations

import gc

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from services.receiver.producer import _fail_queued


async def test_failing_the_queued_batches_leaves_no_unretrieved_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Never started: the batch stays queued, as it does when the broker cannot be reached.
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    future = await producer._message_accumulator.add_message(
        TopicPartition("builds", 0), b"k", b"{}", timeout=1
    )
    future.add_done_callback(lambda f: f.exception())  # the sender awaited this one
    _fail_queued(producer)
    assert future.done()
    await producer.stop()
    del producer, future
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
