"""Where the receiver's CPU goes: py-spy samples of one load row, summed into our own groups.

py-spy (a sampling profiler, pinned in requirements.lock) attaches to the running receiver
without pausing it and writes one line per distinct stack: `frame;frame;... count`, outermost
frame first, each `function (path:line)`. A sample belongs to the innermost frame that one of
GROUPS claims, so the library a step calls counts for that step (fastavro for encode, aiokafka
for produce) and our route's own lines count for HTTP. Frames of no group (the standard
library: json, uuid, enum ...) count for their caller; a stack with no claimed frame at all is
the event loop's own work (uvloop is C: its samples show only the frames that started it), or
other.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Paths as py-spy prints them: relative to the sys.path entry they were found under.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("parse", ("receiver/formats.py", "defusedxml/", "xml/", "urllib/parse.py")),
    (
        "validate",
        ("receiver/postback.py", "receiver/values.py", "catalog_contract/events.py", "pydantic"),
    ),
    (
        "encode",
        (
            "catalog_contract/codec.py",
            "catalog_contract/writing.py",
            "catalog_contract/compiled_writer.py",
            "<compiled_writer>",  # the writer compiled per schema (its frames have no file)
            "catalog_contract/headers.py",
            "catalog_contract/keys.py",
            "catalog_contract/schemas.py",
            "fastavro/",
        ),
    ),
    (
        "produce",
        (
            "receiver/publisher.py",
            "receiver/publisher_stop.py",
            "receiver/produce_pacing.py",
            "receiver/key_partitioner.py",
            "aiokafka/",
            "cramjam/",
        ),
    ),
    ("metrics", ("receiver/metrics.py", "prometheus_client/")),
    (
        "HTTP",
        (
            "uvicorn/protocols/",
            "uvicorn/middleware/",
            "starlette/",
            "fastapi/",
            "httptools/",
            "h11/",
            "anyio/",
            "receiver/app.py",
            "receiver/intake_flow.py",
            "receiver/request_reading.py",
            "receiver/answers.py",
            "receiver/auth.py",
            "runtime_support/problems.py",
        ),
    ),
    ("repeat window, dead letters", ("receiver/recent.py", "receiver/deadletter.py")),
)
# The loop itself, and uvicorn's entry frames under it: uvloop runs in C, so a sample of its own
# work (polling, callbacks, transports) shows only these.
LOOP = (
    "asyncio/",
    "uvloop/",
    "selectors.py",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
)
ORDER = [name for name, _ in GROUPS] + ["event loop", "other"]
_FRAME = re.compile(r"\((?P<path>.*):\d+\)$")


def _claims(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path.startswith(p) or f"/{p}" in path for p in prefixes)


def classify(stack: list[str]) -> str:
    """The group of one sampled stack (frames outermost first)."""
    paths = [m.group("path") if (m := _FRAME.search(f)) else "" for f in stack]
    for path in reversed(paths):
        for name, prefixes in GROUPS:
            if _claims(path, prefixes):
                return name
    return "event loop" if any(_claims(p, LOOP) for p in paths) else "other"


def summarise(raw: str) -> Counter[str]:
    """Samples per group, from py-spy's raw (collapsed stacks) output."""
    groups: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            groups[classify(stack.split(";"))] += int(count)
    return groups


def profiled(pid: int, output: Path, load: Callable[[], T], rate_hz: int = 200) -> tuple[T, str]:
    """Run `load` while py-spy samples process `pid`; return its result and py-spy's output."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--rate", str(rate_hz)]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    with output.with_suffix(".log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        time.sleep(1)  # attached before the load starts
        result = load()
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        process.wait(60)
    if not output.exists():
        raise RuntimeError(f"py-spy wrote no profile; see {output.with_suffix('.log')}")
    return result, output.read_text()
