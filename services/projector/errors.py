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
