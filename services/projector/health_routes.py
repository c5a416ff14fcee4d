"""Liveness and readiness (`/healthz`, `/readyz`) and the Prometheus scrape (`/metrics`)."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from projector import answers
from projector.metrics import ProjectorMetrics
from projector.rebuild_status import RebuildStatus
from projector.runtime import Runtime
from projector.settings import ProjectorSettings


def add_health_routes(app: FastAPI, runtime: Runtime, settings: ProjectorSettings) -> None:
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
        # A defect no retry mends (the generation pointer broken): the watch's (generation_follower)
        # or the live consumer's, whose batches the store then refuses.
        if (defect := runtime.follower.defect or runtime.projector.defect) is not None:
            return JSONResponse({"status": "not ready", "error": defect}, status_code=503)
        if (behind := runtime.projector.topic_behind()) is not None:  # until a rebuild
            return JSONResponse({"status": "not ready", "error": behind}, status_code=503)
        if (loading := _first_load(runtime)) is not None:  # a first catch-up in parts
            # What the parts have left to load (none once merged).
            lag = 0 if loading.state == "done" else max(0, loading.target - loading.applied)
            # Ready as the live path is: once the views are at most `ready_max_lag` behind.
            # They hold none of the parts' records before the merge commits (and on a long
            # topic the merge takes seconds), so they are behind by all of them (the target)
            # however far the parts are: ready only where that much lag is allowed. Once
            # merged, the same answer until the live consumer knows its ends: no flap.
            if loading.target <= settings.ready_max_lag:
                return JSONResponse({"status": "ready", "lag": lag})
            return JSONResponse({"status": "catching up", "lag": lag}, status_code=503)
        lag = runtime.projector.lag()
        answer: dict[str, object] = {"lag": lag}
        if past := runtime.projector.records_past_stable():  # held by an open transaction
            answer["past_last_stable_offset"] = past
        if runtime.projector.ready(settings.ready_max_lag):
            return JSONResponse({"status": "ready", **answer})
        return JSONResponse({"status": "catching up", **answer}, status_code=503)


def _first_load(runtime: Runtime) -> RebuildStatus | None:
    """The first catch-up in parts while it loads, and once merged until the live consumer
    knows its ends (its first fetches, seconds after it starts: meanwhile the live path said
    503 "catching up", lag 0, just as the views became complete). The live consumer clears it
    then (LiveConsumer._start_live); from then on it answers, for good. Only read here."""
    return runtime.first_load if runtime.first_load is not None else runtime.first_loaded


def add_metrics_route(app: FastAPI, metrics: ProjectorMetrics) -> None:
    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
