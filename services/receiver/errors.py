"""The receiver's own failures, one tree::

    ReceiverError
    ├── SettingsError            a required setting is missing or invalid: refuse to start
    ├── SpoolError               the spool directory cannot be opened, locked or read
    └── ProduceFailed            Kafka did not ack in time (``retry_elsewhere``: spool it)

A refusal answered to a client (401, 400, 413, 503, …) is not one of these: every
refusal is a :class:`~services.ingest.errors.HttpError` (:mod:`services.ingest.errors`),
which the receiver's pure readers raise too.
"""

from __future__ import annotations

__all__ = ["ProduceFailed", "ReceiverError", "SettingsError", "SpoolError"]


class ReceiverError(Exception):
    """Base of every error the receiver raises on purpose, refusals apart."""


class SettingsError(ReceiverError):
    """A required setting is missing or invalid; the message names the variable."""


class SpoolError(ReceiverError):
    """The spool directory cannot be used (not writable, locked by another process)."""


class ProduceFailed(ReceiverError):
    """Kafka did not acknowledge a batch.

    ``fatal`` marks errors after which the producer itself is no longer usable
    (aiokafka #1017: an idempotent producer stuck on ``OutOfOrderSequenceNumber``);
    ``rejected`` marks a message the broker will never take (too large), which must
    not be retried.
    """

    def __init__(self, reason: str, *, fatal: bool = False, rejected: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
        self.rejected = rejected
