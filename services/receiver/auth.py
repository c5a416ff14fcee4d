"""Who may post: a shared secret in one header (constant-time), and optionally source networks."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from pydantic import SecretStr

Network = IPv4Network | IPv6Network


def secret_matches(presented: bytes | None, secrets: Sequence[SecretStr]) -> bool:
    """True if the header's bytes, as sent, equal any configured secret's UTF-8 bytes.

    Bytes, not text: a header is bytes on the wire (servers decode it as Latin-1), so comparing
    decoded text could never match a non-ASCII secret. Every secret is compared (no early exit)
    with `hmac.compare_digest`, so the time taken says nothing about which secret, or how much
    of one, matched.
    """
    if presented is None:
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(presented, secret.get_secret_value().encode("utf-8"))
    return matched


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: list[str], trusted_proxies: Sequence[Network]
) -> IPv4Address | IPv6Address | None:
    """The caller's address: the TCP peer, or, when the peer is a trusted proxy, the right-most
    `X-Forwarded-For` entry that is not itself a trusted proxy.

    `forwarded_for` is every X-Forwarded-For header line in order: a proxy may append its own
    line after the client's, so reading only the first line believed what the client wrote. An
    entry that is not an address ends the walk with no address (refused by an allow-list)."""
    address = _address(peer) if peer else None
    if address is None or not forwarded_for:
        return address
    hops = [_address(hop) for line in forwarded_for for hop in line.split(",")]
    while address is not None and any(address in net for net in trusted_proxies) and hops:
        address = hops.pop()
    return address


def address_allowed(address: IPv4Address | IPv6Address | None, allowed: Sequence[Network]) -> bool:
    if not allowed:
        return True
    return address is not None and any(address in net for net in allowed)
