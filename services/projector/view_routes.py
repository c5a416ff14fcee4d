"""The catalog views' read routes: `GET /v1/catalogs`, one catalog, its items, one item."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Response

from projector import answers, query
from projector.hot_reads import Reads, item_filter
from projector.rows import from_micros, price_text_of_units
from projector.runtime import Runtime


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


def add_view_routes(app: FastAPI, runtime: Runtime, reads: Reads) -> None:
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
