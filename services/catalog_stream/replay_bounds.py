"""Reading replay bounds from the command line. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from catalog_contract.positions import parse_position
from catalog_stream.errors import UsageError


class BoundError(UsageError, ValueError):
    """A --from/--until value that is not earliest/now, a time, or partition:offset pairs."""


@dataclass(frozen=True)
class Bound:
    kind: str  # "edge" (earliest / now), "time", "positions"
    time_ms: int | None = None
    positions: dict[int, int] | None = None


def parse_bound(text: str, edge: str) -> Bound:
    """`edge` is the word for the open end: "earliest" for --from, "now" for --until."""
    value = text.strip()
    if value == edge:
        return Bound("edge")
    if ":" in value and "T" not in value and "-" not in value:
        positions: dict[int, int] = {}
        for pair in value.split(","):
            found = parse_position(pair.strip())
            if found is None:
                raise BoundError(f"{pair!r} is not partition:offset")
            partition, offset = found
            positions[partition] = offset
        return Bound("positions", positions=positions)
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
    return Bound("time", time_ms=time_ms)
