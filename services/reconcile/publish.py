"""Publish the events Kafka does not have yet, and remember that it has them now."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from services.common.topics import Topics
from services.reconcile.events import Event

__all__ = ["Publisher"]


class Publisher:
    """``seen`` holds the event ids Kafka has (see :mod:`services.reconcile.seen`)."""

    def __init__(
        self, producer: AIOKafkaProducer, topics: Topics, seen: set[str], deadline_s: float
    ) -> None:
        self.producer = producer
        self.topics = topics
        self.seen = seen
        self.deadline_s = deadline_s

    async def publish(self, events: list[Event]) -> list[Event]:
        """Send the unseen ``events`` in the order given and wait for every ack; return
        them. Same key, same partition: the order holds per pipeline."""
        missing: list[Event] = []
        for event in events:
            if event.event_id not in self.seen:
                self.seen.add(event.event_id)
                missing.append(event)
        futures = []
        for event in missing:
            topic = self.topics.name(event.topic)
            send = self.producer.send(topic, event.value, key=event.key.encode())
            futures.append(await asyncio.wait_for(send, self.deadline_s))
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), self.deadline_s)
        return missing
