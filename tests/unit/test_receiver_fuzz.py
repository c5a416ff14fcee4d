"""Fuzzing the receiver: over 10,000 generated hostile requests (JSON, form, XML, GET and raw
bytes) through the real ASGI app, with a publisher that records instead of Kafka. Every answer
is a 2xx with its event, or a 4xx problem document; every authenticated refusal has its
dead-letter record; no request costs more than a bounded CPU time. Deterministic (derandomized).

`pytest tests/unit/test_receiver_fuzz.py -s` prints the inputs, statuses and slowest request.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_contract import dead_letters
from catalog_contract.dead_letters import DeadLetter
from tests.hostile_inputs import Request, extra_headers, fuzz_settings, postbacks, raw_requests
from tests.receiver_harness import Answer, Published, RecordingPublisher, recording_app, send

# Each structured example is sent in 4 formats, each raw one as a body and as a query string.
STRUCTURED_EXAMPLES = 2_000
RAW_EXAMPLES = 1_000
# Generous (the machine may be loaded): the slowest linear case, a 256 KiB query string of
# 100,000 pairs that FastAPI itself parses, costs ~0.2 s; quadratic inputs cost seconds.
CPU_BOUND_S = 1.0


@dataclass
class Tally:
    inputs: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    slowest_s: float = 0.0
    slowest: str = ""
    kept: set[str] = field(default_factory=set)  # request ids with a dead-letter record


def _letter(published: Published) -> DeadLetter:
    return dead_letters.decode(published.values[0] or b"")


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    seen = Tally()
    yield seen
    print(
        f"\nfuzz: {seen.inputs} inputs, statuses {dict(sorted(seen.statuses.items()))}, "
        f"slowest {seen.slowest_s * 1000:.1f} ms CPU ({seen.slowest})"
    )


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    yield running
    running.close()


def check(
    answer: Answer,
    request: Request,
    authenticated: bool,
    publisher: RecordingPublisher,
    before: int,
    tally: Tally,
) -> None:
    tally.inputs += 1
    tally.statuses[answer.status] += 1
    if answer.cpu_s > tally.slowest_s:
        tally.slowest_s = answer.cpu_s
        tally.slowest = (
            f"{request.kind} {request.content_type} {len(request.body + request.query)} B"
        )
    described = f"{request!r:.300}"
    assert answer.cpu_s < CPU_BOUND_S, f"{answer.cpu_s:.2f} s CPU for {described}"
    new = publisher.published[before:]
    if 200 <= answer.status < 300:
        assert authenticated, described
        assert [p.topic for p in new] == [publisher._settings.topic] * len(new), described
        assert 1 <= len(new) <= 2, described  # the event, and a tombstone for a removal
        return
    assert 400 <= answer.status < 500, f"{answer.status} {answer.body[:300]!r} for {described}"
    assert answer.content_type == "application/problem+json", described
    document = answer.json()
    assert document["status"] == answer.status
    assert document["detail"]
    if not authenticated:
        assert answer.status == 401, described
        assert new == [], described
        return
    # Its record: written now, or, for an identical refusal within the repeat window, written
    # when it was first refused (the answer then repeats the first request id).
    assert all(p.topic == publisher._settings.dead_letter_topic for p in new), described
    assert len(new) <= 1, described
    tally.kept.update(letter.request_id for letter in map(_letter, new))
    assert document["request_id"] in tally.kept, described


def send_all(
    loop: asyncio.AbstractEventLoop,
    requests: list[Request],
    authenticated: bool,
    headers: list[tuple[bytes, bytes]],
    tally: Tally,
) -> None:
    app, publisher = _APP
    for request in requests:
        before = len(publisher.published)
        answer = loop.run_until_complete(
            send(app, request, authenticated=authenticated, headers=headers)
        )
        check(answer, request, authenticated, publisher, before, tally)


# One app for the whole run, as a server would keep it (a repeat window of 0: every accepted
# request is one write).
_APP = recording_app()
authenticated = st.sampled_from([True] * 9 + [False])  # about one in ten without the secret


@fuzz_settings(STRUCTURED_EXAMPLES)
@given(requests=postbacks(), authenticated=authenticated, headers=extra_headers())
def test_structured_postbacks_in_every_format(
    loop: asyncio.AbstractEventLoop,
    tally: Tally,
    requests: list[Request],
    authenticated: bool,
    headers: list[tuple[bytes, bytes]],
) -> None:
    send_all(loop, requests, authenticated, headers, tally)


@fuzz_settings(RAW_EXAMPLES)
@given(requests=raw_requests(), authenticated=authenticated, headers=extra_headers())
def test_raw_bytes_under_every_content_type(
    loop: asyncio.AbstractEventLoop,
    tally: Tally,
    requests: list[Request],
    authenticated: bool,
    headers: list[tuple[bytes, bytes]],
) -> None:
    send_all(loop, requests, authenticated, headers, tally)


def test_the_run_generated_at_least_ten_thousand_inputs(tally: Tally) -> None:
    """Runs after the two above (file order): hypothesis may stop early when it runs out of
    distinct inputs; this says if it did."""
    if tally.inputs == 0:
        pytest.skip("run with the fuzz tests above")
    assert tally.inputs >= 10_000
    assert not [status for status in tally.statuses if status >= 500]
