"""HEAD wherever GET is answered (RFC 9110 9.3.2): the GET's status and headers, no body.

FastAPI's routes answer only the methods they name (Starlette's own Route adds HEAD to a GET,
FastAPI's APIRoute does not), so every HEAD was a 405. A HEAD request here is run as its GET,
through the whole app (the hot read routes, the freshness headers), and only the body is
dropped, so the headers cannot drift from the GET's. Once the GET has sent its status and
headers the HEAD has all it needs: the GET is told its client has gone, so that a streaming
answer (the SSE change stream), which never ends by itself, stops at once. (It was told so only
at its first body message: a stream with nothing new to send held the HEAD until its
keep-alive, 15 s.)
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def allow_head(app: FastAPI, unsafe_gets: frozenset[str] = frozenset()) -> None:
    """Every GET route names HEAD too, so that a 405's `Allow` lists it. (Requests never reach
    the router as HEAD: `as_get` runs them as GET.) Once the OpenAPI document is made: it
    documents the GETs only, HEAD being implied by GET (schemathesis counts it among the
    implicit methods), and FastAPI would give each HEAD its GET's operation id. A GET route
    whose path is in `unsafe_gets` changes something (the receiver's postbacks sent as a query
    string): a HEAD, which must be safe (RFC 9110 9.2.1), is not run as it, nor allowed."""
    for route in app.router.routes:
        if (
            isinstance(route, APIRoute)
            and route.methods
            and "GET" in route.methods
            and route.path not in unsafe_gets
        ):
            route.methods.add("HEAD")


async def as_get(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer the HEAD request `scope` with what `app` answers its GET, without the body."""
    ended = asyncio.Event()  # the GET's headers were sent: the HEAD needs no more of it
    finished = False  # the HEAD's (empty) body was sent

    async def headers_only(message: Message) -> None:
        nonlocal finished
        if message["type"] != "http.response.body":
            await send(message)
            ended.set()
        elif not finished and not message.get("more_body", False):
            # A whole answer: the HEAD ends with it, not after the GET's background work.
            finished = True
            await send(_EMPTY_END)

    async def gone_once_ended() -> Message:
        """The client as the GET sees it: gone once the HEAD has its headers, so that a stream
        stops, even one waiting for something to send (Starlette's StreamingResponse listens)."""
        if ended.is_set():
            return _DISCONNECT
        receiving = asyncio.ensure_future(receive())
        ending = asyncio.ensure_future(ended.wait())
        try:
            await asyncio.wait((receiving, ending), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            receiving.cancel()
            raise
        finally:
            ending.cancel()
        if receiving.done():
            return receiving.result()
        receiving.cancel()
        return _DISCONNECT

    await app({**scope, "method": "GET"}, gone_once_ended, headers_only)
    if ended.is_set() and not finished:
        # Sent once the GET has let go of what it held (its stream slot), so that the client's
        # next request finds it free.
        await send(_EMPTY_END)


_EMPTY_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}
_DISCONNECT: Message = {"type": "http.disconnect"}
