"""The single flight's edges, through the receiver's app with writes held until the test lets
them go (GatedPublisher): the first postback's task cancelled mid-write, a postback arriving in
the very step its write completes, a waiting postback cancelled, and refusals of the product
while its write is in flight. These pass on the old code too (attacks that found nothing); they
hold what the answers must be."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from receiver.intake_flow import Intake
from tests.receiver_harness import call
from tests.unit.test_receiver_single_flight_order import OLD, _app, _post, _settle


def _intake_tables(app: Any) -> tuple[int, int]:
    """(writes in flight, products in the window): the intake's tables, found through the
    route the app serves postbacks with."""
    cells = app.postbacks.__closure__  # postback(scope, receive, send) closes over the intake
    intake = next(c.cell_contents for c in cells if isinstance(c.cell_contents, Intake))
    return len(intake._in_flight), len(intake._recent)


async def test_the_first_postbacks_task_cancelled_mid_write_is_a_503_for_those_waiting() -> None:
    # (uvicorn cancels a request's task only at a forced stop; the write's outcome is then
    # unknown: the waiting postbacks get a 503, never a 200, and do not hang.)
    app, publisher = _app()
    first = _post(app, OLD)
    await _settle()
    waiting = [_post(app, OLD) for _ in range(3)]
    await _settle()
    first.cancel()
    answers = await asyncio.gather(*waiting)
    assert [a.status for a in answers] == [503] * 3
    assert {a.json()["detail"] for a in answers} == {
        "the write of the same postback ended unexpectedly"
    }
    assert _intake_tables(app) == (0, 0)  # nothing kept: the next copy is written
    again = _post(app, OLD)
    await _settle()
    assert len(publisher.gates) == 2
    publisher.gates[-1].set_result(None)
    assert (await again).status == 200


async def test_a_postback_arriving_as_the_write_completes_gets_its_200_either_way() -> None:
    for joined_first in (True, False):
        app, publisher = _app()
        first = _post(app, OLD)
        await _settle()
        if joined_first:  # it takes its first step before the write's task resumes
            late = _post(app, OLD)
            publisher.gates[0].set_result(None)
        else:  # the write's task resumes first, and ends the flight
            publisher.gates[0].set_result(None)
            late = _post(app, OLD)
        answers = [await first, await late]
        assert [a.status for a in answers] == [200, 200]
        assert answers[0].body == answers[1].body
        assert len(publisher.gates) == 1
        assert _intake_tables(app) == (0, 1)


async def test_a_waiting_postback_cancelled_leaves_the_others_their_200() -> None:
    app, publisher = _app()
    first = _post(app, OLD)
    await _settle()
    waiting = [_post(app, OLD) for _ in range(3)]
    await _settle()
    waiting[1].cancel()
    await _settle()
    publisher.gates[0].set_result(None)
    answers = [await first, await waiting[0], await waiting[2]]
    assert [a.status for a in answers] == [200] * 3
    assert waiting[1].cancelled()
    assert len(publisher.events()) == 1
    assert _intake_tables(app) == (0, 1)


async def test_refusals_of_a_product_whose_write_is_in_flight_are_answered_at_once() -> None:
    app, publisher = _app()
    first = _post(app, OLD)
    await _settle()
    invalid = await call(
        app,
        "POST",
        body=json.dumps({**OLD, "CurrentPrice": "lots"}).encode(),
        content_type="application/json",
    )
    assert invalid.status == 422  # refused and dead-lettered while OLD waits
    unauthenticated = await call(
        app,
        "POST",
        body=json.dumps(OLD).encode(),
        content_type="application/json",
        authenticated=False,
    )
    assert unauthenticated.status == 401  # not joined to the write in flight
    assert len(publisher.dead_letters()) == 1
    publisher.gates[0].set_result(None)
    assert (await first).status == 200
    assert len(publisher.events()) == 1
