"""Who may post: a shared secret in one header (constant-time), and optionally source networks."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from pydantic import SecretStr

Network = IPv4Network | IPv6Network


def secret_matches(presented: str | None, secrets: Sequence[SecretStr]) -> bool:
    """True if `presented` equals any configured secret.

    Every secret is compared (no early exit) with `hmac.compare_digest`, so the time taken says
    nothing about which secret, or how much of one, matched.
    """
    if presented is None:
        return False
    given = presented.encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(given, secret.get_secret_value().encode())
    return matched


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[Network]
) -> IPv4Address | IPv6Address | None:
    """The caller's address: the TCP peer, or, when the peer is a trusted proxy, the right-most
    `X-Forwarded-For` entry that is not itself a trusted proxy."""
    address = _address(peer) if peer else None
    if address is None or not forwarded_for:
        return address
    hops = [_address(hop) for hop in forwarded_for.split(",")]
    while address is not None and any(address in net for net in trusted_proxies) and hops:
        address = hops.pop()
    return address


def address_allowed(address: IPv4Address | IPv6Address | None, allowed: Sequence[Network]) -> bool:
    if not allowed:
        return True
    return address is not None and any(address in net for net in allowed)
