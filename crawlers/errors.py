"""Narrow exceptions of the crawl, each saying who raises it."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

from schemas.capture import FetchErrorReason


class FetchRefused(IgnoreRequest):
    """Raised by our downloader middlewares and download handler when a request must not be sent
    (scheme, offsite, private address, robots, budget, redirect loop, size). The spider's errback
    turns it into a `FetchError` with `reason`; the retry middleware never retries it."""

    def __init__(self, reason: FetchErrorReason, message: str = "", status: int | None = None) -> None:
        super().__init__(message or reason)
        self.reason: FetchErrorReason = reason
        self.message = message or reason
        self.status = status


class DiscoveryError(ValueError):
    """Raised by `crawlers.discovery` when a feed or sitemap cannot be parsed (reason `parse`)."""


class NotASitemap(DiscoveryError):
    """Raised by `crawlers.discovery.parse_sitemap` when the XML root is not a urlset/sitemapindex
    (it may be a feed listed as a sitemap)."""

    def __init__(self, message: str, root: str) -> None:
        super().__init__(message)
        self.root = root


class BodyTooLarge(DiscoveryError):
    """Raised by `crawlers.discovery.gunzip_bounded` when a gzipped document inflates past the limit."""


class SpoolError(RuntimeError):
    """Raised by `crawlers.spool` when a spool directory is unusable or a body file is missing/corrupt."""


class CrawlSetupError(RuntimeError):
    """Raised by `crawlers.runner.start_crawl` when the crawl cannot be started (spool dir reused...)."""


def classify_exception(exc: BaseException) -> tuple[FetchErrorReason, int | None, str]:
    """Reason, HTTP status and message for a failed download (used by the spider's errback)."""
    from scrapy import exceptions as sx
    from twisted.internet import error as tx

    message = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:1000]
    if isinstance(exc, FetchRefused):
        return exc.reason, exc.status, exc.message
    if isinstance(exc, sx.DownloadTimeoutError | tx.TimeoutError | tx.TCPTimedOutError):
        return "timeout", None, message
    if isinstance(exc, sx.CannotResolveHostError | tx.DNSLookupError):
        return "dns", None, message
    if isinstance(exc, sx.ResponseDataLossError):
        return "truncated", None, message
    if isinstance(exc, sx.DownloadCancelledError):
        return ("too_large" if "max size" in str(exc) else "other"), None, message
    if isinstance(exc, sx.UnsupportedURLSchemeError | sx.NotSupported):
        return "scheme", None, message
    if isinstance(
        exc,
        sx.DownloadConnectionRefusedError
        | sx.DownloadFailedError
        | tx.ConnectError
        | tx.ConnectionLost
        | tx.ConnectionDone
        | ConnectionError,
    ):
        return "connection", None, message
    return "other", None, message
