"""`catalog-stream receiver`: build the settings, then serve."""

from __future__ import annotations

import contextlib
import math
import socket

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from receiver.app import create_app
from receiver.listening import shared_port_socket
from receiver.publisher_stop import stop_reserve_s
from receiver.settings import ReceiverSettings
from runtime_support.header_deadline import header_deadline
from runtime_support.logs import configure_logging
from runtime_support.tuning import tune_garbage_collector


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable an error is about (a field read under an alias, such as
    KAFKA_BOOTSTRAP_SERVERS, is named by that alias)."""
    if not loc:
        return ""
    name = str(loc[0])
    return f"{name}: " if name.isupper() else f"CATALOG_RECEIVER_{name.upper()}: "


def settings_from_env() -> ReceiverSettings:
    """The settings, or an exit naming each wrong variable and why (never its value: it may be
    a secret)."""
    try:
        return ReceiverSettings()
    except ValidationError as exc:
        lines = [
            f"  {_variable(error['loc'])}{error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise SystemExit("receiver settings are not valid:\n" + "\n".join(lines)) from None


class ReceiverServer(uvicorn.Server):
    """uvicorn's server, telling the app when its shutdown begins: the shutdown budget
    (CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S) counts from the signal, for the postbacks in flight
    and the producer's flush together. (uvicorn waits for the one, then the lifespan does the
    other, each up to a produce timeout: a minute in all, past Kubernetes' 30 s grace.)"""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        begins = getattr(self.config.app, "shutdown_begins", None)
        if begins is not None:
            begins()
        await super().shutdown(sockets)


def server_config(settings: ReceiverSettings, app: FastAPI) -> uvicorn.Config:
    """uvicorn's settings. It rewrites the client address from X-Forwarded-For only for our
    trusted proxies: its default trusts 127.0.0.1, which would let anything on the host claim
    any address."""
    proxies = [str(network) for network in settings.trusted_proxies]
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # a line per request costs more than the request; /metrics counts them
        # The backstop: the publisher answers every postback in flight by the budget less its
        # reserve (receiver.publisher.stopping); half that reserve is left for the rest.
        timeout_graceful_shutdown=math.ceil(
            settings.shutdown_timeout_s - stop_reserve_s(settings.shutdown_timeout_s) / 2
        ),
        http=header_deadline(settings.request_timeout_s),  # a request head's time limit too
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
    )


def app_from_env() -> FastAPI:
    """For `uvicorn --factory receiver.main:app_from_env` (for several workers prefer
    CATALOG_RECEIVER_WORKERS, whose sockets spread connections: receiver.listening; pass
    uvicorn `--forwarded-allow-ips` the same list as CATALOG_RECEIVER_TRUSTED_PROXIES, or
    `--no-proxy-headers` when it is empty; and `--http
    runtime_support.header_deadline:HeaderDeadlineProtocol`, without which uvicorn's command
    line has no time limit on a request head: that class closes after 15 s). uvicorn's command
    line does not tell the app when its shutdown begins (ReceiverServer does): the shutdown
    budget then counts from the lifespan's shutdown, after uvicorn's own wait for the postbacks
    in flight, which `--timeout-graceful-shutdown` bounds (none by default)."""
    configure_logging()
    app = create_app(settings_from_env())
    tune_garbage_collector()
    return app


def run(settings: ReceiverSettings | None = None, shared_port: bool = False) -> None:
    """Serve in this process; `shared_port`: as one of several workers on the port, on a
    listening socket of its own (receiver.listening; catalog_stream.receiver_workers starts
    them)."""
    settings = settings or settings_from_env()
    configure_logging()
    app = create_app(settings)
    tune_garbage_collector()
    sockets = [shared_port_socket(settings.host, settings.port)] if shared_port else None
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C is a normal stop
        ReceiverServer(server_config(settings, app)).run(sockets=sockets)
