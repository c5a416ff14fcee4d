"""The receiver's one flow, from request to answer: check the caller (address, credential),
read the body within its limits, turn it into a validated ProductChange (`intake`), answer an
exact repeat from the window, publish the change and answer 200 only once Kafka acknowledged it.
Every refusal that is kept goes through `Refusals`; Kafka being away is a 503.

No routes here (app.py maps them onto `Intake.handle`) and no broker: the publisher is injected,
so the whole status table is tested with a recording one (tests/unit/test_receiver_intake.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from catalog_contract.keys import product_key
from catalog_contract.writing import product_records
from receiver.answers import Accepted, accepted_body
from receiver.auth import address_allowed, client_address, secret_matches
from receiver.errors import InvalidPostback, PublishFailed, UnreadableBody
from receiver.in_flight import InFlight
from receiver.intake import change_from_request, query_text
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Publishes
from receiver.recent import LastWrites
from receiver.refusals import Refusals
from receiver.request_reading import BodyTooLarge, Wanted, read_body
from receiver.settings import ReceiverSettings
from receiver.time_limits import TimeLimit
from runtime_support.problems import problem

log = logging.getLogger(__name__)


class Intake:
    """One postback, body to producer to answer (`handle`)."""

    def __init__(
        self,
        settings: ReceiverSettings,
        publisher: Publishes,
        metrics: ReceiverMetrics,
        recent: LastWrites,
        refusals: Refusals,
        unavailable: Callable[[str], Response],
    ) -> None:
        self._settings = settings
        self._kafka = publisher
        self._metrics = metrics
        self._recent = recent
        self._refusals = refusals
        self._unavailable = unavailable
        self._body_time = TimeLimit(settings.request_timeout_s)
        self._credential_header = settings.auth_header.lower().encode("latin-1")
        self._max_future_skew = settings.max_future_skew  # (a property: a new timedelta a call)
        # Repeats answered without a second write (the window; the same postback in flight).
        self._repeats = settings.recent_window_s > 0
        self._in_flight = InFlight()

    async def handle(self, request: Request) -> Response:
        """The flow, timed and counted in flight."""
        metrics = self._metrics
        metrics.handling += 1
        started = time.perf_counter()
        try:
            return await self._handle(request)
        finally:
            metrics.latency.observe(time.perf_counter() - started)
            metrics.handling -= 1

    def _refused_caller(self, request: Request, credential: bytes | None) -> Response | None:
        """403 for an address not allowed, 401 for a missing or wrong credential (neither kept:
        nothing of an unauthenticated request is written anywhere)."""
        settings, metrics = self._settings, self._metrics
        if settings.allowed_networks:
            peer = request.client.host if request.client else None
            forwarded = request.headers.getlist("x-forwarded-for")
            address = client_address(peer, forwarded, settings.trusted_proxies)
            if not address_allowed(address, settings.allowed_networks):
                metrics.requests.labels("forbidden").inc()
                return problem(
                    403, "forbidden-address", "Address not allowed", f"{address} is not allowed"
                )
        if settings.secrets and not secret_matches(credential, settings.secrets):
            metrics.requests.labels("unauthorized").inc()
            return problem(
                401,
                "unauthorized",
                "Not authenticated",
                f"missing or wrong {settings.auth_header} header",
            )
        return None

    async def _handle(self, request: Request) -> Response:
        settings, metrics, reject = self._settings, self._metrics, self._refusals.refuse
        wanted = Wanted(request.scope["headers"], self._credential_header)
        refused = self._refused_caller(request, wanted.credential)
        if refused is not None:
            return refused
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
            with self._body_time():
                body = await read_body(request, settings.max_body_bytes, wanted.content_length)
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
                wanted.content_type,
                query_text(request.scope["query_string"]),
                body,
                datetime.now(UTC),
                settings.field_map,
                self._max_future_skew,
            )
        except UnreadableBody as exc:
            slug = "unsupported-media-type" if exc.status == 415 else "unreadable-body"
            return await reject(request, body, exc.status, slug, "Cannot read the body", exc.reason)
        except InvalidPostback as exc:
            return await reject(
                request, body, 422, "invalid-postback", "Invalid postback", str(exc), exc
            )

        key = product_key(change.catalog_id, change.catalog_item_id)
        event_id = change.event_id.bytes
        answer = None
        if self._repeats:
            flight = self._in_flight.last(key)
            if flight is None:  # nothing of the product in flight: the window may answer
                answer = self._recent.answer_for(key, event_id, time.monotonic())
            elif flight.event_id == event_id:  # the same postback is being written: its outcome
                shared = await flight.outcome()
                if isinstance(shared, str):  # it failed: nothing of ours is written either
                    return self._unavailable(shared)
                answer = shared
            # (else a newer change of the product is in flight: a repeat of an older one is
            # a change again, written after it, whatever the window remembers)
        if answer is not None:
            metrics.duplicates.inc()
        else:
            records = product_records(change)
            started = time.perf_counter()
            outcome: bytes | str = "the write of the same postback ended unexpectedly"
            flight = self._in_flight.begin(key, event_id) if self._repeats else None
            position = (0, 0)
            try:
                acks = await self._kafka.publish(
                    settings.topic, records.key, *records.values, headers=records.headers
                )
                metrics.produce_latency.observe(time.perf_counter() - started)
                position = (acks[-1].partition, acks[-1].offset)
                answer = outcome = accepted_body(change.event_id, acks)
                if log.isEnabledFor(logging.DEBUG):  # a line per postback is costly at 1,000s/s
                    log.debug("postback accepted", extra={"event_id": str(change.event_id)})
            except PublishFailed as exc:
                log.warning("publish failed: %s", exc, extra={"event_id": str(change.event_id)})
                outcome = str(exc)
                return self._unavailable(outcome)
            finally:
                # However the write ended, its waiters are answered; only the product's last
                # begun write says what the window keeps (an earlier one is before it on the
                # topic), and a failed one's record may still land: the window forgets.
                if flight is not None and self._in_flight.end(key, flight, outcome):
                    if isinstance(outcome, bytes):
                        self._recent.written(key, event_id, position, outcome, time.monotonic())
                    else:
                        self._recent.failed(key)
        metrics.accepted.inc()
        if settings.success_body is not None:
            return PlainTextResponse(settings.success_body)
        return Accepted(answer)
