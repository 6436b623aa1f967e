"""Several receiver processes on one port, each with its own spool, none left undrained.

``kitestream receiver --workers N`` (``KITESTREAM_RECEIVER_WORKERS``; ``auto`` is one
per core) runs N processes under uvicorn's supervisor, which binds the port once, hands
the socket to every worker and starts a new worker when one dies. A process spools on
its own, so with N above 1 the spool directory holds one spool per worker::

    KITESTREAM_SPOOL_DIR/
        0/    LOCK 00000000000000000001.seg cursor    worker slot 0
        1/    …                                       worker slot 1

A worker takes the first slot whose ``LOCK`` it can ``flock`` (:func:`open_worker_spool`):
the kernel drops the lock when its process dies, however it dies, so the worker started
in its place takes the same slot and sends what the dead one had acknowledged. With
one worker the spool is ``KITESTREAM_SPOOL_DIR`` itself, as before workers existed.

Spools that no worker will take again (the directory itself after a switch to N above
1, slots ``N`` and up after fewer workers, the slots after a switch back to one) are
*adopted* at start (:func:`adopt_leftovers`): their records are appended to the
worker's own spool and fsync'd before they are committed out of the old one, then the
worker's drainer sends them like its own. A crash in between sends some twice, never
none (``event_id`` tells the copies apart). A leftover another worker holds is skipped.

Order: one worker keeps the order in which it acknowledged; across workers there is
none to keep (Buildkite's deliveries race on separate connections already).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from itertools import count
from pathlib import Path

from services.receiver.errors import SpoolError
from services.receiver.settings import ReceiverSettings
from services.receiver.spool import Spool, SpoolBusy, SpoolFull

__all__ = [
    "adopt_leftovers",
    "leftover_dirs",
    "open_worker_spool",
    "parse_workers",
    "slot_dir",
]

log = logging.getLogger(__name__)

_MAX_SLOTS_OVER = 64  # slots past N tried before giving up (all locked: a misconfiguration)


def parse_workers(value: str) -> int:
    """``"4"`` as 4, ``"auto"`` as the cores this process may run on; ValueError else."""
    if value.strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    workers = int(value.strip())
    if not 1 <= workers <= 256:
        raise ValueError("workers must be between 1 and 256, or auto")
    return workers


def slot_dir(settings: ReceiverSettings, slot: int) -> Path:
    return settings.spool_dir / str(slot)


def _open(directory: Path, settings: ReceiverSettings) -> Spool:
    return Spool.open(
        directory,
        max_bytes=settings.spool_max_bytes,
        segment_bytes=settings.spool_segment_bytes,
    )


def open_worker_spool(settings: ReceiverSettings) -> Spool:
    """This process's spool: ``spool_dir`` with one worker, else the first free slot."""
    if settings.receiver_workers == 1:
        return _open(settings.spool_dir, settings)
    for slot in count():
        try:
            return _open(slot_dir(settings, slot), settings)
        except SpoolBusy:
            if slot >= settings.receiver_workers + _MAX_SLOTS_OVER:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def leftover_dirs(settings: ReceiverSettings) -> list[Path]:
    """Spools holding records that no worker of this configuration owns (see above)."""
    root = settings.spool_dir
    slots = sorted(
        (int(p.name), p) for p in _subdirs(root) if p.name.isdigit() and p.name == str(int(p.name))
    )
    if settings.receiver_workers == 1:
        found = [p for _, p in slots]
    else:
        found = [root, *(p for n, p in slots if n >= settings.receiver_workers)]
    return [p for p in found if _holds_records(p)]


def _subdirs(root: Path) -> Iterable[Path]:
    try:
        return [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []


def _holds_records(directory: Path) -> bool:
    """Whether a segment there is not empty (cheap; opening tells what is pending)."""
    try:
        return any(p.stat().st_size > 0 for p in directory.glob("*.seg"))
    except OSError:
        return False


async def adopt_leftovers(
    spool: Spool, directories: Iterable[Path], settings: ReceiverSettings, batch: int = 500
) -> int:
    """Move the records of ``directories`` into ``spool`` (see the module docstring);
    how many. A leftover held by a live process is skipped; one that ``spool`` has no
    room for keeps the rest."""
    adopted = 0
    for directory in directories:
        if directory.resolve() == spool.directory.resolve():
            continue
        try:
            other = _open(directory, settings)
        except SpoolBusy:
            continue
        except SpoolError as exc:
            log.error("cannot adopt the spool in %s: %s", directory, exc)
            continue
        moved = 0
        try:
            while other.pending_records:
                records = other.read(batch)
                await spool.append([r.message for r in records])
                other.commit(records)
                moved += len(records)
            await other.compact()
        except SpoolFull:
            log.warning(
                "the spool %s is full; %d records stay in %s until there is room",
                spool.directory,
                other.pending_records,
                directory,
            )
        except SpoolError as exc:
            log.error("cannot adopt the spool in %s: %s", directory, exc)
        finally:
            other.close()
        if moved:
            log.info("took over %d records spooled in %s by an earlier worker", moved, directory)
        adopted += moved
    return adopted
