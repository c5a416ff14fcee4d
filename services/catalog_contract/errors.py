"""The contract's one root exception."""


class ContractError(Exception):
    """A value or key does not follow the topic contract, or Kafka refused the connection
    settings (KafkaAuthError). Retrying never helps: the bytes, the object or the settings are
    wrong, not the moment.
    """


class DecodeError(ContractError):
    """Bytes read from the topic are not a value this contract can read."""
