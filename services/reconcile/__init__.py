"""``kitestream reconcile`` and ``kitestream backfill``: Buildkite's REST API onto the same
topics as the webhooks.

Webhooks stay the fast path. Reconcile lists the builds that finished since its
checkpoint (minus an overlap) and publishes the ``build.finished`` and ``job.finished``
events Kafka does not have yet, exactly as the receiver would have, with the same
``event_id`` and ``"source": "rest"``. Backfill loads past weeks on install.

Exceptions::

    ReconcileError          anything this package refuses to go on with
    ├── ApiError            Buildkite answered in a way retries cannot fix (401, 404, …)
    │   └── DeepPage        a page too deep for the API (400): the caller narrows the window
    └── Stopped             SIGINT/SIGTERM came while waiting on the rate limit or a backoff
"""

from __future__ import annotations

__all__ = ["ApiError", "DeepPage", "ReconcileError", "Stopped"]


class ReconcileError(Exception):
    """Base of this package's errors."""


class ApiError(ReconcileError):
    """An answer from Buildkite's REST API that retrying will not fix."""


class DeepPage(ApiError):
    """The API refused a page number as too deep (HTTP 400 past page 1)."""


class Stopped(ReconcileError):
    """Asked to stop while waiting: the unit of work in hand is dropped, not checkpointed."""
