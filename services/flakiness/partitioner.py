"""Where the processor's keyed outputs go: Kafka's default partitioner, compiled.

A keyed message goes to partition ``murmur2(key) & 0x7fffffff`` mod the topic's
partition count, in every Kafka client that keeps the Java client's default
(aiokafka's ``DefaultPartitioner`` included), so that a key always lands on the same
partition whoever wrote it: ``flakiness.state`` is compacted per key. aiokafka's
``murmur2`` is pure Python, a step per byte: about 30-50 µs for a ``flakiness.state``
key of 140 bytes, which the processor pays for every state it publishes (one per new
test: 2,000 a build in ``bench.flakiness``, about 2 µs per result there). The same
hash here takes about 0.3 µs compiled: mypyc makes the ``i64`` variables native
64-bit integers (no product here exceeds 2**63, so nothing wraps), where a Python
``int`` would take the slow path of big integers. Run as pure Python (``i64`` is then
``int``) it gives the same numbers, at about aiokafka's speed.

``tests/unit/flakiness/test_partitioner.py`` holds it to aiokafka's on random keys in
both builds.
"""

from __future__ import annotations

import random
from typing import Final

from mypy_extensions import i64

__all__ = ["murmur2", "partition_of"]

_SEED: Final[i64] = 0x9747B28C
_M: Final[i64] = 0x5BD1E995
_MASK: Final[i64] = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """The Java client's ``Utils.murmur2`` of ``data``, as an unsigned 32-bit value
    (what aiokafka's ``murmur2`` returns)."""
    length: i64 = len(data)
    h: i64 = _SEED ^ length
    end: i64 = length & ~3
    i: i64 = 0
    while i < end:  # four bytes at a time, little-endian
        k: i64 = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
        i += 4
    tail: i64 = length & 3
    if tail:
        if tail == 3:
            h ^= data[end + 2] << 16
        if tail >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """An aiokafka ``partitioner``: the partition aiokafka's default one picks (a key's
    murmur2 hash; a random available partition for no key)."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 (spreading, not secrets)
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
