"""What the crawler hands over: raw fetches, failed fetches, and what the archive already knows."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.errors import SpooledBodyError

CaptureKind = Literal["page", "not_modified", "gone", "non_html"]
"""page: a 2xx body to extract; not_modified: a 304 revisit; gone: 404/410; non_html: PDF, image..."""

DiscoveredVia = Literal["feed", "sitemap", "listing", "revisit", "seed", "adhoc"]

FetchErrorReason = Literal[
    "http_status",     # 4xx other than 404/410, 5xx after retries
    "timeout",
    "dns",
    "connection",
    "robots",          # disallowed by robots.txt
    "too_large",       # over the size limit (after decompression too)
    "truncated",       # body shorter than Content-Length
    "private_address", # resolved to a private/loopback address the source does not allow
    "offsite",         # redirect or link outside the allowed domains
    "scheme",          # non-http(s) URL or redirect
    "redirect_loop",
    "budget",          # per-source page budget exhausted
    "parse",           # feed/sitemap/listing could not be parsed
    "extract",         # extraction failed or produced no text
    "other",
]


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class SpooledBody(BaseModel):
    """Where a page's body waits in its crawl's spool (`crawlers.spool`), not yet read.

    The ingest hands pages to its extraction workers with this instead of the bytes, so the process that
    stores never reads, hashes or pickles bodies: the workers read them, on every core, and send back what
    storing needs (the hash, the compressed body, its size: `storage.precompute`). Reading, hashing and
    piping a 66 KB body cost that one process ~0.2 ms a page (bench/RESULTS.md).
    """

    model_config = ConfigDict(frozen=True)

    path: str
    offset: int = Field(ge=0)
    length: int = Field(ge=0)
    sha256: str

    def read(self) -> bytes:
        """The body, checked against its length and hash; SpooledBodyError when it is missing or changed."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                body = fh.read(self.length)
        except OSError as exc:
            raise SpooledBodyError(f"body {self.sha256} in {self.path} unreadable: {exc}") from None
        if len(body) != self.length or sha256_hex(body) != self.sha256:
            raise SpooledBodyError(f"body at {self.offset} in {self.path} is missing or does not hash to {self.sha256}")
        return body


class Capture(BaseModel):
    """One HTTP fetch as received. `body` is the decompressed body bytes (None for 304s)."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    url: str
    """The URL requested (as discovered)."""
    final_url: str
    """The URL after redirects."""
    status: int
    kind: CaptureKind
    headers: dict[str, str] = Field(default_factory=dict)
    """Response headers, names lower-cased, repeated headers joined with ', '."""
    body: bytes | None = None
    sha256: str | None = None
    spooled_body: SpooledBody | None = Field(default=None, exclude=True)
    """Set instead of `body` while the body is still in the crawl's spool (then `body` is None and
    `sha256` is the spooled body's); `with_body()` reads it. Never serialised."""
    fetched_at: datetime
    discovered_via: DiscoveredVia = "feed"
    hint_title: str | None = None
    """Title from the feed or news sitemap, used when the page has none."""
    hint_published: datetime | None = None
    hint_language: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def with_body(self) -> Capture:
        """This capture with its body in memory (itself when it has nothing spooled)."""
        if self.spooled_body is None:
            return self
        return self.model_copy(update={"body": self.spooled_body.read(), "spooled_body": None})


class FetchError(BaseModel):
    """A fetch that produced no usable response, recorded with its reason."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    url: str
    reason: FetchErrorReason
    status: int | None = None
    message: str = ""
    at: datetime


class KnownUrl(BaseModel):
    """What the archive knows about a URL, given to the crawl for conditional requests."""

    model_config = ConfigDict(frozen=True)

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: datetime | None = None
    gone: bool = False
    """The latest fetch answered 404/410: discovery listing it again is worth a request."""
