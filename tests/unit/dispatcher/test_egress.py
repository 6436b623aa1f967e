"""Which addresses and URLs a sink may reach, decided without any network."""

from __future__ import annotations

import ipaddress

import pytest

from services.dispatcher.egress import Reach, address_class, reach_for
from services.dispatcher.errors import DestinationRefused


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "reserved"),  # carrier-grade NAT: not public
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_addresses_are_classified(address: str, kind: str | None) -> None:
    assert address_class(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    ("reach", "allowed", "refused"),
    [
        (Reach.PUBLIC, ["93.184.216.34"], ["127.0.0.1", "10.0.0.1", "169.254.169.254"]),
        (Reach.PUBLIC_OR_LOOPBACK, ["93.184.216.34", "::1"], ["10.0.0.1", "fe80::1"]),
        (Reach.LOOPBACK, ["127.0.0.1", "::1"], ["93.184.216.34", "10.0.0.1"]),
        (Reach.PRIVATE, ["93.184.216.34", "127.0.0.1", "10.0.0.1"], ["169.254.169.254"]),
    ],
)
def test_each_reach_allows_and_refuses(
    reach: Reach, allowed: list[str], refused: list[str]
) -> None:
    assert all(reach.refusal(ipaddress.ip_address(a)) is None for a in allowed)
    assert all(reach.refusal(ipaddress.ip_address(a)) is not None for a in refused)


@pytest.mark.parametrize(
    ("url", "allow_private", "dev_mode", "reach"),
    [
        ("https://hooks.slack.com/services/x", False, False, Reach.PUBLIC),
        ("https://hooks.example.com/x", False, True, Reach.PUBLIC_OR_LOOPBACK),
        ("http://localhost:9000/x", False, True, Reach.LOOPBACK),
        ("http://127.0.0.1:9000/x", False, True, Reach.LOOPBACK),
        ("http://receiver.internal/x", True, False, Reach.PRIVATE),
        ("https://10.0.0.5/x", True, False, Reach.PRIVATE),
    ],
)
def test_the_reach_of_a_url(url: str, allow_private: bool, dev_mode: bool, reach: Reach) -> None:
    assert reach_for(url, allow_private=allow_private, dev_mode=dev_mode) is reach


@pytest.mark.parametrize(
    ("url", "dev_mode", "why"),
    [
        ("http://hooks.example.com/x", False, "plain http"),
        ("http://10.0.0.1/x", True, "plain http is allowed to loopback only"),
        ("https://10.0.0.1/x", True, "private address"),
        ("https://[fd00:ec2::254]/x", False, "cloud metadata"),
        ("https:///nohost", False, "with a host"),
        ("https://hooks.example.com:99999/x", False, "not a valid URL"),
        ("file:///etc/passwd", False, "not an http"),
    ],
)
def test_unsafe_urls_are_refused(url: str, dev_mode: bool, why: str) -> None:
    with pytest.raises(DestinationRefused, match=why):
        reach_for(url, allow_private=False, dev_mode=dev_mode)


def test_metadata_literal_is_refused_even_with_allow_private() -> None:
    with pytest.raises(DestinationRefused, match="cloud metadata"):
        reach_for("http://169.254.169.254/latest", allow_private=True, dev_mode=False)
