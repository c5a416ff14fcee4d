"""An internal service reading the product topic directly, with the contract's helper.

    python examples/consumer.py --bootstrap-servers 127.0.0.1:9092 --group my-service

Every value is read with the newest schema, whichever version wrote it; tombstones come out as
`Tombstone`. Offsets are committed after each batch is handled (at-least-once): make handling
idempotent, e.g. keyed by `event_id`.
"""

from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaConsumer

from catalog_contract import PRODUCT_TOPIC, ContractError
from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.reader import Tombstone, read


async def consume(bootstrap: str, group: str, topic: str, max_records: int | None) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        # The contract's consumer settings (KAFKA_* security ones too): committed records only,
        # never those of a transaction another producer on the topic aborted.
        **KafkaConnection(bootstrap_servers=bootstrap).consumer_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen = 0
    try:
        while max_records is None or seen < max_records:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        found = read(record.key, record.value, record.headers)
                    except ContractError as exc:
                        print(f"skipping {record.partition}:{record.offset}: {exc}")
                        continue
                    if isinstance(found, Tombstone):
                        print(f"removed  {found.catalog_id}/{found.catalog_item_id}")
                    else:
                        print(f"{found.change_type.value.lower():8} {found.catalog_id}/"
                              f"{found.catalog_item_id} price={found.current_price} "
                              f"stock={found.stock_availability}")  # fmt: skip
                    seen += 1
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--group", default="example-consumer")
    parser.add_argument("--topic", default=PRODUCT_TOPIC)
    parser.add_argument("--max-records", type=int, default=None, help="stop after this many")
    args = parser.parse_args()
    asyncio.run(consume(args.bootstrap_servers, args.group, args.topic, args.max_records))


if __name__ == "__main__":
    main()
