"""The projector's HTTP read API, for other services. The consumer runs in the same process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Receive, Scope, Send

from projector import answers, params, problems, query
from projector.admin import admin_guard
from projector.generations import Generations
from projector.hot_reads import HotReads, Reads, item_filter
from projector.metrics import ProjectorMetrics
from projector.middleware import FreshHeaders, FreshnessHeaders, QueryLimit
from projector.rows import from_micros, price_text_of_units
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.status_routes import add_status_routes
from projector.streams import SlotResponse, change_events


class ReadApi(FastAPI):
    """FastAPI, with the hot read routes (hot_reads) asked first: they answer before its
    middleware stack and router, or leave the request to them untouched."""

    hot_reads: HotReads | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_reads is None or not await self.hot_reads(scope, receive, send):
            await super().__call__(scope, receive, send)


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


def create_app(
    settings: ProjectorSettings,
    generations: Generations,
    run_consumer: bool = True,
    on_failure: Callable[[], None] | None = None,
) -> ReadApi:
    """`on_failure` is called if the live consumer dies (the server should then exit)."""
    metrics = ProjectorMetrics()
    runtime = Runtime(settings, generations, metrics, on_failure)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start(run_consumer)
        yield
        await runtime.stop()

    app = ReadApi(
        title="catalog-stream projector",
        version="1",
        lifespan=lifespan,
        responses=answers.problems(414, 422, 500),
    )
    app.state.runtime = runtime
    problems.install(app)
    reads = Reads(runtime, settings)
    fresh_headers = FreshHeaders(runtime)
    app.hot_reads = HotReads(reads, fresh_headers, settings.max_query_bytes)
    app.add_middleware(FreshnessHeaders, headers=fresh_headers)
    app.add_middleware(QueryLimit, max_bytes=settings.max_query_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = answers.problem_media_type(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    read_your_writes = reads.fresh_enough

    @app.get(
        "/v1/catalogs",
        response_model=None,
        responses={200: {"model": answers.CatalogsPage}, **answers.problems(504)},
    )
    async def catalogs(
        cursor: Annotated[str | None, query.ItemCursor] = None,
        limit: Annotated[int, Query(ge=1, le=query.LIMIT_MAX)] = query.LIMIT_DEFAULT,
        min_position: Annotated[str | None, query.MinPosition] = None,
    ) -> dict[str, Any]:
        await read_your_writes(min_position)
        rows = await asyncio.to_thread(runtime.store.catalogs, None, cursor, limit)
        found = [_catalog_json(r) for r in rows]
        next_cursor = found[-1]["catalog_id"] if len(found) == limit else None
        return {"catalogs": found, "next_cursor": next_cursor}

    @app.get(
        "/v1/catalogs/{catalog_id}",
        response_model=None,
        responses={200: {"model": answers.Catalog}, **answers.problems(404, 504)},
    )
    async def catalog(
        catalog_id: str, min_position: Annotated[str | None, query.MinPosition] = None
    ) -> dict[str, Any]:
        await read_your_writes(min_position)
        rows = await asyncio.to_thread(runtime.store.catalogs, catalog_id)
        if not rows:
            raise HTTPException(404, f"no catalog {catalog_id!r}")
        return _catalog_json(rows[0])

    @app.get(
        "/v1/catalogs/{catalog_id}/items",
        response_model=None,
        responses={200: {"model": answers.ItemsPage}, **answers.problems(504)},
    )
    async def items(
        catalog_id: str,
        availability: Annotated[
            query.AvailabilityText | None, Query(max_length=query.MAX_CHARS["availability"])
        ] = None,
        min_price: Annotated[str | None, query.Price] = None,
        max_price: Annotated[str | None, query.Price] = None,
        updated_since: Annotated[
            query.DateTimeText | None, Query(max_length=64, description="ISO-8601 time with a zone")
        ] = None,
        q: Annotated[
            str | None, Query(max_length=query.MAX_CHARS["q"], description="in the name")
        ] = None,
        cursor: Annotated[str | None, query.ItemCursor] = None,
        limit: Annotated[int, Query(ge=1, le=query.LIMIT_MAX)] = query.LIMIT_DEFAULT,
        min_position: Annotated[str | None, query.MinPosition] = None,
    ) -> Response:
        # hot_reads.HotReads answers the valid requests before they get here (same answers).
        where = item_filter(availability, min_price, max_price, updated_since, q, cursor, limit)
        await read_your_writes(min_position)
        return await reads.items(catalog_id, where)

    @app.get(
        "/v1/catalogs/{catalog_id}/items/{item_id}",
        response_model=None,
        responses={200: {"model": answers.Item}, **answers.problems(404, 504)},
    )
    async def item(
        catalog_id: str, item_id: str, min_position: Annotated[str | None, query.MinPosition] = None
    ) -> Response:
        # hot_reads.HotReads answers the valid requests before they get here (same answers).
        await read_your_writes(min_position)
        return await reads.item(catalog_id, item_id)

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
            200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
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

    @app.get(
        "/healthz",
        response_model=None,
        responses={200: {"model": answers.Status}, 503: {"model": answers.Status}},
    )
    async def healthz() -> Response:
        if runtime.failure is not None:
            return JSONResponse({"status": "failed", "error": runtime.failure}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get(
        "/readyz",
        response_model=None,
        responses={200: {"model": answers.Status}, 503: {"model": answers.Status}},
    )
    async def readyz() -> Response:
        if runtime.failure is not None:
            return JSONResponse({"status": "failed", "error": runtime.failure}, status_code=503)
        lag = runtime.projector.lag()
        if runtime.projector.ready(settings.ready_max_lag):
            return JSONResponse({"status": "ready", "lag": lag})
        return JSONResponse({"status": "catching up", "lag": lag}, status_code=503)

    admin_only = [Depends(admin_guard(settings))]
    admin_refusals = answers.problems(401, 403)

    @app.post(
        "/v1/admin/rebuild",
        status_code=202,
        dependencies=admin_only,
        response_model=answers.RebuildStatus,
        responses={**admin_refusals, **answers.problems(409)},
    )
    async def start_rebuild() -> dict[str, Any]:
        """Rebuild every view from the earliest offset while the current ones keep serving."""
        if not runtime.start_rebuild():
            raise HTTPException(409, "a rebuild is already running")
        await asyncio.sleep(0)  # let it name its generation
        return asdict(runtime.rebuild_status)

    @app.get(
        "/v1/admin/rebuild",
        dependencies=admin_only,
        response_model=answers.RebuildStatus,
        responses=admin_refusals,
    )
    async def rebuild_status() -> dict[str, Any]:
        return {
            **asdict(runtime.rebuild_status),
            "active_generation": runtime.store.name,
        }

    add_status_routes(app, runtime, settings, metrics)  # delivery statistics, status page

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _refuse_pruned(after: int, first_seq: int | None) -> None:
    """A reader resuming after a change the feed no longer holds would silently miss changes."""
    if after > 0 and first_seq is not None and after < first_seq - 1:
        raise HTTPException(
            410,
            f"changes after {after} were pruned (the feed starts at {first_seq}): "
            "resynchronise from the views, then follow the feed from its newest change",
        )
