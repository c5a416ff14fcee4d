"""Building events for tests, the way the receiver does (content-derived ids)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from catalog_contract.dead_letters import DeadLetter
from catalog_contract.events import Availability, ChangeType, ProductChange
from receiver.postback import event_id_for

BASE_TIME = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def change(
    item: str = "sku-1",
    catalog: str = "42",
    *,
    minute: int | None = 0,
    price: str | None = None,
    stock: Availability | None = None,
    kind: ChangeType = ChangeType.UPDATED,
    **fields: Any,
) -> ProductChange:
    content: dict[str, Any] = {
        "catalog_id": catalog,
        "catalog_item_id": item,
        "change_type": kind,
        "source_updated_at": None if minute is None else BASE_TIME + timedelta(minutes=minute),
        "current_price": None if price is None else Decimal(price).quantize(Decimal("0.0001")),
        "stock_availability": stock,
        **fields,
    }
    return ProductChange(
        event_id=event_id_for(content),
        received_at=BASE_TIME + timedelta(minutes=minute or 0, seconds=1),
        **content,
    )


def replace(event: ProductChange, **fields: Any) -> ProductChange:
    return dataclasses.replace(event, **fields)


def refused(body: bytes = b'{"CurrentPrice": "12,99 \xe2\x82\xac"}', **fields: Any) -> DeadLetter:
    """A dead letter as the receiver keeps a 422 (a price with a decimal comma)."""
    values: dict[str, Any] = {
        "request_id": "r1",
        "received_at": BASE_TIME,
        "method": "POST",
        "query": "",
        "content_type": "application/json",
        "headers": (("content-type", "application/json"),),
        "body": body,
        "body_length": len(body),
        "status": 422,
        "kind": "invalid-postback",
        "reason": "CurrentPrice: not a decimal price: '12,99 €'",
        "problems": (("CurrentPrice", "not a decimal price: '12,99 €' (expected e.g. '12.99')"),),
        **fields,
    }
    return DeadLetter(**values)


# Dead letters of the operations commands' tests: a refused price, a body that is no JSON, and
# the repeat tallies the receiver writes for identical retries of a refusal.
DEAD_LETTER_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PRICE_REFUSAL = refused(
    b'{"CatalogId": "7", "CatalogItemId": "a", "CurrentPrice": "12,99 \xe2\x82\xac"}',
    received_at=DEAD_LETTER_AT,
)
BODY_REFUSAL = dataclasses.replace(
    PRICE_REFUSAL,
    request_id="r3",
    received_at=DEAD_LETTER_AT + timedelta(minutes=5),
    body=b"{",
    body_length=1,
    status=400,
    kind="unreadable-body",
    reason="body is not valid JSON: Expecting property name enclosed in double quotes",
    problems=(),
)


def repeat_tally(of: str, repeats: int, minutes: int) -> DeadLetter:
    """The tally of `repeats` retries of record `of`, the last `minutes` after DEAD_LETTER_AT."""
    return dataclasses.replace(
        PRICE_REFUSAL,
        request_id=f"t-{of}",
        kind="repeats",
        body=b"",
        body_length=0,
        problems=(),
        repeat_of=of,
        repeats=repeats,
        last_seen_at=DEAD_LETTER_AT + timedelta(minutes=minutes),
    )
