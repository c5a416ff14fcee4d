"""Identical postbacks in flight at once share one write (receiver.in_flight), and never turn a
failed write into a 200: driven through the receiver's app with a publisher that holds every
write until the test lets it go (or fails it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from receiver.app import create_app
from receiver.errors import PublishFailed
from receiver.in_flight import InFlight
from receiver.publisher import Acknowledged
from receiver.settings import ReceiverSettings
from tests.receiver_harness import Answer, RecordingPublisher, call, settings

GOOD = {"CatalogId": "7", "CatalogItemId": "chair-1", "CurrentPrice": "10.00"}
NEWER = {**GOOD, "CurrentPrice": "11.00"}


class HeldPublisher(RecordingPublisher):
    """Each write waits for `release`, then is recorded (or raises `failure`)."""

    def __init__(self, config: ReceiverSettings) -> None:
        super().__init__(config)
        self.release = asyncio.Event()
        self.begun = 0

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        self.begun += 1
        await self.release.wait()
        return await super().publish(topic, key, *values, headers=headers)


def _app(**overrides: Any) -> tuple[Any, HeldPublisher]:
    config = settings(**{"recent_window_s": 60, **overrides})
    publisher = HeldPublisher(config)
    return create_app(config, publisher), publisher


async def _post(app: Any, points: dict[str, str]) -> Answer:
    body = json.dumps(points).encode()
    return await call(app, "POST", body=body, content_type="application/json")


async def _settle() -> None:
    for _ in range(20):  # every postback reaches its write, or its wait for one
        await asyncio.sleep(0)


async def _metric(app: Any, line: bytes) -> bool:
    return line in (await call(app, "GET", path="/metrics")).body


async def test_sixty_identical_postbacks_in_flight_are_one_record_and_sixty_same_200s() -> None:
    # Fails on the code before: 60 records of one event.
    app, publisher = _app()
    posts = [asyncio.create_task(_post(app, GOOD)) for _ in range(60)]
    await _settle()
    publisher.release.set()
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [200] * 60
    assert {a.body for a in answers} == {answers[0].body}
    assert len(publisher.events()) == 1
    assert await _metric(app, b"receiver_duplicates_dropped_total 59.0")
    assert await _metric(app, b'receiver_requests_total{outcome="accepted"} 60.0')


async def test_a_failed_write_is_a_503_for_every_postback_that_waited_for_it() -> None:
    app, publisher = _app()
    publisher.failure = PublishFailed("Kafka did not acknowledge within 30.0s")
    posts = [asyncio.create_task(_post(app, GOOD)) for _ in range(60)]
    await _settle()
    publisher.release.set()
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [503] * 60
    assert {a.headers.get(b"retry-after") for a in answers} == {b"30"}
    assert {a.json()["detail"] for a in answers} == {"Kafka did not acknowledge within 30.0s"}
    assert publisher.begun == 1
    assert publisher.events() == []
    # Nothing is kept of a failure: the next copy is written.
    publisher.failure = None
    again = await _post(app, GOOD)
    assert again.status == 200
    assert len(publisher.events()) == 1


async def test_an_unexpected_failure_of_the_write_is_no_200_for_the_waiting_either() -> None:
    app, publisher = _app()
    publisher.failure = RuntimeError("a bug nobody expected")
    posts = [asyncio.create_task(_post(app, GOOD)) for _ in range(5)]
    await _settle()
    publisher.release.set()
    answers = await asyncio.gather(*posts)
    assert sorted(a.status for a in answers) == [500, 503, 503, 503, 503]
    assert publisher.events() == []


async def test_a_repeat_after_a_newer_change_began_is_written_again() -> None:
    # first, then a newer change, then the first again, all in flight: the topic must end
    # with the first's content, so the repeat may not join the first write.
    app, publisher = _app()
    posts = [asyncio.create_task(_post(app, points)) for points in (GOOD, NEWER, GOOD)]
    await _settle()
    publisher.release.set()
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [200] * 3
    assert len(publisher.events()) == 3
    assert answers[0].json()["event_id"] == answers[2].json()["event_id"]
    assert answers[2].json()["offset"] > answers[1].json()["offset"]


async def test_without_a_repeat_window_every_copy_is_written_as_before() -> None:
    app, publisher = _app(recent_window_s=0)
    posts = [asyncio.create_task(_post(app, GOOD)) for _ in range(3)]
    await _settle()
    publisher.release.set()
    answers = await asyncio.gather(*posts)
    assert [a.status for a in answers] == [200] * 3
    assert len(publisher.events()) == 3


async def test_the_flights_are_per_product_and_event_and_forgotten_once_ended() -> None:
    flights = InFlight()
    first = flights.begin(b"p", b"e1")
    assert flights.last(b"p") is first
    assert first.event_id == b"e1"
    assert flights.last(b"q") is None
    waiting = asyncio.create_task(first.outcome())
    cancelled = asyncio.create_task(first.outcome())
    await asyncio.sleep(0)
    cancelled.cancel()
    newer = flights.begin(b"p", b"e2")  # the product's last begun write is now e2
    assert flights.last(b"p") is newer
    assert flights.end(b"p", first, b"answer") is False  # ending e1 keeps e2 in flight
    assert await waiting == b"answer"
    assert flights.last(b"p") is newer
    assert flights.end(b"p", newer, "failed") is True
    assert len(flights) == 0
    assert flights.last(b"p") is None
