"""`catalog-stream receiver`: build the settings, then serve."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from receiver.app import create_app
from receiver.settings import ReceiverSettings
from runtime_support.logs import configure_logging
from runtime_support.tuning import tune_garbage_collector


def app_from_env() -> FastAPI:
    """For `uvicorn --factory receiver.main:app_from_env` (several worker processes)."""
    configure_logging()
    app = create_app(ReceiverSettings())
    tune_garbage_collector()
    return app


def run(settings: ReceiverSettings | None = None) -> None:
    settings = settings or ReceiverSettings()
    configure_logging()
    app = create_app(settings)
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # a line per request costs more than the request; /metrics counts them
        timeout_graceful_shutdown=30,
    )
