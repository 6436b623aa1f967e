"""A local three-broker cluster for one test: free ports, a temporary home, the jar
cache of the session's broker, and stopped afterwards whatever happens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.localkafka.broker import BrokerError, LocalBroker
from services.localkafka.cluster import LocalCluster
from services.localkafka.config import BrokerPaths
from tests.ports import free_port

__all__ = ["running_cluster"]


@contextlib.contextmanager
def running_cluster(home: Path, brokers: int = 3) -> Iterator[LocalCluster]:
    """A started cluster of ``brokers`` under ``home``; skips when Java or Maven is
    missing (a Docker-only machine), stops every node at the end."""
    shared = BrokerPaths.from_env()
    try:
        LocalBroker(shared).check_tools()
        LocalBroker(shared).resolve_jars()  # cached after the first run
    except BrokerError as exc:
        pytest.skip(f"the local broker cannot run here: {exc}")
    cluster = LocalCluster(
        brokers,
        paths=BrokerPaths(home, shared.jars),
        base_port=free_port(pairs=2 * brokers),
    )
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()
