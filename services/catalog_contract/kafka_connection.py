"""How every Kafka client of the project connects to the cluster: one set of settings, read from
the same `KAFKA_*` variables by the receiver, the projector and every `catalog-stream` command.

Managed clusters (Amazon MSK, Confluent Cloud, Aiven, Strimzi) want TLS, SASL (PLAIN or SCRAM),
or both; a local broker wants neither. Secrets are `SecretStr`: never in a log line or a repr.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _variable(name: str) -> Any:
    """The field reads `KAFKA_<NAME>` whatever the settings class's own prefix is."""
    return AliasChoices(f"KAFKA_{name.upper()}", f"kafka_{name}")


class KafkaConnection(BaseSettings):
    """The connection part of each service's settings class (which inherits it), and the
    settings of the commands that talk to Kafka."""

    # A settings error never repeats the input: it holds the password (and the services' own).
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"),
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", validation_alias=_variable("security_protocol")
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", validation_alias=_variable("sasl_mechanism")
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=_variable("sasl_username")
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, validation_alias=_variable("sasl_password")
    )
    # PEM files. No CA file: the system's trusted CAs (what managed clusters' certificates use).
    kafka_ssl_cafile: Path | None = Field(default=None, validation_alias=_variable("ssl_cafile"))
    # A client certificate, for clusters that authenticate clients by TLS (mTLS).
    kafka_ssl_certfile: Path | None = Field(
        default=None, validation_alias=_variable("ssl_certfile")
    )
    kafka_ssl_keyfile: Path | None = Field(default=None, validation_alias=_variable("ssl_keyfile"))
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, validation_alias=_variable("ssl_key_password")
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True, validation_alias=_variable("ssl_check_hostname")
    )

    @field_validator(
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_ssl_key_password",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value  # `KAFKA_SSL_CAFILE=` (compose's ${...:-}): unset

    @model_validator(mode="after")
    def _complete(self) -> KafkaConnection:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the client certificate)")
        for path in (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a readable file")
        return self

    def describe(self) -> str:
        """For log lines and errors: where and how, never a secret."""
        how: str = self.kafka_security_protocol
        if how.startswith("SASL_"):
            how += f" {self.kafka_sasl_mechanism} as {self.kafka_sasl_username}"
        return f"{self.bootstrap_servers} ({how})"

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
        )
        context.check_hostname = self.kafka_ssl_check_hostname
        if self.kafka_ssl_certfile is not None:
            password = self.kafka_ssl_key_password
            context.load_cert_chain(
                self.kafka_ssl_certfile,
                self.kafka_ssl_keyfile,
                password.get_secret_value() if password else None,
            )
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = self._ssl_context()
        if self.kafka_security_protocol.startswith("SASL_"):
            assert self.kafka_sasl_password is not None  # checked by _complete
            options["sasl_mechanism"] = self.kafka_sasl_mechanism
            # aiokafka takes SCRAM credentials under the PLAIN names too.
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        return options

    def consumer_options(self) -> dict[str, Any]:
        """Keyword arguments for every consumer of the project's topics (client_options, and how
        records are read). Only committed records: a transactional producer on a topic (Kafka
        Connect, Streams, a tool) may abort, and its aborted records must never reach the views,
        the feed or a replay. aiokafka's default, read_uncommitted, hands them out as any other.
        A read_committed consumer stops at the last stable offset: behind a transaction still
        open it waits for the transaction's end (its timeout bounds that wait), and its end
        offsets are that offset."""
        return {**self.client_options(), "isolation_level": "read_committed"}


def kafka_connection(kafka: KafkaConnection | str) -> KafkaConnection:
    """A command's connection: given, or these bootstrap servers with the `KAFKA_*` security
    settings of the environment."""
    if isinstance(kafka, KafkaConnection):
        return kafka
    return KafkaConnection(bootstrap_servers=kafka)
