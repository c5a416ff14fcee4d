"""ItemState <-> a flat table row, and rows -> the JSON the read API returns. Pure.

Prices are stored as integers of 1/10,000 (the schema's scale): exact, and sortable in SQL.
Times are stored as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from catalog_contract.events import PRICE_SCALE, Availability, availability_of
from catalog_contract.frozen_build import field_names
from catalog_contract.item_fields import ITEM_FIELDS, FieldKind, ItemField
from catalog_contract.positions import position_text
from projector.item_state import ItemState, Removed, build_state, newest_event_id


def item_column_kinds(fields: Sequence[ItemField]) -> dict[str, FieldKind]:
    """An item's stored columns and their kinds, in the table's order: the key, schema v1's
    fields, where the state came from, then each later version's fields (added to existing
    tables by ALTER TABLE, hence last)."""
    return {
        "catalog_id": FieldKind.TEXT,
        "item_id": FieldKind.TEXT,
        **{field.name: field.kind for field in fields if field.since == 1},
        "source_updated_at": FieldKind.TIME,
        "received_at": FieldKind.TIME,
        "last_event_id": FieldKind.TEXT,
        "partition": FieldKind.INTEGER,
        "offset": FieldKind.LONG,
        "revision": FieldKind.LONG,
        **{field.name: field.kind for field in fields if field.since > 1},
    }


ITEM_COLUMN_KINDS = item_column_kinds(ITEM_FIELDS)
ITEM_COLUMNS: tuple[str, ...] = tuple(ITEM_COLUMN_KINDS)
_PRICES = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.PRICE)
_LISTS = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.LIST)
_TIMES = tuple(c for c, kind in ITEM_COLUMN_KINDS.items() if kind is FieldKind.TIME)


def price_units(price: Decimal | None) -> int | None:
    return None if price is None else int(price.scaleb(PRICE_SCALE))


def price_from_units(units: int | None) -> Decimal | None:
    return None if units is None else Decimal(units).scaleb(-PRICE_SCALE)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return (moment - _EPOCH) // _MICROSECOND  # exact: timedelta // timedelta is integer


def from_micros(value: int | None) -> datetime | None:
    """One addition (fromtimestamp and replace made two datetimes). Beyond datetime's years,
    the same error as before (stored times come from datetimes, so never in the views)."""
    if value is None:
        return None
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError:
        return datetime.fromtimestamp(value // 1_000_000, UTC).replace(
            microsecond=value % 1_000_000
        )


def _list_text(value: tuple[str, ...]) -> str:
    return json.dumps(list(value), ensure_ascii=False)


def _list_of_text(value: str) -> tuple[str, ...]:
    return tuple(json.loads(value))


def _symbol(value: Availability) -> str:
    return value.value


def _converters(
    by_kind: dict[FieldKind, Any], availability: Any
) -> tuple[tuple[int, str, Any], ...]:
    """Which columns a row <-> state conversion converts (position, name, how): every
    converter leaves None alone, so a missing value is skipped rather than converted."""
    found = []
    for at, (column, kind) in enumerate(ITEM_COLUMN_KINDS.items()):
        convert = availability if column == "stock_availability" else by_kind.get(kind)
        if convert is not None:
            found.append((at, column, convert))
    return tuple(found)


# Per item of every batch, both ways: decided once, not column by column each time.
_ITEM_VALUES = operator.attrgetter(*ITEM_COLUMNS)
_TO_ROW = _converters(
    {FieldKind.PRICE: price_units, FieldKind.LIST: _list_text, FieldKind.TIME: micros}, _symbol
)
_STATE_ORDER = operator.itemgetter(*(ITEM_COLUMNS.index(name) for name in field_names(ItemState)))
_FROM_ROW = _converters(
    {FieldKind.PRICE: price_from_units, FieldKind.LIST: _list_of_text, FieldKind.TIME: from_micros},
    availability_of,
)


def to_row(state: ItemState) -> tuple[Any, ...]:
    values = list(_ITEM_VALUES(state))
    for at, _, convert in _TO_ROW:
        if values[at] is not None:
            values[at] = convert(values[at])
    return tuple(values)


def from_row(row: tuple[Any, ...]) -> ItemState:
    if len(row) != len(ITEM_COLUMNS):
        dict(zip(ITEM_COLUMNS, row, strict=True))  # raises, as it always did
    values = list(row)
    for at, _, convert in _FROM_ROW:
        if values[at] is not None:
            values[at] = convert(values[at])
    return build_state(*_STATE_ORDER(values))


# event_ids came with stop 38 (added to existing tables by ALTER TABLE, hence last; a marker
# stored before keeps none: '').
REMOVAL_COLUMNS = ("catalog_id", "item_id", "source_updated_at", "partition", "offset", "event_ids")


def removal_row(marker: Removed) -> tuple[Any, ...]:
    return (
        marker.catalog_id,
        marker.item_id,
        micros(marker.source_updated_at),
        marker.partition,
        marker.offset,
        marker.event_ids,
    )


def removal_from_row(row: tuple[Any, ...]) -> Removed:
    catalog_id, item_id, source_updated_at, partition, offset, event_ids = row
    return Removed(
        catalog_id, item_id, from_micros(source_updated_at), partition, offset, event_ids
    )


def price_text_of_units(units: int | None) -> str | None:
    """`price_text(price_from_units(units))` in integer arithmetic: 1299000 -> "129.90"."""
    if units is None:
        return None
    whole, fraction = divmod(abs(units), 10**PRICE_SCALE)
    digits = f"{fraction:0{PRICE_SCALE}d}".rstrip("0").ljust(2, "0")
    return f"{'-' if units < 0 else ''}{whole}.{digits}"


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_DATES: dict[int, str] = {}  # day since the epoch -> "YYYY-MM-DD": a view's times share few days
_DATES_MAX = 4096


def _date(day: int) -> str | None:
    """The day's date text, or None out of datetime's years (or time.gmtime's range)."""
    text = _DATES.get(day)
    if text is None:
        try:
            t = time.gmtime(day * 86_400)
        except (OverflowError, OSError, ValueError):
            return None
        if not 0 < t.tm_year < 10_000:
            return None
        if len(_DATES) >= _DATES_MAX:
            _DATES.clear()
        text = _DATES[day] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return text


def _iso(value: int) -> str:
    """`from_micros(value).isoformat()`, in a third of the time (a page has three times an
    item): the date looked up by day, the time of day by integer division, where datetime makes
    two objects. Out of datetime's years, datetime's own way, and its error."""
    seconds, micro = divmod(value, 1_000_000)
    day, second = divmod(seconds, 86_400)
    date = _date(day)
    if date is None:
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micro).isoformat()
    hour, second = divmod(second, 3_600)
    minute, second = divmod(second, 60)
    two = _TWO_DIGITS
    moment = f"{date}T{two[hour]}:{two[minute]}:{two[second]}"
    return f"{moment}.{micro:06d}+00:00" if micro else f"{moment}+00:00"


def _list(value: str) -> list[str]:
    return list(json.loads(value))


_JSON_OF_COLUMN: dict[str, Any] = {
    "last_event_id": newest_event_id,  # (the ids of its source time kept after it: item_fold)
    **dict.fromkeys(_PRICES, price_text_of_units),
    **dict.fromkeys(_LISTS, _list),
    **dict.fromkeys(_TIMES, _iso),
}


# What item_json does to each column, decided once: which ones it converts (never a None: every
# missing value stays null), and the answer's keys (partition and offset become `position`).
_CONVERTED = tuple(
    (at, convert)
    for at, column in enumerate(ITEM_COLUMNS)
    if (convert := _JSON_OF_COLUMN.get(column)) is not None
)
_PARTITION_AT = ITEM_COLUMNS.index("partition")
_OFFSET_AT = ITEM_COLUMNS.index("offset")
_ANSWER_KEYS = (*(c for c in ITEM_COLUMNS if c not in ("partition", "offset")), "position")


def item_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """What the read API says of an item, straight from its stored row: a page of items costs
    far less than going through ItemState (Decimal and datetime objects for every field)."""
    if len(row) != len(ITEM_COLUMNS):
        raise ValueError(f"an item row has {len(ITEM_COLUMNS)} columns, not {len(row)}")
    values = list(row)
    for at, convert in _CONVERTED:
        if values[at] is not None:
            values[at] = convert(values[at])
    position = position_text(row[_PARTITION_AT], row[_OFFSET_AT])
    del values[max(_PARTITION_AT, _OFFSET_AT)], values[min(_PARTITION_AT, _OFFSET_AT)]
    return dict(zip(_ANSWER_KEYS, [*values, position], strict=True))
