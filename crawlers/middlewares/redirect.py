"""Redirects, bounded and re-checked: a hop to a non-http(s) scheme is refused (Scrapy would hand the
3xx to the spider), a hop back to a URL already in the chain is a loop, and running out of hops is a
loop too. Offsite and private-address hops are refused by SafetyMiddleware, which sees every hop."""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin, urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from w3lib.url import safe_url_string

from crawlers.fetch_errors import FetchRefused

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class GuardedRedirectMiddleware(RedirectMiddleware):
    # Scrapy >= 2.13 no longer passes `spider`; the base keeps it only for old callers.
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if self._will_redirect(request, response):
            location = response.headers[b"Location"]
            assert location is not None  # _will_redirect checked the header is present
            target = urljoin(request.url, safe_url_string(location))
            scheme = urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                raise FetchRefused(
                    "scheme", f"redirect to a {scheme or 'schemeless'} URL refused", status=response.status
                )
            chain = {urldefrag(u)[0] for u in (*request.meta.get("redirect_urls", ()), request.url)}
            if urldefrag(target)[0] in chain:
                raise FetchRefused("redirect_loop", f"redirect loop back to {target}", status=response.status)
        try:
            return super().process_response(request, response)
        except FetchRefused:
            raise
        except IgnoreRequest as exc:
            raise FetchRefused(
                "redirect_loop", f"{exc} ({self.max_redirect_times})", status=response.status
            ) from None

    def _will_redirect(self, request: Request, response: Response) -> bool:
        spider_list = getattr(self.crawler.spider, "handle_httpstatus_list", ())
        return not (
            request.meta.get("dont_redirect", False)
            or response.status in spider_list
            or response.status in request.meta.get("handle_httpstatus_list", ())
            or request.meta.get("handle_httpstatus_all", False)
            or response.status not in REDIRECT_STATUSES
            or b"Location" not in response.headers
        )
