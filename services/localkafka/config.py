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
        return self.home / "kafka"

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
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(data_dir: Path, *, host: str, port: int, controller_port: int) -> str:
    """A single-node KRaft broker+controller bound to ``host``, tuned for one machine.

    Replication factors are 1 (there is one broker), and the group rebalance delay is 0
    so that tests and ``make run`` do not wait three seconds for each consumer group.
    """
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "6",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        "log.segment.bytes": str(64 * 1024 * 1024),
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
