"""Prometheus metrics of the dispatcher, in a registry of its own (no module globals).

Every label is bounded: ``sink`` is a sink's name in the routes file, ``outcome``,
``status_class`` and ``reason`` take the few values listed below. Alert ids, keys and
URLs (a Slack URL is a credential) never become label values. Each sink's series exist
from the start, at zero, so that ``increase()`` sees the first alert too.

What counts where, per sink::

    alert read ──▶ the sink already has a record of it? ── yes ──▶ skipped_duplicate
                        │ no
                        ▼
                   attempt 1, 2, … ──▶ attempts{status_class}; each after the first: retried
                        │
                        ▼
                   delivered (+ delivery_seconds) | nothing_to_send | dead_lettered

``delivery_seconds`` runs from when the alert was read off ``alerts`` to the sink's
answer, retries and circuit pauses included. The circuit state and the pending count are
read from the workers when Prometheus scrapes, so an open circuit that has cooled down
shows as half-open without an event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.dispatcher.breaker import BreakerState
from services.dispatcher.errors import DeliveryFailed
from services.dispatcher.sinks.base import Receipt

__all__ = ["CIRCUIT_CODES", "OUTCOMES", "DispatcherMetrics", "status_class"]

# delivered: the sink took it; nothing_to_send: the sink had nothing to do (a recovery
# with nothing open); retried: an attempt after the first (one per retry); dead_lettered:
# given up on; skipped_duplicate: an alert this sink already has a record of.
OUTCOMES = ("delivered", "nothing_to_send", "retried", "dead_lettered", "skipped_duplicate")
DeliveryOutcome = Literal[
    "delivered", "nothing_to_send", "retried", "dead_lettered", "skipped_duplicate"
]

# The gauge's value per state: 0 closed, 1 half-open (one probe may go), 2 open.
CIRCUIT_CODES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}

# invalid_alert: a record on `alerts` that is not an alert; gave_up: a sink gave up.
DEAD_LETTER_REASONS = ("invalid_alert", "gave_up")

# From a quick webhook to the 15-minute retry budget.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


def status_class(answer: DeliveryFailed | Receipt | None) -> str:
    """The ``status_class`` label of one attempt, from what it ended with (``None``: the
    sink raised something unexpected, a bug).

    ``2xx`` … ``5xx`` when the sink answered over HTTP; ``unreachable`` for a connection
    error or a timeout; ``refused`` when outbound safety stopped the request; ``error``
    for any other failure without an answer; ``none`` when the sink sent nothing over
    HTTP (the log sink, a recovery with nothing to resolve).
    """
    if answer is None:
        return "error"
    if answer.status is not None:
        return f"{answer.status // 100}xx"
    if isinstance(answer, Receipt):
        return "none"
    if answer.sink_down:
        return "unreachable"
    if not answer.retryable:
        return "refused"
    return "error"


class DispatcherMetrics:
    """Every metric the dispatcher exports; the service and the workers record through
    the methods below, which take only sink names and counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.consumed = Counter(
            "kitestream_dispatcher_alerts_consumed",
            "Records read from alerts (tombstones aside), valid or not.",
            registry=r,
        )
        self.deliveries = Counter(
            "kitestream_dispatcher_deliveries",
            "Alerts per sink, by outcome: " + ", ".join(OUTCOMES) + " (one per retry).",
            ["sink", "outcome"],
            registry=r,
        )
        self.attempts = Counter(
            "kitestream_dispatcher_attempts",
            "Requests to a sink, by the class of its answer (2xx … 5xx, unreachable, refused, "
            "error, none).",
            ["sink", "status_class"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "kitestream_dispatcher_delivery_seconds",
            "From reading an alert to the sink's acknowledgement, retries included.",
            ["sink"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.circuit_state = Gauge(
            "kitestream_dispatcher_circuit_state",
            "A sink's circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["sink"],
            registry=r,
        )
        self.circuit_opened = Counter(
            "kitestream_dispatcher_circuit_opened",
            "Times a sink's circuit opened (after failures in a row, or a failed probe).",
            ["sink"],
            registry=r,
        )
        self.pending = Gauge(
            "kitestream_dispatcher_pending_alerts",
            "Alerts routed to a sink and not yet settled (queued or in flight).",
            ["sink"],
            registry=r,
        )
        self.in_flight = Gauge(
            "kitestream_dispatcher_sink_in_flight",
            "Deliveries in flight at a sink (requests and their retries), at most "
            "KITESTREAM_DISPATCHER_SINK_CONCURRENCY.",
            ["sink"],
            registry=r,
        )
        self.dead_letters = Counter(
            "kitestream_dispatcher_dead_letters",
            "Dead letters written to kitestream.dlq, by reason (invalid_alert, gave_up).",
            ["reason"],
            registry=r,
        )
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason)

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached (``labels()`` validates and locks each call)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def watch_sink(
        self,
        sink: str,
        *,
        circuit: Callable[[], BreakerState],
        pending: Callable[[], int],
        in_flight: Callable[[], int] = lambda: 0,
    ) -> None:
        """Add ``sink``'s series at zero, and read its gauges from these at scrape time."""
        for outcome in OUTCOMES:
            self._child(self.deliveries, sink, outcome)
        self._child(self.delivery_seconds, sink)
        self._child(self.circuit_opened, sink)
        self.circuit_state.labels(sink).set_function(lambda: CIRCUIT_CODES[circuit()])
        self.pending.labels(sink).set_function(pending)
        self.in_flight.labels(sink).set_function(in_flight)

    def alert_consumed(self) -> None:
        self.consumed.inc()

    def count(self, sink: str, outcome: DeliveryOutcome, n: int = 1) -> None:
        if n > 0:
            self._child(self.deliveries, sink, outcome).inc(n)

    def attempt(self, sink: str, answer: DeliveryFailed | Receipt | None) -> None:
        self._child(self.attempts, sink, status_class(answer)).inc()

    def note_circuit_opened(self, sink: str) -> None:
        self._child(self.circuit_opened, sink).inc()

    def delivered(self, sink: str, read_at: Sequence[float], receipt: Receipt, now: float) -> None:
        """A batch the sink took: its alerts, read at ``read_at`` (monotonic seconds)."""
        if receipt.skipped:
            self.count(sink, "nothing_to_send", len(read_at))
            return
        self.count(sink, "delivered", len(read_at))
        latency = self._child(self.delivery_seconds, sink)
        for at in read_at:
            latency.observe(max(0.0, now - at))

    def dead_letter(self, reason: Literal["invalid_alert", "gave_up"]) -> None:
        self._child(self.dead_letters, reason).inc()
