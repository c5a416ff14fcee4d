"""The delivery statistics' routes and the status page: `GET /v1/catalogs/{id}/delivery`,
`GET /v1/delivery` (every catalog), `GET /` (HTML), and their Prometheus collector."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from catalog_contract.lag import partition_lags
from projector import answers
from projector.dead_letter_count import DeadLetterCount
from projector.delivery import CatalogDelivery, DelayStats
from projector.delivery_metrics import DeliveryCollector
from projector.metrics import ProjectorMetrics
from projector.runtime import Runtime
from projector.settings import ProjectorSettings
from projector.status_page import StatusView, render, state

RECENT_CHANGES = 20


def _stats_json(stats: DelayStats) -> dict[str, Any]:
    return {
        "received": stats.received,
        "with_delay": stats.with_delay,
        "delay_p50_s": stats.p50_s,
        "delay_p95_s": stats.p95_s,
        "delay_p99_s": stats.p99_s,
        "later_than_10m": stats.later_than_10m,
        "later_than_1h": stats.later_than_1h,
    }


def delivery_json(delivery: CatalogDelivery) -> dict[str, Any]:
    last = delivery.last_received_s
    return {
        "catalog_id": delivery.catalog_id,
        "state": state(delivery),
        "received_since_start": delivery.received_total,
        "last_received_at": None if last is None else datetime.fromtimestamp(last, UTC).isoformat(),
        "last_hour": _stats_json(delivery.last_hour),
        "last_day": _stats_json(delivery.last_day),
    }


def add_status_routes(
    app: FastAPI, runtime: Runtime, settings: ProjectorSettings, metrics: ProjectorMetrics
) -> None:
    metrics.registry.register(DeliveryCollector(runtime.delivery))
    dead_letters = DeadLetterCount(settings, settings.receiver_dead_letter_topic)

    @app.get("/v1/delivery")
    async def delivery_summary() -> dict[str, Any]:
        """Every tracked catalog (at most delivery_max_catalogs, then `_other`)."""
        now = time.time()
        found = runtime.delivery.deliveries(now)
        return {
            "catalogs": [delivery_json(d) for d in found],
            "late": [d.catalog_id for d in found if d.late()],
            "silent": [d.catalog_id for d in found if d.silent()],
            "per_minute_last_hour": runtime.delivery.per_minute(now),
            "max_catalogs": runtime.delivery.max_catalogs,
        }

    @app.get("/v1/catalogs/{catalog_id}/delivery", responses=answers.problems(404))
    async def catalog_delivery(catalog_id: str) -> dict[str, Any]:
        found = runtime.delivery.delivery(catalog_id, time.time())
        if found is None:
            raise HTTPException(
                404,
                f"no postbacks counted for catalog {catalog_id!r} since the projector started "
                f"(catalogs beyond the first {runtime.delivery.max_catalogs} count as '_other')",
            )
        return delivery_json(found)

    @app.get("/", response_class=HTMLResponse)
    async def status_page() -> HTMLResponse:
        store, live = runtime.store, runtime.projector
        catalogs, last_seq = await asyncio.gather(
            asyncio.to_thread(store.catalogs), asyncio.to_thread(store.last_change_seq)
        )
        recent = await asyncio.to_thread(
            store.changes, max(0, last_seq - RECENT_CHANGES), [], RECENT_CHANGES
        )
        now = time.time()
        view = StatusView(
            now_s=now,
            partitions=partition_lags(live.end_offsets, live.applied),
            ready=live.ready(settings.ready_max_lag),
            dead_letters=await dead_letters.current(),
            restatements=int(
                sum(
                    sample.value
                    for family in metrics.restatements.collect()
                    for sample in family.samples
                    if sample.name.endswith("_total")
                )
            ),
            per_minute=runtime.delivery.per_minute(now),
            deliveries=runtime.delivery.deliveries(now),
            catalogs=catalogs,
            recent_changes=list(reversed(recent)),
            last_seq=last_seq,
            restatements_owed=len(live.owed.keys or ()) if live.owed is not None else 0,
        )
        return HTMLResponse(render(view), headers={"Cache-Control": "no-store"})
