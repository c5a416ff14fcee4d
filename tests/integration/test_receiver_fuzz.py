"""The fuzz test's slice through the real broker: generated hostile requests against the
receiver app with its real Kafka publisher. Every 2xx is its event on the product topic, every
authenticated refusal is its record on the dead-letter topic (read back by request id), and no
answer is a 5xx. (The 10,000-input run is tests/unit/test_receiver_fuzz.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract import codec, dead_letters
from receiver.app import create_app
from tests.hostile_inputs import Request, fuzz_settings, postbacks, raw_requests
from tests.receiver_harness import call, send
from tests.support import make_topics, read_topic, receiver_settings

pytestmark = pytest.mark.broker

STRUCTURED_EXAMPLES = 120  # x 4 formats
RAW_EXAMPLES = 40  # x 2 (body, query)


def test_hostile_requests_through_the_broker_are_each_kept_or_refused_and_kept(
    kafka_bootstrap: str,
) -> None:
    loop = asyncio.new_event_loop()
    topics = loop.run_until_complete(make_topics(kafka_bootstrap))
    config = receiver_settings(kafka_bootstrap, topics, recent_window_s=0)
    app = create_app(config)
    accepted: set[str] = set()
    refused: set[str] = set()
    statuses: list[int] = []

    async def ready() -> None:
        for _ in range(300):
            if (await call(app, "GET", path="/readyz")).status == 200:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("receiver not ready")

    def post(request: Request, authenticated: bool) -> None:
        answer = loop.run_until_complete(send(app, request, authenticated=authenticated))
        statuses.append(answer.status)
        assert answer.status < 500, (answer.status, answer.body[:300], f"{request!r:.300}")
        document: dict[str, Any] = answer.json()
        if answer.status < 300:
            accepted.add(document["event_id"])
        else:
            assert answer.content_type == "application/problem+json"
            if authenticated:
                refused.add(document["request_id"])
            else:
                assert answer.status == 401

    @fuzz_settings(STRUCTURED_EXAMPLES)
    @given(requests=postbacks(), authenticated=st.sampled_from([True] * 9 + [False]))
    def structured(requests: list[Request], authenticated: bool) -> None:
        for request in requests:
            post(request, authenticated)

    @fuzz_settings(RAW_EXAMPLES)
    @given(requests=raw_requests())
    def raw(requests: list[Request]) -> None:
        for request in requests:
            post(request, True)

    with contextlib.ExitStack() as stack:
        stack.callback(loop.close)
        lifespan = app.router.lifespan_context(app)
        loop.run_until_complete(lifespan.__aenter__())
        try:
            loop.run_until_complete(ready())
            structured()
            raw()
        finally:
            loop.run_until_complete(lifespan.__aexit__(None, None, None))
        events = loop.run_until_complete(read_topic(kafka_bootstrap, topics.product))
        letters = loop.run_until_complete(read_topic(kafka_bootstrap, topics.dead_letter))

    assert len(statuses) >= 4 * STRUCTURED_EXAMPLES
    assert accepted, "some generated postbacks must be valid"
    assert refused, "some must be refused"
    on_topic = {str(codec.decode(r.value).event_id) for r in events if r.value is not None}
    assert accepted <= on_topic
    kept = {dead_letters.decode(r.value).request_id for r in letters}
    assert refused <= kept
