"""Pure pieces of the local broker: where its files live and what they contain."""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BrokerPaths",
    "Node",
    "cluster_nodes",
    "log4j2_properties",
    "new_cluster_id",
    "parse_java_major",
    "server_properties",
]


@dataclass(frozen=True)
class BrokerPaths:
    """The git-ignored folder holding the jar cache, the data and the logs."""

    home: Path
    jars_dir: Path | None = None  # share one jar cache between several brokers
    name: str = "kafka"  # the folder under ``home``: ``kafka-cluster/node-2`` for a node

    @classmethod
    def from_env(cls) -> BrokerPaths:
        """``KITESTREAM_HOME`` or ``./.kitestream``; jars from ``KITESTREAM_KAFKA_JARS`` if set."""
        jars = os.environ.get("KITESTREAM_KAFKA_JARS")
        return cls(
            Path(os.environ.get("KITESTREAM_HOME", ".kitestream")).absolute(),
            Path(jars).absolute() if jars else None,
        )

    @property
    def root(self) -> Path:
        return self.home / self.name

    @property
    def jars(self) -> Path:
        return self.jars_dir or self.root / "jars"

    @property
    def jars_stamp(self) -> Path:
        """Records which pom the cached jars were resolved from."""
        return self.jars / ".resolved-from"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def server_properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j2_properties(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def server_log(self) -> Path:
        return self.root / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.root / "stdout.log"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars),
    never starting with ``-`` (as Kafka's own ``Uuid.randomUuid``), which
    ``kafka-storage format -t`` would read as an option: one id in 64 did."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


@dataclass(frozen=True)
class Node:
    """One node of a local cluster: its KRaft id, broker port and controller port."""

    node_id: int
    port: int
    controller_port: int


def cluster_nodes(brokers: int, base_port: int) -> list[Node]:
    """``brokers`` nodes on consecutive port pairs from ``base_port``: node 1 serves
    clients on ``base_port`` and its controller on ``base_port + 1``, node 2 on
    ``base_port + 2`` and ``+ 3``, and so on."""
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, not {brokers}")
    return [Node(i + 1, base_port + 2 * i, base_port + 2 * i + 1) for i in range(brokers)]


def server_properties(
    data_dir: Path,
    *,
    host: str,
    port: int,
    controller_port: int,
    node_id: int = 1,
    voters: list[Node] | None = None,
) -> str:
    """A KRaft broker+controller bound to ``host``, tuned for one machine.

    Alone (no ``voters``) it is its own quorum and internal topics have replication
    factor 1. In a cluster every node is also a controller (``voters``: a quorum of
    three survives the loss of any one), the internal topics (consumer offsets,
    transaction state) are replicated ``min(3, nodes)`` times with ``min.insync`` 2, and
    a node that stops heart-beating is fenced after 4 s so that leadership moves on
    quickly. The group rebalance delay is 0 so that tests and ``make run`` do not wait
    three seconds for each consumer group.
    """
    quorum = voters or [Node(node_id, port, controller_port)]
    replicas = str(min(3, len(quorum)))
    min_isr = str(min(2, len(quorum)))
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": ",".join(
            f"{v.node_id}@{host}:{v.controller_port}" for v in quorum
        ),
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "6",
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    if len(quorum) > 1:
        lines |= {
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4000",
            "num.network.threads": "2",
            "num.io.threads": "2",
        }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def log4j2_properties(log_file: Path) -> str:
    """Broker logs to one file, INFO and up, with the noisiest loggers turned down."""
    return (
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {log_file}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.file.ref = file\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
        "logger.controller.name = org.apache.kafka.controller\n"
        "logger.controller.level = WARN\n"
    )


_VERSION = re.compile(r'version "(?P<v>[^"]+)"')


def parse_java_major(version_output: str) -> int | None:
    """The major version from ``java -version`` output (``1.8.0_x`` is 8), else ``None``."""
    match = _VERSION.search(version_output)
    if match is None:
        return None
    parts = match.group("v").split(".")
    head = parts[0].split("-")[0].split("+")[0]
    if not head.isdigit():
        return None
    if head == "1" and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return int(head)
