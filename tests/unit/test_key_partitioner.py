"""The receiver's partitioner gives every key the partition Kafka's own rule gives it."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.keys import product_key
from receiver.key_partitioner import murmur2, partition_for

# org.apache.kafka.common.utils.UtilsTest.testMurmur2 (signed Java ints)
JAVA_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}


@pytest.mark.parametrize(("text", "java"), JAVA_VECTORS.items())
def test_the_hash_is_the_java_clients(text: str, java: int) -> None:
    assert murmur2(text.encode()) == java % 2**32


@given(st.binary(max_size=300))
def test_the_hash_is_aiokafkas_for_any_bytes(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


@given(
    st.text(min_size=1, max_size=40).filter(lambda s: ":" not in s),
    st.text(min_size=1),
    st.integers(1, 64),
)
def test_every_product_key_lands_where_aiokafka_puts_it(
    catalog: str, item: str, count: int
) -> None:
    key = product_key(catalog, item)
    partitions = list(range(count))
    assert partition_for(key, partitions, partitions) == DefaultPartitioner()(
        key, partitions, partitions
    )


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert {partition_for(None, [0, 1, 2], [1]) for _ in range(20)} == {1}
