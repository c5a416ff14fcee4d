"""The read API's query parameters as OpenAPI documents them (FastAPI declarations). Their
values are parsed by `params`, whose patterns these share, so the document and the parser agree."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import WithJsonSchema

from catalog_contract.events import Availability
from projector import params
from projector.item_state import ChangeKind

# Bounds the documented routes declare and hot_reads (which answers the valid requests first)
# checks: one copy, so the two routes cannot disagree on what is valid.
LIMIT_DEFAULT, LIMIT_MAX = 100, 1000
MAX_CHARS = {"availability": 32, "q": 200, "cursor": 4096}

ItemCursor = Query(max_length=MAX_CHARS["cursor"], description="page after this id (`next_cursor`)")
MinPosition = Query(
    max_length=40,
    pattern=f"^{params.POSITION_PATTERN}$",
    description=(
        "`<partition>:<offset>` the receiver returned: wait until the view has it"
        " (a partition the topic does not have: 422 at once)"
    ),
)
Price = Query(max_length=32, pattern=f"^{params.PRICE_PATTERN}$", description="e.g. 12.99")
# Parsed by params.moment_micros (pydantic's datetime takes times without a zone, and numbers).
DateTimeText = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 64})
]
# Documented in capitals; any case is read (params.availability).
AvailabilityText = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "enum": [a.value for a in Availability if a is not Availability.UNKNOWN]}
    ),
]
Kinds = Annotated[list[ChangeKind] | None, Query(max_length=12, description="kinds to include")]
