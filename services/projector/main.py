"""`catalog-stream projector`: build the settings and the store, then serve."""

from __future__ import annotations

import uvicorn

from catalog_stream.logs import configure_logging
from projector.app import create_app
from projector.settings import ProjectorSettings
from projector.store import SqliteStore, ViewStore


def open_store(settings: ProjectorSettings) -> ViewStore:
    path = settings.sqlite_path()
    if path is not None:
        return SqliteStore(path)
    if settings.store_url.startswith(("postgresql://", "postgres://")):
        from projector.postgres import PostgresStore

        return PostgresStore(settings.store_url)
    raise ValueError(f"unsupported store URL {settings.store_url!r} (sqlite:/// or postgresql://)")


def run(settings: ProjectorSettings | None = None) -> None:
    settings = settings or ProjectorSettings()
    configure_logging()
    uvicorn.run(
        create_app(settings, open_store(settings)),
        host=settings.host,
        port=settings.port,
        log_config=None,
    )
