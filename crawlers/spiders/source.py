"""The one spider: crawls one source (feeds, sitemaps, listing pages -> articles) and yields
Capture / FetchError records. Configured by a `CrawlJob`, never by class attributes."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urldefrag

import scrapy
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers import discovery
from crawlers.crawl_log import source_extra
from crawlers.errors import BodyTooLarge, DiscoveryError, NotASitemap
from crawlers.fetch_errors import classify_exception
from crawlers.job import CrawlJob
from crawlers.pipelines import RECORD_KEY
from crawlers.urls import canonicalize_url, host_allowed, host_of
from schemas.capture import Capture, DiscoveredVia, FetchError, FetchErrorReason, KnownUrl, sha256_hex
from schemas.sources import ListingPage

logger = logging.getLogger(__name__)

ARTICLE_STATUSES = [304, 404, 410]
"""Statuses an article callback handles itself (not_modified, gone); other non-2xx go to the errback."""

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})

# Magic numbers of formats that are never articles, whatever the Content-Type says (A17, A8).
_BINARY_MAGIC = (
    b"%PDF-",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\xd0\xcf\x11\xe0",
    b"RIFF",
    b"OggS",
    b"ID3",
    b"fLaC",
    b"wOFF",
    b"wOF2",
    b"\x00asm",
    b"II*\x00",
    b"MM\x00*",
    b"\x28\xb5\x2f\xfd",
)


def looks_binary(body: bytes) -> bool:
    head = body[:1024]
    if head.startswith(_BINARY_MAGIC) or head[4:8] == b"ftyp":
        return True
    return b"\x00" in head.lstrip(b"\xff\xfe\xef\xbb\xbf")[:512] and not head.startswith(
        (b"\xff\xfe", b"\xfe\xff")
    )


def is_html(content_type: str, body: bytes) -> bool:
    return content_type in HTML_TYPES and not looks_binary(body)


def response_headers(response: Response) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, values in response.headers.items():
        key = name.decode("latin-1").lower()
        out[key] = ", ".join(v.decode("latin-1") for v in values)
    return out


class SourceSpider(scrapy.Spider):
    name = "source"

    def __init__(self, job: CrawlJob, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        self.source = job.source
        self.sid = job.source.id
        self.domains = job.source.effective_domains()
        self._allow = [re.compile(p) for p in job.source.allow_patterns]
        self._deny = [re.compile(p) for p in job.source.deny_patterns]
        self._known = {}
        for known in job.known:
            try:
                self._known[canonicalize_url(known.url)] = known
            except ValueError:
                continue
        self._seen_articles: set[str] = set()
        self._skipped_known: set[str] = set()
        self._seen_docs: set[str] = set()
        self._scheduled = 0
        self._budget_reported = False
        self._cutoff = None if job.backfill else datetime.now(UTC) - timedelta(days=job.source.lookback_days)

    # --- entry points -------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        if self.job.only_urls:
            for url in self.job.only_urls:
                req = self._article_request(url, "revisit")
                if req is not None:
                    yield req
            return
        for url in self.source.feeds:
            req = self._doc_request(url, "feed", self.parse_feed, entry=True)
            if req is not None:
                yield req
        for url in self.source.sitemaps:
            req = self._doc_request(url, "sitemap", self.parse_sitemap, entry=True, sitemap_depth=0)
            if req is not None:
                yield req
        for index, page in enumerate(self.source.listing_pages):
            req = self._doc_request(
                page.url, "listing", self.parse_listing, entry=True, listing=index, page_no=1
            )
            if req is not None:
                yield req

    # --- request building ---------------------------------------------------------------------
    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"scipol/{key}")

    def _take_budget(self, url: str) -> bool:
        if self._scheduled < self.source.page_budget:
            self._scheduled += 1
            return True
        self._count("budget/dropped")
        if not self._budget_reported:
            self._budget_reported = True
            logger.warning(
                "%s: page budget of %d requests reached; further URLs are skipped, first %s",
                self.sid,
                self.source.page_budget,
                url,
                extra=source_extra(self.sid),
            )
        return False

    def _doc_request(
        self, url: str, role: DiscoveredVia, callback: Any, *, entry: bool = False, **meta: Any
    ) -> Request | None:
        url = urldefrag(url.strip())[0]
        try:
            canon = canonicalize_url(url)
        except ValueError:
            self._count("discovery/bad_url")
            return None
        if canon in self._seen_docs:
            self._count(f"{role}/repeated")
            return None
        if not host_allowed(host_of(canon), self.domains):
            self._count("discovery/offsite")
            return None
        self._seen_docs.add(canon)
        if not self._take_budget(url):
            return None
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            dont_filter=True,
            priority=10,
            meta={"scipol_url": url, "scipol_role": role, "scipol_entry": entry, **meta,
                  # A feed's or sitemap's latency measures its size, not the site's load.
                  "autothrottle_dont_adjust_delay": True},
        )

    def _article_request(
        self,
        url: str,
        via: DiscoveredVia,
        link: discovery.DiscoveredLink | None = None,
    ) -> Request | None:
        url = urldefrag(url.strip())[0]
        try:
            canon = canonicalize_url(url)
        except ValueError:
            self._count("discovery/bad_url")
            return None
        if not host_allowed(host_of(canon), self.domains):
            self._count("discovery/offsite")
            return None
        if (self._allow and not any(p.search(canon) for p in self._allow)) or any(
            p.search(canon) for p in self._deny
        ):
            self._count("discovery/filtered")
            return None
        if canon in self._seen_articles:
            self._count("discovery/duplicate")
            return None
        known = self._known.get(canon)
        if known is not None and self._unchanged_since_fetch(known, link):
            # Not marked seen: a sitemap may still date the URL a feed listed undated (or older).
            if canon not in self._skipped_known:
                self._skipped_known.add(canon)
                self._count("known/skipped")
            return None
        self._seen_articles.add(canon)
        if canon in self._skipped_known:
            self._skipped_known.discard(canon)
            self.crawler.stats.inc_value("scipol/known/skipped", -1)  # type: ignore[union-attr]
        if not self._take_budget(url):
            return None
        headers: dict[str, str] = {}
        if known is not None:
            if known.etag:
                headers["If-None-Match"] = known.etag
            if known.last_modified:
                headers["If-Modified-Since"] = known.last_modified
        hints = {}
        if link is not None:
            hints = {"title": link.title, "published": link.published, "language": link.language}
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            dont_filter=True,
            headers=headers,
            meta={
                "scipol_url": url,
                "scipol_role": "article",
                "scipol_via": via,
                "scipol_hints": hints,
                "handle_httpstatus_list": ARTICLE_STATUSES,
            },
        )

    def _unchanged_since_fetch(self, known: KnownUrl, link: discovery.DiscoveredLink | None) -> bool:
        """A known article that discovery lists again, with nothing saying it changed since our copy.

        An hourly ingest that re-requested every known URL would send thousands of requests (304s at
        best) per site and hour; the revisit flow re-checks known articles on their schedule instead.
        The site's own clocks are compared: the entry's date against the Last-Modified it sent us,
        else against when we fetched it.
        """
        if self.job.only_urls or self.source.recheck_known == "all" or known.gone:
            return False
        changed_at = link.lastmod if link is not None else None
        if changed_at is None:
            return True
        held = _http_date(known.last_modified) or known.last_fetched_at
        if held is None:
            return False
        if changed_at.tzinfo is None:
            changed_at = changed_at.replace(tzinfo=UTC)
        if held.tzinfo is None:
            held = held.replace(tzinfo=UTC)
        return changed_at <= held

    # --- callbacks ----------------------------------------------------------------------------
    def _entry_ok(self, response: Response) -> None:
        if response.meta.get("scipol_entry"):
            self._count("entry_points/ok")

    def _error(
        self,
        url: str,
        reason: FetchErrorReason,
        message: str = "",
        status: int | None = None,
    ) -> dict[str, FetchError]:
        logger.warning(
            "%s: %s failed (%s%s): %s", self.sid, url, reason, f" {status}" if status else "", message,
            extra=source_extra(self.sid),
        )
        return {
            RECORD_KEY: FetchError(
                source_id=self.sid,
                url=url,
                reason=reason,
                status=status,
                message=message[:1000],
                at=datetime.now(UTC),
            )
        }

    def parse_feed(self, response: Response) -> Iterator[Any]:
        self._entry_ok(response)
        try:
            links = discovery.parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            yield self._error(response.meta["scipol_url"], "parse", f"feed: {exc}", response.status)
            return
        self._count("feed/links")
        logger.info("%s: feed %s lists %d links", self.sid, response.url, len(links), extra=source_extra(self.sid))
        yield from self._articles_from(links, response, "feed")

    def _articles_from(
        self,
        links: list[discovery.DiscoveredLink],
        response: Response,
        via: DiscoveredVia,
    ) -> Iterator[Request]:
        for link in links:
            when = link.lastmod or link.published
            if via == "sitemap" and self._cutoff is not None and when is not None and when < self._cutoff:
                self._count("discovery/too_old")
                continue
            req = self._article_request(response.urljoin(link.url), via, link)
            if req is not None:
                yield req

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        self._entry_ok(response)
        url = response.meta["scipol_url"]
        body = response.body
        try:
            if discovery.is_gzip(body):
                body = discovery.gunzip_bounded(body, self.job.max_bytes)
            sitemap = discovery.parse_sitemap(body)
        except NotASitemap as exc:
            if exc.root.lower() in ("rss", "feed", "rdf"):  # a feed listed as a sitemap: read it as one
                yield from self.parse_feed(response.replace(body=body))
                return
            yield self._error(url, "parse", f"sitemap: {exc}", response.status)
            return
        except BodyTooLarge as exc:
            yield self._error(url, "too_large", f"sitemap: {exc}", response.status)
            return
        except DiscoveryError as exc:
            yield self._error(url, "parse", f"sitemap: {exc}", response.status)
            return
        self._count(f"sitemap/{sitemap.kind}")
        if sitemap.truncated:
            self._count("sitemap/truncated")
            logger.warning(
                "%s: sitemap %s has more than %d entries; the rest are ignored",
                self.sid,
                url,
                len(sitemap.links),
                extra=source_extra(self.sid),
            )
        self.crawler.stats.inc_value("scipol/sitemap/entries", len(sitemap.links))  # type: ignore[union-attr]
        logger.info("%s: sitemap %s (%s) lists %d entries", self.sid, url, sitemap.kind, len(sitemap.links),
                    extra=source_extra(self.sid))
        if sitemap.kind == "urlset":
            yield from self._articles_from(sitemap.links, response, "sitemap")
            return
        depth = int(response.meta.get("sitemap_depth", 0)) + 1
        for link in sitemap.links:
            if depth > self.source.max_depth:
                self._count("sitemap/depth_limited")
                continue
            if self._cutoff is not None and link.lastmod is not None and link.lastmod < self._cutoff:
                self._count("discovery/too_old")
                continue
            req = self._doc_request(
                response.urljoin(link.url), "sitemap", self.parse_sitemap, sitemap_depth=depth
            )
            if req is not None:
                yield req

    def parse_listing(self, response: Response) -> Iterator[Any]:
        self._entry_ok(response)
        url = response.meta["scipol_url"]
        page: ListingPage = self.source.listing_pages[response.meta["listing"]]
        if not isinstance(response, TextResponse):
            yield self._error(url, "parse", "listing page is not text/HTML", response.status)
            return
        try:
            if page.link_xpath:
                selection = response.xpath(page.link_xpath)
            else:
                selection = response.css(page.link_selector or "a")
            hrefs = _hrefs(selection)
            next_hrefs = _hrefs(response.css(page.next_selector)) if page.next_selector else []
        except Exception as exc:  # noqa: BLE001 - cssselect/lxml raise several types for a bad selector
            yield self._error(
                url, "parse", f"listing selector failed: {type(exc).__name__}: {exc}", response.status
            )
            return
        self._count("listing/pages")
        logger.info("%s: listing %s has %d links", self.sid, response.url, len(hrefs), extra=source_extra(self.sid))
        for href in hrefs:
            req = self._article_request(response.urljoin(href), "listing")
            if req is not None:
                yield req
        page_no = int(response.meta.get("page_no", 1))
        if next_hrefs and page_no < page.max_pages:
            req = self._doc_request(
                response.urljoin(next_hrefs[0]),
                "listing",
                self.parse_listing,
                listing=response.meta["listing"],
                page_no=page_no + 1,
            )
            if req is not None:
                yield req

    def parse_article(self, response: Response) -> Iterator[Any]:
        meta = response.meta
        hints = meta.get("scipol_hints") or {}
        headers = response_headers(response)
        body: bytes | None
        if response.status == 304:
            kind, body = "not_modified", None
        elif response.status in (404, 410):
            kind, body = "gone", None
        else:
            body = response.body
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            kind = "page" if is_html(content_type, body) else "non_html"
        capture = Capture(
            source_id=self.sid,
            url=meta["scipol_url"],
            final_url=response.url,
            status=response.status,
            kind=kind,  # type: ignore[arg-type]
            headers=headers,
            body=body,
            sha256=sha256_hex(body) if body is not None else None,
            fetched_at=datetime.now(UTC),
            discovered_via=meta.get("scipol_via", "adhoc"),
            hint_title=hints.get("title"),
            hint_published=hints.get("published"),
            hint_language=hints.get("language"),
        )
        # DEBUG, as Scrapy's own "Crawled (200)" line: every capture is in the archive with its status,
        # and a line per page (formatted, routed, flushed, then forwarded by the runner) cost more
        # than the spool write that records the page.
        logger.debug(
            "%s: %s %s (%d, %d bytes)",
            self.sid,
            kind,
            response.url,
            response.status,
            len(body) if body is not None else 0,
            extra=source_extra(self.sid),
        )
        yield {RECORD_KEY: capture}

    # --- errors -------------------------------------------------------------------------------
    def on_error(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        exc = failure.value
        if request.meta.get("scipol_entry"):
            self._count("entry_points/failed")
        if isinstance(exc, HttpError):
            http_status = exc.response.status
            yield self._error(
                request.meta.get("scipol_url", request.url), "http_status", f"HTTP {http_status}", http_status
            )
            return
        reason, status, message = classify_exception(exc)
        yield self._error(request.meta.get("scipol_url", request.url), reason, message, status)


# Years from 1000 only: email.utils reads "0099" as 1999.
_IMF_FIXDATE = re.compile(r"[A-Z][a-z]{2}, ([0-9]{2}) ([A-Z][a-z]{2}) ([1-9][0-9]{3}) "
                          r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT")
_MONTHS = {m: n for n, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}


def _http_date(value: str | None) -> datetime | None:
    """A Last-Modified value as an aware datetime; None when it is not a date."""
    if not value:
        return None
    # The form HTTP servers send (RFC 9110 IMF-fixdate) read directly: email.utils took ~15 us a value, and a
    # run over an unchanged site reads one per known article. Anything else (or an impossible date) goes the
    # general way, which decides as before.
    m = _IMF_FIXDATE.fullmatch(value)
    if m is not None and (month := _MONTHS.get(m[2])) is not None:
        try:
            return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=UTC)
        except ValueError:
            pass
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _hrefs(selection: Any) -> list[str]:
    """hrefs of the selected elements: an `a` itself, the `a` elements inside it, or attribute values."""
    out: list[str] = []
    for sel in selection:
        if isinstance(sel.root, str):
            out.append(sel.root)
            continue
        out.extend(sel.xpath("self::a/@href | .//a/@href").getall())
    return [
        h.strip()
        for h in out
        if h and h.strip() and not h.strip().startswith(("#", "javascript:", "mailto:"))
    ]
