"""The projector's HTTP read API, for other services. The consumer runs in the same process.
The routes live in modules by group: views, feed, health, admin, status page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from projector import answers, problems
from projector.admin import add_admin_routes
from projector.feed_routes import add_feed_routes
from projector.generations import Generations
from projector.health_routes import add_health_routes, add_metrics_route
from projector.hot_reads import HotReads, Reads
from projector.metrics import ProjectorMetrics
from projector.middleware import FreshHeaders, FreshnessHeaders, QueryLimit
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.status_routes import add_status_routes
from projector.view_routes import add_view_routes
from runtime_support import head_requests


class ReadApi(FastAPI):
    """FastAPI, with the hot read routes (hot_reads) asked first: they answer before its
    middleware stack and router, or leave the request to them untouched. HEAD is answered as
    GET without the body (head_requests)."""

    hot_reads: HotReads | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            await head_requests.as_get(self._answer, scope, receive, send)
        else:
            await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_reads is None or not await self.hot_reads(scope, receive, send):
            await super().__call__(scope, receive, send)


def create_app(
    settings: ProjectorSettings,
    generations: Generations,
    run_consumer: bool = True,
    on_failure: Callable[[], None] | None = None,
) -> ReadApi:
    """`on_failure` is called if the live consumer or the generation watch dies (the server
    should then exit)."""
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
        responses=answers.problems(414, 422, 500, 503),
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

    # Registered in this order, which is also the OpenAPI document's.
    add_view_routes(app, runtime, reads)
    add_feed_routes(app, runtime, settings)
    add_health_routes(app, runtime, settings)
    add_admin_routes(app, runtime, settings)
    add_status_routes(app, runtime, settings, metrics)  # delivery statistics, status page
    add_metrics_route(app, metrics)
    # HEAD wherever GET is answered; the document is made first, with the GETs only (HEAD is
    # implied by GET, and FastAPI would give each HEAD its GET's operation id).
    app.openapi()
    head_requests.allow_head(app)
    return app
