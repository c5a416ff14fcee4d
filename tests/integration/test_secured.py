"""Secured connections through a real broker: SASL_SSL (PLAIN, SCRAM-SHA-256/512), SSL with a
client certificate, SASL_PLAINTEXT. A postback goes end to end over SASL_SSL with SCRAM, and
settings the cluster refuses stop the start-up with a clear error instead of a 503 loop."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from catalog_contract import topics as contract_topics
from catalog_contract.kafka_auth import KafkaAuthError, check_credentials
from catalog_contract.kafka_connection import KafkaConnection
from catalog_stream.broker import LocalBroker
from catalog_stream.replay import replay
from catalog_stream.replay_bounds import parse_bound
from catalog_stream.sinks import JsonLinesSink
from catalog_stream.topic_admin import TopicsError, ensure_all
from tests.secured_broker import (
    PASSWORD,
    USER,
    Certificates,
    listener_address,
    make_certificates,
    secured_broker,
)
from tests.support import (
    AUTH,
    Topics,
    eventually,
    projector_settings,
    receiver_settings,
    running_projector,
    running_receiver,
    running_services,
)

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalBroker, Certificates]]:
    folder = tmp_path_factory.mktemp("secured")
    certificates = make_certificates(folder / "certs")
    broker = secured_broker(folder / "kafka", folder / "certs")
    broker.start(timeout_s=180)
    try:
        yield broker, certificates
    finally:
        broker.stop()


def connection(
    secured: tuple[LocalBroker, Certificates], listener: str, **values: Any
) -> dict[str, Any]:
    """Connection settings for one listener, with the right CA; `values` override."""
    broker, certificates = secured
    protocol = {"SASLSSL": "SASL_SSL", "MTLS": "SSL", "SASLPLAIN": "SASL_PLAINTEXT"}[listener]
    settings: dict[str, Any] = {
        "bootstrap_servers": listener_address(broker, listener),
        "kafka_security_protocol": protocol,
    }
    if protocol.endswith("SSL"):
        settings["kafka_ssl_cafile"] = certificates.ca
    if protocol.startswith("SASL_"):
        settings |= {"kafka_sasl_username": USER, "kafka_sasl_password": PASSWORD}
    if listener == "MTLS":
        settings |= {
            "kafka_ssl_certfile": certificates.client_cert,
            "kafka_ssl_keyfile": certificates.client_key,
        }
    return settings | values


MATRIX = [
    ("SASLSSL", "PLAIN"),
    ("SASLSSL", "SCRAM-SHA-256"),
    ("SASLSSL", "SCRAM-SHA-512"),
    ("SASLPLAIN", "PLAIN"),
    ("SASLPLAIN", "SCRAM-SHA-256"),
    ("SASLPLAIN", "SCRAM-SHA-512"),
    ("MTLS", None),
]


@pytest.mark.parametrize(("listener", "mechanism"), MATRIX)
async def test_each_protocol_and_mechanism_connects_and_is_authenticated(
    secured: tuple[LocalBroker, Certificates], listener: str, mechanism: str | None
) -> None:
    values = {"kafka_sasl_mechanism": mechanism} if mechanism else {}
    kafka = KafkaConnection(**connection(secured, listener, **values))
    assert await check_credentials(kafka)
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        assert isinstance(await admin.list_topics(), list)
    finally:
        await admin.close()


async def test_a_postback_goes_end_to_end_over_sasl_ssl_with_scram(
    secured: tuple[LocalBroker, Certificates], tmp_path: Path
) -> None:
    kafka = connection(secured, "SASLSSL", kafka_sasl_mechanism="SCRAM-SHA-512")
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(product=f"secured.products.{suffix}", dead_letter=f"secured.dl.{suffix}")
    specs = [
        contract_topics.product_topic(topics.product, partitions=2),
        contract_topics.dead_letter_topic(topics.dead_letter),
    ]
    reports = await ensure_all(KafkaConnection(**kafka), specs)
    assert [report.created for report in reports] == [True, True]
    bootstrap = kafka.pop("bootstrap_servers")
    async with running_services(bootstrap, topics, tmp_path / "v.db", **kafka) as (
        receiver,
        projector,
    ):
        postback = {"CatalogId": "7", "CatalogItemId": "tls-1", "CurrentPrice": "3.50"}
        accepted = await receiver.post("/v1/postbacks/product-changes", json=postback, headers=AUTH)
        assert accepted.status_code == 200, accepted.text
        position = accepted.json()["position"]

        async def in_the_view() -> httpx.Response | None:
            # A fresh broker creates its offsets topic at the first group: give it time.
            url = "/v1/catalogs/7/items/tls-1"
            item = await projector.get(url, params={"min_position": position})
            assert item.status_code in (200, 504), item.text
            return item if item.status_code == 200 else None

        item = await eventually(in_the_view, timeout_s=120, every_s=0.5)
        assert item.json()["current_price"] == "3.50"
    output = tmp_path / "replayed.jsonl"
    summary = await replay(
        KafkaConnection(bootstrap_servers=bootstrap, **kafka),
        topics.product,
        parse_bound("earliest", "earliest"),
        parse_bound("now", "now"),
        set(),
        JsonLinesSink(output),
        progress=False,
    )
    # The postback, and (as it carries no DateLastUpdated) the projector's restatement of it.
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert summary.events == len(rows)
    assert [row["key"] for row in rows if row["restates"] is None] == ["7:tls-1"]


@pytest.mark.parametrize(
    ("listener", "wrong", "reason"),
    [
        ("SASLSSL", {"kafka_sasl_password": "not-the-password"}, "SaslAuthenticationFailed"),
        ("SASLPLAIN", {"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "nobody"}, "Sasl"),
        ("SASLSSL", {"kafka_ssl_cafile": "other_ca"}, "CERTIFICATE_VERIFY_FAILED"),
        ("MTLS", {"kafka_ssl_certfile": None, "kafka_ssl_keyfile": None}, "SSL"),
    ],
)
async def test_settings_the_cluster_refuses_stop_the_start_up_with_the_reason(
    secured: tuple[LocalBroker, Certificates],
    tmp_path: Path,
    listener: str,
    wrong: dict[str, Any],
    reason: str,
) -> None:
    if wrong.get("kafka_ssl_cafile") == "other_ca":
        wrong = {"kafka_ssl_cafile": secured[1].other_ca}
    kafka = connection(secured, listener, **wrong)
    bootstrap = kafka.pop("bootstrap_servers")
    topics = Topics(product="never.created", dead_letter="never.created.dl")
    with pytest.raises(KafkaAuthError, match=reason) as refused:
        async with running_receiver(
            receiver_settings(bootstrap, topics, **kafka), wait_ready=False
        ):
            pass
    assert "not-the-password" not in str(refused.value)
    assert PASSWORD not in str(refused.value)
    projector = projector_settings(bootstrap, topics, tmp_path / "v.db", **kafka)
    with pytest.raises(KafkaAuthError, match=reason):
        async with running_projector(projector):
            pass
    with pytest.raises(TopicsError, match="refused the connection settings") as topics_error:
        await ensure_all(KafkaConnection(bootstrap_servers=bootstrap, **kafka), [])
    assert not topics_error.value.retryable
