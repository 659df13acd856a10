"""What extraction produces from one captured page: the article, cleaned, with its metadata."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class ArticleRecord(BaseModel):
    """A page turned into an article. Produced by `crawlers.extract`, stored by `storage`."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    url: str
    """The fetched URL (after redirects)."""
    canonical_url: str
    """The identity of the article: canonicalised, rel=canonical/og:url when it points inside the source."""
    title: str
    text: str
    """The cleaned body text, paragraphs separated by newlines."""
    authors: list[str] = Field(default_factory=list)
    published: date | None = None
    updated: date | None = None
    site_name: str | None = None
    language: str = "und"
    """ISO 639-1 code (zh for Chinese), or `und` when unknown."""
    language_confidence: float = 0.0
    extractor_version: str
    """Version of the extraction + cleaning rules that produced this record (changes re-extract)."""
    capture_sha256: str | None = None
    """The raw capture this record was extracted from."""
