"""Refused postbacks: each is kept in the dead-letter topic (once per repeat window) before it is
answered, and the repeats the window counted are written as small tally records when it lets
them go. A refusal that cannot be kept is answered 503, so the platform sends it again."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from catalog_contract import dead_letters
from receiver.deadletter import dead_letter, repeat_key, tally_record
from receiver.errors import FieldProblem, InvalidPostback, PublishFailed
from receiver.intake import query_text
from receiver.metrics import ReceiverMetrics
from receiver.publisher import Publishes
from receiver.repeats import RepeatWindow, Tally
from receiver.settings import ReceiverSettings
from runtime_support.problems import problem

log = logging.getLogger(__name__)


def _dead_lettered_receipt(
    request_id: str,
    status: int,
    reason: str,
    problems: list[FieldProblem] | None,
    settings: ReceiverSettings,
) -> Response:
    """Accept mode's 200: the postback is kept in the dead-letter topic, NOT published; the
    header says so even when the platform expects a fixed success body."""
    headers = {"X-Dead-Lettered": request_id}
    if settings.success_body is not None:
        return PlainTextResponse(settings.success_body, headers=headers)
    receipt = {
        "dead_lettered": True,
        "published": False,
        "request_id": request_id,
        "status": status,
        "reason": reason,
        "errors": [{"field": p.field, "reason": p.reason} for p in problems or ()],
    }
    return JSONResponse(receipt, headers=headers)


class Refusals:
    """The receiver's one path for every refusal that is kept (400, 413, 415, 422)."""

    def __init__(
        self,
        settings: ReceiverSettings,
        kafka: Publishes,
        metrics: ReceiverMetrics,
        unavailable: Callable[[str], Response],
    ) -> None:
        self._settings = settings
        self._kafka = kafka
        self._metrics = metrics
        self._unavailable = unavailable
        self._repeats = RepeatWindow(
            self._settings.dead_letter_repeat_window_s,
            self._settings.dead_letter_repeat_max_entries,
        )
        # Writes in flight by repeat key (as many as requests in flight), so identical refusals
        # that arrive together are written once.
        self._writing: dict[bytes, asyncio.Future[None]] = {}

    async def refuse(
        self,
        request: Request,
        body: bytes,
        status: int,
        slug: str,
        title: str,
        detail: str,
        exc: InvalidPostback | None = None,
        *,
        body_length: int | None = None,
    ) -> Response:
        """Keep the refused request in the dead-letter topic (once per repeat window), then say
        why; if it can't be kept, answer 503 so the platform sends it again."""
        query = query_text(request.scope["query_string"])
        problems = exc.problems if exc else None
        letter = dead_letter(
            request_id=str(uuid.uuid4()),
            received_at=datetime.now(UTC),
            method=request.method,
            query=query,
            headers=dict(request.headers),
            secret_header=self._settings.auth_header,
            secrets=[secret.get_secret_value() for secret in self._settings.secrets],
            body=body,
            status=status,
            reason=detail,
            problems=problems,
            kind=slug,
            body_length=body_length,
        )
        key = repeat_key(letter)
        request_id = self._repeats.repeat(key, time.monotonic(), time.time())
        writing = self._writing.get(key) if self._repeats.enabled else None
        if request_id is None and writing is not None:
            # An identical refusal is being written: wait for it, and count this as its repeat.
            await asyncio.shield(writing)
            request_id = self._repeats.repeat(key, time.monotonic(), time.time())
            if request_id is None:  # that write failed: nothing of this request is kept
                return self._unavailable("could not keep the refused postback")
        if request_id is not None:
            self._metrics.dead_letter_repeats.inc()
        else:
            request_id = letter.request_id
            done = self._writing[key] = asyncio.get_running_loop().create_future()
            try:
                await self._kafka.publish(
                    self._settings.dead_letter_topic, None, dead_letters.encode(letter)
                )
            except PublishFailed as failure:
                log.error("dead-letter write failed: %s", failure)
                return self._unavailable(f"could not keep the refused postback: {failure}")
            else:
                self._repeats.add(key, request_id, status, slug, time.monotonic())
            finally:
                if self._writing.get(key) is done:  # (with no window, writes are not joined)
                    del self._writing[key]
                done.set_result(None)
            self._metrics.dead_lettered.inc()
            log.info(
                "postback refused",
                extra={"status": status, "reason": letter.reason, "request_id": request_id},
            )
        self._metrics.requests.labels(slug).inc()
        # A body not kept whole (a 413) cannot be re-driven: accepting it would lose it.
        if self._settings.invalid_answer == "accept" and not letter.truncated:
            return _dead_lettered_receipt(request_id, status, detail, problems, self._settings)
        return problem(status, slug, title, detail, errors=problems, request_id=request_id)

    async def _write_tallies(self, tallies: list[Tally]) -> None:
        """One small record per request whose repeats were counted; a failure loses only the
        record (the repeats metric has them), so it is logged and counted, not retried. After
        one failure the rest are counted as failed without trying: each try could wait the whole
        produce time-out, which would hold a shutdown for hours with Kafka gone."""
        self._metrics.dead_letter_tallies_failed.inc(self._repeats.take_dropped())
        for done, tally in enumerate(tallies):
            record = tally_record(
                request_id=str(uuid.uuid4()),
                received_at=datetime.now(UTC),
                repeat_of=tally.request_id,
                status=tally.status,
                repeats=tally.repeats,
                last_seen_at=tally.last_seen_at,
            )
            try:
                await self._kafka.publish(self._settings.dead_letter_topic, None, record)
            except PublishFailed as failure:
                self._metrics.dead_letter_tallies_failed.inc(len(tallies) - done)
                log.warning("%d repeat tallies not written: %s", len(tallies) - done, failure)
                return

    async def sweep_forever(self) -> None:
        """Write the tallies of entries that left the window, at least once a minute."""
        window = self._settings.dead_letter_repeat_window_s
        if window <= 0:
            return  # nothing is ever counted
        every = max(0.05, min(60.0, window / 2))
        while True:
            await asyncio.sleep(every)
            await self._write_tallies(self._repeats.closed(time.monotonic()))

    async def close(self) -> None:
        """At shutdown: write every tally still open."""
        await self._write_tallies(self._repeats.drain())
