"""Comparison apps for the receiver benchmark, served by the same stack (uvicorn + FastAPI).

- `empty_app`: answers every POST with 200 at once: the HTTP ceiling of this machine.
- `baseline_app`: what a user would write first: parse JSON, `send_and_wait` one JSON value per
  request (acks=all), answer 200.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request, Response

PATH = "/v1/postbacks/product-changes"


def empty_app() -> FastAPI:
    app = FastAPI()

    @app.post(PATH)
    async def accept(request: Request) -> Response:
        await request.body()
        return Response(b'{"ok":true}', media_type="application/json")

    return app


def baseline_app() -> FastAPI:
    state: dict[str, AIOKafkaProducer] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            acks="all",
            enable_idempotence=os.environ.get("BENCH_IDEMPOTENT") == "1",
        )
        await producer.start()
        state["producer"] = producer
        yield
        await producer.stop()

    app = FastAPI(lifespan=lifespan)

    @app.post(PATH)
    async def accept(request: Request) -> Response:
        body = await request.json()
        key = f"{body['CatalogId']}:{body['CatalogItemId']}".encode()
        await state["producer"].send_and_wait(
            os.environ["BENCH_TOPIC"], json.dumps(body).encode(), key=key
        )
        return Response(b'{"ok":true}', media_type="application/json")

    return app
