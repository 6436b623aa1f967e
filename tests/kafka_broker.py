"""Where the integration tests find a real Kafka broker, in order of preference.

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set (an existing broker always wins);
2. a testcontainers Kafka (KRaft) when a Docker engine answers;
3. the project's own local broker (``kitestream kafka up``), started here when it is
   not running, and stopped again at the end only when it was started here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from services.localkafka.broker import kafka_for_session

__all__ = ["docker_engine_answers", "kafka_bootstrap_servers"]

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"


def docker_engine_answers() -> bool:
    """True when a Docker engine answers a ping within two seconds."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        return bool(client.ping())
    except Exception:
        return False


@contextlib.contextmanager
def kafka_bootstrap_servers() -> Iterator[str]:
    if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and docker_engine_answers():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield str(container.get_bootstrap_server())
        return
    with kafka_for_session() as bootstrap:
        yield bootstrap
