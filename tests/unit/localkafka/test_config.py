"""The local broker's configuration and tool checks, without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.localkafka.broker import BrokerStatus, LocalBroker
from services.localkafka.config import (
    BrokerPaths,
    Node,
    cluster_nodes,
    log4j2_properties,
    new_cluster_id,
    parse_java_major,
    server_properties,
)


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_server_properties_bind_to_loopback_in_kraft_combined_mode(tmp_path: Path) -> None:
    props = _props(server_properties(tmp_path, host="127.0.0.1", port=19092, controller_port=19093))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path)
    # one broker: every internal topic must accept replication factor 1
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["auto.create.topics.enable"] == "false"


def test_broker_log_goes_to_the_named_file(tmp_path: Path) -> None:
    assert f"appender.file.fileName = {tmp_path / 'server.log'}" in log4j2_properties(
        tmp_path / "server.log"
    )


def test_cluster_ids_are_22_url_safe_characters_and_unique() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and "=" not in i and "/" not in i and "+" not in i for i in ids)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2-ea"', 11),
        ('openjdk version "25-ea"', 25),
        ("no java here", None),
    ],
)
def test_java_major_version_is_read_from_java_version(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_paths_follow_kitestream_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KITESTREAM_HOME", str(tmp_path))
    paths = BrokerPaths.from_env()
    assert paths.jars == tmp_path / "kafka" / "jars"
    assert paths.data == tmp_path / "kafka" / "data"


def test_no_pid_file_means_not_running(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerPaths(tmp_path), port=19092)
    assert broker.pid() is None


def test_a_reused_pid_is_not_mistaken_for_the_broker(tmp_path: Path) -> None:
    paths = BrokerPaths(tmp_path)
    paths.root.mkdir(parents=True)
    paths.pid_file.write_text("1\n")  # pid 1 exists but is not our broker
    assert LocalBroker(paths, port=19092).pid() is None


def test_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KITESTREAM_LOCAL_KAFKA_PORT", "29092")
    assert LocalBroker(BrokerPaths(tmp_path)).bootstrap == "127.0.0.1:29092"


@pytest.mark.parametrize(
    ("status", "running", "words"),
    [
        (BrokerStatus(42, True, "127.0.0.1:9092"), True, "running: pid 42"),
        (BrokerStatus(42, False, "127.0.0.1:9092"), False, "not answering"),
        (BrokerStatus(None, True, "127.0.0.1:9092"), False, "another Kafka"),
        (BrokerStatus(None, False, "127.0.0.1:9092"), False, "stopped"),
    ],
)
def test_status_says_what_it_sees(status: BrokerStatus, running: bool, words: str) -> None:
    assert status.running is running
    assert words in status.describe()


def test_cluster_nodes_take_consecutive_port_pairs() -> None:
    assert cluster_nodes(3, 19092) == [
        Node(1, 19092, 19093),
        Node(2, 19094, 19095),
        Node(3, 19096, 19097),
    ]
    with pytest.raises(ValueError, match="at least one broker"):
        cluster_nodes(0, 19092)


def test_cluster_nodes_share_one_quorum_and_replicate_internal_topics(tmp_path: Path) -> None:
    voters = cluster_nodes(3, 19092)
    props = _props(
        server_properties(
            tmp_path, host="127.0.0.1", port=19094, controller_port=19095, node_id=2, voters=voters
        )
    )
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert int(props["broker.session.timeout.ms"]) < 9000  # fenced sooner than the default


def test_a_node_keeps_its_files_in_a_folder_of_its_own(tmp_path: Path) -> None:
    single = BrokerPaths(tmp_path)
    node = BrokerPaths(tmp_path, single.jars, "kafka-cluster/node-2")
    assert node.root == tmp_path / "kafka-cluster" / "node-2"
    assert node.jars == single.jars
    assert node.data != single.data


@pytest.mark.parametrize("action", ["up", "down", "status"])
def test_kafka_command_takes_a_broker_count_of_at_least_one(action: str) -> None:
    from services.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["kafka", action]).brokers == 1
    assert parser.parse_args(["kafka", action, "--brokers", "3"]).brokers == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["kafka", action, "--brokers", "0"])


def test_a_cluster_id_never_starts_with_a_dash_which_kafka_storage_reads_as_an_option() -> None:
    assert not any(new_cluster_id().startswith("-") for _ in range(2000))
