"""The product topic's contract, shared by the receiver, the projector and outside consumers:
schemas, the Avro codec, the key format, and topic names and settings."""

from catalog_contract.codec import decode, encode
from catalog_contract.errors import ContractError, DecodeError
from catalog_contract.events import Availability, ChangeType, ProductChange
from catalog_contract.keys import parse_key, partition_for, product_key
from catalog_contract.topics import DEAD_LETTER_TOPIC, PRODUCT_TOPIC

__all__ = [
    "DEAD_LETTER_TOPIC",
    "PRODUCT_TOPIC",
    "Availability",
    "ChangeType",
    "ContractError",
    "DecodeError",
    "ProductChange",
    "decode",
    "encode",
    "parse_key",
    "partition_for",
    "product_key",
]
