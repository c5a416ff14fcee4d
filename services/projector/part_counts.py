"""What a first catch-up's parts counted (records by verdict, dead letters, restatements, and the
postbacks' since-start delivery figures), added to the projector's own once the parts are merged:
one process catching up counted them in its metrics and its delivery statistics, and the parts'
workers are other processes (rebuild_split_worker.py writes them as JSON lines on its stdout when
it is done, the delivery line then the counts line; rebuild_split.py reads them)."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from projector.delivery import CatalogTotals, CatalogWindows, DeliveryStats
from projector.delivery_slots import SlotFigures
from projector.metrics import ProjectorMetrics

log = logging.getLogger(__name__)

# ProjectorMetrics' counters a consumer loop moves; labels: none, or one.
COUNTERS = ("events", "restatements", "restatements_failed", "dead_lettered")
Counts = dict[str, dict[str, float]]  # counter -> its label's value ("" if none) -> count


def counted(metrics: ProjectorMetrics) -> Counts:
    found: Counts = {}
    for name in COUNTERS:
        for family in getattr(metrics, name).collect():
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.value:
                    label = next(iter(sample.labels.values()), "")
                    found.setdefault(name, {})[label] = sample.value
    return found


def counts_line(metrics: ProjectorMetrics) -> bytes:
    return json.dumps(counted(metrics), sort_keys=True).encode() + b"\n"


def read_counts(output: bytes) -> Counts:
    """The last line of a worker's stdout; {} if it wrote none, or no counts (something else
    wrote there last): the load it counted is not failed for its metrics, the loss is logged."""
    lines = output.strip().splitlines()
    if not lines:
        return {}
    try:
        found = json.loads(lines[-1])
        return {
            str(name): {str(label): float(v) for label, v in by_label.items()}
            for name, by_label in found.items()
        }
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("a part's counts were not read; the metrics miss them: %r", exc)
        return {}


def add_counts(metrics: ProjectorMetrics, counts: Counts) -> None:
    for name, by_label in counts.items():
        if name not in COUNTERS:
            continue
        counter = getattr(metrics, name)
        for label, value in by_label.items():
            with contextlib.suppress(ValueError):  # (a label it has not, a negative count)
                (counter.labels(label) if label else counter).inc(value)


def delivery_line(stats: DeliveryStats) -> bytes:
    """The since-start delivery figures, per catalog (`DeliveryStats.totals`), and the windows
    (`DeliveryStats.windows`)."""
    found = [
        [t.catalog_id, t.received, t.last_received_s, list(t.buckets), t.delay_sum]
        for t in stats.totals()
        if t.received
    ]
    windows = [w for w in stats.windows() if w[1] or w[2]]
    return json.dumps({"delivery": found, "windows": windows}).encode() + b"\n"


def _delivery_found(output: bytes) -> dict[str, Any] | None:
    """The last delivery line of a worker's stdout, as JSON; None if there is none that reads."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith(b'{"delivery"'):
            try:
                found = json.loads(line)
            except ValueError as exc:
                log.warning("a part's delivery line was not read; /v1/delivery misses it: %r", exc)
                return None
            return found if isinstance(found, dict) else None
    return None


def read_delivery(output: bytes) -> list[CatalogTotals]:
    """The delivery line's since-start figures; [] if there is none that reads (logged)."""
    found = _delivery_found(output)
    if found is None:
        return []
    try:
        return [
            CatalogTotals(
                str(catalog),
                int(received),
                None if last is None else float(last),
                tuple(int(b) for b in buckets),
                float(delay_sum),
            )
            for catalog, received, last, buckets, delay_sum in found["delivery"]
        ]
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("a part's delivery figures were not read; /v1/delivery misses them: %r", exc)
        return []


def _slots(found: Any) -> list[SlotFigures]:
    return [
        (int(start), int(received), tuple(int(b) for b in buckets), float(total), float(most))
        for start, received, buckets, total, most in found
    ]


def read_windows(output: bytes) -> list[CatalogWindows]:
    """The delivery line's windows; [] if there are none that read (logged)."""
    found = _delivery_found(output)
    if found is None:
        return []
    try:
        return [
            (str(catalog), _slots(minutes), _slots(hours))
            for catalog, minutes, hours in found.get("windows", [])
        ]
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("a part's delivery windows were not read; /v1/delivery misses them: %r", exc)
        return []


def kept_line(kept: dict[int, int]) -> bytes:
    """Per partition, the offset below which a part's worker wrote every dead letter."""
    return json.dumps({"kept": kept}).encode() + b"\n"


def read_kept(output: bytes) -> dict[int, int]:
    """The furthest each partition's kept lines say; {} if none reads (kept again)."""
    found: dict[int, int] = {}
    for line in output.splitlines():
        if line.startswith(b'{"kept"'):
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                for partition, offset in json.loads(line)["kept"].items():
                    found[int(partition)] = max(found.get(int(partition), 0), int(offset))
    return found
