"""The item pipeline: every Capture/FetchError goes to the spool; stats are written when the spider closes."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawlers.spool import SpoolWriter
from schemas.capture import Capture, FetchError

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

RECORD_KEY = "scipol_record"
"""The spider yields {RECORD_KEY: Capture | FetchError}: a dict is an item to every Scrapy component."""


def stats_for_file(stats: dict[str, Any]) -> dict[str, int | float | str]:
    out: dict[str, int | float | str] = {}
    for key, value in stats.items():
        if isinstance(value, bool):
            out[key] = int(value)
        elif isinstance(value, int | float | str):
            out[key] = value
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


class SpoolPipeline:
    def __init__(self, crawler: Crawler) -> None:
        spool_dir = crawler.settings.get("SCIPOL_SPOOL_DIR")
        if not spool_dir:
            raise NotConfigured("SCIPOL_SPOOL_DIR is not set")
        self.crawler = crawler
        self.writer = SpoolWriter(spool_dir)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        record = item.get(RECORD_KEY) if isinstance(item, dict) else None
        stats = self.crawler.stats
        if isinstance(record, Capture):
            stats.inc_value(f"scipol/captures/{record.kind}")
            stats.inc_value(f"scipol/via/{record.discovered_via}")
        elif isinstance(record, FetchError):
            stats.inc_value(f"scipol/errors/{record.reason}")
        else:
            logger.error("unexpected item %r: not spooled", type(item).__name__)
            return item
        self.writer.write(record)
        # Keep the body out of whatever runs after us (and out of Scrapy's "Scraped from" log line).
        return {"type": type(record).__name__, "url": record.url}

    def close_spider(self) -> None:
        self.writer.close()

    def _spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        stats["finish_reason"] = reason
        self.writer.write_stats(stats_for_file(stats))
