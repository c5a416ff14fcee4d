"""The last resort: no exception from the app reaches the ASGI server.

Every failure the receiver expects has its own answer; this catches the ones nobody expected
(a bug), so the caller still gets an RFC 9457 document (500, which the platform retries) and the
server never sees the exception. The traceback goes to the log, with the request's method and
path but nothing of its content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime_support.problems import PROBLEM_JSON, TYPE_BASE

log = logging.getLogger(__name__)

_BODY = json.dumps(
    {
        "type": TYPE_BASE + "internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": "the receiver failed unexpectedly; nothing was stored, send it again",
    }
).encode()


class LastResort:
    def __init__(self, app: ASGIApp, on_error: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            await failed(scope, send, started, self.on_error)


async def failed(scope: Scope, send: Send, started: bool, on_error: Callable[[], None]) -> None:
    """LastResort's answer, for a caller in an `except` block: log the exception, count it
    (`on_error`), and end the answer (a 500 problem document, or only the end of an answer
    whose start was already sent)."""
    log.exception("unexpected failure on %s %s", scope.get("method"), scope.get("path"))
    on_error()
    if started:  # too late for a status: end the answer that was begun
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _BODY, "more_body": False})
