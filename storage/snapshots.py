"""Plain, frozen read results handed out by `Archive` (ORM objects stay inside `storage`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class ArticleSnapshot:
    """One article as it reads in one version (its latest, or the one current at some time)."""

    article_id: int
    source_id: str
    url: str
    """The canonical URL."""
    version_no: int
    title: str
    text: str
    language: str
    published_at: date | None
    captured_at: datetime
    """When the capture behind this version was fetched."""
    removed_at: datetime | None
    duplicate_of: int | None
    cluster_id: int | None


@dataclass(frozen=True)
class VersionSnapshot:
    """One row of an article's history."""

    article_id: int
    url: str
    version_no: int
    reason: str
    title: str
    text: str
    text_hash: str
    captured_at: datetime
    chars_added: int
    chars_removed: int
    extractor_version: str
