"""The projector's HTTP read API, for other services. The consumer runs in the same process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from projector.generations import Generations
from projector.metrics import ProjectorMetrics
from projector.rows import from_micros, item_json, micros, price_text_of_units, price_units
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.status_routes import add_status_routes
from projector.store import ItemFilter


def _parse_position(text: str) -> tuple[int, int]:
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise HTTPException(422, f"min_position must be '<partition>:<offset>', got {text!r}")
    return int(partition), int(offset)


def _price_param(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return price_units(Decimal(text))
    except InvalidOperation as exc:
        raise HTTPException(422, f"{name} is not a decimal: {text!r}") from exc


def _catalog_json(row: dict[str, Any]) -> dict[str, Any]:
    last = from_micros(row["last_change_at"])
    return {
        "catalog_id": row["catalog_id"],
        "item_count": row["item_count"],
        "in_stock": row["in_stock"],
        "out_of_stock": row["out_of_stock"],
        "min_price": price_text_of_units(row["min_price_units"]),
        "max_price": price_text_of_units(row["max_price_units"]),
        "last_change_at": None if last is None else last.isoformat(),
    }


class FreshnessHeaders:
    """Every answer says how fresh the view is. A plain ASGI middleware: Starlette's
    `@app.middleware("http")` costs more than a whole item lookup."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                live = self.runtime.projector
                positions = ",".join(f"{p}:{o}" for p, o in sorted(live.applied.items()))
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-view-lag", str(live.lag()).encode()),
                    (b"x-view-positions", positions.encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    settings: ProjectorSettings,
    generations: Generations,
    run_consumer: bool = True,
    on_failure: Callable[[], None] | None = None,
) -> FastAPI:
    """`on_failure` is called if the live consumer dies (the server should then exit)."""
    metrics = ProjectorMetrics()
    runtime = Runtime(settings, generations, metrics, on_failure)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start(run_consumer)
        yield
        await runtime.stop()

    app = FastAPI(title="catalog-stream projector", version="1", lifespan=lifespan)
    app.state.runtime = runtime

    app.add_middleware(FreshnessHeaders, runtime=runtime)

    async def read_your_writes(min_position: str | None) -> None:
        if min_position is None:
            return
        partition, offset = _parse_position(min_position)
        if not await runtime.projector.wait_for(
            partition, offset, settings.read_your_writes_max_wait_s
        ):
            raise HTTPException(504, f"view has not reached {min_position} yet; retry shortly")

    @app.get("/v1/catalogs")
    async def catalogs(min_position: str | None = None) -> dict[str, Any]:
        await read_your_writes(min_position)
        rows = await asyncio.to_thread(runtime.store.catalogs)
        return {"catalogs": [_catalog_json(r) for r in rows]}

    @app.get("/v1/catalogs/{catalog_id}")
    async def catalog(catalog_id: str, min_position: str | None = None) -> dict[str, Any]:
        await read_your_writes(min_position)
        rows = await asyncio.to_thread(runtime.store.catalogs, catalog_id)
        if not rows:
            raise HTTPException(404, f"no catalog {catalog_id!r}")
        return _catalog_json(rows[0])

    @app.get("/v1/catalogs/{catalog_id}/items")
    async def items(
        catalog_id: str,
        availability: str | None = None,
        min_price: str | None = None,
        max_price: str | None = None,
        updated_since: datetime | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        min_position: str | None = None,
    ) -> dict[str, Any]:
        await read_your_writes(min_position)
        where = ItemFilter(
            availability=availability.upper() if availability else None,
            min_price_units=_price_param("min_price", min_price),
            max_price_units=_price_param("max_price", max_price),
            updated_since_micros=micros(updated_since) if updated_since else None,
            name_contains=q,
            after_item_id=cursor,
            limit=limit,
        )
        rows = await asyncio.to_thread(runtime.store.item_rows, catalog_id, where)
        found = [item_json(row) for row in rows]  # here, not in the thread: see ViewStore.item_row
        next_cursor = found[-1]["item_id"] if len(found) == limit else None
        return {"items": found, "next_cursor": next_cursor}

    @app.get("/v1/catalogs/{catalog_id}/items/{item_id}")
    async def item(
        catalog_id: str, item_id: str, min_position: str | None = None
    ) -> dict[str, Any]:
        await read_your_writes(min_position)
        row = await asyncio.to_thread(runtime.store.item_row, (catalog_id, item_id))
        if row is None:
            raise HTTPException(404, f"no item {item_id!r} in catalog {catalog_id!r}")
        return item_json(row)

    @app.get("/v1/changes")
    async def changes(
        after: int = 0,
        type: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        rows = await asyncio.to_thread(runtime.store.changes, after, type or [], limit)
        return {"changes": rows, "next_after": rows[-1]["seq"] if rows else after}

    @app.get("/v1/changes/stream")
    async def change_stream(
        request: Request,
        type: Annotated[list[str] | None, Query()] = None,
        last_event_id: Annotated[str | None, Header()] = None,
        after: int = 0,
    ) -> StreamingResponse:
        """Server-Sent Events; reconnecting with Last-Event-ID resumes after that change."""
        start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after

        async def events() -> AsyncIterator[str]:
            seq = start
            while not await request.is_disconnected():
                rows = await asyncio.to_thread(runtime.store.changes, seq, type or [], 500)
                for row in rows:
                    seq = row["seq"]
                    yield f"id: {seq}\nevent: {row['kind']}\ndata: {json.dumps(row)}\n\n"
                if not rows:
                    async with runtime.progress:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(runtime.progress.wait(), 15)
                    yield ": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/healthz")
    async def healthz() -> Response:
        if runtime.failure is not None:
            return JSONResponse({"status": "failed", "error": runtime.failure}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        if runtime.failure is not None:
            return JSONResponse({"status": "failed", "error": runtime.failure}, status_code=503)
        lag = runtime.projector.lag()
        if runtime.projector.ready(settings.ready_max_lag):
            return JSONResponse({"status": "ready", "lag": lag})
        return JSONResponse({"status": "catching up", "lag": lag}, status_code=503)

    @app.post("/v1/admin/rebuild", status_code=202)
    async def start_rebuild() -> dict[str, Any]:
        """Rebuild every view from the earliest offset while the current ones keep serving."""
        if not runtime.start_rebuild():
            raise HTTPException(409, "a rebuild is already running")
        await asyncio.sleep(0)  # let it name its generation
        return asdict(runtime.rebuild_status)

    @app.get("/v1/admin/rebuild")
    async def rebuild_status() -> dict[str, Any]:
        return {
            **asdict(runtime.rebuild_status),
            "active_generation": generations.name(runtime.store),
        }

    add_status_routes(app, runtime, settings, metrics)  # delivery statistics, status page

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
