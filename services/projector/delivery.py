"""Delivery statistics per catalog, folded from the product topic's records. Pure (no I/O).

The platform promises a postback within about 10 minutes of a change, and partners call its
support after an hour. For each catalog this keeps how many postbacks arrived (last hour, last
day, since start), when the last one arrived, and the *delivery delay* (receive time minus the
source's DateLastUpdated): its quantiles over the last hour and day, and how many came later
than 10 minutes and later than an hour.

Bounded memory: a catalog holds 60 one-minute slots and 24 one-hour slots (rings, reused as
time moves on), each a fixed histogram over `BOUNDS_S` (`delivery_slots`); at most
`max_catalogs` catalogs are kept one by one, later ones are added up under `OTHER`. Quantiles
are the upper bound of the histogram bucket the rank falls in ("99% arrived within N seconds");
beyond the last bound, the largest delay seen. "Last day" has hour resolution: the 24 most
recent hour slots.

Each record is counted once: offsets below what a partition already counted are skipped (a
batch read again after a failed write). After a restart, the last day's records before the
views' positions are read again from the topic to fill the windows (`delivery_history`); after
a first catch-up in parts, the parts' windows are added up instead (`add_windows`).
Restatements (the projector's own writes) and tombstones are not postbacks: not counted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from catalog_contract.headers import RESTATES, Headers
from projector.delivery_slots import (
    LATE,
    LATE_S,
    VERY_LATE,
    CatalogSlots,
    Slot,
    SlotFigures,
    figures,
    merge,
    quantile,
)
from projector.records import Incoming, Unreadable

OTHER = "_other"  # the catalogs over the cap, added up
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DelayStats:
    received: int
    with_delay: int  # postbacks that carried DateLastUpdated
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    later_than_10m: int
    later_than_1h: int


@dataclass(frozen=True, slots=True)
class CatalogDelivery:
    catalog_id: str
    received_total: int  # since the projector started
    last_received_s: float | None  # Unix time of the newest receive time seen
    last_hour: DelayStats
    last_day: DelayStats

    def late(self) -> bool:
        """Delivery p99 over the last hour beyond the platform's 10 minutes."""
        return self.last_hour.p99_s is not None and self.last_hour.p99_s > LATE_S

    def silent(self) -> bool:
        """Nothing for an hour from a catalog that sent at least one an hour over the day."""
        return self.last_hour.received == 0 and self.last_day.received >= 24


@dataclass(frozen=True, slots=True)
class CatalogTotals:
    """Since-start figures for Prometheus: counters and a (non-cumulative) histogram."""

    catalog_id: str
    received: int
    last_received_s: float | None
    buckets: tuple[int, ...]
    delay_sum: float


# What a part's process counted in one catalog's windows: its minute slots and its hour slots.
CatalogWindows = tuple[str, list[SlotFigures], list[SlotFigures]]


def _window(slots: Iterable[Slot]) -> DelayStats:
    total = Slot()
    for slot in slots:
        total.add_slot(slot)
    buckets = total.buckets
    return DelayStats(
        received=total.received,
        with_delay=sum(buckets),
        p50_s=quantile(buckets, 0.50, total.max_delay),
        p95_s=quantile(buckets, 0.95, total.max_delay),
        p99_s=quantile(buckets, 0.99, total.max_delay),
        later_than_10m=sum(buckets[LATE + 1 :]),
        later_than_1h=sum(buckets[VERY_LATE + 1 :]),
    )


class DeliveryStats:
    """Fed one batch at a time by the live consumer (a worker thread); read by the HTTP side."""

    def __init__(self, max_catalogs: int = 100) -> None:
        self.max_catalogs = max_catalogs
        self._catalogs: dict[str, CatalogSlots] = {}
        self._next_offsets: dict[int, int] = {}  # partition -> first offset not yet counted
        self._lock = threading.Lock()

    def known(self, catalog_ids: Iterable[str]) -> None:
        """Start catalogs at zero (the store's, at start-up), so a catalog silent since the
        projector started still has series that show it."""
        with self._lock:
            for catalog_id in catalog_ids:
                self._entry(catalog_id)

    def _entry(self, catalog_id: str) -> CatalogSlots:
        entry = self._catalogs.get(catalog_id)
        if entry is None:
            if len(self._catalogs) >= self.max_catalogs and catalog_id != OTHER:
                return self._entry(OTHER)
            entry = self._catalogs[catalog_id] = CatalogSlots()
        return entry

    def observe(
        self,
        records: Iterable[tuple[Incoming | Unreadable, Headers | None]],
        history: bool = False,
    ) -> None:
        """`history`: records from before the views' positions at start (see
        `delivery_history`), which fill the hour and day windows, not the since-start counters
        (Prometheus has those from before the restart), nor the offsets counted live."""
        with self._lock:
            next_offsets = {} if history else self._next_offsets
            since_start = not history
            catalogs = self._catalogs
            for record, headers in records:
                if record.offset < next_offsets.get(record.partition, 0):
                    continue  # counted already (a batch read again)
                next_offsets[record.partition] = record.offset + 1
                if type(record) is not Incoming or record.change is None:
                    continue
                restated = False
                for name, _ in headers or ():
                    if name == RESTATES:
                        restated = True
                if restated:
                    continue
                change = record.change
                received_at, source = change.received_at, change.source_updated_at
                delay = None if source is None else (received_at - source).total_seconds()
                received_s = (received_at - _EPOCH).total_seconds()  # faster than .timestamp()
                entry = catalogs.get(record.catalog_id) or self._entry(record.catalog_id)
                entry.add(received_s, delay, since_start)

    def add_totals(self, totals: Iterable[CatalogTotals]) -> None:
        """Add since-start figures another process counted (a first catch-up's parts, which
        read records this one never reads): its counters, as if observed here. The windows
        come apart (`add_windows`)."""
        with self._lock:
            for found in totals:
                entry = self._entry(found.catalog_id)
                total = entry.total
                total.received += found.received
                total.delay_sum += found.delay_sum
                for index, count in enumerate(found.buckets[: len(total.buckets)]):
                    total.buckets[index] += count
                if found.last_received_s is not None:
                    entry.last_received_s = max(entry.last_received_s, found.last_received_s)

    def catalog_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._catalogs)

    def delivery(self, catalog_id: str, now_s: float) -> CatalogDelivery | None:
        with self._lock:
            entry = self._catalogs.get(catalog_id)
            return None if entry is None else _delivery(catalog_id, entry, now_s)

    def deliveries(self, now_s: float) -> list[CatalogDelivery]:
        with self._lock:
            return [_delivery(c, e, now_s) for c, e in sorted(self._catalogs.items())]

    def totals(self) -> list[CatalogTotals]:
        with self._lock:
            found = []
            for catalog_id, entry in sorted(self._catalogs.items()):
                total = entry.total
                found.append(
                    CatalogTotals(
                        catalog_id,
                        total.received,
                        _last(entry),
                        tuple(total.buckets),
                        total.delay_sum,
                    )
                )
            return found

    def windows(self) -> list[CatalogWindows]:
        with self._lock:
            return [
                (c, figures(e.minutes), figures(e.hours)) for c, e in sorted(self._catalogs.items())
            ]

    def add_windows(self, found: Iterable[CatalogWindows]) -> None:
        """Add the windows another process counted (a first catch-up's parts: the records they
        read need not be read again from the topic to fill them, as after a restart)."""
        with self._lock:
            for catalog_id, minutes, hours in found:
                entry = self._entry(catalog_id)
                merge(entry.minutes, minutes)
                merge(entry.hours, hours)

    def per_minute(self, now_s: float) -> list[int]:
        """Postbacks received in each of the last 60 minutes, all catalogs, oldest first."""
        now_minute = int(now_s // 60)
        counts = [0] * 60
        with self._lock:
            for entry in self._catalogs.values():
                for slot in entry.minutes:
                    age = now_minute - slot.start
                    if 0 <= age < 60:
                        counts[59 - age] += slot.received
        return counts


def _last(entry: CatalogSlots) -> float | None:
    return None if entry.last_received_s == -math.inf else entry.last_received_s


def _delivery(catalog_id: str, entry: CatalogSlots, now_s: float) -> CatalogDelivery:
    minute, hour = int(now_s // 60), int(now_s // 3600)
    return CatalogDelivery(
        catalog_id=catalog_id,
        received_total=entry.total.received,
        last_received_s=_last(entry),
        last_hour=_window(s for s in entry.minutes if 0 <= minute - s.start < 60),
        last_day=_window(s for s in entry.hours if 0 <= hour - s.start < 24),
    )
