"""The repeat window and the single flight together keep the topic's order: a repeat of an
earlier event of a product is answered from memory only if nothing of the product was begun
since. Each write here is held until the test acknowledges or fails it, and takes its place on
the topic when it is begun (as the producer's queue does), so a write that failed late (timed
out) is still on the topic before anything begun after it: what Kafka does with a record whose
acknowledgement came after the deadline."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from catalog_contract.codec import decode
from receiver.app import create_app
from receiver.errors import PublishFailed
from receiver.publisher import Acknowledged
from receiver.settings import ReceiverSettings
from tests.receiver_harness import Answer, RecordingPublisher, call, settings

OLD = {"CatalogId": "7", "CatalogItemId": "chair-1", "CurrentPrice": "10.00"}
NEW = {**OLD, "CurrentPrice": "11.00"}
OTHER = {**OLD, "CurrentPrice": "12.00"}


class GatedPublisher(RecordingPublisher):
    """Every write to the product topic is placed on it when begun, then waits for its gate: a
    result of None acknowledges it, an exception fails it (its record stays on the topic).
    Dead letters are acknowledged at once."""

    def __init__(self, config: ReceiverSettings) -> None:
        super().__init__(config)
        self.gates: list[asyncio.Future[Exception | None]] = []

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        acks = await super().publish(topic, key, *values, headers=headers)
        if topic != self._settings.topic:
            return acks
        gate: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        failure = await gate
        if failure is not None:
            raise failure
        return acks


def _app() -> tuple[Any, GatedPublisher]:
    config = settings(recent_window_s=60)
    publisher = GatedPublisher(config)
    return create_app(config, publisher), publisher


def _post(app: Any, points: dict[str, str]) -> asyncio.Task[Answer]:
    body = json.dumps(points).encode()
    return asyncio.create_task(call(app, "POST", body=body, content_type="application/json"))


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _acknowledged(app: Any, publisher: GatedPublisher, points: dict[str, str]) -> Answer:
    post = _post(app, points)
    await _settle()
    publisher.gates[-1].set_result(None)
    answer = await post
    assert answer.status == 200
    return answer


def _events_with(publisher: GatedPublisher, price: str) -> list[int]:
    """The topic's places of the events with this price (1-based, as the offsets given)."""
    return [
        place
        for place, event in enumerate(publisher.events(), start=1)
        if decode(event.values[-1] or b"").current_price == Decimal(price)
    ]


async def test_a_repeat_while_a_newer_change_is_in_flight_is_written_after_it() -> None:
    # Fails on the old code: the repeat is answered 200 from the window at once (OLD's offset),
    # and the topic ends with NEW, a change the platform sent before the repeat.
    app, publisher = _app()
    first = await _acknowledged(app, publisher, OLD)
    newer = _post(app, NEW)
    await _settle()
    repeat = _post(app, OLD)
    await _settle()
    assert not repeat.done()  # it waits for a write of its own
    for gate in publisher.gates[1:]:
        gate.set_result(None)
    assert (await newer).status == 200
    answer = await repeat
    assert answer.status == 200
    assert answer.json()["event_id"] == first.json()["event_id"]
    assert answer.json()["offset"] > (await newer).json()["offset"]
    assert _events_with(publisher, "10.00") == [1, 3]  # the topic ends with the repeat


async def test_a_repeat_after_a_newer_change_failed_is_written_again() -> None:
    # Fails on the old code: NEW's write timed out (503) yet its record is on the topic; the
    # repeat of OLD was answered 200 from the window without a write, so the topic ends with
    # NEW. Whether a failed write's record lands is not known: the repeat must be written after.
    app, publisher = _app()
    await _acknowledged(app, publisher, OLD)
    newer = _post(app, NEW)
    await _settle()
    publisher.gates[-1].set_result(PublishFailed("Kafka did not acknowledge within 5.0s"))
    assert (await newer).status == 503
    repeat = _post(app, OLD)
    await _settle()
    assert len(publisher.gates) == 3  # written again
    publisher.gates[-1].set_result(None)
    assert (await repeat).status == 200
    assert _events_with(publisher, "10.00") == [1, 3]


async def test_an_older_write_acknowledged_after_a_newer_one_failed_answers_no_repeat() -> None:
    # OLD and NEW in flight at once; NEW (begun last) fails, then OLD is acknowledged. NEW's
    # record may still land after OLD's, so a repeat of OLD is written again. Fails on the old
    # code: OLD's acknowledgement went into the window and answered the repeat.
    app, publisher = _app()
    old = _post(app, OLD)
    await _settle()
    newer = _post(app, NEW)
    await _settle()
    publisher.gates[1].set_result(PublishFailed("Kafka did not acknowledge within 5.0s"))
    assert (await newer).status == 503
    publisher.gates[0].set_result(None)
    assert (await old).status == 200
    repeat = _post(app, OLD)
    await _settle()
    assert len(publisher.gates) == 3
    publisher.gates[-1].set_result(None)
    assert (await repeat).status == 200
    assert _events_with(publisher, "10.00") == [1, 3]


async def test_a_repeat_after_the_last_begun_write_succeeded_is_answered_from_memory() -> None:
    # Kept behaviour (passes on the old code too): the window still saves the second write
    # when nothing of the product was begun since, also after concurrent writes of it.
    app, publisher = _app()
    old = _post(app, OLD)
    await _settle()
    newer = _post(app, NEW)
    await _settle()
    publisher.gates[1].set_result(None)
    publisher.gates[0].set_result(None)
    assert [(await old).status, (await newer).status] == [200, 200]
    repeat = await call(app, "POST", body=json.dumps(NEW).encode(), content_type="application/json")
    assert repeat.status == 200
    assert repeat.body == (await newer).body
    assert len(publisher.gates) == 2
    other = _post(app, OTHER)
    await _settle()
    publisher.gates[-1].set_result(None)
    assert (await other).status == 200
