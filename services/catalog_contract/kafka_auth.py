"""A start-up check of Kafka credentials and certificates, so a wrong password is a clear error
at start instead of a silent loop of retries (and 503s).

aiokafka reports a refused SASL login or TLS handshake only as "Unable to bootstrap", the same
as a broker that is down, and keeps retrying. Here one connection is made and authenticated by
hand: refused means the settings are wrong (stop and say so); unreachable is for the caller's
usual retry loop.
"""

from __future__ import annotations

import asyncio
import ssl

from aiokafka import errors
from aiokafka.conn import create_conn

from catalog_contract.errors import ContractError
from catalog_contract.kafka_connection import KafkaConnection

REFUSED = (
    errors.SaslAuthenticationFailed,
    errors.AuthenticationFailedError,
    errors.AuthenticationMethodNotSupported,
    errors.UnsupportedSaslMechanismError,
    errors.IllegalSaslStateError,
    ssl.SSLError,  # certificate not trusted, hostname mismatch, client certificate refused
)


class KafkaAuthError(ContractError):
    """Kafka refused these credentials or certificates. Retrying never helps: fix the settings."""


async def check_credentials(connection: KafkaConnection, timeout_s: float = 15) -> bool:
    """Authenticate once against the first bootstrap server that answers. True when one
    accepted us, False when none answered; KafkaAuthError when one refused."""
    options = connection.client_options()
    servers = options.pop("bootstrap_servers")
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                conn = await create_conn(
                    host, int(port), client_id="catalog-stream-check", **options
                )
        except (OSError, TimeoutError, errors.KafkaError) as exc:
            refused = _refusal(exc)
            if refused is not None:
                raise KafkaAuthError(
                    f"Kafka at {server} refused the connection settings "
                    f"({connection.describe()}): {type(refused).__name__}: {refused}"
                ) from exc
            continue  # down or not reachable: the next server, or the caller's retries
        conn.close()
        return True
    return False


def _refusal(exc: BaseException | None) -> BaseException | None:
    """The refusal behind an error, if any: a TLS failure after the handshake (a client
    certificate the broker wants) reaches us as a connection error caused by it."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, REFUSED):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None
