"""Which destinations a sink may reach. Pure: the rules, not the sockets.

By default a sink reaches only ``https`` URLs whose host resolves to public unicast
addresses. Two switches widen that:

- ``allow_private: true`` on a sink: plain ``http`` and any address (private, loopback,
  link-local, …) for that sink alone;
- the dispatcher's development mode: plain ``http`` to loopback addresses only, and
  ``https`` to loopback as well as public addresses.

Cloud metadata endpoints (``169.254.169.254``, ``fd00:ec2::254`` and friends) are refused
even with ``allow_private``: no alert sink lives there, and they are what server-side
request forgery goes after. :mod:`services.dispatcher.outbound` applies these rules to
every address a host name resolves to, at connect time.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit

from services.dispatcher.errors import DestinationRefused

__all__ = ["METADATA_ADDRESSES", "Reach", "address_class", "reach_for"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, …
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_class(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is, or ``None`` for a public one.

    IPv4 addresses embedded in IPv6 (``::ffff:10.0.0.1``, NAT64 ``64:ff9b::a00:1``) are
    judged by the IPv4 address they carry.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_class(ip.ipv4_mapped)
        if ip in _NAT64:
            return address_class(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for name, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
    ):
        if flag:
            return name
    return None if ip.is_global else "reserved"


class Reach(StrEnum):
    """The set of addresses one sink may connect to."""

    PUBLIC = "public"
    PUBLIC_OR_LOOPBACK = "public-or-loopback"
    LOOPBACK = "loopback"
    PRIVATE = "private"

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` is refused, or ``None`` when it may be reached."""
        kind = address_class(ip)
        if kind == "cloud metadata":
            return "a cloud metadata address, never allowed"
        if self is Reach.PRIVATE or (kind is None and self is not Reach.LOOPBACK):
            return None
        if kind == "loopback" and self in (Reach.LOOPBACK, Reach.PUBLIC_OR_LOOPBACK):
            return None
        if self is Reach.LOOPBACK:
            return f"{kind or 'public'} address; plain http is allowed to loopback only"
        return f"{kind} address; set allow_private on the sink to allow it"


def reach_for(url: str, *, allow_private: bool, dev_mode: bool) -> Reach:
    """The reach of a sink posting to ``url``, or :class:`DestinationRefused`.

    Checks what can be checked without DNS: the scheme, that there is a host, no
    credentials in the URL, and a literal IP address against the rules. Messages name the
    scheme and host only, never the path (a Slack webhook's path is its secret).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise DestinationRefused("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise DestinationRefused(f"not an http(s) URL with a host (scheme {parts.scheme!r})")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("credentials in the URL are not supported; use *_env keys")
    if allow_private:
        reach = Reach.PRIVATE
    elif parts.scheme == "http":
        if not dev_mode:
            raise DestinationRefused(
                f"plain http to {host} refused: use https, or allow_private on the sink "
                "(or development mode, for loopback)"
            )
        reach = Reach.LOOPBACK
    else:
        reach = Reach.PUBLIC_OR_LOOPBACK if dev_mode else Reach.PUBLIC
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return reach
    refusal = reach.refusal(literal)
    if refusal is not None:
        raise DestinationRefused(f"{host} refused: {refusal}")
    return reach
