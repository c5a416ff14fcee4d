"""runtime_support.refusal_in_turn keeps the requests owed an answer, and only those: a
kept-alive connection serving many requests one after another holds none of the answered ones.
Fails on the change's first version, which let them go only on bad bytes (every request of a
kept-alive connection kept until it closed). A real uvicorn server on a loopback socket, as
`catalog-stream projector` configures it."""

from __future__ import annotations

import asyncio

from runtime_support.refusal_in_turn import RefusalInTurnProtocol
from tests.unit.test_header_deadline import (
    _answered,
    _app,
    projector_config,
    server_on_loopback,
)


async def test_a_kept_alive_connection_holds_no_answered_request() -> None:
    async with server_on_loopback(projector_config(_app())) as (port, server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(50):
            writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            await _answered(reader)
        (protocol,) = server.server_state.connections
        assert isinstance(protocol, RefusalInTurnProtocol)
        assert len(protocol._owed) <= 1  # the newest, answered, until the next one comes
        writer.close()
