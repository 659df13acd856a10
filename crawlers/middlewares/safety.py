"""Refuse requests that must never be sent: non-http(s) schemes, hosts outside the source's
domains, and hosts resolving to private/loopback/link-local addresses (RELIABILITY.md A10, invariant 9).

Every request passes here, including redirect hops and robots.txt fetches, because Scrapy sends
redirected requests through the whole downloader middleware chain again.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

from crawlers.crawl_log import source_extra
from crawlers.fetch_errors import FetchRefused
from crawlers.urls import host_allowed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # unresolvable: let the download fail with a DNS error
    return [str(info[4][0]) for info in infos]


class SafetyMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.source_id: str = settings.get("SCIPOL_SOURCE_ID", "?")
        self.domains: list[str] = [d.lower() for d in settings.getlist("SCIPOL_ALLOWED_DOMAINS")]
        self.allow_private: bool = settings.getbool("SCIPOL_ALLOW_PRIVATE_ADDRESSES")
        self._private_hosts: dict[str, str | None] = {}
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        parts = urlparse_cached(request)
        scheme = (parts.scheme or "").lower()
        if scheme not in ("http", "https"):
            raise FetchRefused("scheme", f"scheme {scheme or 'none'!r} is not fetched")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise FetchRefused("scheme", "URL has no host")
        if self.domains and not host_allowed(host, self.domains):
            raise FetchRefused("offsite", f"host {host} is outside {', '.join(self.domains)}")
        if not self.allow_private:
            bad = await self._private_address(host)
            if bad is not None:
                logger.warning(
                    "%s: refused %s: %s resolves to non-public address %s",
                    self.source_id,
                    request.url,
                    host,
                    bad,
                    extra=source_extra(self.source_id),
                )
                raise FetchRefused("private_address", f"{host} resolves to non-public address {bad}")

    async def _private_address(self, host: str) -> str | None:
        if host in self._private_hosts:
            return self._private_hosts[host]
        literal = host.strip("[]")
        try:
            ipaddress.ip_address(literal)
            addresses = [literal]
        except ValueError:
            # getaddrinfo blocks: run it in the reactor's thread pool.
            addresses = await maybe_deferred_to_future(deferToThread(_resolve, host))
        bad = next((a for a in addresses if not is_public_address(a)), None)
        self._private_hosts[host] = bad
        return bad
