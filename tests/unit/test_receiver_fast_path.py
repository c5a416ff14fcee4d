"""POST postbacks skip FastAPI (ReceiverApp.postbacks); the answer must be the one FastAPI's own
route gives: the same hostile requests through both apps, same status, headers and body (the
problem document's request_id aside, which is random), repeats included."""

from __future__ import annotations

import asyncio
import re

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile_inputs import Request, extra_headers, fuzz_settings, postbacks, raw_requests
from tests.receiver_harness import Answer, call, recording_app

_REQUEST_ID = re.compile(rb'"request_id":"[^"]*"')


def _seen(answer: Answer) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return answer.status, sorted(answer.headers.items()), _REQUEST_ID.sub(b"", answer.body)


@fuzz_settings(100)
@given(st.one_of(postbacks(), raw_requests()), extra_headers(), st.booleans())
def test_the_fast_path_answers_as_fastapis_route(
    requests: list[Request], headers: list[tuple[bytes, bytes]], authenticated: bool
) -> None:
    async def both() -> None:
        fast, _ = recording_app(recent_window_s=60)
        routed, _ = recording_app(recent_window_s=60)
        routed.postbacks = None  # type: ignore[attr-defined]
        for request in [r for r in requests if r.method == "POST"]:
            answers = [
                await call(
                    app,
                    "POST",
                    body=request.body,
                    content_type=request.content_type,
                    query=request.query,
                    headers=headers,
                    authenticated=authenticated,
                )
                for app in (fast, routed)
            ]
            assert _seen(answers[0]) == _seen(answers[1])

    asyncio.run(both())
