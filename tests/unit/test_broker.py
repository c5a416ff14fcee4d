"""Pure parts of the local broker launcher (no JVM started)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

from catalog_stream.broker import LocalBroker, new_cluster_id
from catalog_stream.cluster import LocalCluster


def uuids(*values: str) -> Iterator[uuid.UUID]:
    return (uuid.UUID(value) for value in values)


def test_cluster_id_is_the_uuid_in_url_safe_base64_without_padding() -> None:
    source = uuids("00112233-4455-6677-8899-aabbccddeeff")
    assert new_cluster_id(lambda: next(source)) == "ABEiM0RVZneImaq7zN3u_w"


def test_cluster_id_never_starts_with_a_dash_that_the_storage_tool_would_read_as_an_option() -> (
    None
):
    # 0xF8... encodes to "-" first in URL-safe base64; the launcher must draw again.
    source = uuids("f8112233-4455-6677-8899-aabbccddeeff", "00112233-4455-6677-8899-aabbccddeeff")
    assert new_cluster_id(lambda: next(source)) == "ABEiM0RVZneImaq7zN3u_w"


def _properties(broker: LocalBroker) -> dict[str, str]:
    lines = broker._properties().read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_three_nodes_share_voters_and_cluster_id_and_replicate_internal_topics(
    tmp_path: Path,
) -> None:
    cluster = LocalCluster.on_ports(tmp_path, [9100, 9102, 9104], [9101, 9103, 9105])
    assert cluster.bootstrap_servers == "127.0.0.1:9100,127.0.0.1:9102,127.0.0.1:9104"
    assert len({node.cluster_id for node in cluster.nodes}) == 1
    second = cluster.nodes[1]
    second.data_dir.mkdir(parents=True)
    settings = _properties(second)
    assert settings["node.id"] == "2"
    assert settings["controller.quorum.voters"] == (
        "1@127.0.0.1:9101,2@127.0.0.1:9103,3@127.0.0.1:9105"
    )
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:9102,CONTROLLER://127.0.0.1:9103"
    assert settings["offsets.topic.replication.factor"] == "3"
    assert settings["transaction.state.log.min.isr"] == "2"
    # A restart finds the same cluster id (its storage was formatted with it).
    again = LocalCluster.on_ports(tmp_path, [9100, 9102, 9104], [9101, 9103, 9105])
    assert again.nodes[0].cluster_id == cluster.nodes[0].cluster_id


def test_one_node_is_the_single_broker_of_before(tmp_path: Path) -> None:
    (node,) = LocalCluster.for_command(tmp_path, 9092, 9093, nodes=1).nodes
    assert (node.data_dir, node.port, node.controller_port, node.heap) == (
        tmp_path,
        9092,
        9093,
        "1g",
    )
    three = LocalCluster.for_command(tmp_path / "three", 9092, 9093, nodes=3)
    assert [(n.port, n.controller_port) for n in three.nodes] == [
        (9092, 9093),
        (9094, 9095),
        (9096, 9097),
    ]
    alone = LocalBroker(tmp_path / "alone")
    alone.data_dir.mkdir()
    settings = _properties(alone)
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert settings["offsets.topic.replication.factor"] == "1"
    assert settings["transaction.state.log.min.isr"] == "1"


def test_secured_listeners_are_added_to_the_plaintext_one(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path, 9092, 9093, listeners={"SECURE": ("SASL_SSL", 9099)})
    settings = _properties(broker)
    assert settings["listener.security.protocol.map"] == (
        "PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL,CONTROLLER:PLAINTEXT"
    )
    assert settings["advertised.listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,SECURE://127.0.0.1:9099"
    )
