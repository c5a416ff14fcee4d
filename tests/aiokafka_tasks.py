"""The aiokafka tasks of this process that belong to clients of one broker (by its port): what a
stop must leave none of. Other tests' clients on other brokers (a session loop is shared) do not
count, so a test that compares before and after sees only its own."""

from __future__ import annotations

import asyncio
from typing import Any


def tasks_talking_to(port: int) -> list[str]:
    """The pending aiokafka tasks whose client, connection, sender, fetcher or coordinator talks
    to the broker on `port`, by the name of their coroutine."""
    names = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code, frame = getattr(coro, "cr_code", None), getattr(coro, "cr_frame", None)
        if code is None or frame is None or "aiokafka" not in code.co_filename or task.done():
            continue
        if _talks_to(_owner(frame.f_locals), port):
            names.append(code.co_qualname)
    return sorted(names)


def _owner(local: dict[str, Any]) -> Any:
    if "self" in local:
        return local["self"]
    ref = local.get("self_ref")  # (a connection's reader holds its connection weakly)
    return ref() if callable(ref) else None


def _talks_to(owner: Any, port: int) -> bool:
    for part in (owner, getattr(owner, "client", None), getattr(owner, "_client", None)):
        if part is None:
            continue
        if getattr(part, "_port", None) == port:
            return True
        if f":{port}" in str(getattr(part, "_bootstrap_servers", "")):
            return True
    return False
