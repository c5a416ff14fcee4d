"""The projector's one root exception."""


class ProjectorError(Exception):
    """Base of the projector's own errors; `retryable` says whether trying again can help."""

    retryable = False


class StoreUnavailable(ProjectorError):
    """The view store could not be reached or written; the batch was rolled back."""

    retryable = True


class PositionConflict(ProjectorError):
    """The store's offsets moved under this batch (another instance applied them): re-read
    positions and seek; the batch was not written."""

    retryable = True


class StoreRefused(ProjectorError):
    """The store refused the batch's data (a value it cannot hold): retrying the same batch never
    helps; the projector isolates the record and dead-letters it."""


class DeadLetterUnavailable(ProjectorError):
    """A record the views cannot apply could not be kept in the dead-letter topic: the batch is
    not written (nothing is lost) and is tried again."""

    retryable = True
