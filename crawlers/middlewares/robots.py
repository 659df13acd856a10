"""robots.txt with RFC 9309 semantics: 2xx parsed; 4xx ("unavailable") allows all; 5xx, 429 and
network failures ("unreachable") disallow all. Scrapy's stock middleware allows all on any failure."""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawlers.crawl_log import source_extra
from crawlers.fetch_errors import FetchRefused

logger = logging.getLogger(__name__)

DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class RFC9309RobotsTxtMiddleware(RobotsTxtMiddleware):
    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            raise FetchRefused("robots", "disallowed by robots.txt") from None

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if 200 <= response.status < 300:
            await super()._parse_robots(response, netloc, request)
            return
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        unavailable = 400 <= response.status < 500 and response.status != 429
        logger.info(
            "%s: robots.txt of %s answered %s: %s",
            self.crawler.settings.get("SCIPOL_SOURCE_ID"),
            netloc,
            response.status,
            "allow all" if unavailable else "disallow all",
            extra=source_extra(self.crawler.settings.get("SCIPOL_SOURCE_ID")),
        )
        self._set_parser(netloc, b"" if unavailable else DISALLOW_ALL)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, FetchRefused) and exc.reason in ("budget", "timeout"):
            # Out of budget or time: the request is refused for that reason anyway; don't blame robots.
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value("robotstxt/unreachable")
        logger.warning(
            "%s: robots.txt of %s unreachable (%s): disallow all",
            self.crawler.settings.get("SCIPOL_SOURCE_ID"),
            netloc,
            exc,
            extra=source_extra(self.crawler.settings.get("SCIPOL_SOURCE_ID")),
        )
        self._set_parser(netloc, DISALLOW_ALL)

    def _set_parser(self, netloc: str, body: bytes) -> None:
        rp = build_from_crawler(self._parserimpl, self.crawler, body)
        pending = self._parsers[netloc]
        self._parsers[netloc] = rp
        if isinstance(pending, Deferred):
            pending.callback(rp)
