"""The spool: fsync'd appends, in-order reads, cursor across restarts, bounds, torn tails."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.receiver.errors import SpoolError
from services.receiver.frames import Outgoing, SpooledRecord, decode, encode
from services.receiver.spool import Spool, SpoolFull


def msg(n: int, size: int = 10) -> Outgoing:
    return Outgoing("t.builds", f"key-{n}".encode(), str(n).encode().ljust(size, b"."))


def values(records: Sequence[SpooledRecord]) -> list[int]:
    return [int(r.message.value.rstrip(b".")) for r in records]


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_records_round_trip_through_the_frame_format() -> None:
    for message in (msg(1), Outgoing("t", None, b""), Outgoing("tópico", b"", b"\x00" * 3)):
        frame = encode(message, 1234)
        assert decode(frame) == (message, 1234, len(frame))
        assert decode(frame[:-1]) is None
        assert decode(frame[:2] + b"\xff" + frame[3:]) is None  # corrupt length/crc


async def test_appended_records_are_read_back_in_order_and_removed_when_committed(
    tmp_path: Path,
) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        await spool.append([msg(0), msg(1)])
        await spool.append([msg(2)])
        assert spool.pending_records == 3
        assert spool.has_pending.is_set()
        assert not spool.drained.is_set()
        first = spool.read(max_records=2)
        assert values(first) == [0, 1]
        spool.commit(first)
        rest = spool.read()
        assert values(rest) == [2]
        spool.commit(rest)
        assert spool.pending_records == 0
        assert spool.pending_bytes == 0
        assert spool.drained.is_set()
        assert not spool.has_pending.is_set()
        assert spool.read() == []
    finally:
        spool.close()


async def test_what_was_not_committed_is_read_again_after_a_restart(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    await spool.append([msg(n) for n in range(5)])
    spool.commit(spool.read(max_records=2))
    spool.close()

    again = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        assert again.pending_records == 3
        assert values(again.read()) == [2, 3, 4]
    finally:
        again.close()


async def test_process_crash_without_close_keeps_every_fsynced_record(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    await spool.append([msg(n) for n in range(3)])
    os.close(spool._lock_fd)  # what the kernel does on SIGKILL: the lock goes, files stay
    again = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        assert values(again.read()) == [0, 1, 2]
    finally:
        again.close()


async def test_a_torn_record_at_the_tail_is_cut_off_on_open(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    await spool.append([msg(0), msg(1)])
    spool.close()
    segment = segments(tmp_path)[0]
    with segment.open("ab") as f:
        f.write(encode(msg(2), 0)[:-3])  # a crash in the middle of a write
    again = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        assert values(again.read()) == [0, 1]
        await again.append([msg(3)])
        assert values(again.read()) == [0, 1, 3]
    finally:
        again.close()


async def test_a_full_spool_refuses_the_whole_batch_and_writes_nothing(tmp_path: Path) -> None:
    one = len(encode(msg(0), 0))
    spool = Spool.open(tmp_path, max_bytes=3 * one)
    try:
        await spool.append([msg(0), msg(1)])
        with pytest.raises(SpoolFull):
            await spool.append([msg(2), msg(3)])
        assert spool.pending_records == 2
        await spool.append([msg(2)])
        assert not spool.writable()
        with pytest.raises(SpoolFull):
            await spool.append([msg(3)])
        spool.commit(spool.read(max_records=1))
        await spool.append([msg(3)])
        assert values(spool.read()) == [1, 2, 3]
    finally:
        spool.close()


async def test_segments_roll_and_drained_ones_are_deleted(tmp_path: Path) -> None:
    one = len(encode(msg(0), 0))
    spool = Spool.open(tmp_path, max_bytes=1 << 20, segment_bytes=3 * one)
    try:
        for n in range(10):
            await spool.append([msg(n)])
        assert len(segments(tmp_path)) == 4
        batch = spool.read(max_records=7)
        assert values(batch) == list(range(7))  # reads across segments
        spool.commit(batch)
        assert len(segments(tmp_path)) == 2
        spool.commit(spool.read())
        await spool.compact()
        assert len(segments(tmp_path)) == 1
        assert spool.pending_records == 0
        await spool.append([msg(99)])
        assert values(spool.read()) == [99]
    finally:
        spool.close()


async def test_reads_are_bounded_by_bytes_but_return_at_least_one_record(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        await spool.append([msg(0, size=1000), msg(1, size=1000)])
        assert values(spool.read(max_bytes=10)) == [0]
        assert values(spool.read(max_bytes=1500)) == [0, 1]
    finally:
        spool.close()


async def test_a_second_receiver_cannot_open_the_same_spool(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        with pytest.raises(SpoolError, match="in use"):
            Spool.open(tmp_path, max_bytes=1 << 20)
    finally:
        spool.close()
    Spool.open(tmp_path, max_bytes=1 << 20).close()


async def test_quarantined_records_are_kept_aside_and_skipped(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        await spool.append([msg(0), msg(1)])
        await spool.quarantine(spool.read(max_records=1)[0])
        assert values(spool.read()) == [1]
        assert decode((tmp_path / "rejected.seg").read_bytes())[0] == msg(0)  # type: ignore[index]
    finally:
        spool.close()


async def test_oldest_age_is_measured_from_the_oldest_pending_record(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=1 << 20)
    try:
        assert spool.oldest_age_s() == 0.0
        await spool.append([msg(0)])
        spooled_at = spool.read()[0].spooled_at_ms
        assert spool.oldest_age_s(now_ms=spooled_at + 2500) == 2.5
    finally:
        spool.close()


def test_an_unwritable_spool_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="cannot use spool directory"):
        Spool.open(blocker / "spool", max_bytes=1 << 20)
