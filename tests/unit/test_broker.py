"""Pure parts of the local broker launcher (no JVM started)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from catalog_stream.broker import new_cluster_id


def uuids(*values: str) -> Iterator[uuid.UUID]:
    return (uuid.UUID(value) for value in values)


def test_cluster_id_is_the_uuid_in_url_safe_base64_without_padding() -> None:
    source = uuids("00112233-4455-6677-8899-aabbccddeeff")
    assert new_cluster_id(lambda: next(source)) == "ABEiM0RVZneImaq7zN3u_w"


def test_cluster_id_never_starts_with_a_dash_that_the_storage_tool_would_read_as_an_option() -> (
    None
):
    # 0xF8... encodes to "-" first in URL-safe base64; the launcher must draw again.
    source = uuids("f8112233-4455-6677-8899-aabbccddeeff", "00112233-4455-6677-8899-aabbccddeeff")
    assert new_cluster_id(lambda: next(source)) == "ABEiM0RVZneImaq7zN3u_w"
