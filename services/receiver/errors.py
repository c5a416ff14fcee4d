"""The receiver's one root exception and its kinds."""

from __future__ import annotations


class ReceiverError(Exception):
    """Base of every error the receiver raises on purpose.

    PublishFailed is the one the same request could get past later (a 503, so the platform
    retries); every other kind never will (a 4xx).
    """


class PublishFailed(ReceiverError):
    """Kafka did not acknowledge the write in time; nothing can be promised about it."""


class FieldProblem(ReceiverError):
    """One field of a postback is missing or cannot be read."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidPostback(ReceiverError):
    """The postback cannot become an event; `problems` names every bad field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class UnreadableBody(ReceiverError):
    """The body is not well-formed in the format its content type claims."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
