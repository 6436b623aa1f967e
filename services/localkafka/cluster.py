"""A local multi-broker KRaft cluster: ``kitestream kafka up --brokers 3``.

Every node is a :class:`~services.localkafka.broker.LocalBroker` in combined
broker+controller mode, so three nodes form a quorum that survives the loss of any one.
They share the single broker's jar cache but nothing else: their files live under
``.kitestream/kafka-cluster/node-N`` and they listen on their own ports, from
``KITESTREAM_LOCAL_KAFKA_CLUSTER_PORT`` (default 19092: node 1 on 19092 with its
controller on 19093, node 2 on 19094/19095, node 3 on 19096/19097), so the default
single broker on 9092 runs beside it undisturbed. Each node's heap is bounded
(``-Xmx384m``) so that three fit on a laptop next to everything else.

``cluster.json`` records the cluster id (all nodes are formatted with it), the number
of brokers and the base port, so that ``down`` and ``status`` find the same nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.localkafka.broker import BrokerError, BrokerStatus, LocalBroker
from services.localkafka.config import BrokerPaths, cluster_nodes, new_cluster_id

__all__ = ["CLUSTER_HEAP", "ClusterStatus", "LocalCluster", "live_brokers"]

CLUSTER_HEAP = "-Xms128m -Xmx384m"
DEFAULT_BASE_PORT = 19092


async def live_brokers(bootstrap: str, timeout_s: float = 3.0) -> int:
    """How many brokers the cluster at ``bootstrap`` reports (0 when none answers)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        described = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
    except (KafkaError, OSError, TimeoutError):
        return 0
    finally:
        with contextlib.suppress(KafkaError, OSError, TimeoutError):
            await admin.close()
    return len(described.get("brokers", []))


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list[tuple[int, BrokerStatus]]

    @property
    def running(self) -> bool:
        return bool(self.nodes) and all(status.running for _, status in self.nodes)

    def describe(self) -> str:
        if not self.nodes:
            return "cluster: not set up"
        lines = [f"cluster of {len(self.nodes)}:"]
        lines += [f"  node {node_id}: {status.describe()}" for node_id, status in self.nodes]
        return "\n".join(lines)


class LocalCluster:
    """``brokers`` local nodes under ``home/kafka-cluster``, ports from ``base_port``."""

    def __init__(
        self,
        brokers: int = 3,
        *,
        paths: BrokerPaths | None = None,
        base_port: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.paths = paths or BrokerPaths.from_env()
        self.root = self.paths.home / "kafka-cluster"
        self.host = host
        saved = self._saved()
        self.brokers = int(saved.get("brokers", brokers))
        if saved and self.brokers != brokers:
            raise BrokerError(
                f"the local cluster under {self.root} has {self.brokers} brokers, not "
                f"{brokers}; `kitestream kafka down --brokers {self.brokers} --wipe` first"
            )
        env_port = os.environ.get("KITESTREAM_LOCAL_KAFKA_CLUSTER_PORT")
        self.base_port = int(base_port or saved.get("base_port") or env_port or DEFAULT_BASE_PORT)
        self.cluster_id = str(saved.get("cluster_id") or new_cluster_id())
        voters = cluster_nodes(self.brokers, self.base_port)
        self.nodes = [
            LocalBroker(
                BrokerPaths(self.paths.home, self.paths.jars, f"kafka-cluster/node-{n.node_id}"),
                host=host,
                port=n.port,
                node_id=n.node_id,
                voters=voters,
                cluster_id=self.cluster_id,
                heap=CLUSTER_HEAP,
            )
            for n in voters
        ]

    @classmethod
    def existing(cls, paths: BrokerPaths | None = None) -> LocalCluster | None:
        """The cluster set up under ``paths`` (``.kitestream``), if there is one."""
        paths = paths or BrokerPaths.from_env()
        saved = cls._read(paths.home / "kafka-cluster" / "cluster.json")
        return cls(int(saved["brokers"]), paths=paths) if saved else None

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id - 1]

    # -- life cycle ------------------------------------------------------------------

    def up(self, *, timeout_s: float = 120.0) -> bool:
        """Start every node that does not run; True when this call started any.

        Returns once every node answers and the cluster reports all its brokers.
        """
        stopped = [node for node in self.nodes if node.pid() is None]
        if stopped:
            stopped[0].check_tools()
            stopped[0].resolve_jars()
            self.root.mkdir(parents=True, exist_ok=True)
            self._save()
        try:
            for node in stopped:
                node.launch()
            self.wait_ready(timeout_s)
        except BrokerError:
            self.down()
            raise
        return bool(stopped)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Wait until every node answers and the cluster counts all its brokers."""
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            node.wait_ready(max(1.0, deadline - time.monotonic()))
        while asyncio.run(live_brokers(self.bootstrap)) < self.brokers:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"the cluster did not count {self.brokers} brokers within {timeout_s:.0f}s"
                )
            time.sleep(0.3)

    def down(self, *, timeout_s: float = 15.0, wipe: bool = False) -> bool:
        """Stop every node; True when any was running.

        All nodes get SIGTERM at once: stopped one after the other, the last one would
        wait for a controller quorum that is already gone. Whatever still runs after
        ``timeout_s`` is killed.
        """
        running = [node for node in self.nodes if node.pid() is not None]
        for node in running:
            node.terminate()
        deadline = time.monotonic() + timeout_s
        while any(node.pid() is not None for node in running) and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped = [node.kill() for node in self.nodes]
        if wipe:
            shutil.rmtree(self.root, ignore_errors=True)
        return bool(running) or any(stopped)

    def status(self) -> ClusterStatus:
        if not self._saved():
            return ClusterStatus([])
        return ClusterStatus([(node.node_id, node.status()) for node in self.nodes])

    # -- the saved layout --------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.root / "cluster.json"

    def _saved(self) -> dict[str, Any]:
        return self._read(self._state_file)

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            loaded = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _save(self) -> None:
        self._state_file.write_text(
            json.dumps(
                {
                    "cluster_id": self.cluster_id,
                    "brokers": self.brokers,
                    "base_port": self.base_port,
                }
            )
            + "\n"
        )
