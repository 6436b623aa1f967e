"""The dispatcher's exceptions, one tree::

    DispatcherError
    ├── ConfigError          the routes file or catalog cannot be used, or a secret is missing
    ├── DestinationRefused   an outbound URL, or an address it resolves to, is not allowed
    └── DeliveryFailed       a sink did not take a delivery; says whether to retry and when

Messages never carry a secret: sinks are named by their name in the routes file, never
by their URL (a Slack webhook URL is itself a credential).
"""

from __future__ import annotations

__all__ = ["ConfigError", "DeliveryFailed", "DestinationRefused", "DispatcherError"]


class DispatcherError(Exception):
    """Base of every error the dispatcher raises on purpose."""


class ConfigError(DispatcherError):
    """The routes file or the catalog cannot be used as they are; the message says why."""


class DestinationRefused(DispatcherError):
    """Outbound safety said no: wrong scheme, or a private, loopback or metadata address."""


class DeliveryFailed(DispatcherError):
    """A sink did not take a delivery.

    ``retryable`` is false for answers that will not change on a retry (a 4xx, a refused
    destination, a redirect). ``sink_down`` marks failures that say the sink itself is
    unwell (connection errors, timeouts, 5xx) and count towards its circuit breaker; a
    429 is an answer from a healthy sink that wants us to slow down. ``status`` is the
    HTTP status of the sink's answer, ``None`` when there was none.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        sink_down: bool = False,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.sink_down = sink_down
        self.retry_after_s = retry_after_s
        self.status = status
