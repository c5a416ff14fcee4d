"""The receiver's one flow, from request to answer: check the caller (address, credential),
read the body within its limits, turn it into a validated ProductChange (`intake`), answer an
exact repeat from the window, publish the change and answer 200 only once Kafka acknowledged it.
Every refusal that is kept goes through `Refusals`; Kafka being away is a 503.

No routes here (app.py maps them onto `Intake.handle`) and no broker: the publisher is injected,
so the whole status table is tested with a recording one (tests/unit/test_receiver_intake.py).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from catalog_contract.keys import product_key
from catalog_contract.positions import position_text
from catalog_contract.writing import product_records
from receiver.auth import address_allowed, client_address, secret_matches
from receiver.errors import InvalidPostback, PublishFailed, UnreadableBody
from receiver.in_flight import InFlight
from receiver.intake import change_from_request, query_text
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Acknowledged, Publishes
from receiver.recent import LastWrites
from receiver.refusals import Refusals
from receiver.settings import ReceiverSettings
from receiver.time_limits import TimeLimit
from runtime_support.problems import problem

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    def __init__(self, prefix: bytes, length: int) -> None:
        self.prefix = prefix
        self.length = length  # at least; the rest was not read


class Wanted:
    """The request headers the flow reads, found in one pass over the raw list, each the first
    of its (lower-case) name: what Starlette's `request.headers.get` gave, at a third of the
    cost of three look-ups (each lowers, encodes and scans, and a missing one raises inside)."""

    __slots__ = ("content_length", "content_type", "credential")

    def __init__(self, raw: list[tuple[bytes, bytes]], credential_header: bytes) -> None:
        credential = content_type = content_length = None
        for name, value in raw:
            if name == credential_header:
                if credential is None:
                    credential = value
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"content-length" and content_length is None:
                content_length = value
        self.credential: bytes | None = credential  # the bytes as sent
        self.content_type = None if content_type is None else content_type.decode("latin-1")
        self.content_length = "" if content_length is None else content_length.decode("latin-1")


def _is_length(declared: str) -> bool:
    return declared.isascii() and declared.isdigit() and len(declared) <= _LENGTH_DIGITS


_LENGTH_DIGITS = 18  # up to an exabyte less one: any real length, and int() reads it


async def read_body(request: Request, limit: int, declared: str) -> bytes:
    """The body, from the ASGI messages as `request.stream()` reads them (ClientDisconnect when
    the client leaves first), without its async generator; a body in one message (the usual
    case) is returned as it came, not copied."""
    # Only plain ASCII digits of a sane length are a length (str.isdigit() also says yes to
    # "²", and int() refuses text of over 4300 digits): anything else, the body read decides.
    if _is_length(declared) and int(declared) > limit:
        raise BodyTooLarge(b"", int(declared))
    receive = request.receive
    body = b""
    gathered: bytearray | None = None
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                if gathered is None and not body:
                    body = chunk
                else:
                    if gathered is None:
                        gathered = bytearray(body)
                    gathered += chunk
                size = len(body) if gathered is None else len(gathered)
                if size > limit:
                    whole = body if gathered is None else gathered
                    raise BodyTooLarge(bytes(whole[:limit]), size)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
    return bytes(body if gathered is None else gathered)


@cache
def _json_string(text: str) -> bytes:
    return json.dumps(text).encode()


def accepted_body(event_id: uuid.UUID, acks: list[Acknowledged]) -> bytes:
    """The 200 body: where Kafka put the event (`position` is what readers wait for).

    Rendered once to bytes, which the repeat window keeps (bytes cost the garbage collector
    nothing; a window of objects took ~30% of the CPU under load), so a repeat gets the same answer.
    Formatted directly (json.dumps of the dict cost ~6 µs a postback): only the topic name is
    text from outside, and it is written as JSON (once per topic).
    """
    first, last = acks[0], acks[-1]
    return b'{"event_id":"%s","topic":%s,"partition":%d,"offset":%d,"position":"%s"}' % (
        str(event_id).encode(),
        _json_string(first.topic),
        first.partition,
        first.offset,
        position_text(last.partition, last.offset).encode(),
    )


class Accepted(Response):
    """The 200 with its JSON body: the headers Response(body, media_type=JSON) sets, in its
    order, set directly (Response's own set-up walks its general case at every postback)."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]


def kafka_unavailable(metrics: ReceiverMetrics, retry_after_s: int) -> Callable[[str], Response]:
    """The 503 answer (the platform sends the postback again later), counted."""

    def unavailable(detail: str) -> Response:
        metrics.requests.labels("unavailable").inc()
        return problem(
            503,
            "kafka-unavailable",
            "Try again later",
            detail,
            headers={"Retry-After": str(retry_after_s)},
        )

    return unavailable


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
