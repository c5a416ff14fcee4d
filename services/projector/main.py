"""`catalog-stream projector`: build the settings and the store, then serve."""

from __future__ import annotations

import uvicorn

from catalog_stream.logs import configure_logging
from catalog_stream.tuning import tune_garbage_collector
from projector.app import create_app
from projector.generations import Generations, PostgresGenerations, SqliteGenerations
from projector.settings import ProjectorSettings


def open_generations(settings: ProjectorSettings) -> Generations:
    path = settings.sqlite_path()
    if path is not None:
        return SqliteGenerations(path)
    if settings.store_url.startswith(("postgresql://", "postgres://")):
        return PostgresGenerations(settings.store_url)
    raise ValueError(f"unsupported store URL {settings.store_url!r} (sqlite:/// or postgresql://)")


def run(settings: ProjectorSettings | None = None) -> None:
    settings = settings or ProjectorSettings()
    configure_logging()
    app = create_app(settings, open_generations(settings))
    tune_garbage_collector()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
