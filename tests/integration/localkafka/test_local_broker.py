"""The project's own broker starts, answers, reports its status and stops without a trace.

It runs on a free port under a temporary home, sharing the jar cache of the session's
broker, so it never disturbs the broker the other tests use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.localkafka.broker import BrokerError, LocalBroker
from services.localkafka.config import BrokerPaths
from tests.ports import free_port


@pytest.fixture
def jars() -> Path:
    paths = BrokerPaths.from_env()
    broker = LocalBroker(paths)
    try:
        broker.check_tools()
        broker.resolve_jars()  # cached after the first run
    except BrokerError as exc:  # e.g. a Docker-only machine without Java or Maven
        pytest.skip(f"the local broker cannot run here: {exc}")
    return paths.jars


def test_up_status_down_leaves_no_process(tmp_path: Path, jars: Path) -> None:
    broker = LocalBroker(BrokerPaths(tmp_path, jars), port=free_port(pairs=2))
    assert not broker.status().running
    assert broker.up() is True
    try:
        pid = broker.pid()
        assert pid is not None
        status = broker.status()
        assert status.running, status.describe()
        assert broker.up() is False  # a second `up` finds it running
        assert (tmp_path / "kafka" / "data" / "meta.properties").is_file()
    finally:
        assert broker.down() is True
    assert not Path(f"/proc/{pid}").exists()
    assert broker.pid() is None
    assert broker.down() is False


def test_up_refuses_a_port_where_another_kafka_answers(
    tmp_path: Path, jars: Path, kafka_bootstrap: str
) -> None:
    host, port = kafka_bootstrap.rsplit(":", 1)
    if host not in {"127.0.0.1", "localhost"}:
        pytest.skip("the session broker is not on this machine's loopback")
    broker = LocalBroker(BrokerPaths(tmp_path, jars), port=int(port))
    with pytest.raises(BrokerError, match="another Kafka already answers"):
        broker.up()
