"""`catalog-stream projector`: build the settings and the store, then serve."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from projector.app import create_app
from projector.generations import Generations, SqliteGenerations
from projector.generations_postgres import PostgresGenerations
from projector.settings import ProjectorSettings
from runtime_support.header_deadline import header_deadline
from runtime_support.logs import configure_logging
from runtime_support.tuning import tune_garbage_collector


def open_generations(settings: ProjectorSettings) -> Generations:
    path = settings.sqlite_path()
    if path is not None:
        return SqliteGenerations(path)
    if settings.store_url.startswith(("postgresql://", "postgres://")):
        return PostgresGenerations(settings.store_url)
    raise ValueError(f"unsupported store URL {settings.store_url!r} (sqlite:/// or postgresql://)")


HEADER_TIMEOUT_S = 15.0
"""Time to receive a request's line and headers (runtime_support.header_deadline)."""


def server_config(
    settings: ProjectorSettings, app: FastAPI, header_timeout_s: float = HEADER_TIMEOUT_S
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        http=header_deadline(header_timeout_s, settings.stalled_reader_timeout_s),
    )


def run(settings: ProjectorSettings | None = None) -> None:
    """Serve until stopped. If the live consumer dies, shut down and exit with status 1: a
    process that answers but no longer consumes would look alive to its supervisor."""
    settings = settings or ProjectorSettings()
    configure_logging()
    server: uvicorn.Server | None = None

    def stop_serving() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(settings, open_generations(settings), on_failure=stop_serving)
    server = uvicorn.Server(server_config(settings, app))
    tune_garbage_collector()
    server.run()
    if app.state.runtime.failure is not None:
        raise SystemExit(1)
