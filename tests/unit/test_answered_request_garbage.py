"""An answered request leaves no reference cycle in either service's server: its objects are
freed as it ends, not left to the garbage collector. Failed before: the send that
runtime_support.refusal_in_turn hands each request's app (a closure holding the request's
cycle, set on that cycle) made every request a reference cycle of ~13 objects (the cycle, its
scope, its headers, its event ...): the projector's item lookups set off a young collection
every ~800 requests, 66 collections of up to 6 ms in 8 s of wrk at 32 connections. A real
uvicorn server on a loopback socket, as `catalog-stream receiver` / `projector` configure it,
a plain ASGI app (which makes no garbage of its own)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

import uvicorn
from starlette.types import Receive, Scope, Send

from tests.unit.test_header_deadline import CONFIGS, server_on_loopback

REQUESTS = 200


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


@CONFIGS
async def test_answered_requests_leave_no_garbage(
    configure: Callable[[object], uvicorn.Config],
) -> None:
    async with server_on_loopback(configure(_app)) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def ask(times: int) -> None:
            for _ in range(times):
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                assert head.startswith(b"HTTP/1.1 200")
                assert await asyncio.wait_for(reader.readexactly(2), 10) == b"ok"

        await ask(10)  # what the first requests set up once
        gc.collect()
        gc.disable()
        try:
            await ask(REQUESTS)
            left = gc.collect()
        finally:
            gc.enable()
        writer.close()
        assert left < REQUESTS  # before: ~13 a request
