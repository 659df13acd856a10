"""Log lines of several crawls in one process, each written to its own crawl's log file.

The crawl host (crawlers.crawl_main) runs the crawls of many sources in one process, but each
crawl's log must still end up in its own spool (`crawl.log`), where the runner reads it and the flow
forwards it under the right `source=`. A record names its crawl in one of three ways: our own code
passes `extra=source_extra(source_id)`; Scrapy passes `extra={"spider": ...}` or
`extra={"crawler": ...}`. Records that name no crawl (Twisted, start-up) go to the single running
crawl when there is exactly one, else to the host's own log (its stderr).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

SOURCE_ATTR = "scipol_source"
LOG_FORMAT = "%(asctime)s [%(crawl_source)s] %(name)s %(levelname)s: %(message)s"
LOG_DATEFMT = "%Y-%m-%d %H:%M:%S"


def source_extra(source_id: str | None) -> dict[str, Any]:
    """`extra=` for a log call made on behalf of one source's crawl."""
    return {SOURCE_ATTR: source_id} if source_id else {}


def record_source(record: logging.LogRecord) -> str | None:
    """The source id a record was logged for, when it says."""
    named = getattr(record, SOURCE_ATTR, None)
    if isinstance(named, str):
        return named
    spider = getattr(record, "spider", None)
    sid = getattr(spider, "sid", None)
    if isinstance(sid, str):
        return sid
    crawler = getattr(record, "crawler", None) or getattr(spider, "crawler", None)
    settings = getattr(crawler, "settings", None)
    if settings is not None:
        value = settings.get("SCIPOL_SOURCE_ID")
        if isinstance(value, str):
            return value
    return None


class CrawlLogRouter(logging.Handler):
    """A root handler that appends each record to the log file of the crawl it belongs to."""

    def __init__(self, fallback: logging.Handler) -> None:
        super().__init__()
        self._fallback = fallback
        self._files: dict[str, logging.FileHandler] = {}
        self._guard = threading.Lock()
        formatter = logging.Formatter(LOG_FORMAT, LOG_DATEFMT)
        self._formatter = formatter
        fallback.setFormatter(formatter)

    def open(self, source_id: str, path: Path) -> None:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(self._formatter)
        with self._guard:
            old = self._files.pop(source_id, None)
            self._files[source_id] = handler
        if old is not None:
            old.close()

    def close_source(self, source_id: str) -> None:
        with self._guard:
            handler = self._files.pop(source_id, None)
        if handler is not None:
            handler.close()

    def emit(self, record: logging.LogRecord) -> None:
        source = record_source(record)
        with self._guard:
            target = self._files.get(source) if source is not None else None
            if target is None and source is None and len(self._files) == 1:
                source, target = next(iter(self._files.items()))
        record.crawl_source = source or "host"
        (target if target is not None else self._fallback).handle(record)

    def close(self) -> None:
        with self._guard:
            handlers = list(self._files.values())
            self._files.clear()
        for handler in handlers:
            handler.close()
        super().close()
