"""Typed records that cross package lines.

Everything here is a frozen pydantic v2 model. This package imports nothing else of scipol's, so
crawlers, storage and flows can all depend on it without depending on each other.
"""

from __future__ import annotations

from schemas.article import ArticleRecord
from schemas.capture import Capture, FetchError, KnownUrl
from schemas.errors import SourceConfigError
from schemas.run import RunReport, SourceRunStats
from schemas.sources import CleaningRules, ListingPage, SourceConfig, load_sources, parse_sources

__all__ = [
    "ArticleRecord",
    "Capture",
    "CleaningRules",
    "FetchError",
    "KnownUrl",
    "ListingPage",
    "RunReport",
    "SourceConfig",
    "SourceConfigError",
    "SourceRunStats",
    "load_sources",
    "parse_sources",
]
