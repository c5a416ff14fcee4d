"""The README and docker-compose.yml say what the code does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from projector.settings import ProjectorSettings
from receiver.settings import ReceiverSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCUMENTED = set(re.findall(r"^\| `((?:CATALOG|KAFKA)_[A-Z_]+)` \|", README, re.MULTILINE))


def _field_for(variable: str) -> tuple[type, str] | None:
    for prefix, settings in (
        ("CATALOG_RECEIVER_", ReceiverSettings),
        ("CATALOG_PROJECTOR_", ProjectorSettings),
    ):
        if variable.startswith(prefix):
            return settings, variable.removeprefix(prefix).lower()
    return None


def test_every_documented_service_variable_is_a_real_setting() -> None:
    assert len(DOCUMENTED) > 20
    for variable in DOCUMENTED:
        found = _field_for(variable)
        if found is not None:
            settings, name = found
            assert name in settings.model_fields, f"README documents {variable}, no such setting"  # type: ignore[attr-defined]


def test_every_receiver_and_projector_setting_is_documented() -> None:
    for prefix, settings in (
        ("CATALOG_RECEIVER_", ReceiverSettings),
        ("CATALOG_PROJECTOR_", ProjectorSettings),
    ):
        for name in settings.model_fields:
            if name == "bootstrap_servers":
                assert "KAFKA_BOOTSTRAP_SERVERS" in DOCUMENTED
                continue
            if name.startswith("kafka_"):  # the shared connection settings: same name everywhere
                assert name.upper() in DOCUMENTED, f"{name.upper()} not in README"
                continue
            assert f"{prefix}{name.upper()}" in DOCUMENTED, f"{prefix}{name.upper()} not in README"


def test_compose_parses_with_healthchecks_and_documented_settings() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "receiver", "projector"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    for name in ("kafka", "receiver", "projector"):
        assert "healthcheck" in services[name], name
    for name in ("topics", "receiver", "projector"):
        for variable in services[name]["environment"]:
            assert variable in DOCUMENTED, f"compose sets {variable}, README does not document it"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_compose_keeps_kafka_off_the_host_and_has_no_default_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    # PLAINTEXT Kafka: published nowhere, or on loopback only.
    for mapping in services["kafka"].get("ports", []):
        assert str(mapping).startswith("127.0.0.1:"), mapping
    secrets = services["receiver"]["environment"]["CATALOG_RECEIVER_SECRETS"]
    assert ":-" not in secrets  # no fallback value
    assert ":?" in secrets  # unset: compose refuses to start
    assert "dev-secret" not in text
