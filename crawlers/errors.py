"""Narrow exceptions of the crawl, each saying who raises it.

Nothing here imports Scrapy: the process that runs a crawl host and stores its records needs these
without loading Scrapy. Refusals raised inside the crawl live in `crawlers.fetch_errors`.
"""

from __future__ import annotations


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
