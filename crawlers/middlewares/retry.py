"""Retries for 5xx, 429 and network failures only, with exponential backoff and `Retry-After`.

The wait itself happens in the download handler (`crawlers.middlewares.handler`): this middleware
only decides whether to retry and stamps the retry with the earliest time it may be sent.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response

from crawlers.crawl_log import source_extra
from crawlers.fetch_errors import FetchRefused

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

NOT_BEFORE_META = "scipol_not_before"
"""Request meta: time.monotonic() before which the download handler will not send the request."""

RETRY_AFTER_STATUSES = frozenset({429, 503})


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent/invalid."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(min(int(text), 10**9))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.source_id: str = crawler.settings.get("SCIPOL_SOURCE_ID", "?")
        self.backoff_s: float = crawler.settings.getfloat("SCIPOL_RETRY_BACKOFF_S", 1.0)
        self.retry_after_cap_s: float = crawler.settings.getfloat("SCIPOL_RETRY_AFTER_CAP_S", 300.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    # Scrapy >= 2.13 no longer passes `spider`; the base keeps it only for old callers.
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = None
        if response.status in RETRY_AFTER_STATUSES:
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait is not None and wait > self.retry_after_cap_s:
                logger.warning(
                    "%s: giving up on %s: %s asks to retry after %.0f s (cap %.0f s)",
                    self.source_id,
                    request.url,
                    response.status,
                    wait,
                    self.retry_after_cap_s,
                    extra=source_extra(self.source_id),
                )
                self.crawler.stats.inc_value("scipol/retry/retry_after_over_cap")
                return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        # With Retry-After the handler holds the whole host; otherwise back off this request only.
        self._stamp(retry, wait)
        return retry

    # Scrapy >= 2.13 no longer passes `spider`; the base keeps it only for old callers.
    def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if isinstance(exception, FetchRefused):
            return None
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry", False):
            retry = self._retry(request, exception)
            if retry is not None:
                self._stamp(retry, None)
            return retry
        return None

    def _stamp(self, retry: Request, wait: float | None) -> None:
        attempt = int(retry.meta.get("retry_times", 1))
        delay = wait if wait is not None else self.backoff_s * (2 ** (attempt - 1))
        retry.meta[NOT_BEFORE_META] = time.monotonic() + delay
        logger.info("%s: retry %d of %s in %.1f s", self.source_id, attempt, retry.url, delay,
                    extra=source_extra(self.source_id))
