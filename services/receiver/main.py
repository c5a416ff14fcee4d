"""`catalog-stream receiver`: build the settings, then serve."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from catalog_stream.logs import configure_logging
from receiver.app import create_app
from receiver.settings import ReceiverSettings


def app_from_env() -> FastAPI:
    """For `uvicorn --factory receiver.main:app_from_env` (several worker processes)."""
    configure_logging()
    return create_app(ReceiverSettings())


def run(settings: ReceiverSettings | None = None) -> None:
    settings = settings or ReceiverSettings()
    configure_logging()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # a line per request costs more than the request; /metrics counts them
        timeout_graceful_shutdown=30,
    )
