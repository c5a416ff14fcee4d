"""`catalog-stream topics describe`: what the broker holds for a topic, and who reads it."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from catalog_contract.consumer_stop import stop_consumer
from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.lag import total_lag
from catalog_stream.topic_admin import TopicsError, checked_connection, describe


async def describe_topic(kafka: KafkaConnection | str, topic: str) -> str:
    connection = await checked_connection(kafka)
    admin = AIOKafkaAdminClient(**connection.client_options(), client_id="catalog-stream-describe")
    consumer = AIOKafkaConsumer(**connection.consumer_options(), group_id=None)
    try:
        await admin.start()
        await consumer.start()
    except KafkaError as exc:
        raise TopicsError(
            f"cannot reach Kafka at {connection.describe()}: {exc}", retryable=True
        ) from exc
    try:
        if topic not in await admin.list_topics():
            raise TopicsError(f"topic {topic!r} does not exist", retryable=False)
        state = await describe(admin, topic)
        detail = (await admin.describe_topics([topic]))[0]["partitions"]
        partitions = [TopicPartition(topic, p["partition"]) for p in detail]
        earliest = await consumer.beginning_offsets(partitions)
        latest = await consumer.end_offsets(partitions)
        lines = [
            f"topic {topic}: {state.partitions} partitions, replication factor "
            f"{state.replication_factor}",
            "",
            "partition  leader  replicas  isr    earliest      latest",
        ]
        for p in sorted(detail, key=lambda d: d["partition"]):
            tp = TopicPartition(topic, p["partition"])
            lines.append(
                f"{tp.partition:>9}  {p['leader']:>6}  {p['replicas']!s:>8}  "
                f"{p['isr']!s:<5} {earliest[tp]:>9} {latest[tp]:>11}"
            )
        lines += ["", "configs:"] + [f"  {k} = {v}" for k, v in sorted(state.configs.items())]
        lines += ["", "consumer groups (lag = latest - committed; no commit counts from 0):"]
        for group in sorted(g[0] for g in await admin.list_consumer_groups()):
            committed = await admin.list_consumer_group_offsets(group)
            mine = {tp: meta.offset for tp, meta in committed.items() if tp.topic == topic}
            if mine:
                lag = total_lag(
                    {tp.partition: end for tp, end in latest.items()},
                    {tp.partition: offset for tp, offset in mine.items()},
                )
                lines.append(f"  {group}: lag {lag} over {len(mine)} partitions")
        return "\n".join(lines)
    except KafkaError as exc:
        raise TopicsError(f"broker did not answer: {exc}", retryable=True) from exc
    finally:
        await stop_consumer(consumer)
        await admin.close()
