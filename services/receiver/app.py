"""The receiver's HTTP app: the routes and the lifespan. The postback flow itself (authenticate,
read, validate, publish, and only then answer 200) is `intake_flow.Intake`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver import openapi_doc
from receiver.answers import Accepted, kafka_unavailable
from receiver.guard import LastResort, failed
from receiver.intake_flow import Intake
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Publisher, Publishes
from receiver.recent import LastWrites
from receiver.refusals import Refusals
from receiver.settings import ReceiverSettings
from runtime_support import head_requests
from runtime_support.problems import http_problem_headers, problem

PATH = "/v1/postbacks/product-changes"


class ReceiverApp(FastAPI):
    """The receiver's FastAPI app, with POST postbacks going straight to `postbacks` (the intake
    behind LastResort): FastAPI's own stack (telemetry check, error and body-limit middleware,
    exception middleware, router, request handler) cost more CPU than the whole postback flow
    (the benchmark's profile), and adds nothing to this one route. The FastAPI route of the same
    path stays the documented one (OpenAPI) and serves everything else there (GET); a path under
    a root_path is left to FastAPI too."""

    postbacks: ASGIApp | None = None
    # Called by the server (receiver.main) when its shutdown begins: the shutdown budget counts
    # from there, for the postbacks in flight and the producer's flush alike.
    shutdown_begins: Callable[[], None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.postbacks is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == PATH
            and not scope.get("root_path")
        ):
            await self.postbacks(scope, receive, send)
        elif (
            scope["type"] == "http"
            and scope["method"] == "HEAD"
            and not scope["path"].endswith(PATH)
        ):
            # HEAD as GET without the body, except on the postback path, whose GET publishes
            # (a HEAD there stays a 405 naming GET and POST; a path ending in PATH under a
            # root_path is left to the router too).
            await head_requests.as_get(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _endpoint(intake: Intake, on_error: Callable[[], None]) -> ASGIApp:
    """The POST route under LastResort's rule (no exception reaches the server). The usual answer,
    a 200, is sent as its two messages directly: wrapping every `send` to learn whether the
    answer has started (LastResort.__call__) and Response.__call__ cost a frame or two each per
    postback, for an answer whose start is known here. Any other answer goes through LastResort."""

    async def postback(scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        try:
            answer = await intake.handle(Request(scope, receive))
            if answer.__class__ is Accepted:
                started = True  # (as LastResort: from the moment the start is handed over)
                await send(
                    {"type": "http.response.start", "status": 200, "headers": answer.raw_headers}
                )
                await send({"type": "http.response.body", "body": answer.body})
                return
        except Exception:
            await failed(scope, send, started, on_error)
            return
        await LastResort(answer, on_error)(scope, receive, send)

    return postback


def create_app(settings: ReceiverSettings, publisher: Publishes | None = None) -> ReceiverApp:
    kafka = publisher or Publisher(settings)
    metrics = ReceiverMetrics()
    unavailable = kafka_unavailable(metrics, settings.retry_after_s)
    refusals = Refusals(settings, kafka, metrics, unavailable)
    recent = LastWrites(ttl_s=settings.recent_window_s, max_entries=50_000)
    intake = Intake(settings, kafka, metrics, recent, refusals, unavailable)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await kafka.start()
        sweeper = asyncio.create_task(refusals.sweep_forever())
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await refusals.close()
        await kafka.stop()

    app = ReceiverApp(title="catalog-stream receiver", version="1", lifespan=lifespan)
    internal_error = metrics.requests.labels("internal-error").inc
    app.add_middleware(LastResort, on_error=internal_error)
    app.postbacks = _endpoint(intake, internal_error)
    if isinstance(kafka, Publisher):  # (a stand-in in tests and benchmarks: nothing to stop)
        app.shutdown_begins = kafka.stopping

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, exc: HTTPException) -> Response:
        """Starlette's own answers (404, 405) as problem documents too."""
        return problem(
            exc.status_code,
            "http-" + str(exc.status_code),
            str(exc.detail),
            str(exc.detail),
            headers=http_problem_headers(request, exc),
        )

    @app.post(PATH, openapi_extra=openapi_doc.POST_OPERATION)
    async def post_product_change(request: Request) -> Response:
        """Accept one product data change postback: a JSON, form or XML body."""
        return await intake.handle(request)

    @app.get(PATH, openapi_extra=openapi_doc.GET_OPERATION)
    async def get_product_change(request: Request) -> Response:
        """Accept one product data change postback sent as query-string parameters."""
        return await intake.handle(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", response_model=None, responses=openapi_doc.READYZ_RESPONSES)
    async def readyz() -> dict[str, str] | Response:
        if await kafka.topics_present(settings.topic, settings.dead_letter_topic):
            return {"status": "ready"}
        return problem(503, "not-ready", "Not ready", "Kafka unreachable or topics missing")

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    openapi_doc.add_security_scheme(app.openapi(), settings.auth_header)  # FastAPI caches it
    # After the document is made: it shows GET only (HEAD is implied by GET).
    head_requests.allow_head(app, unsafe_gets=frozenset({PATH}))
    return app
