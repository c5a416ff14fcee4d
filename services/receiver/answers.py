"""The receiver's answers that are not refusals: the 200 with where Kafka put the event (its
body rendered once, kept by the repeat window) and the counted 503 when Kafka is away."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import cache

from starlette.responses import Response

from catalog_contract.positions import position_text
from catalog_contract.text_forms import uuid_text
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Acknowledged
from runtime_support.problems import problem


@cache
def _json_string(text: str) -> bytes:
    return json.dumps(text).encode()


def accepted_body(event_id: uuid.UUID, acks: list[Acknowledged]) -> bytes:
    """The 200 body: where Kafka put the event (`position` is what readers wait for).

    Rendered once to bytes, which the repeat window keeps (bytes cost the garbage collector
    nothing; a window of objects took ~30% of the CPU under load), so a repeat gets the same answer.
    Formatted directly (json.dumps of the dict cost ~6 µs a postback): only the topic name is
    text from outside, and it is written as JSON (once per topic).
    """
    first, last = acks[0], acks[-1]
    return b'{"event_id":"%s","topic":%s,"partition":%d,"offset":%d,"position":"%s"}' % (
        uuid_text(event_id).encode(),
        _json_string(first.topic),
        first.partition,
        first.offset,
        position_text(last.partition, last.offset).encode(),
    )


class Accepted(Response):
    """The 200 with its JSON body: the headers Response(body, media_type=JSON) sets, in its
    order, set directly (Response's own set-up walks its general case at every postback)."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]


def kafka_unavailable(metrics: ReceiverMetrics, retry_after_s: int) -> Callable[[str], Response]:
    """The 503 answer (the platform sends the postback again later), counted."""

    def unavailable(detail: str) -> Response:
        metrics.requests.labels("unavailable").inc()
        return problem(
            503,
            "kafka-unavailable",
            "Try again later",
            detail,
            headers={"Retry-After": str(retry_after_s)},
        )

    return unavailable
