"""Reading replay bounds from the command line, and refusing bounds that leave nothing to read
however the topic stands (a start past a partition's end, an `--until` before the `--from`, a
`--from` still to come): a replay that read nothing and exited 0 was taken for an empty range.
Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from catalog_contract.positions import parse_position, position_text
from catalog_stream.errors import UsageError


class BoundError(UsageError, ValueError):
    """A --from/--until value that is not earliest/now, a time, or partition:offset pairs."""


@dataclass(frozen=True)
class Bound:
    kind: str  # "edge" (earliest / now), "time", "positions"
    time_ms: int | None = None
    positions: dict[int, int] | None = None
    text: str = field(default="", compare=False)  # as given, for the messages


def parse_bound(text: str, edge: str) -> Bound:
    """`edge` is the word for the open end: "earliest" for --from, "now" for --until."""
    value = text.strip()
    if value == edge:
        return Bound("edge", text=value)
    if ":" in value and "T" not in value and "-" not in value:
        positions: dict[int, int] = {}
        for pair in value.split(","):
            found = parse_position(pair.strip())
            if found is None:
                raise BoundError(f"{pair!r} is not partition:offset")
            partition, offset = found
            positions[partition] = offset
        return Bound("positions", positions=positions, text=value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BoundError(
            f"{value!r} is not {edge!r}, an ISO-8601 time, or partition:offset[,partition:offset]"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    time_ms = int(moment.timestamp() * 1000)
    if time_ms < 0:  # Kafka refuses a negative timestamp
        raise BoundError(f"{value} is before 1970-01-01, the start of Kafka's time")
    return Bound("time", time_ms=time_ms, text=value)


def check_order(start: Bound, stop: Bound) -> None:
    """Refuse (BoundError) what the command line alone shows to hold nothing: an `--until` time
    before the `--from` time, or an `--until` position before the `--from` position of its
    partition. An `--until` equal to the `--from` is an empty range, asked."""
    if start.time_ms is not None and stop.time_ms is not None and stop.time_ms < start.time_ms:
        raise BoundError(f"--until {stop.text} is before --from {start.text}")
    starts, stops = start.positions or {}, stop.positions or {}
    for partition in sorted(starts.keys() & stops.keys()):
        if stops[partition] < starts[partition]:
            raise BoundError(
                f"--until {position_text(partition, stops[partition])} is before --from "
                f"{position_text(partition, starts[partition])} on partition {partition}"
            )


def future_refusal(start: Bound, now_ms: int) -> str | None:
    """Why a `--from` time no record is at or after (Kafka said so) is refused: it is past
    `now_ms` (a mistyped date or zone, most likely); else None. Not from the clock alone: the
    records' times are their producers' clocks, which may run ahead of this one's."""
    if start.time_ms is None or start.time_ms <= now_ms:
        return None
    now = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="seconds")
    return f"--from {start.text} is in the future (now is {now}): no record is at or after it"


def offsets_refusal(
    named: Mapping[int, int],
    placed: Mapping[int, int],
    stops: Mapping[int, int],
    ends: Mapping[int, int],
) -> str | None:
    """Why the range, now in offsets per partition, cannot be read as asked, or None. `named`:
    the start positions given; `placed`: where a `--from` that is not `earliest` starts each
    partition; `stops`: where the `--until` stops each (before the end caps it); `ends`: each
    partition's end (the offset its next record will have). A start at the end is no error: it
    reads nothing yet, as a replay resuming where the last one stopped should."""
    for partition in sorted(named):
        if named[partition] > ends[partition]:
            return (
                f"position {position_text(partition, named[partition])} is past the end of "
                f"partition {partition}, which ends at {ends[partition]} (its next record will "
                "have that offset): nothing was read"
            )
    for partition in sorted(placed):
        if stops[partition] < placed[partition]:
            return (
                f"--until is before --from on partition {partition}: offset "
                f"{stops[partition]}, before {placed[partition]}"
            )
    return None
