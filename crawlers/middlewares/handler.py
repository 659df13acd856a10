"""The http(s) download handler: Scrapy's HTTP/1.1 handler plus the last checks before bytes go out.

- Host holds: after a 429/503 with Retry-After, no request to that origin (scheme://host:port) is
  sent until the window has passed (RELIABILITY.md A2). The hold is set here, when the response
  arrives, because the downloader hands its slot to the next queued request before any middleware
  sees the response.
- Backoff: a retry stamped by BackoffRetryMiddleware waits until its not-before time.
- Page budget: every request sent (articles, feeds, robots.txt, retries, redirect hops) counts.
- Deadline: in-flight downloads and waits are tracked so CrawlDeadline can cancel them; Scrapy's own
  close waits for every in-flight download, so one hung server would outlive the time limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer, task

from crawlers.crawl_log import source_extra
from crawlers.fetch_errors import FetchRefused
from crawlers.middlewares.retry import NOT_BEFORE_META, RETRY_AFTER_STATUSES, retry_after_seconds

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_CANCELLED = (defer.CancelledError, asyncio.CancelledError, DownloadCancelledError)


class CrawlGuard:
    """State shared by the http and https handler instances (and CrawlDeadline) of one crawler."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.sent = 0
        self.hold_until: dict[str, float] = {}
        self.pending: set[defer.Deferred[Any]] = set()
        """In-flight downloads and waits, cancelled when the crawl hits its deadline."""
        self.closing = False

    def hold(self, origin: str, seconds: float) -> None:
        self.hold_until[origin] = max(self.hold_until.get(origin, 0.0), time.monotonic() + seconds)

    def cancel_pending(self) -> int:
        self.closing = True
        pending = list(self.pending)
        for d in pending:
            d.cancel()
        return len(pending)


_GUARDS: dict[int, CrawlGuard] = {}


def guard_for(crawler: Crawler) -> CrawlGuard:
    key = id(crawler)
    if key not in _GUARDS:
        _GUARDS[key] = CrawlGuard(crawler.settings.getint("SCIPOL_PAGE_BUDGET", 0))
    return _GUARDS[key]


class PoliteHTTPDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.guard = guard_for(crawler)
        self.stats = crawler.stats
        self.source_id: str = crawler.settings.get("SCIPOL_SOURCE_ID", "?")
        self.cap_s: float = crawler.settings.getfloat("SCIPOL_RETRY_AFTER_CAP_S", 300.0)

    async def download_request(self, request: Request) -> Response:
        try:
            return await self._polite_download(request)
        except _CANCELLED as exc:
            if self.guard.closing:
                raise FetchRefused("timeout", "stopped: the crawl reached its time limit") from None
            if isinstance(exc, DownloadCancelledError):
                # Scrapy cancels a body growing past DOWNLOAD_MAXSIZE (with an empty message when
                # the size was not declared); nothing else of ours cancels a download.
                limit = request.meta.get("download_maxsize", self._default_maxsize)
                raise FetchRefused("too_large", f"body over the {limit} byte limit {exc}".strip()) from None
            raise

    async def _polite_download(self, request: Request) -> Response:
        if self.guard.closing:
            raise FetchRefused("timeout", "not sent: the crawl reached its time limit")
        parts = urlparse_cached(request)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        while True:
            now = time.monotonic()
            wait = (
                max(self.guard.hold_until.get(origin, 0.0), float(request.meta.get(NOT_BEFORE_META, 0.0)))
                - now
            )
            if wait <= 0:
                break
            if wait > self.cap_s:
                raise FetchRefused("http_status", f"{origin} asked to wait {wait:.0f} s (over the cap)")
            from twisted.internet import reactor

            await self._tracked(task.deferLater(reactor, wait, lambda: None))  # type: ignore[arg-type]
        if self.guard.budget and self.guard.sent >= self.guard.budget:
            self.stats.inc_value("scipol/budget/refused")
            raise FetchRefused("budget", f"page budget of {self.guard.budget} requests exhausted")
        self.guard.sent += 1
        self.stats.inc_value("scipol/requests_sent")
        response: Response = await self._tracked(deferred_from_coro(super().download_request(request)))
        if response.status in RETRY_AFTER_STATUSES:
            wait_s = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait_s:
                logger.info(
                    "%s: %s answered %s with Retry-After %.0f s: holding %s",
                    self.source_id,
                    request.url,
                    response.status,
                    wait_s,
                    origin,
                    extra=source_extra(self.source_id),
                )
                self.guard.hold(origin, wait_s)
        return response

    async def _tracked(self, d: defer.Deferred[Any]) -> Any:
        self.guard.pending.add(d)
        try:
            return await maybe_deferred_to_future(d)
        finally:
            self.guard.pending.discard(d)

    async def close(self) -> None:
        self.guard.cancel_pending()
        await super().close()
