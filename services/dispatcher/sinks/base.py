"""What a sink is to the dispatcher: something that takes a batch of envelopes.

Most sinks take one alert per call (``max_batch = 1``). Slack takes several, so that a
burst of alerts becomes one message, and asks for ``min_interval_s`` between calls.
``send`` raises :class:`~services.dispatcher.errors.DeliveryFailed` when the sink did not
take the batch; retrying, backing off and breaking the circuit are the worker's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas.alerts import Alert

__all__ = ["Envelope", "Receipt", "Sink"]


@dataclass(frozen=True)
class Envelope:
    """One alert addressed to one sink: what a sink's ``send`` is given.

    ``resolves`` is set on recovery alerts: the ``alert_id`` of the alert this one
    recovers, as delivered earlier to the same sink (``None`` when nothing was).
    """

    alert: Alert
    resolves: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What a sink says it did: a short note for the record; ``skipped`` when it had
    nothing to send (a recovery with nothing open), which is recorded as such; ``status``
    the HTTP status of the answer that settled it (``None``: no HTTP involved)."""

    note: str
    skipped: bool = False
    status: int | None = None


class Sink(Protocol):
    name: str
    max_batch: int
    min_interval_s: float

    async def send(self, batch: Sequence[Envelope], attempt: int) -> Receipt:
        """Deliver ``batch`` (``attempt`` counts from 1), or raise ``DeliveryFailed``."""
        ...

    async def aclose(self) -> None: ...
