"""The receiver's partitioner puts every key where aiokafka's default one does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.receiver.producer import KeyHashPartitioner


@given(
    keys=st.lists(st.binary(max_size=40), min_size=1, max_size=30), partitions=st.integers(1, 64)
)
def test_keys_go_to_the_partition_the_default_partitioner_picks(
    keys: list[bytes], partitions: int
) -> None:
    ours, default = KeyHashPartitioner(max_keys=8), DefaultPartitioner()
    all_partitions = list(range(partitions))
    for key in keys + keys:  # the second time from the remembered hash
        assert ours(key, all_partitions, all_partitions) == default(
            key, all_partitions, all_partitions
        )


def test_a_message_without_a_key_goes_to_an_available_partition() -> None:
    assert KeyHashPartitioner()(None, [0, 1, 2], [2]) == 2
