"""The local spool: an fsync'd, bounded, ordered log of messages Kafka has not acked yet.

Layout of ``KITESTREAM_SPOOL_DIR``::

    LOCK                         flock'd by the one receiver that owns the directory (its pid)
    00000000000000000001.seg     append-only segments, rolled at ``segment_bytes``
    00000000000000000002.seg
    cursor                       "<segment> <offset>": everything before it reached Kafka
    rejected.seg                 records Kafka refused for good (kept, never retried)

Records are framed as ``frames.py`` describes. An append returns only after the bytes
are fsync'd; appends that arrive while an fsync runs share the next one (group commit).
Records are read back strictly in append order and the cursor moves only after Kafka
acked them, so a receiver killed with SIGKILL sends, after a restart, everything it had
acknowledged (some records twice; ``event_id`` lets consumers drop the copies). A torn
record at the tail (a crash mid-write) was never acknowledged and is cut off when the
spool is opened.

The bound is on the bytes not yet drained; :meth:`Spool.append` raises
:class:`SpoolFull` rather than grow past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from services.receiver.errors import SpoolError
from services.receiver.frames import Outgoing, Position, SpooledRecord, decode, encode

__all__ = ["Spool", "SpoolBusy", "SpoolFull"]

log = logging.getLogger(__name__)


class SpoolFull(SpoolError):
    """The spool holds ``max_bytes`` not yet drained; nothing was written."""


class SpoolBusy(SpoolError):
    """Another receiver (process) holds the directory's lock."""


class Spool:
    """See the module docstring. Open with :meth:`open`; one instance per directory."""

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock_fd = -1
        self._fd = -1  # the segment being appended to
        self._segment = 0
        self._size = 0  # bytes in the write segment
        self._cursor = Position(1, 0)
        self._pending: deque[tuple[int, int]] = deque()  # (spooled_at_ms, size) per record
        self._pending_bytes = 0
        self._full = False  # an append was refused and nothing drained since
        self._written = 0  # append generations: written vs fsync'd
        self._synced = 0
        self._write_lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self.has_pending = asyncio.Event()  # set while records wait to be drained
        self.drained = asyncio.Event()  # set while none do
        self.drained.set()

    # -- opening and closing -----------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, max_bytes: int, segment_bytes: int = 8 << 20) -> Spool:
        """Lock ``directory`` (create it if needed), recover its state, cut torn tails."""
        spool = cls(directory, max_bytes=max_bytes, segment_bytes=segment_bytes)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            spool._lock_fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"cannot use spool directory {directory}: {exc}") from None
        try:
            fcntl.flock(spool._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(spool._lock_fd)
            raise SpoolBusy(
                f"spool directory {directory} is in use by another receiver; "
                "give each receiver its own KITESTREAM_SPOOL_DIR"
            ) from None
        with contextlib.suppress(OSError):  # who holds it, for operators (and tests)
            os.ftruncate(spool._lock_fd, 0)
            os.pwrite(spool._lock_fd, f"{os.getpid()}\n".encode(), 0)
        spool._recover()
        return spool

    def close(self) -> None:
        """fsync and release the directory (records stay on disk for the next start)."""
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.seg") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:020d}.seg"

    def _recover(self) -> None:
        segments = self._segments()
        cursor = self._read_cursor()
        if segments and (cursor is None or cursor.segment < segments[0]):
            cursor = Position(segments[0], 0)
        self._cursor = cursor or Position(1, 0)
        for segment in segments:
            if segment < self._cursor.segment:
                self._path(segment).unlink()  # drained before a crash; delete now
                continue
            start = self._cursor.offset if segment == self._cursor.segment else 0
            data = self._path(segment).read_bytes()
            pos = start
            while (decoded := decode(data, pos)) is not None:
                _, at_ms, end = decoded
                self._pending.append((at_ms, end - pos))
                self._pending_bytes += end - pos
                pos = end
            if pos < len(data):
                log.warning(
                    "spool segment %s: cut %d bytes of a torn or corrupt tail",
                    self._path(segment).name,
                    len(data) - pos,
                )
                os.truncate(self._path(segment), pos)
        last = segments[-1] if segments else self._cursor.segment
        self._open_segment(max(last, self._cursor.segment))
        if self._pending:
            self.has_pending.set()
            self.drained.clear()
            log.info(
                "spool %s holds %d records (%d bytes) from before the last stop",
                self.directory,
                len(self._pending),
                self._pending_bytes,
            )

    def _read_cursor(self) -> Position | None:
        try:
            segment, offset = (self.directory / "cursor").read_text().split()
            return Position(int(segment), int(offset))
        except (OSError, ValueError):
            return None

    def _open_segment(self, segment: int) -> None:
        path = self._path(segment)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment = segment
        self._size = os.fstat(self._fd).st_size
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- state -------------------------------------------------------------------------

    @property
    def pending_records(self) -> int:
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def oldest_age_s(self, now_ms: int | None = None) -> float:
        """Seconds since the oldest record not yet drained was spooled (0 when empty)."""
        if not self._pending:
            return 0.0
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return max(0.0, (now_ms - self._pending[0][0]) / 1000)

    def writable(self) -> bool:
        """Open, and neither at its bound nor refusing appends since the last drain."""
        return self._fd >= 0 and not self._full and self._pending_bytes < self.max_bytes

    # -- appending ---------------------------------------------------------------------

    async def append(self, messages: Sequence[Outgoing]) -> None:
        """Write all of ``messages`` and fsync, or write none of them (:class:`SpoolFull`)."""
        now_ms = int(time.time() * 1000)
        frames = [encode(m, now_ms) for m in messages]
        total = sum(len(f) for f in frames)
        async with self._write_lock:
            if self._pending_bytes + total > self.max_bytes:
                self._full = True
                raise SpoolFull(f"the spool holds {self._pending_bytes} of {self.max_bytes} bytes")
            if self._size > 0 and self._size + total > self.segment_bytes:
                async with self._sync_lock:
                    self._roll()
            try:
                view = memoryview(b"".join(frames))
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)  # leave no torn record behind
                raise SpoolError(f"cannot write to the spool: {exc}") from None
            self._size += total
            for frame in frames:
                self._pending.append((now_ms, len(frame)))
            self._pending_bytes += total
            self.drained.clear()
            self._written += 1
            generation = self._written
        try:
            await self._sync(generation)
        except OSError as exc:
            raise SpoolError(f"cannot fsync the spool: {exc}") from None
        self.has_pending.set()

    async def _sync(self, generation: int) -> None:
        async with self._sync_lock:
            if self._synced >= generation:
                return  # an fsync that started after our write covered it
            target = self._written
            await asyncio.to_thread(os.fsync, self._fd)
            self._synced = max(self._synced, target)

    def _roll(self) -> None:
        """Start the next segment; the caller holds both locks."""
        os.fsync(self._fd)
        os.close(self._fd)
        self._synced = self._written
        self._open_segment(self._segment + 1)

    # -- draining ----------------------------------------------------------------------

    def read(self, max_records: int = 500, max_bytes: int = 1 << 20) -> list[SpooledRecord]:
        """The oldest records not yet drained, in order: at least one when any is pending,
        then more while under both limits."""
        records: list[SpooledRecord] = []
        taken = 0
        segment, offset = self._cursor
        while segment <= self._segment and len(records) < max_records and taken < max_bytes:
            try:
                with self._path(segment).open("rb") as f:
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            pos = 0
            while len(records) < max_records and taken < max_bytes:
                decoded = decode(data, pos)
                if decoded is None:
                    break
                message, at_ms, end = decoded
                taken += end - pos
                records.append(
                    SpooledRecord(message, at_ms, end - pos, Position(segment, offset + end))
                )
                pos = end
            segment, offset = segment + 1, 0
        return records

    def commit(self, records: Sequence[SpooledRecord]) -> None:
        """Kafka acked ``records`` (the oldest pending ones, in order): move past them."""
        if not records:
            return
        for _ in records:
            _, size = self._pending.popleft()
            self._pending_bytes -= size
        self._full = False
        self._cursor = records[-1].end
        tmp = self.directory / "cursor.tmp"
        tmp.write_text(f"{self._cursor.segment} {self._cursor.offset}\n")
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(self.directory / "cursor")
        for segment in self._segments():
            if segment < self._cursor.segment:
                self._path(segment).unlink()
        if not self._pending:
            self.has_pending.clear()
            self.drained.set()

    async def quarantine(self, record: SpooledRecord) -> None:
        """Keep a record Kafka will never take in ``rejected.seg``, then move past it."""
        with (self.directory / "rejected.seg").open("ab") as f:
            f.write(encode(record.message, record.spooled_at_ms))
            f.flush()
            await asyncio.to_thread(os.fsync, f.fileno())
        self.commit([record])

    async def compact(self) -> None:
        """When everything is drained, start a fresh segment and delete the old one."""
        async with self._write_lock, self._sync_lock:
            if self._pending or self._size == 0:
                return
            old = self._segment
            self._roll()
            self._cursor = Position(self._segment, 0)
            with contextlib.suppress(FileNotFoundError):
                self._path(old).unlink()
