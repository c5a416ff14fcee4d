"""A record's position on a topic as text, `partition:offset` (e.g. `3:120`): how the receiver
answers it, the read API takes and shows it, the projector's headers carry it and the operations
commands print and read it. Pure."""

from __future__ import annotations

import re

from catalog_contract.types import Position

# Digits enough for any real partition and offset, few enough to fit int32 and int64.
POSITION_PATTERN = r"([0-9]{1,9}):([0-9]{1,18})"
_POSITION = re.compile(POSITION_PATTERN, re.ASCII)


def position_text(partition: int, offset: int) -> str:
    """(3, 120) -> "3:120"."""
    return f"{partition}:{offset}"


def parse_position(text: str) -> Position | None:
    """ "3:120" -> (3, 120); None for anything else (ASCII digits only, bounded in length)."""
    found = _POSITION.fullmatch(text)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2))
