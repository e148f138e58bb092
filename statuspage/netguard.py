"""Endpoint URLs we are asked to POST to, and the addresses we refuse to reach (SSRF).

A subscriber's URL is checked when it is given and again at every send: the host is resolved
and every address it resolves to must be public. Loopback, private, link-local (cloud
metadata services live there), multicast, reserved and unspecified addresses are refused
unless ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` is set. The request then goes to the address that
was checked, so a DNS answer that changes between the check and the connection cannot send it
elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .validation import N_, ValidationError

URL_MAX = 2000


class BlockedAddress(ValidationError):
    """The URL's host is, or resolves to, an address we do not send to."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str  # with the query string
    addresses: tuple[str, ...]


def check_url(url: str, field: str = "endpoint") -> str:
    """The URL, stripped, if it is an absolute http(s) URL with a host; ValidationError else."""
    text = (url or "").strip()
    if not text:
        raise ValidationError(N_("Give the endpoint URL."), field)
    if len(text) > URL_MAX or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValidationError(N_("The endpoint URL is too long or has spaces in it."), field)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(N_("The endpoint must be an http:// or https:// URL."), field)
    if parts.username or parts.password:
        raise ValidationError(N_("The endpoint URL must not carry a user name or password."), field)
    try:
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise ValidationError(N_("The endpoint URL has an invalid port."), field) from None
    return text


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def resolve(url: str, *, allow_private: bool, field: str = "endpoint") -> Target:
    """Resolve the URL's host; BlockedAddress when any of its addresses may not be reached."""
    parts = urlsplit(check_url(url, field))
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(f"The host {host} cannot be resolved.", field) from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for raw in addresses:
            if _refused(ipaddress.ip_address(raw.split("%")[0])):
                raise BlockedAddress(
                    f"The host {host} resolves to {raw}, a loopback, private or reserved "
                    "address; webhooks are sent to public addresses only.", field)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses)
