"""The receiver's HTTP app: authenticate, read, validate, publish, and only then answer 200."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from catalog_contract.keys import product_key
from catalog_contract.writing import product_records
from receiver import openapi_doc
from receiver.auth import address_allowed, client_address, secret_matches
from receiver.errors import InvalidPostback, PublishFailed, UnreadableBody
from receiver.guard import LastResort
from receiver.intake import change_from_request, query_text
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Acknowledged, Publisher
from receiver.recent import LastWrites
from receiver.refusals import Refusals
from receiver.settings import ReceiverSettings
from runtime_support.problems import problem

log = logging.getLogger(__name__)

PATH = "/v1/postbacks/product-changes"


class BodyTooLarge(Exception):
    def __init__(self, prefix: bytes, length: int) -> None:
        self.prefix = prefix
        self.length = length  # at least; the rest was not read


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(b"", int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(bytes(body[:limit]), len(body))
    return bytes(body)


def _accepted(event_id: uuid.UUID, acks: list[Acknowledged]) -> bytes:
    """The 200 body: where Kafka put the event (`position` is what readers wait for).

    Rendered once to bytes, which the repeat window keeps (bytes cost the garbage collector
    nothing; a window of objects took ~30% of the CPU under load), so a repeat gets the same answer.
    """
    return json.dumps(
        {
            "event_id": str(event_id),
            "topic": acks[0].topic,
            "partition": acks[0].partition,
            "offset": acks[0].offset,
            "position": f"{acks[-1].partition}:{acks[-1].offset}",
        },
        separators=(",", ":"),
    ).encode()


def create_app(settings: ReceiverSettings, publisher: Publisher | None = None) -> FastAPI:
    kafka = publisher or Publisher(settings)
    metrics = ReceiverMetrics()
    recent = LastWrites(ttl_s=settings.recent_window_s, max_entries=50_000)

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

    app = FastAPI(title="catalog-stream receiver", version="1", lifespan=lifespan)
    app.add_middleware(LastResort, on_error=metrics.requests.labels("internal-error").inc)

    @app.exception_handler(HTTPException)
    async def http_problem(_: Request, exc: HTTPException) -> Response:
        """Starlette's own answers (404, 405) as problem documents too."""
        return problem(
            exc.status_code,
            "http-" + str(exc.status_code),
            str(exc.detail),
            str(exc.detail),
            headers=exc.headers,
        )

    def unavailable(detail: str) -> Response:
        metrics.requests.labels("unavailable").inc()
        return problem(
            503,
            "kafka-unavailable",
            "Try again later",
            detail,
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    refusals = Refusals(settings, kafka, metrics, unavailable)
    reject = refusals.refuse

    async def handle(request: Request) -> Response:
        if settings.allowed_networks:
            peer = request.client.host if request.client else None
            forwarded = request.headers.getlist("x-forwarded-for")
            address = client_address(peer, forwarded, settings.trusted_proxies)
            if not address_allowed(address, settings.allowed_networks):
                metrics.requests.labels("forbidden").inc()
                return problem(
                    403, "forbidden-address", "Address not allowed", f"{address} is not allowed"
                )
        presented = request.headers.get(settings.auth_header)
        if settings.secrets and not secret_matches(
            None if presented is None else presented.encode("latin-1"), settings.secrets
        ):
            metrics.requests.labels("unauthorized").inc()
            return problem(
                401,
                "unauthorized",
                "Not authenticated",
                f"missing or wrong {settings.auth_header} header",
            )
        if len(request.scope["query_string"]) > settings.max_body_bytes:
            return await reject(
                request,
                b"",
                414,
                "query-too-long",
                "Query string too long",
                f"query string exceeds {settings.max_body_bytes} bytes",
            )
        try:
            async with asyncio.timeout(settings.request_timeout_s):
                body = await _read_body(request, settings.max_body_bytes)
        except BodyTooLarge as too_large:
            return await reject(
                request,
                too_large.prefix,
                413,
                "body-too-large",
                "Body too large",
                f"body exceeds {settings.max_body_bytes} bytes",
                body_length=too_large.length,
            )
        except TimeoutError:
            metrics.requests.labels("timeout").inc()
            metrics.incomplete.labels("timeout").inc()
            log.warning("postback body not received within %ss", settings.request_timeout_s)
            return problem(408, "request-timeout", "Request timeout", "body not received in time")
        except ClientDisconnect:
            # Nobody is left to answer; the metric and the log line are the trace.
            metrics.requests.labels("disconnected").inc()
            metrics.incomplete.labels("disconnected").inc()
            log.warning("client disconnected before sending the whole body")
            return problem(400, "client-disconnected", "Client disconnected", "body incomplete")
        try:
            change = change_from_request(
                request.method,
                request.headers.get("content-type"),
                query_text(request.scope["query_string"]),
                body,
                datetime.now(UTC),
                settings.field_map,
                settings.max_future_skew,
            )
        except UnreadableBody as exc:
            slug = "unsupported-media-type" if exc.status == 415 else "unreadable-body"
            return await reject(request, body, exc.status, slug, "Cannot read the body", exc.reason)
        except InvalidPostback as exc:
            return await reject(
                request, body, 422, "invalid-postback", "Invalid postback", str(exc), exc
            )

        key = product_key(change.catalog_id, change.catalog_item_id)
        answer = recent.answer_for(key, change.event_id.bytes, time.monotonic())
        if answer is not None:
            metrics.duplicates.inc()
        else:
            records = product_records(change)
            started = time.perf_counter()
            try:
                acks = await kafka.publish(
                    settings.topic, records.key, *records.values, headers=records.headers
                )
            except PublishFailed as exc:
                log.warning("publish failed: %s", exc, extra={"event_id": str(change.event_id)})
                return unavailable(str(exc))
            metrics.produce_latency.observe(time.perf_counter() - started)
            answer = _accepted(change.event_id, acks)
            if log.isEnabledFor(logging.DEBUG):  # one line per postback is costly at thousands/s
                log.debug("postback accepted", extra={"event_id": str(change.event_id)})
            if settings.recent_window_s > 0:
                last = (acks[-1].partition, acks[-1].offset)
                recent.written(key, change.event_id.bytes, last, answer, time.monotonic())
        metrics.requests.labels("accepted").inc()
        if settings.success_body is not None:
            return PlainTextResponse(settings.success_body)
        return Response(answer, media_type="application/json")

    @app.post(PATH, openapi_extra=openapi_doc.POST_OPERATION)
    async def post_product_change(request: Request) -> Response:
        """Accept one product data change postback: a JSON, form or XML body."""
        return await measured(request)

    @app.get(PATH, openapi_extra=openapi_doc.GET_OPERATION)
    async def get_product_change(request: Request) -> Response:
        """Accept one product data change postback sent as query-string parameters."""
        return await measured(request)

    async def measured(request: Request) -> Response:
        metrics.in_flight.inc()
        try:
            with metrics.latency.time():
                return await handle(request)
        finally:
            metrics.in_flight.dec()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=None,
        responses={
            200: {"content": {"application/json": {"schema": openapi_doc.STATUS}}},
            503: openapi_doc.problem_answer("Kafka unreachable or topics missing."),
        },
    )
    async def readyz() -> dict[str, str] | Response:
        if await kafka.topics_present(settings.topic, settings.dead_letter_topic):
            return {"status": "ready"}
        return problem(503, "not-ready", "Not ready", "Kafka unreachable or topics missing")

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    openapi_doc.add_security_scheme(app.openapi(), settings.auth_header)  # FastAPI caches it
    return app
