"""Why a fetch failed, inside the crawl process: our refusals and Scrapy/Twisted download errors."""

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



def classify_exception(exc: BaseException) -> tuple[FetchErrorReason, int | None, str]:
    """Reason, HTTP status and message for a failed download (used by the spider's errback)."""
    from scrapy import exceptions as sx
    from twisted.internet import error as tx

    message = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:1000]
    if isinstance(exc, FetchRefused):
        return exc.reason, exc.status, exc.message
    from crawlers.middlewares.resolver import PrivateAddressLookup

    if isinstance(exc, PrivateAddressLookup):
        return "private_address", None, message
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
