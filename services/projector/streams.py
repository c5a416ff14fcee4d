"""The change feed as Server-Sent Events: a bounded number of open streams, each cheap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from projector.errors import StoreFailed, StoreUnavailable

if TYPE_CHECKING:
    from projector.runtime import Runtime


log = logging.getLogger(__name__)
STORE_RETRY_S = 1.0  # how often an open stream asks a store that did not answer


class StreamSlots:
    """At most `limit` streams open at once: each holds a connection and wakes on every batch."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def try_open(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def close(self) -> None:
        self.open -= 1


class SlotResponse(StreamingResponse):
    """A stream that gives its slot back however it ends: finished, failed, or cancelled by a
    disconnect, even one before its first event (a generator never started runs no `finally`)."""

    def __init__(self, slots: StreamSlots, content: AsyncIterator[str]) -> None:
        super().__init__(content, media_type="text/event-stream")
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.close()


async def change_events(
    runtime: Runtime, request: Request, start: int, kinds: list[str]
) -> AsyncIterator[str]:
    """One stream's events after `start`. Each wake costs one short query from where the last
    one stopped LOOKING (not where it last matched), so a rare `type` does not search the same
    changes again on every batch."""
    seq, failing = start, False
    while not await request.is_disconnected():
        try:
            page = await asyncio.to_thread(runtime.store.feed_page, seq, kinds, 500)
        except StoreUnavailable as exc:
            if isinstance(exc, StoreFailed) and not failing:
                # A defect (store_faults), not an outage: said once per stream, with its
                # traceback (it waited silently for ever); it goes on if someone mends it.
                log.error("view store read failed (not an outage); the change stream waits",
                          exc_info=exc)  # fmt: skip
            failing = isinstance(exc, StoreFailed)
            # The database down or restarting, after the stream's 200: raised here it cut the
            # stream with a traceback, and an EventSource reconnecting met 503s, which end it
            # for good. The stream waits, said alive, and goes on from `seq` once it answers.
            yield ": keep-alive\n\n"
            await asyncio.sleep(STORE_RETRY_S)
            continue
        failing = False
        for row in page.changes:
            yield f"id: {row['seq']}\nevent: {row['kind']}\ndata: {json.dumps(row)}\n\n"
        moved, seq = page.scanned_to != seq, page.scanned_to
        if not page.changes:
            if not moved:
                async with runtime.progress:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(runtime.progress.wait(), 15)
            yield ": keep-alive\n\n"
