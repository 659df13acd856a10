"""Name resolution that refuses non-public answers at connect time (DNS rebinding, RELIABILITY.md).

`SafetyMiddleware` resolves a request's host and refuses private, loopback and link-local addresses,
but the connection is made after a second lookup, by this resolver: a name that answered with a
public address the first time and a private one the second (a rebinding attack, or a short TTL)
would have reached an internal service. Here the address actually connected to is checked too.

The resolver is process-wide while the crawl host runs many sources, so the exception for sources
that explicitly allow private addresses (tests, the demo) is by host: `allow_private_hosts` is fed
with those sources' domains when their crawls start. IP literals never reach a resolver (Twisted
connects to them directly); the middleware checks those.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from crawlers.middlewares.safety import is_public_address
from crawlers.urls import host_allowed

_guard = threading.Lock()
# An operator's HTTP(S) proxy (http_proxy, https_proxy...) often has a private address: connections
# go to it, and the proxy resolves the site itself.
_private_ok: set[str] = {
    host.lower() for url in getproxies().values() if (host := urlsplit(url).hostname or "")
}


class PrivateAddressLookup(DNSLookupError):
    """A name resolved to a non-public address for a source that does not allow those."""


def allow_private_hosts(domains: Iterable[str]) -> None:
    """Let these hosts (and their subdomains) resolve to private addresses in this process."""
    with _guard:
        _private_ok.update(d.lower().rstrip(".") for d in domains)


def check_address(name: str, address: str) -> str:
    """`address` when `name` may connect to it; else raises PrivateAddressLookup."""
    if is_public_address(address):
        return address
    with _guard:
        allowed = sorted(_private_ok)
    if allowed and host_allowed(name.lower().rstrip("."), allowed):
        return address
    raise PrivateAddressLookup(f"{name} resolves to non-public address {address}")


class PublicOnlyResolver(CachingThreadedResolver):
    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Any:  # noqa: N802 - Twisted's name
        deferred = super().getHostByName(name, timeout)
        deferred.addCallback(lambda address: check_address(name, address))
        return deferred
