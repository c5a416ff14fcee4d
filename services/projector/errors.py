"""The projector's one root exception."""


class ProjectorError(Exception):
    """Base of the projector's own errors; each leaves the batch unwritten. The consumer loop
    decides by kind: StoreRefused (the data, never the moment) is applied record by record and
    the refused record dead-lettered; any other kind is retried (re-read the stored positions;
    wait first unless PositionConflict)."""


class StoreUnavailable(ProjectorError):
    """The view store could not be reached or written; the batch was rolled back."""


class PositionConflict(ProjectorError):
    """The store's offsets moved under this batch (another instance applied them): re-read
    positions and seek; the batch was not written."""


class GenerationMoved(ProjectorError):
    """Another instance switched the views to a new generation: this batch was not written to
    the retired one; the consumer stops and the runtime follows (GenerationFollower)."""


class StoreRefused(ProjectorError):
    """The store refused the batch's data (a value it cannot hold): retrying the same batch never
    helps; the projector isolates the record and dead-letters it."""


class DeadLetterUnavailable(ProjectorError):
    """A record the views cannot apply could not be kept in the dead-letter topic: the batch is
    not written (nothing is lost) and is tried again."""


class StoreFailed(StoreUnavailable):
    """A read the store refused for a reason waiting does not mend (a defect: an SQL statement
    the database rejects, a table missing): the read API answers 500 and logs it, not a 503
    that clients retry for ever. Elsewhere it is handled as StoreUnavailable."""
