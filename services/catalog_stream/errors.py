"""The ops package's one root exception. A command raises it (or a kind of it) and
`cli.exit_code` turns it into the command's exit code, in one place."""

from __future__ import annotations


class CatalogStreamError(Exception):
    """A command could not do what was asked; the message says why (it is printed as is).

    `retryable`: running the same command again later may succeed (the broker or the projector
    did not answer), so the exit code is 75 (EX_TEMPFAIL) instead of 1.
    """

    retryable = False

    def __init__(self, message: str, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class UsageError(CatalogStreamError):
    """A command-line value the command cannot use (exit 2, like argparse's own errors)."""
