"""Reading a postback request: the few headers the flow needs, in one pass, and the body within
its size limit, straight from the ASGI messages (intake_flow.py is the flow that uses them)."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLarge(Exception):
    def __init__(self, prefix: bytes, length: int) -> None:
        self.prefix = prefix
        self.length = length  # at least; the rest was not read


class Wanted:
    """The request headers the flow reads, found in one pass over the raw list, each the first
    of its (lower-case) name: what Starlette's `request.headers.get` gave, at a third of the
    cost of three look-ups (each lowers, encodes and scans, and a missing one raises inside)."""

    __slots__ = ("content_length", "content_type", "credential")

    def __init__(self, raw: list[tuple[bytes, bytes]], credential_header: bytes) -> None:
        credential = content_type = content_length = None
        for name, value in raw:
            if name == credential_header:
                if credential is None:
                    credential = value
            elif name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"content-length" and content_length is None:
                content_length = value
        self.credential: bytes | None = credential  # the bytes as sent
        self.content_type = None if content_type is None else content_type.decode("latin-1")
        self.content_length = "" if content_length is None else content_length.decode("latin-1")


def _is_length(declared: str) -> bool:
    return declared.isascii() and declared.isdigit() and len(declared) <= _LENGTH_DIGITS


_LENGTH_DIGITS = 18  # up to an exabyte less one: any real length, and int() reads it


async def read_body(request: Request, limit: int, declared: str) -> bytes:
    """The body, from the ASGI messages as `request.stream()` reads them (ClientDisconnect when
    the client leaves first), without its async generator; a body in one message (the usual
    case) is returned as it came, not copied."""
    # Only plain ASCII digits of a sane length are a length (str.isdigit() also says yes to
    # "²", and int() refuses text of over 4300 digits): anything else, the body read decides.
    if _is_length(declared) and int(declared) > limit:
        raise BodyTooLarge(b"", int(declared))
    receive = request.receive
    body = b""
    gathered: bytearray | None = None
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                if gathered is None and not body:
                    body = chunk
                else:
                    if gathered is None:
                        gathered = bytearray(body)
                    gathered += chunk
                size = len(body) if gathered is None else len(gathered)
                if size > limit:
                    whole = body if gathered is None else gathered
                    raise BodyTooLarge(bytes(whole[:limit]), size)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
    return bytes(body if gathered is None else gathered)
