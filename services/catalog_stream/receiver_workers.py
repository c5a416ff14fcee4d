"""`catalog-stream receiver` with CATALOG_RECEIVER_WORKERS above 1: that many receiver processes
on one port, each listening on a socket of its own (receiver.listening says why not uvicorn's
`--workers`), supervised as `make run` supervises its services: SIGTERM or Ctrl-C stops every
worker gracefully (each answers what it accepted), a worker that exits stops the rest (the
service's supervisor restarts the whole), and a SIGKILLed parent takes its workers along."""

from __future__ import annotations

import subprocess
import sys

from catalog_stream.lifetime import die_with_parent, interrupt_on_stop_signals, stop_all, supervise
from receiver.listening import shared_port_socket
from receiver.settings import ReceiverSettings

# Each worker ends within its shutdown budget (CATALOG_RECEIVER_SHUTDOWN_TIMEOUT_S, receiver.main);
# past it and this margin (a worker starting up, a frozen one), it is killed.
STOP_MARGIN_S = 5.0


def run_workers(settings: ReceiverSettings) -> int:
    interrupt_on_stop_signals()
    try:
        # Held, not listening, for our whole life: a port something else listens on fails
        # here, once, with its reason, instead of in every worker.
        holder = shared_port_socket(settings.host, settings.port, listen=False)
    except OSError as exc:
        print(f"receiver: cannot use {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    workers: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        for _ in range(settings.workers):  # each kept at once: a stop may land between two
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "catalog_stream.cli", "receiver", "--worker"],
                    start_new_session=True,  # Ctrl-C reaches us only; each worker gets one stop
                    preexec_fn=die_with_parent(),
                )
            )
        where = f"{settings.host}:{settings.port}"
        print(f"receiver: {settings.workers} workers on {where}", flush=True)

    def stop() -> None:
        stop_all(workers, settings.shutdown_timeout_s + STOP_MARGIN_S)
        holder.close()

    return supervise(
        start,
        lambda: all(worker.poll() is None for worker in workers),
        "a receiver worker exited; stopping the rest",
        stop,
    )
