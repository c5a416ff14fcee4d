"""Several local KRaft nodes on loopback forming one cluster (`catalog-stream broker --nodes 3`).

Every node is broker and controller, with a fixed voter set and one shared cluster id, each in a
data directory of its own (`node-1`, `node-2`, ...). They start together (a controller quorum
needs a majority before any node reports itself started) and stop together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from catalog_stream.broker import LocalBroker, new_cluster_id
from catalog_stream.java_libs import DEFAULT_LIB_DIR

CLUSTER_ID_FILE = "cluster-id"


@dataclass
class LocalCluster:
    data_dir: Path
    nodes: list[LocalBroker] = field(default_factory=list)

    @classmethod
    def on_ports(
        cls,
        data_dir: Path,
        ports: list[int],
        controller_ports: list[int],
        heap: str = "512m",
        lib_dir: Path = DEFAULT_LIB_DIR,
    ) -> LocalCluster:
        """Node i listens for clients on ports[i] and for controllers on controller_ports[i]."""
        data_dir.mkdir(parents=True, exist_ok=True)
        id_file = data_dir / CLUSTER_ID_FILE  # kept, so a restart finds the same cluster
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        cluster_id = id_file.read_text().strip()
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(controller_ports))
        nodes = [
            LocalBroker(
                data_dir / f"node-{i + 1}",
                port=port,
                controller_port=controller_port,
                lib_dir=lib_dir,
                heap=heap,
                node_id=i + 1,
                voters=voters,
                cluster_id=cluster_id,
            )
            for i, (port, controller_port) in enumerate(zip(ports, controller_ports, strict=True))
        ]
        return cls(data_dir, nodes)

    @classmethod
    def on_loopback(
        cls, data_dir: Path, first_port: int, nodes: int, heap: str = "512m"
    ) -> LocalCluster:
        """Node i (from 0) takes port first_port + 2i for clients and the next for controllers,
        so one node is exactly `catalog-stream broker` (9092 and 9093 by default)."""
        ports = [first_port + 2 * i for i in range(nodes)]
        return cls.on_ports(data_dir, ports, [port + 1 for port in ports], heap)

    @classmethod
    def for_command(
        cls, data_dir: Path, port: int, controller_port: int, nodes: int
    ) -> LocalCluster:
        """`broker`/`run`: one node is the single broker of before (data in `data_dir`,
        1 GiB heap); more are `on_loopback` (data in `data_dir/node-i`)."""
        if nodes == 1:
            return cls(data_dir, [LocalBroker(data_dir, port, controller_port)])
        return cls.on_loopback(data_dir, port, nodes)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def start(self, timeout_s: float = 180) -> None:
        """Start every node, then wait until each reports started (the quorum formed)."""
        deadline = time.monotonic() + timeout_s
        try:
            offsets = [node.launch() for node in self.nodes]
            for node, offset in zip(self.nodes, offsets, strict=True):
                node.wait_started(offset, deadline)
        except BaseException:
            self.kill()
            raise

    def stop(self, timeout_s: float = 60) -> None:
        """SIGTERM to all at once: stopped one by one, the last ones would wait for a quorum."""
        for node in self.nodes:
            node.send_stop()
        for node in self.nodes:
            node.wait_stopped(timeout_s)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()
