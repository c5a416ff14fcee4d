"""The read API's ASGI middleware: freshness headers on every answer, and a bound on the query
string before anything parses it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_contract.positions import position_text
from projector import problems
from projector.runtime import Runtime


class FreshHeaders:
    """The freshness headers every answer carries, for the middleware below and the plain ASGI
    routes (hot_reads), which answer before it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # The headers change only when a batch is applied or an end offset moves, while every
        # answer sends them: they are made again only when the positions they come from differ
        # (computing them on each answer cost 7% of an item lookup's CPU).
        self._made_from: tuple[object, ...] | None = None
        self._headers: list[tuple[bytes, bytes]] = []

    def __call__(self) -> list[tuple[bytes, bytes]]:
        live = self.runtime.projector
        # `passed` too: the lag counts it (offsets that hold no record, such as an aborted
        # transaction's records and markers at a partition's end), and it moves on its own.
        made_from = (
            tuple(live.applied.items()),
            tuple(live.end_offsets.items()),
            tuple(live.passed.items()),
        )
        if made_from != self._made_from:
            positions = ",".join(position_text(*p) for p in sorted(live.applied.items()))
            self._headers = [
                (b"x-view-lag", str(live.lag()).encode()),
                (b"x-view-positions", positions.encode()),
            ]
            self._made_from = made_from
        return self._headers


class FreshnessHeaders:
    """Every answer says how fresh the view is. A plain ASGI middleware: Starlette's
    `@app.middleware("http")` costs more than a whole item lookup."""

    def __init__(self, app: ASGIApp, headers: FreshHeaders) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers()]
            await send(message)

        await self.app(scope, receive, with_headers)


class QueryLimit:
    """A query string longer than `max_bytes` is refused before anything parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope.get("query_string", b"")) > self.max_bytes:
            answer = problems.problem(414, f"the query string is over {self.max_bytes} bytes")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
