"""A local broker with secured listeners, for the tests of secured connections.

Certificates come from `openssl` (a CA, the broker's certificate for 127.0.0.1, a client
certificate) and the broker's truststore from `keytool`; SCRAM credentials are created by
Kafka's own storage tool (`--add-scram`) when the storage is formatted, as on a real cluster.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from catalog_stream.broker import LocalBroker
from catalog_stream.ports import free_port

USER = "catalog"
PASSWORD = "scram-and-plain-pw"
STORE_PASSWORD = "store-pw"

# listener name -> security protocol
LISTENERS = {"SASLSSL": "SASL_SSL", "MTLS": "SSL", "SASLPLAIN": "SASL_PLAINTEXT"}
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@dataclass(frozen=True)
class Certificates:
    ca: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing of this broker's


def _run(*command: str, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def _signed(name: str, subject_alt_names: str, folder: Path) -> None:
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
         "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=folder)  # fmt: skip
    (folder / f"{name}.ext").write_text(f"subjectAltName={subject_alt_names}\n")
    _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
         cwd=folder)  # fmt: skip


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    for ca in ("ca", "other-ca"):
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
             "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=catalog-stream {ca}",
             cwd=folder)  # fmt: skip
    _signed("broker", "IP:127.0.0.1,DNS:localhost", folder)
    _signed("client", "DNS:catalog-stream-client", folder)
    _run("openssl", "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key",
         "-certfile", "ca.pem", "-name", "broker", "-out", "broker.p12",
         "-passout", f"pass:{STORE_PASSWORD}", cwd=folder)  # fmt: skip
    _run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem",
         "-keystore", "truststore.p12", "-storetype", "PKCS12",
         "-storepass", STORE_PASSWORD, cwd=folder)  # fmt: skip
    return Certificates(
        ca=folder / "ca.pem",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca=folder / "other-ca.pem",
    )


def secured_broker(data_dir: Path, certificates: Path, heap: str = "512m") -> LocalBroker:
    """A broker whose clients may use SASL_SSL (PLAIN, SCRAM-SHA-256/512), SSL with a client
    certificate, or SASL_PLAINTEXT; the inter-broker listener stays PLAINTEXT on loopback."""
    listeners = {name: (protocol, free_port()) for name, protocol in LISTENERS.items()}
    properties = {
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(certificates / "broker.p12"),
        "ssl.keystore.password": STORE_PASSWORD,
        "ssl.key.password": STORE_PASSWORD,
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(certificates / "truststore.p12"),
        "ssl.truststore.password": STORE_PASSWORD,
        "listener.name.mtls.ssl.client.auth": "required",
    }
    for name in ("saslssl", "saslplain"):
        properties[f"listener.name.{name}.plain.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{USER}="{PASSWORD}";'
        )
        for mechanism in ("scram-sha-256", "scram-sha-512"):
            properties[f"listener.name.{name}.{mechanism}.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
    scram = [
        arg
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
        for arg in ("--add-scram", f"{mechanism}=[name={USER},password={PASSWORD}]")
    ]
    return LocalBroker(
        data_dir,
        port=free_port(),
        controller_port=free_port(),
        heap=heap,
        listeners=listeners,
        properties=properties,
        format_args=scram,
    )


def listener_address(broker: LocalBroker, name: str) -> str:
    return f"127.0.0.1:{broker.listeners[name][1]}"
