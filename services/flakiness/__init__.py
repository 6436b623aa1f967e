"""Flakiness: rolling windows per test and per pipeline step, flags with hysteresis.

The core (``execution``, ``window``, ``evidence``, ``runs``, ``status``, ``tracker``)
is pure: plain classes of (execution, event time), no Kafka. ``inputs`` reads input
messages into executions, ``changelog`` (with ``segments``, its records) and
``messages`` write what the tracker changed, ``task`` adapts it all to the shared
stream runtime (once per record, and once per batch); ``service`` and
``listing`` are the ``kitestream flakiness`` and ``kitestream flaky list`` commands.
Where a C compiler is at hand the install compiles the per-result modules with mypyc;
``services.compiled`` lists them, and ``KITESTREAM_PURE_PYTHON=1`` runs their sources
instead.

Exceptions::

    FlakinessError
     └── BadRecord        an input or changelog record this package cannot read
"""

from __future__ import annotations

__all__ = ["BadRecord", "FlakinessError"]


class FlakinessError(Exception):
    """Base of every error raised by the flakiness package."""


class BadRecord(FlakinessError):
    """A record that cannot be read (the runtime dead-letters it)."""
