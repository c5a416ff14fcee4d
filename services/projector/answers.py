"""The read API's answers as OpenAPI documents them. Documentation only: the routes build their
JSON from stored rows (rows.item_json) without validating it through these models, which would
cost more than the query; the schemathesis test checks every answer against them instead."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        default=None, description="each refused parameter (`field`) and the `reason`"
    )


class Item(BaseModel):
    catalog_id: str
    item_id: str
    name: str | None
    description: str | None
    manufacturer: str | None
    category: str | None
    labels: list[str] | None
    url: str | None
    mobile_url: str | None
    image_url: str | None
    additional_image_urls: list[str] | None
    current_price: str | None = Field(description="exact decimal text, e.g. 12.99")
    original_price: str | None
    discount_percentage: int | None
    currency: str | None
    stock_availability: str | None
    gtin: str | None
    mpn: str | None
    sku: str | None
    source_updated_at: str | None
    received_at: str | None
    last_event_id: str | None
    revision: int = Field(description="events applied to this item")
    sale_ends_at: str | None
    shipping_cost: str | None
    position: str = Field(description="`<partition>:<offset>` of the item's last event")


class ItemsPage(BaseModel):
    items: list[Item]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class Catalog(BaseModel):
    catalog_id: str
    item_count: int
    in_stock: int
    out_of_stock: int
    min_price: str | None
    max_price: str | None
    last_change_at: str | None


class CatalogsPage(BaseModel):
    catalogs: list[Catalog]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


class Change(BaseModel):
    seq: int
    kind: str
    catalog_id: str
    item_id: str
    old: str | None
    new: str | None
    event_id: str | None
    partition: int = Field(
        description="the record's; -1 for a change no record says (an item a rebuild of a "
        "recreated topic dropped: event_id null)"
    )
    offset: int = Field(description="the record's; -1 as partition")


class ChangesPage(BaseModel):
    changes: list[Change]
    next_after: int = Field(description="pass as `after` to continue (also past unmatched changes)")


class FirstCatchUp(BaseModel):
    applied: int = Field(description="records the parts loaded so far")
    target: int = Field(description="the partitions' ends seen at start, added up")
    started_at: float


class RebuildStatus(BaseModel):
    state: str
    generation: str
    applied: int
    target: int
    started_at: float | None
    finished_at: float | None
    error: str | None
    active_generation: str | None = None
    first_catch_up: FirstCatchUp | None = Field(
        default=None,
        description="the first catch-up in parts, while it loads the topic into the active "
        "generation (a rebuild is refused until it ends); null otherwise",
    )


class Status(BaseModel):
    status: str
    lag: int | None = None
    past_last_stable_offset: int | None = Field(
        default=None,
        description="records past the last stable offsets, which another producer's open "
        "transaction holds back until it ends (absent when none)",
    )
    error: str | None = Field(default=None, description="why the live consumer stopped")


def problems(*statuses: int) -> dict[int | str, dict[str, object]]:
    """`responses=` entries for problem answers (`problem_media_type` gives them their type)."""
    return {status: {"model": Problem} for status in statuses}


def problem_media_type(document: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx answer in the OpenAPI document is a Problem as `application/problem+json`
    (FastAPI documents them as application/json, and its own 422 with another schema)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = Problem.model_json_schema()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }
    return document
