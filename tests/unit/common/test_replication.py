"""The replication chosen for new topics follows the cluster unless told otherwise."""

from __future__ import annotations

import pytest

from services.common.replication import (
    Replication,
    ReplicationError,
    ReplicationSettings,
    choose_replication,
    under_replicated,
)


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync"),
    [(1, 1, None), (2, 2, None), (3, 3, 2), (5, 3, 2), (12, 3, 2)],
)
def test_default_is_min_of_three_and_brokers_with_two_in_sync_from_three_copies(
    brokers: int, factor: int, min_insync: int | None
) -> None:
    assert choose_replication(brokers) == Replication(factor, min_insync, brokers)


def test_three_copies_are_created_with_min_insync_two_in_their_config() -> None:
    assert choose_replication(3).topic_config() == {"min.insync.replicas": "2"}
    assert choose_replication(1).topic_config() == {}


def test_explicit_values_win_over_the_cluster_default() -> None:
    assert choose_replication(5, factor=5, min_insync=3) == Replication(5, 3, 5)
    assert choose_replication(3, factor=2) == Replication(2, None, 3)
    assert choose_replication(3, min_insync=1) == Replication(3, 1, 3)


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync", "message"),
    [
        (3, 4, None, "needs 4 brokers; the cluster has 3"),
        (3, 0, None, "at least 1"),
        (3, 3, 4, "between 1 and the replication factor 3"),
        (0, None, None, "no broker answered"),
    ],
)
def test_impossible_replication_is_refused_with_the_reason(
    brokers: int, factor: int | None, min_insync: int | None, message: str
) -> None:
    with pytest.raises(ReplicationError, match=message):
        choose_replication(brokers, factor=factor, min_insync=min_insync)


def test_existing_topics_with_fewer_replicas_are_named_and_missing_ones_are_not() -> None:
    counts = {"alerts": 1, "deploys": 3, "incidents": 2, "missing": 0}
    assert under_replicated(counts, 3) == {"alerts": 1, "incidents": 2}
    assert under_replicated(counts, 1) == {}


def test_the_report_line_says_factor_brokers_and_min_insync() -> None:
    assert choose_replication(3).describe() == (
        "replication factor 3 (3 brokers), min.insync.replicas 2"
    )
    assert "1 broker)" in choose_replication(1).describe()


def test_settings_read_the_overrides_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ReplicationSettings() == ReplicationSettings(factor=None, min_insync=None)
    monkeypatch.setenv("KITESTREAM_TOPIC_REPLICATION", "2")
    monkeypatch.setenv("KITESTREAM_TOPIC_MIN_INSYNC_REPLICAS", "1")
    assert ReplicationSettings() == ReplicationSettings(factor=2, min_insync=1)


def test_a_bad_override_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    monkeypatch.setenv("KITESTREAM_TOPIC_REPLICATION", "three")
    assert main(["topics", "create"]) == 2  # refused before any broker is asked
    assert "KITESTREAM_TOPIC_REPLICATION" in capsys.readouterr().err
