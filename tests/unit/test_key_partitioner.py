"""The receiver's partitioner gives every key the partition Kafka's own rule gives it."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from aiokafka.structs import PartitionMetadata
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.keys import product_key
from receiver.key_partitioner import murmur2, partition_for
from receiver.publisher import KeyedProducer

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


def _producer_knowing(partitions: dict[str, list[tuple[int, int]]]) -> KeyedProducer:
    """An unstarted producer whose metadata lists these (partition, leader) pairs per topic."""
    producer = KeyedProducer(bootstrap_servers="127.0.0.1:1")
    producer._metadata._partitions = {
        topic: {p: PartitionMetadata(topic, p, leader, [], [], None) for p, leader in listed}
        for topic, listed in partitions.items()
    }
    return producer


@given(
    st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=20),
    st.integers(1, 64),
    st.sets(st.integers(0, 63)),
)
def test_the_receivers_producer_places_every_key_as_aiokafkas_own_producer(
    keys: list[bytes], count: int, leaderless: set[int]
) -> None:
    """KeyedProducer._partition skips aiokafka's per-record sets and lists: the same partition
    for every key, whatever partitions lack a leader; a topic numbered otherwise than 0 to
    n-1 (never from Kafka) and a record without a key go aiokafka's way."""
    listed = [(p, -1 if p in leaderless else 1) for p in range(count)]
    odd = [(p + 3, 1) for p in range(count)]

    async def compare() -> None:  # (aiokafka builds a producer in a running loop only)
        ours = _producer_knowing({"t": listed, "odd": odd})
        theirs = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", partitioner=partition_for)
        theirs._metadata._partitions = ours._metadata._partitions
        for topic in ("t", "odd"):
            for key in keys:
                expected = theirs._partition(topic, None, None, None, key, b"v")
                assert ours._partition(topic, None, None, None, key, b"v") == expected
            given_partition = 3 if topic == "odd" else 0
            placed = ours._partition(topic, given_partition, None, None, b"k", b"v")
            assert placed == given_partition
        await ours.stop()
        await theirs.stop()

    asyncio.run(compare())
