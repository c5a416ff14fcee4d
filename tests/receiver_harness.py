"""The receiver's real ASGI app, driven without a server or broker: a publisher that records
what would have gone to Kafka, and one raw ASGI call (exact bytes: repeated headers, any query
string), timed in CPU seconds of the calling thread (what a request costs the event loop,
whatever else loads the machine), garbage collection excluded."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import ASGIApp

from catalog_contract import dead_letters
from catalog_contract.dead_letters import DeadLetter
from receiver.app import create_app
from receiver.publisher import Acknowledged, Publisher
from receiver.settings import ReceiverSettings
from tests.hostile_inputs import Request
from tests.support import SECRET

PATH = "/v1/postbacks/product-changes"
AUTH = (b"x-postback-token", SECRET.encode())


@dataclass(frozen=True)
class Published:
    topic: str
    key: bytes | None
    values: tuple[bytes | None, ...]


class RecordingPublisher(Publisher):
    """Acknowledges every write at once and keeps it, in order; or, with `failure` set, raises
    it for every write (Kafka not acknowledging) and keeps nothing."""

    def __init__(self, settings: ReceiverSettings) -> None:
        super().__init__(settings)
        self.published: list[Published] = []
        self.failure: Exception | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def topics_present(self, *topics: str) -> bool:
        return True

    async def publish(
        self,
        topic: str,
        key: bytes | None,
        *values: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Acknowledged]:
        if self.failure is not None:
            raise self.failure
        self.published.append(Published(topic, key, values))
        offset = len(self.published)
        return [Acknowledged(topic, 0, offset + i) for i in range(len(values))]

    def dead_letters(self) -> list[DeadLetter]:
        return [
            dead_letters.decode(p.values[0] or b"")
            for p in self.published
            if p.topic == self._settings.dead_letter_topic
        ]

    def events(self) -> list[Published]:
        return [p for p in self.published if p.topic == self._settings.topic]


def settings(**overrides: Any) -> ReceiverSettings:
    values: dict[str, Any] = {"secrets": [SecretStr(SECRET)], "recent_window_s": 0, **overrides}
    return ReceiverSettings(**values)


def recording_app(**overrides: Any) -> tuple[FastAPI, RecordingPublisher]:
    config = settings(**overrides)
    publisher = RecordingPublisher(config)
    return create_app(config, publisher), publisher


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    cpu_s: float
    chunks: list[bytes] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get(b"content-type", b"").decode("latin-1")


async def call(
    app: ASGIApp,
    method: str,
    *,
    body: bytes = b"",
    content_type: str | None = None,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    authenticated: bool = True,
    client: tuple[str, int] = ("203.0.113.1", 40000),
    path: str = PATH,
) -> Answer:
    raw_headers = [(b"host", b"receiver")]
    if authenticated:
        raw_headers.append(AUTH)
    if content_type is not None:
        raw_headers.append((b"content-type", content_type.encode("latin-1")))
    if body:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    raw_headers += headers or []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": raw_headers,
        "client": client,
        "server": ("receiver", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer = Answer(0, {}, b"", 0.0)

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = dict(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answer.chunks.append(message.get("body", b""))

    # The request's own work: a full garbage collection of the test process's heap (hypothesis
    # keeps a lot) would otherwise land on whichever request happens to trigger it.
    collecting = gc.isenabled()
    gc.disable()
    started = time.thread_time()
    try:
        await app(scope, receive, send)
    finally:
        answer.cpu_s = time.thread_time() - started
        if collecting:
            gc.enable()
    answer.body = b"".join(answer.chunks)
    return answer


async def send(
    app: FastAPI,
    request: Request,
    *,
    authenticated: bool = True,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Answer:
    """One generated request (tests.hostile_inputs) through `call`."""
    return await call(
        app,
        request.method,
        body=request.body,
        content_type=request.content_type,
        query=request.query,
        headers=headers,
        authenticated=authenticated,
    )
