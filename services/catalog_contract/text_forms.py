"""The text of an event's id, worked out once per event.

One postback writes its event id as text three times (the Avro value, the `event-id` header,
the 200's body); `str(UUID)` (hex formatting and slicing in Python) was ~4 µs of each
postback's CPU under load. `uuid_text` remembers its last answer by the UUID object's identity:
the same object asked for again (the same event, moments later) gets the same text without
working it out again. A UUID is immutable, and the memo holds the object, so its identity
cannot pass to another object while remembered. The memo is one tuple, replaced whole: a reader
in another thread sees the old pair or the new one, never half of each.
"""

from __future__ import annotations

import uuid

_NO_UUID = uuid.UUID(int=0)
_last: tuple[uuid.UUID, str] = (_NO_UUID, str(_NO_UUID))


def uuid_text(value: uuid.UUID) -> str:
    """`str(value)`."""
    global _last
    last = _last
    if last[0] is value:
        return last[1]
    text = str(value)
    _last = (value, text)
    return text
