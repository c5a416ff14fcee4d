"""`catalog-stream rebuild` against a projector that refuses it (409): it follows a rebuild
that is running, and otherwise says why it was refused (the 409's detail), as a failure worth
trying again later; it does not follow a rebuild that is not there. A stub projector on a real
HTTP socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from catalog_stream.rebuild import RebuildError, rebuild

FIRST_LOAD = "the first catch-up in parts is loading the topic: a rebuild can start once it ends"


def _projector(gets: list[dict[str, Any]]) -> Iterator[str]:
    """POST answers 409 with FIRST_LOAD; each GET the next of `gets` (the last repeated)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._answer(409, {"status": 409, "title": "Conflict", "detail": FIRST_LOAD})

        def do_GET(self) -> None:
            self._answer(200, gets.pop(0) if len(gets) > 1 else gets[0])

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refusing() -> Iterator[str]:
    yield from _projector([{"state": "idle", "first_catch_up": {"applied": 5, "target": 9}}])


@pytest.fixture
def running() -> Iterator[str]:
    done = {"state": "done", "applied": 7, "target": 7, "active_generation": "views.2.db"}
    yield from _projector([{"state": "running"}, {"state": "running"}, done])


def test_a_refusal_that_is_no_running_rebuild_says_why(refusing: str) -> None:
    with pytest.raises(RebuildError) as refused:
        rebuild(refusing, poll_s=0.01)
    assert str(refused.value) == f"the projector refused the rebuild: {FIRST_LOAD}"
    assert refused.value.retryable


def test_a_rebuild_already_running_is_followed(
    running: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rebuild(running, poll_s=0.01)
    out = capsys.readouterr()
    assert "a rebuild is already running; following it" in out.err
    assert "views rebuilt: 7 records into generation views.2.db" in out.out
