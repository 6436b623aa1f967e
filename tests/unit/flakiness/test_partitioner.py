"""The processor's partitioner puts every key where aiokafka's default one does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from services.flakiness import partitioner
from services.flakiness.partitioner import partition_of


@given(st.binary(max_size=600))
def test_the_hash_is_aiokafkas_murmur2(key: bytes) -> None:
    assert partitioner.murmur2(key) == murmur2(key)


def test_the_hash_is_aiokafkas_murmur2_for_every_length_and_high_bytes() -> None:
    for length in range(0, 80):
        for fill in (0x00, 0x7F, 0x80, 0xFF):
            key = bytes((fill + 37 * i) % 256 for i in range(length))
            assert partitioner.murmur2(key) == murmur2(key), length


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=64))
def test_keys_go_to_the_partition_the_default_partitioner_picks(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert partition_of(key, partitions, partitions) == expected


def test_a_state_key_goes_where_the_default_partitioner_puts_it() -> None:
    key = (
        b'{"kind":"test","suite":"pytest","scope":"tests.test_module_12.TestModule",'
        b'"name":"test_case_245_behaves","file":"tests/test_module_12.py"}'
    )
    for count in (1, 3, 12, 100):
        partitions = list(range(count))
        assert partition_of(key, partitions, partitions) == DefaultPartitioner()(
            key, partitions, partitions
        )


def test_no_key_goes_to_an_available_partition() -> None:
    for _ in range(50):
        assert partition_of(None, [0, 1, 2, 3], [1, 3]) in (1, 3)
        assert partition_of(None, [0, 1, 2], []) in (0, 1, 2)
