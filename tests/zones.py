"""Running a test with the process's local time zone set to one that is not UTC."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

# New York's rule as a POSIX TZ string (UTC-5, UTC-4 in summer): needs no time zone database.
NEW_YORK = "EST5EDT,M3.2.0,M11.1.0"


@contextmanager
def local_zone(name: str) -> Iterator[None]:
    """`TZ=name` for the duration (time.tzset), whatever zone the machine runs in."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
