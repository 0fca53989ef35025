"""Which URLs a subscription may post to.

http or https only, no credentials in the URL. In production a host that is, or resolves to, a
private, loopback, link-local or otherwise non-public address is refused (at subscription and
again at each send, against DNS changes), so a subscription cannot reach the platform's own
network. `OUTGOING_WEBHOOKS_ALLOW_PRIVATE` (on with DEBUG and under tests, whose receiver
listens on 127.0.0.1) lifts that one rule.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURL(ValueError):
    """The URL may not receive deliveries; the message says why."""


def _addresses(host: str) -> list[str]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve") from exc


def url_check(url: str, *, resolve: bool = True) -> str:
    """The URL when it may receive deliveries; UnsafeURL otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in the URL are not allowed; verify the signature instead")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UnsafeURL("the port is not a number from 0 to 65535") from exc
    if getattr(settings, "OUTGOING_WEBHOOKS_ALLOW_PRIVATE", False) or not resolve:
        return url
    for address in _addresses(parts.hostname):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise UnsafeURL(
                f"{parts.hostname} is a private, loopback or reserved address ({ip});"
                " deliveries go to public addresses only"
            )
    return url
