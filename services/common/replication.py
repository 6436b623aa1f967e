"""How many copies of each topic to keep: the choice, its settings, what to warn about.

Kafka keeps each partition on ``replication factor`` brokers; a write with ``acks=all``
(every kitestream producer) is acknowledged once ``min.insync.replicas`` of them have it.
The defaults here follow the cluster:

=========  ==================  ======================  ===============================
brokers    replication factor  min.insync.replicas     one broker lost
=========  ==================  ======================  ===============================
1          1                   (broker default, 1)     everything stops (development)
2          2                   (broker default, 1)     writes go on with one copy
3 or more  3                   2                       writes go on with two copies
=========  ==================  ======================  ===============================

``KITESTREAM_TOPIC_REPLICATION`` and ``KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS`` override
the choice for every command that creates topics (``kitestream topics create`` and the
processors at start). A topic that exists already keeps its replication: Kafka changes
it only through a partition reassignment, so kitestream warns instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import shared

__all__ = [
    "Replication",
    "ReplicationError",
    "ReplicationSettings",
    "choose_replication",
    "under_replicated",
]


class ReplicationError(ValueError):
    """The replication asked for cannot be had on this cluster; the message says why."""


@dataclass(frozen=True)
class Replication:
    """The replication chosen for new topics on a cluster of ``brokers``."""

    factor: int
    min_insync: int | None  # None: leave the broker's default
    brokers: int

    def topic_config(self) -> dict[str, str]:
        """Per-topic configuration to create topics with."""
        if self.min_insync is None:
            return {}
        return {"min.insync.replicas": str(self.min_insync)}

    def describe(self) -> str:
        insync = (
            f"min.insync.replicas {self.min_insync}"
            if self.min_insync is not None
            else "min.insync.replicas as the broker's default"
        )
        plural = "broker" if self.brokers == 1 else "brokers"
        return f"replication factor {self.factor} ({self.brokers} {plural}), {insync}"


def choose_replication(
    brokers: int, *, factor: int | None = None, min_insync: int | None = None
) -> Replication:
    """``factor`` defaults to ``min(3, brokers)``; ``min_insync`` to 2 once there are
    three copies (a write then survives the loss of any one broker and still lands on
    two), else the broker's default. Explicit values win but must fit the cluster."""
    if brokers < 1:
        raise ReplicationError("no broker answered; cannot choose a replication factor")
    chosen = min(3, brokers) if factor is None else factor
    if chosen < 1:
        raise ReplicationError(f"replication factor must be at least 1, not {chosen}")
    if chosen > brokers:
        raise ReplicationError(
            f"replication factor {chosen} needs {chosen} brokers; the cluster has {brokers}"
        )
    insync = min_insync if min_insync is not None else (2 if chosen >= 3 else None)
    if insync is not None and not 1 <= insync <= chosen:
        raise ReplicationError(
            f"min.insync.replicas {insync} must be between 1 and the replication factor {chosen}"
        )
    return Replication(chosen, insync, brokers)


def under_replicated(replicas: Mapping[str, int], factor: int) -> dict[str, int]:
    """The topics among ``replicas`` (name -> fewest replicas of any partition) that
    have fewer copies than ``factor``; topics that do not exist (0) are left out."""
    return {name: count for name, count in replicas.items() if 0 < count < factor}


class ReplicationSettings(BaseSettings):
    """Overrides of :func:`choose_replication`'s defaults (unset: follow the cluster).

    Every service that creates topics reads them, so both are :func:`shared` variables.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    factor: int | None = Field(
        default=None,
        ge=1,
        validation_alias=shared("KITESTREAM_TOPIC_REPLICATION"),
        description="Replication factor of new topics (default min(3, brokers)).",
    )
    min_insync: int | None = Field(
        default=None,
        ge=1,
        validation_alias=shared("KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS"),
        description="min.insync.replicas of new topics (default 2 with 3+ replicas).",
    )
