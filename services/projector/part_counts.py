"""What a first catch-up's parts counted (records by verdict, dead letters, restatements), added
to the projector's own counters once the parts are merged: one process catching up counted them
in its metrics, and the parts' workers are other processes (rebuild_split_worker.py writes its
counts as one JSON line on its stdout when it is done; rebuild_split.py reads it)."""

from __future__ import annotations

import contextlib
import json
import logging

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
