"""CrawlDeadline: Scrapy's CLOSESPIDER_TIMEOUT, but one that also cancels in-flight downloads.

Scrapy's CloseSpider extension waits for in-flight requests before closing, so a hung server keeps
the crawl alive until the runner kills it, and then no stats are written. This extension cancels
what the download handler has in flight (those URLs become FetchError "timeout") and closes the spider.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawlers.crawl_log import source_extra
from crawlers.middlewares.handler import guard_for

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class CrawlDeadline:
    def __init__(self, crawler: Crawler) -> None:
        self.timeout_s = crawler.settings.getfloat("CLOSESPIDER_TIMEOUT")
        if self.timeout_s <= 0:
            raise NotConfigured
        self.crawler = crawler
        self._call: Any = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _opened(self) -> None:
        from twisted.internet import reactor

        # The global reactor module is not typed as an IReactorTime provider, and the zope interface's
        # self-less method signature shifts every argument by one under mypy.
        self._call = reactor.callLater(self.timeout_s, self._fire)  # type: ignore[attr-defined,arg-type]

    def _closed(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()

    def _fire(self) -> None:
        cancelled = guard_for(self.crawler).cancel_pending()
        logger.warning(
            "%s: time limit of %.0f s reached: cancelled %d in-flight download(s), closing",
            self.crawler.settings.get("SCIPOL_SOURCE_ID"),
            self.timeout_s,
            cancelled,
            extra=source_extra(self.crawler.settings.get("SCIPOL_SOURCE_ID")),
        )
        assert self.crawler.engine is not None
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="closespider_timeout"))
