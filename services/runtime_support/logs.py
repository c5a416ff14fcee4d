"""Structured logs: one JSON object per line, with any `extra=` fields a call site adds."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from runtime_support.quiet_logs import RepeatSummary

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: int | None = None) -> None:
    """JSON lines on stderr; `CATALOG_LOG_LEVEL=DEBUG` adds one line per accepted postback."""
    if level is None:
        level = logging.getLevelNamesMapping().get(
            os.environ.get("CATALOG_LOG_LEVEL", "INFO").upper(), logging.INFO
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RepeatSummary())  # an outage is a few lines with counts, not thousands
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
