"""Worker slots: each process its own spool, and the spools no worker owns taken over."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services.receiver.errors import SettingsError
from services.receiver.frames import Outgoing, SpooledRecord
from services.receiver.settings import ReceiverSettings, load_settings
from services.receiver.spool import Spool, SpoolBusy
from services.receiver.workers import (
    adopt_leftovers,
    leftover_dirs,
    open_worker_spool,
    parse_workers,
)
from tests.unit.receiver.clients import unit_settings


def settings(root: Path, workers: int, **overrides: Any) -> ReceiverSettings:
    return unit_settings(root, receiver_workers=workers, **overrides)


def msg(n: int) -> Outgoing:
    return Outgoing("t.builds", b"k", str(n).encode())


def values(records: Sequence[SpooledRecord]) -> list[int]:
    return [int(r.message.value) for r in records]


async def spool_with(directory: Path, numbers: range) -> None:
    """A spool left in ``directory`` holding ``numbers``, as a stopped worker leaves it."""
    spool = Spool.open(directory, max_bytes=1 << 20)
    await spool.append([msg(n) for n in numbers])
    spool.close()


def test_workers_are_a_number_or_auto() -> None:
    assert parse_workers("3") == 3
    assert parse_workers(" AUTO ") == len(os.sched_getaffinity(0))
    for bad in ("0", "257", "two", ""):
        with pytest.raises(ValueError, match=r"."):
            parse_workers(bad)


def test_one_worker_spools_in_the_directory_itself(tmp_path: Path) -> None:
    spool = open_worker_spool(settings(tmp_path, 1))
    try:
        assert spool.directory == tmp_path
    finally:
        spool.close()


def test_each_worker_takes_the_first_slot_no_other_holds(tmp_path: Path) -> None:
    config = settings(tmp_path, 2)
    first = open_worker_spool(config)
    second = open_worker_spool(config)
    try:
        assert (first.directory, second.directory) == (tmp_path / "0", tmp_path / "1")
        assert (tmp_path / "0" / "LOCK").read_text().split() == [str(os.getpid())]
        first.close()
        again = open_worker_spool(config)  # a dead worker's slot is free again
        assert again.directory == tmp_path / "0"
        again.close()
    finally:
        first.close()
        second.close()


async def test_leftovers_are_the_spools_this_many_workers_do_not_own(tmp_path: Path) -> None:
    await spool_with(tmp_path, range(2))  # from before workers
    for slot in ("0", "1", "2"):
        await spool_with(tmp_path / slot, range(1))
    Spool.open(tmp_path / "3", max_bytes=1 << 20).close()  # a slot with nothing in it
    (tmp_path / "notes").mkdir()
    assert leftover_dirs(settings(tmp_path, 2)) == [tmp_path, tmp_path / "2"]
    assert leftover_dirs(settings(tmp_path, 1)) == [tmp_path / n for n in ("0", "1", "2")]


async def test_a_leftover_is_taken_over_in_order_and_left_empty(tmp_path: Path) -> None:
    await spool_with(tmp_path / "0", range(5))
    await spool_with(tmp_path / "1", range(5, 8))
    config = settings(tmp_path, 1)
    own = open_worker_spool(config)
    try:
        await own.append([msg(100)])
        assert await adopt_leftovers(own, leftover_dirs(config), config, batch=2) == 8
        assert values(own.read()) == [100, 0, 1, 2, 3, 4, 5, 6, 7]
        assert own.pending_records == 9
    finally:
        own.close()
    assert leftover_dirs(config) == []
    for slot in ("0", "1"):
        emptied = Spool.open(tmp_path / slot, max_bytes=1 << 20)
        assert emptied.pending_records == 0
        emptied.close()


async def test_a_leftover_a_live_worker_holds_is_not_touched(tmp_path: Path) -> None:
    await spool_with(tmp_path / "2", range(3))
    config = settings(tmp_path, 2)
    held = Spool.open(tmp_path / "2", max_bytes=1 << 20)  # its worker still runs
    own = open_worker_spool(config)
    try:
        with pytest.raises(SpoolBusy):
            Spool.open(tmp_path / "2", max_bytes=1 << 20)
        assert await adopt_leftovers(own, leftover_dirs(config), config) == 0
        assert held.pending_records == 3
    finally:
        own.close()
        held.close()


async def test_what_a_full_spool_cannot_take_stays_where_it_was(tmp_path: Path) -> None:
    await spool_with(tmp_path / "0", range(40))
    config = settings(tmp_path, 1, spool_max_bytes=400)
    own = open_worker_spool(config)
    try:
        adopted = await adopt_leftovers(own, leftover_dirs(config), config, batch=4)
        assert 0 < adopted < 40
    finally:
        own.close()
    rest = Spool.open(tmp_path / "0", max_bytes=1 << 20)
    try:
        assert rest.pending_records == 40 - adopted
        assert values(rest.read())[0] == adopted
    finally:
        rest.close()


def test_the_command_refuses_a_worker_count_it_cannot_read() -> None:
    from services.receiver.cli import run

    args = argparse.Namespace(host="127.0.0.1", port=0, workers="many")
    assert run(args) == 2


def test_the_setting_takes_auto_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KITESTREAM_RECEIVER_WORKERS", "auto")
    monkeypatch.setenv("KITESTREAM_BUILDKITE_TOKENS", "t")
    monkeypatch.setenv("KITESTREAM_SPOOL_DIR", str(tmp_path))
    assert load_settings().receiver_workers == len(os.sched_getaffinity(0))
    monkeypatch.setenv("KITESTREAM_RECEIVER_WORKERS", "0")
    with pytest.raises(SettingsError, match="KITESTREAM_RECEIVER_WORKERS"):
        load_settings()
