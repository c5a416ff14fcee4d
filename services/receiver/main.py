"""`catalog-stream receiver`: build the settings, then serve."""

from __future__ import annotations

import uvicorn

from catalog_stream.logs import configure_logging
from receiver.app import create_app
from receiver.settings import ReceiverSettings


def run(settings: ReceiverSettings | None = None) -> None:
    settings = settings or ReceiverSettings()
    configure_logging()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=30,
    )
