"""Names for the shapes the contract's modules pass around, so a signature says what its ints
and pairs mean."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Header = tuple[str, bytes]
"""One Kafka record header: its name and its value."""
Headers = Sequence[Header]
"""A record's headers, as a client hands them over."""
Position = tuple[int, int]
"""(partition, offset) of one record; as text, catalog_contract.positions."""
Offsets = Mapping[int, int]
"""An offset per partition (the topic's ends, or the next offset a reader expects)."""
