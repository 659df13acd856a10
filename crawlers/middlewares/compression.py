"""Content-Encoding decoding that reports bombs and broken encodings as reasons, not bare IgnoreRequest.

Scrapy (>= 2.13.4) already stops inflating at DOWNLOAD_MAXSIZE; this only names the outcome."""

from __future__ import annotations

import zlib

from scrapy import Request
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawlers.fetch_errors import FetchRefused


class BoundedHttpCompressionMiddleware(HttpCompressionMiddleware):
    # Scrapy >= 2.13 no longer passes `spider`; the base keeps it only for old callers.
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise FetchRefused("too_large", str(exc), status=response.status) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise FetchRefused(
                "other", f"cannot decode Content-Encoding: {exc}", status=response.status
            ) from None
