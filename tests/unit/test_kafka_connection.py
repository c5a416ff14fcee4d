"""The shared Kafka connection settings: the same KAFKA_* names in every service, the options
each client gets, and secrets that stay secret."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from catalog_contract.kafka_connection import KafkaConnection, kafka_connection
from projector.settings import ProjectorSettings
from receiver.settings import ReceiverSettings

SASL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "KAFKA_SASL_USERNAME": "catalog",
    "KAFKA_SASL_PASSWORD": "s3cret-pw",
}


def test_plaintext_is_the_default_and_passes_only_the_servers() -> None:
    assert KafkaConnection(bootstrap_servers="a:1,b:2").client_options() == {
        "bootstrap_servers": "a:1,b:2",
        "security_protocol": "PLAINTEXT",
    }


def test_every_service_reads_the_same_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SASL.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CATALOG_RECEIVER_DEV_MODE", "true")
    for settings in (ReceiverSettings(), ProjectorSettings(), kafka_connection("k:9092")):
        options = settings.client_options()
        assert {k: v for k, v in options.items() if k != "bootstrap_servers"} == {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": "catalog",
            "sasl_plain_password": "s3cret-pw",
        }
        assert "s3cret-pw" not in repr(settings)
        assert "s3cret-pw" not in settings.describe()


def test_ssl_gets_a_context_that_verifies_with_the_given_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(_SELF_SIGNED)
    connection = KafkaConnection(kafka_security_protocol="SSL", kafka_ssl_cafile=ca)
    context = connection.client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["serialNumber"] for c in context.get_ca_certs()] == ["01"]


def test_empty_variables_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SASL_PASSWORD"):
        monkeypatch.setenv(name, "")  # what docker-compose's ${KAFKA_SSL_CAFILE:-} gives
    connection = KafkaConnection()
    assert connection.kafka_ssl_cafile is None
    assert connection.kafka_sasl_password is None


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": "k.pem"}, "KAFKA_SSL_CERTFILE"),
        ({"kafka_ssl_cafile": "/nonexistent/ca.pem"}, "is not a readable file"),
        ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_incomplete_or_unknown_settings_are_refused_at_start(
    values: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        KafkaConnection(**values)  # type: ignore[arg-type]


# A self-signed CA certificate, serial 01 (openssl req -x509 -set_serial 1 -subj /CN=test-ca).
_SELF_SIGNED = """\
-----BEGIN CERTIFICATE-----
MIIC9DCCAdygAwIBAgIBATANBgkqhkiG9w0BAQsFADASMRAwDgYDVQQDDAd0ZXN0
LWNhMCAXDTI2MTEyOTAwMTEyMloYDzIxMjYxMTA1MDAxMTIyWjASMRAwDgYDVQQD
DAd0ZXN0LWNhMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA47TCitkS
nDqgxh64GVvZPPByM3lBQqr3GwD9DqaMyEV2Vj9XVikrmtmvg3EKfBcd4/DMeaVs
RoMjahOx7sDnscCTooYEqzzGVRWTCiiFd0irYyE+K0ubeIwl39g9AzZPdPGEe9LB
chLdfESJblkuvcD1pU/ttvw5wBqh3LirYs3cDxOLM7hS3Tf5kKQvAMiGacW/BI1m
YLPs9tldFcyKlo5JVbIrEfKsMpftaJLSD0ZvHT9niIOTzFUP7sDYgm/iUGic6QQm
2YnUdx0uGJAdfjiQVLg8LfWbkuXAwEJsNKyZD98ogbQK8uBb7EVRHZ5TrLl+gGgo
nT0SswZ7C96LSQIDAQABo1MwUTAdBgNVHQ4EFgQU6YQTAWEjlliL0E4JisQaurR2
wT8wHwYDVR0jBBgwFoAU6YQTAWEjlliL0E4JisQaurR2wT8wDwYDVR0TAQH/BAUw
AwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAuGxqEaBL+mSINWoL2bwIFIuN/nUq5XlU
4cqSlKegd/EDX8GvB/90U9unMEjBHW0oi/o8vdS7WM0FKLbgrowOB2hh/I7/TrVr
Fkh/TPHUGwcBhBz4sVPscfX74kNmTvw+UlTjopNuoMooZAw6UsPTsZ6a8ctcDJbx
ob8gHxQRUY4rPI0cADWzdPA1yRs5pWtilkaPwK7AT26W7jaZSm0M+ma/6nqHaMvs
gTN0uZUZpcPSCRdbNOjKhjisFWfDO7JrnrpAFrzxY0F004WNTtuCuQrowXvVOzGG
6m6nBZ+YVPUi8DBNNYxnR6Vg+B257q9+w8u46nDQlByBDn2jhCbinw==
-----END CERTIFICATE-----
"""


def test_a_settings_error_does_not_repeat_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_DEV_MODE", "true")
    given = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": "s3cret-pw"}
    with pytest.raises(ValidationError) as refused:
        ReceiverSettings(**given)  # type: ignore[arg-type]  # no username: refused
    assert "KAFKA_SASL_USERNAME" in str(refused.value)
    assert "s3cret-pw" not in str(refused.value)
