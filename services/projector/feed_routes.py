"""The change feed's routes: `GET /v1/changes` (pages) and `GET /v1/changes/stream` (SSE)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from projector import answers, params, query
from projector.item_state import ChangeKind
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.streams import SlotResponse, change_events

# Each event of the stream as an SSE parser reads it (WHATWG's event stream format): OpenAPI
# 3.2's `itemSchema`, which FastAPI also writes for its own event streams; `schema` says only
# that the body is text (all that OpenAPI 3.1 tools read). The stream writes them in
# streams.change_events, and a test parses a real stream against this.
_EVENTS = {
    "itemSchema": {
        "type": "object",
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "the change's `seq`: reconnect with it as `Last-Event-ID`",
            },
            "event": {
                "type": "string",
                "enum": [kind.value for kind in ChangeKind],
                "description": "the change's `kind`",
            },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/Change"},
                "description": "the change, as in `GET /v1/changes`",
            },
        },
        "required": ["id", "event", "data"],
        "additionalProperties": False,
    }
}


def add_feed_routes(app: FastAPI, runtime: Runtime, settings: ProjectorSettings) -> None:
    @app.get(
        "/v1/changes",
        response_model=None,
        responses={200: {"model": answers.ChangesPage}, **answers.problems(410)},
    )
    async def changes(
        after: Annotated[int, Query(ge=0, le=params.MAX_INT64)] = 0,
        type: query.Kinds = None,
        limit: Annotated[int, Query(ge=1, le=query.LIMIT_MAX)] = query.LIMIT_DEFAULT,
    ) -> dict[str, Any]:
        kinds = sorted({k.value for k in type or []})
        page = await asyncio.to_thread(runtime.store.feed_page, after, kinds, limit)
        _refuse_pruned(after, page.first_seq)
        return {"changes": page.changes, "next_after": page.scanned_to}

    @app.get(
        "/v1/changes/stream",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "One event a change; a `: keep-alive` comment (no event) when "
                "nothing happened for 15 s",
                "content": {"text/event-stream": {"schema": {"type": "string"}, **_EVENTS}},
            },
            **answers.problems(410, 503),
        },
    )
    async def change_stream(
        request: Request,
        type: query.Kinds = None,
        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
        after: Annotated[int, Query(ge=0, le=params.MAX_INT64)] = 0,
    ) -> StreamingResponse:
        """Server-Sent Events; reconnecting with Last-Event-ID resumes after that change."""
        start = after if last_event_id is None else params.sequence("last-event-id", last_event_id)
        kinds = sorted({k.value for k in type or []})
        if not runtime.streams.try_open():
            raise HTTPException(
                503,
                f"{settings.stream_max} change streams are open; retry later",
                headers={"Retry-After": str(settings.stream_retry_after_s)},
            )
        try:
            first = await asyncio.to_thread(runtime.store.feed_page, start, kinds, 1)
            _refuse_pruned(start, first.first_seq)
        except BaseException:
            runtime.streams.close()
            raise
        return SlotResponse(runtime.streams, change_events(runtime, request, start, kinds))


def _refuse_pruned(after: int, first_seq: int | None) -> None:
    """A reader resuming after a change the feed no longer holds would silently miss changes."""
    if after > 0 and first_seq is not None and after < first_seq - 1:
        raise HTTPException(
            410,
            f"changes after {after} were pruned (the feed starts at {first_seq}): "
            "resynchronise from the views, then follow the feed from its newest change",
        )
