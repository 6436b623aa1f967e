"""Riding out Kafka trouble in a service's main loop.

A broker lost, a partition leader or group coordinator moving: for a few seconds the
clients' calls fail with a :class:`~aiokafka.errors.KafkaError`, then work again. A
loop that meets one waits (0.5 s, doubling to 5 s), goes back to its last commit and
tries again; :class:`KafkaTrouble` keeps the time and gives up with :class:`KafkaGaveUp`
once Kafka has failed for ``limit_s`` with no good turn of the loop in between, so that
the service exits (status 1) and its supervisor starts it afresh.
"""

from __future__ import annotations

import logging
from asyncio import sleep
from time import monotonic

from aiokafka.errors import KafkaError

__all__ = ["GIVE_UP_AFTER_S", "KafkaGaveUp", "KafkaTrouble"]

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 5.0
GIVE_UP_AFTER_S = 120.0


class KafkaGaveUp(Exception):
    """Kafka failed the loop for longer than the service waits for it."""


class KafkaTrouble:
    """How long Kafka has been failing one loop (see the module docs)."""

    def __init__(self, service: str, limit_s: float = GIVE_UP_AFTER_S) -> None:
        self.service = service
        self.limit_s = limit_s
        self.since: float | None = None
        self.pause_s = FIRST_PAUSE_S

    async def wait_after(self, exc: KafkaError) -> None:
        """Log ``exc`` and pause; raise :class:`KafkaGaveUp` instead when it is too late."""
        now = monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since > self.limit_s:
            raise KafkaGaveUp(
                f"Kafka has failed for over {self.limit_s:.0f}s; last error: {exc!r}"
            ) from exc
        log.warning(
            "%s: %r; back to the last commit, trying again in %.1fs",
            self.service,
            exc,
            self.pause_s,
        )
        await sleep(self.pause_s)
        self.pause_s = min(self.pause_s * 2, LONGEST_PAUSE_S)

    def over(self) -> None:
        """A good turn of the loop: the next failure starts the clock again."""
        self.since = None
        self.pause_s = FIRST_PAUSE_S
