"""What the generated reader (generated_reader.py) calls for the values it does not read inline:
varints of more than one byte, and the logical types, each giving exactly the object fastavro's
logical readers give. Any value read differently from fastavro (or that fastavro refuses) raises
(`Declined`, or the error of the step that failed), and the caller reads the value with fastavro.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Context, Decimal

# fastavro's epoch for timestamp-micros: its reader adds `timedelta(microseconds=n)` to it; the
# generated reader adds `timedelta(0, 0, n)`, the same sum (positional: half the time).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The length or count a one-byte varint says, by its byte: -1 for a negative one or a byte that
# continues (those take `read_size`).
ONE_BYTE_SIZE: tuple[int, ...] = tuple(b >> 1 if b < 0x80 and not b & 1 else -1 for b in range(256))


class Declined(Exception):
    """A value the generated reader leaves to fastavro, which reads (or refuses) it."""


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """The zig-zag varint at `pos` and the position after it. At most 9 bytes (63 bits, every
    long a record of ours holds): a longer one is Declined, for fastavro's own answer. One of
    8 bytes (a time of these years in microseconds) is read as one little-endian int whose
    7-bit groups are moved together (a third of the loop's time); cut short, it reads as one
    ending past the data, which the generated reader declines."""
    eight = int.from_bytes(data[pos : pos + 8], "little")
    if eight & _CONTINUES == _EIGHT_BYTES:
        n = eight & 0x7F7F7F7F7F7F7F7F
        n = (n & 0x007F007F007F007F) | ((n & 0x7F007F007F007F00) >> 1)
        n = (n & 0x00003FFF00003FFF) | ((n & 0x3FFF00003FFF0000) >> 2)
        n = (n & 0x000000000FFFFFFF) | ((n & 0x0FFFFFFF00000000) >> 4)
        return (n >> 1) ^ -(n & 1), pos + 8
    byte = data[pos]
    n = byte & 0x7F
    shift = 7
    pos += 1
    while byte > 0x7F:
        if shift > 56:
            raise Declined
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
    return (n >> 1) ^ -(n & 1), pos


_CONTINUES = 0x8080808080808080  # the continuation bit of each of 8 bytes
_EIGHT_BYTES = 0x0080808080808080  # set in the first 7: a varint of exactly 8 bytes


def read_int(data: bytes, pos: int) -> tuple[int, int]:
    """An Avro int: a long in 32 bits; out of range it is fastavro's to read or refuse."""
    n, pos = read_long(data, pos)
    if not -(2**31) <= n < 2**31:
        raise Declined
    return n, pos


def read_size(data: bytes, pos: int) -> tuple[int, int]:
    """A length or a block count: a positive varint (fastavro reads negative ones its own way)."""
    n, pos = read_long(data, pos)
    if n <= 0:
        raise Declined
    return n, pos


_new = object.__new__
_set_int = vars(uuid.UUID)["int"].__set__
_set_is_safe = vars(uuid.UUID)["is_safe"].__set__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown  # what UUID(hex) says of an id read from text


def uuid_of(text: str) -> uuid.UUID:
    """`uuid.UUID(text)` (fastavro's uuid reader): the same steps on the text as its __init__,
    then its two slots set directly (its checks of the other four arguments were most of it)."""
    hex_digits = text.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    if len(hex_digits) != 32:
        raise Declined  # UUID raises ValueError: fastavro refuses the value
    value = _new(uuid.UUID)
    _set_int(value, int(hex_digits, 16))  # 32 hex digits: always 0 <= int < 2**128
    _set_is_safe(value, _UNKNOWN_SAFETY)
    return value


def decimal_reader(precision: int, scale: int) -> Callable[[int], Decimal] | None:
    """fastavro's `Context(prec=precision).create_decimal(unscaled).scaleb(-scale)`, for an
    unscaled value of at most `precision` digits: then nothing rounds, and the result is the
    unscaled digits with exponent -scale, which `Decimal(unscaled).scaleb(-scale)` gives in a
    context of its own (not the thread's, which a caller may have changed). More digits round
    in fastavro's way: Declined."""
    if precision < 1 or scale < 0:
        return None
    limit = 10**precision
    context = Context(prec=precision)
    exponent = -scale

    def read(unscaled: int) -> Decimal:
        if not -limit < unscaled < limit:
            raise Declined
        return Decimal(unscaled).scaleb(exponent, context)

    return read
