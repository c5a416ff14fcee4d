"""Start-up rules and the receiver's published API description (no broker needed)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from receiver.app import PATH, create_app
from receiver.settings import ReceiverSettings


def test_refuses_to_start_without_a_secret_unless_in_development_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CATALOG_RECEIVER_SECRETS", raising=False)
    with pytest.raises(ValidationError, match="no secret configured"):
        ReceiverSettings()
    assert ReceiverSettings(dev_mode=True).secrets == []


def test_secrets_come_from_the_environment_and_never_show_in_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CATALOG_RECEIVER_SECRETS", '["s3cr3t-1", "s3cr3t-2"]')
    settings = ReceiverSettings()
    assert [s.get_secret_value() for s in settings.secrets] == ["s3cr3t-1", "s3cr3t-2"]
    assert "s3cr3t" not in repr(settings)


def test_openapi_describes_every_format_and_answer() -> None:
    spec = create_app(ReceiverSettings(secrets=[SecretStr("x")])).openapi()
    operation = spec["paths"][PATH]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "application/xml",
    }
    assert {"200", "401", "403", "413", "415", "422", "503"} <= set(operation["responses"])
    assert "get" in spec["paths"][PATH]
