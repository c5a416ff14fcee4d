"""`replay --to topic` copies a projector's restatements with what they restate.

A restatement's `restates: partition:offset` header names a position of the topic it was written
to, and the fold applies it only if the item applied nothing after that position. The copy kept
the header as it was while the records got the target's offsets: a restatement written after a
newer postback of the item (superseded on the source) restated a position the copy's offsets never
reach, so it applied there and undid the acknowledged newer change in every view built from the
copy (failed before: price 1.00 on the copy, 2.00 on the source). Now each restatement names the
target position of the record it restated, or of the last record copied before it."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from catalog_contract.writing import product_records, restatement_records
from projector.batch import ItemKey, plan_batch
from projector.item_state import ItemState
from projector.records import Incoming, read_record
from projector.restatements import snapshot
from tests.factories import change
from tests.support import Topics, make_topics, read_topic, run_cli

pytestmark = pytest.mark.broker


async def _write(bootstrap: str, topic: str, records: list[Any]) -> list[tuple[int, int]]:
    """Each ProductRecords' values in order; their positions."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        positions = []
        for written in records:
            for value in written.values:
                sent = await producer.send_and_wait(
                    topic, value, key=written.key, headers=written.headers
                )
                positions.append((sent.partition, sent.offset))
        return positions
    finally:
        await producer.stop()


def _views(records: list[Any]) -> dict[ItemKey, Any]:
    """The views a projector folds from these records, read as it reads them."""
    read = [read_record(r.partition, r.offset, r.key, r.value, r.headers) for r in records]
    incoming = [r for r in read if isinstance(r, Incoming)]
    starts = {r.partition: r.offset for r in reversed(incoming)}
    items = plan_batch(incoming, starts, lambda _: None).items
    return {key: _served(state) for key, state in items.items()}


def _served(state: Any) -> Any:
    if not isinstance(state, ItemState):
        return None
    return (state.current_price, state.name, state.source_updated_at, state.last_event_id)


def _restatement_of(event: Any, partition: int, offset: int) -> Any:
    """The projector's restatement of `event`, folded alone from its position."""
    folded = plan_batch([Incoming(partition, offset, "42", "sku-1", event)], {}, lambda _: None)
    state = folded.items[("42", "sku-1")]
    assert isinstance(state, ItemState)
    return restatement_records("42", "sku-1", snapshot(state), None, (partition, offset))


async def test_a_superseded_restatement_stays_superseded_in_a_copy(
    kafka_bootstrap: str, topics: Topics
) -> None:
    first = change(minute=5, price="1.00", name="Mug")
    newer = change(minute=6, price="2.00")  # acknowledged after `first`; leaves the name out
    fillers = [product_records(change(f"fill-{n}", minute=1)) for n in range(40)]
    positions = await _write(kafka_bootstrap, topics.product, [*fillers, product_records(first)])
    partition, first_offset = positions[-1]
    # The projector restates `first` (its batch held only it) and writes that after `newer`.
    restatement = _restatement_of(first, partition, first_offset)
    await _write(kafka_bootstrap, topics.product, [product_records(newer), restatement])
    source = await read_topic(kafka_bootstrap, topics.product)
    assert _views(source)[("42", "sku-1")][:2] == (newer.current_price, "Mug")

    copy = await make_topics(kafka_bootstrap)
    code, _out, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--from", f"{partition}:{first_offset}", "--to", "topic", "--target-topic", copy.product,
    )  # fmt: skip
    assert code == 0, err
    copied = await read_topic(kafka_bootstrap, copy.product)
    assert next(r.offset for r in copied if r.partition == partition) == 0  # (offsets moved)
    assert _views(copied)[("42", "sku-1")] == _views(source)[("42", "sku-1")]


async def test_a_copy_onto_a_newer_change_of_the_item_does_not_undo_it(
    kafka_bootstrap: str,
) -> None:
    """A target that already holds records (the live receiver's, another copy's): the copied
    older postback is judged stale there and moves the item's position to it, and the copied
    restatement named that position, so it applied over the newer change the target held (failed
    before: price 1.00 in the views built from the target, which held 2.00 acknowledged). A
    restatement cannot name a position of the target that leaves out records the copy did not
    write: a target partition that holds records is refused before anything is copied."""
    source = await make_topics(kafka_bootstrap, partitions=1)
    first = change(minute=5, price="1.00", name="Mug")
    ((_, first_offset),) = await _write(kafka_bootstrap, source.product, [product_records(first)])
    restatement = _restatement_of(first, 0, first_offset)
    await _write(kafka_bootstrap, source.product, [restatement])
    copy = await make_topics(kafka_bootstrap, partitions=1)
    newer = change(minute=6, price="2.00")  # acknowledged on the target
    await _write(kafka_bootstrap, copy.product, [product_records(newer)])
    code, _out, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", source.product,
        "--to", "topic", "--target-topic", copy.product,
    )  # fmt: skip
    copied = await read_topic(kafka_bootstrap, copy.product)
    assert _views(copied)[("42", "sku-1")][0] == newer.current_price
    assert code == 1, err
    assert f"--target-topic {copy.product!r} partition 0 holds records" in err


async def test_a_copy_run_again_onto_the_part_copied_is_refused(kafka_bootstrap: str) -> None:
    """A replay that stopped (a SIGKILL, or exit 75) left part of the copy in the target; run
    again over it, its restatement named its record's second copy, and only because the newer
    postback was copied again after it (each copy judged there moves the item's position) did it
    stay superseded; run again with another --from it undoes as the test above does. Such a
    target is refused now, before anything is copied (passed on main but for this: exit 0)."""
    source = await make_topics(kafka_bootstrap, partitions=1)
    first = change(minute=5, price="1.00", name="Mug")
    ((_, first_offset),) = await _write(kafka_bootstrap, source.product, [product_records(first)])
    restatement = _restatement_of(first, 0, first_offset)
    newer = change(minute=6, price="2.00")
    _, (_, restatement_offset) = await _write(
        kafka_bootstrap, source.product, [product_records(newer), restatement]
    )
    copy = await make_topics(kafka_bootstrap, partitions=1)
    copy_args = ("replay", "--bootstrap-servers", kafka_bootstrap, "--topic", source.product,
                 "--to", "topic", "--target-topic", copy.product)  # fmt: skip
    code, _out, err = await run_cli(*copy_args, "--until", f"0:{restatement_offset}")
    assert code == 0, err  # (the run that stopped before the restatement)
    code, _out, err = await run_cli(*copy_args)  # run again, the whole range
    assert code == 1, err
    assert f"--target-topic {copy.product!r} partition 0 holds records (offsets 0..1)" in err
    assert len(await read_topic(kafka_bootstrap, copy.product, timeout_s=3)) == 2
