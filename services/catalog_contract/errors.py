"""The contract's one root exception."""


class ContractError(Exception):
    """A value or key does not follow the topic contract.

    Retrying never helps: the bytes (or the object) are wrong, not the moment.
    """

    retryable = False


class DecodeError(ContractError):
    """Bytes read from the topic are not a value this contract can read."""
