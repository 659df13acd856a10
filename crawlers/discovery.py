"""Feed and sitemap parsing: bytes in, links (with hints) out. Pure functions, no Scrapy.

Hostile XML is the norm on the open web, so every parser here runs without entity expansion,
DTD loading or network access (RELIABILITY.md B3, B4), and every loop is bounded (B8).
"""

from __future__ import annotations

import calendar
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import feedparser
import feedparser.urls
from lxml import etree

from crawlers.errors import BodyTooLarge, DiscoveryError, NotASitemap

MAX_SITEMAP_URLS = 50_000
"""Entries read from one sitemap (the sitemaps.org limit); the rest are ignored."""

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"

# A DOCTYPE with its internal subset: where entity declarations (billion laughs, XXE) live. Feeds
# and sitemaps never need one, so it is cut before any parser sees the document.
_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]|\[.*?\])*>", re.IGNORECASE | re.DOTALL)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class DiscoveredLink:
    """One URL found in a feed or sitemap, with what the document said about it."""

    url: str
    title: str | None = None
    published: datetime | None = None
    language: str | None = None
    lastmod: datetime | None = None


@dataclass(frozen=True)
class Sitemap:
    kind: Literal["urlset", "index"]
    links: list[DiscoveredLink] = field(default_factory=list)
    truncated: bool = False
    """More than `max_urls` entries: the rest were ignored."""


def strip_doctype(body: bytes) -> bytes:
    return _DOCTYPE.sub(b"", body, count=1)


def is_gzip(body: bytes) -> bool:
    return body[:2] == _GZIP_MAGIC


def gunzip_bounded(body: bytes, max_size: int) -> bytes:
    """Inflate a gzip document, refusing to produce more than `max_size` bytes (gzip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_size + 1)
    except zlib.error as exc:
        raise DiscoveryError(f"invalid gzip data: {exc}") from None
    if len(out) > max_size:
        raise BodyTooLarge(f"gzip document inflates past {max_size} bytes")
    return out


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """Parse a sitemap/feed date (W3C datetime, ISO 8601 or RFC 822) to an aware UTC datetime.

    Never raises: a malformed date is None (RELIABILITY.md B7).
    """
    if not value:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            try:
                parsed = datetime(int(text[:4]), int(text[5:7]), 1)
            except ValueError:
                return None
        elif re.fullmatch(r"\d{4}", text):
            parsed = datetime(int(text), 1, 1) if 1 <= int(text) <= 9999 else None
        else:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
    if parsed is None:
        return None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _clean(value: Any, limit: int = 1000) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text[:limit] or None


def _language(value: Any) -> str | None:
    text = _clean(value, 35)
    if not text or not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*", text):
        return None
    return text.replace("_", "-").lower()


def parse_feed(body: bytes, base_url: str) -> list[DiscoveredLink]:
    """Links of an RSS 2.0, RSS 1.0 or Atom feed, with title/published/language hints.

    A plain RSS 2.0 feed is read by `_plain_rss_links`; every other document by feedparser, always
    given bytes (never a URL, so it cannot fetch anything), after the DOCTYPE is cut. Raises
    DiscoveryError when the document is not a feed.
    """
    body = strip_doctype(body)
    plain = _plain_rss_links(body, base_url)
    return plain if plain is not None else _feedparser_links(body, base_url)


def _feedparser_links(body: bytes, base_url: str) -> list[DiscoveredLink]:
    parsed = feedparser.parse(
        body,
        response_headers={"content-location": base_url},
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise DiscoveryError(f"not a feed: {problem or 'no entries and no feed version'}")
    feed_language = _language(parsed.feed.get("language"))
    links: list[DiscoveredLink] = []
    for entry in parsed.entries:
        url = entry.get("link")
        if not url:
            for link in entry.get("links", ()):
                if link.get("rel", "alternate") == "alternate" and link.get("href"):
                    url = link["href"]
                    break
        if not url:
            url = entry.get("id") if str(entry.get("id", "")).startswith(("http://", "https://")) else None
        if not isinstance(url, str) or not url.strip():
            continue
        title_detail = entry.get("title_detail") or {}
        links.append(
            DiscoveredLink(
                url=url.strip(),
                title=_clean(entry.get("title")),
                published=_struct_to_datetime(entry.get("published_parsed") or entry.get("updated_parsed")),
                # Atom <updated>; feedparser falls back to the RSS pubDate. A date after our copy's
                # is what makes an ingest re-request a known article (source recheck_known).
                lastmod=_struct_to_datetime(entry.get("updated_parsed") or entry.get("published_parsed")),
                language=(
                    _language(entry.get("language"))
                    or _language(title_detail.get("language"))
                    or feed_language
                ),
            )
        )
    return links


# --- plain RSS 2.0 without feedparser ------------------------------------------------------------
# feedparser reads a 50-item feed in ~17 ms (a SAX parser with a Python callback per element and its
# date and HTML heuristics); a run over an unchanged site reads every source's feed before anything
# else, and waited ~0.15 s for eight of them (bench/RESULTS.md). Most news feeds are plain RSS 2.0:
# a link, a title and an RFC 822 date per item. Those are read here with lxml, and anything this
# reader is not sure to read exactly as feedparser does goes to feedparser instead: another root or
# version, xml:lang or xml:base, an element outside the lists below, an item without exactly one
# absolute http(s) link, a title with markup or an entity (feedparser's HTML heuristics), a date in
# another form, a body that is not strict UTF-8 XML. tests/crawlers/test_feed_fast_path.py holds
# both readers to the same links on feeds of every such kind.

_RSS_CHANNEL_CHILDREN = frozenset({
    "title", "link", "description", "language", "copyright", "managingEditor", "webMaster", "pubDate",
    "lastBuildDate", "category", "generator", "docs", "cloud", "ttl", "image", "rating", "textInput",
    "skipHours", "skipDays", "item", "{http://www.w3.org/2005/Atom}link",
})
_RSS_ITEM_CHILDREN = frozenset({
    "title", "link", "description", "guid", "pubDate", "category", "author", "comments", "enclosure",
    "source", "{http://purl.org/rss/1.0/modules/content/}encoded", "{http://purl.org/dc/elements/1.1/}creator",
})
_XML_NS_ATTRIBUTE = etree.XPath("boolean(//@*[namespace-uri()='http://www.w3.org/XML/1998/namespace'])")
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2}):(\d{2}) (GMT|UTC|UT|Z|[+-]\d{4})"
)
_XML_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml([^>]*)\?>")
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)")
_ABSOLUTE_HTTP = re.compile(r"https?://[^\s<>\"\\^`{|}]+")


class _NotPlain(Exception):
    """The document is not plain RSS 2.0 as `_plain_rss_links` reads it: feedparser reads it."""


def _plain_rss_links(body: bytes, base_url: str) -> list[DiscoveredLink] | None:
    """The links of a plain RSS 2.0 feed, as `parse_feed` gets them from feedparser; None otherwise."""
    declaration = _XML_DECLARATION.match(body)
    encoding = _DECLARED_ENCODING.search(declaration.group(1)) if declaration else None
    if encoding is not None and encoding.group(1).lower() != b"utf-8":
        return None  # lxml and feedparser could read the bytes differently
    try:
        body.decode("utf-8")
        # Not recovering: a document lxml would have to repair goes to feedparser.
        root = etree.fromstring(body, parser=_safe_parser(recover=False))
        return _rss_items(root, base_url)
    except (ValueError, etree.XMLSyntaxError, _NotPlain):
        return None


def _rss_items(root: etree._Element, base_url: str) -> list[DiscoveredLink]:
    if root.tag != "rss" or root.get("version") != "2.0" or _XML_NS_ATTRIBUTE(root):
        raise _NotPlain
    channels = list(root)
    if len(channels) != 1 or channels[0].tag != "channel":
        raise _NotPlain
    channel = channels[0]
    language: str | None = None
    items = []
    for child in channel:
        if child.tag not in _RSS_CHANNEL_CHILDREN:
            raise _NotPlain
        if child.tag == "item":
            items.append(child)
        elif child.tag == "language":
            if items or language is not None:
                raise _NotPlain  # feedparser gives items before it, or a second one, other languages
            language = child.text or ""
    feed_language = _language(language)
    return [_rss_item(item, base_url, feed_language) for item in items]


def _rss_item(item: etree._Element, base_url: str, language: str | None) -> DiscoveredLink:
    fields: dict[str, str] = {}
    for child in item:
        if child.tag not in _RSS_ITEM_CHILDREN:
            raise _NotPlain
        if child.tag in ("title", "link", "pubDate"):
            if child.tag in fields or len(child):
                raise _NotPlain
            fields[child.tag] = child.text or ""
    url = fields.get("link", "").strip()
    # An absolute URL that joining to the feed's address leaves as it is (feedparser joins it).
    if not _ABSOLUTE_HTTP.fullmatch(url) or feedparser.urls.make_safe_absolute_uri(base_url, url) != url:
        raise _NotPlain
    title = fields.get("title")
    if title is not None and ("<" in title or "&" in title):
        raise _NotPlain  # feedparser may read it as HTML
    when = _rfc822(fields["pubDate"]) if "pubDate" in fields else None
    return DiscoveredLink(url=url, title=_clean(title), published=when, lastmod=when, language=language)


def _rfc822(value: str) -> datetime:
    """A pubDate in the one shape read here (RFC 822 with a numeric or UTC zone), as parse_w3c_datetime
    reads it; anything else (named zones, other forms, impossible dates) goes to feedparser."""
    m = _RFC822.fullmatch(value.strip())
    if m is None or not 1900 <= int(m.group(3)) <= 2100:  # feedparser reads far years its own way
        raise _NotPlain
    parsed = parse_w3c_datetime(value)
    if parsed is None:
        raise _NotPlain
    return parsed


def _safe_parser(*, recover: bool = True) -> etree.XMLParser:
    # recover: real sitemaps carry unescaped `&` in URLs; salvaging the other entries beats losing all.
    # Each other flag closes one hole: entities (billion laughs, XXE), DTD fetches, network, huge nodes.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=recover,
    )


def parse_xml_safely(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(strip_doctype(body), parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"invalid XML: {exc}") from None
    if root is None:
        raise DiscoveryError("empty XML document")
    return root


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text:
            return child.text.strip()
    return None


def parse_sitemap(body: bytes, max_urls: int = MAX_SITEMAP_URLS) -> Sitemap:
    """Entries of a sitemap (urlset) or sitemap index, at most `max_urls` of them.

    Google News entries carry news:publication_date, news:title and news:language as hints.
    Raises NotASitemap when the root is something else (e.g. an RSS feed listed as a sitemap) and
    DiscoveryError when the XML is invalid. Gzip must be inflated by the caller (`gunzip_bounded`).
    """
    root = parse_xml_safely(body)
    root_name = _local(root.tag)
    if root_name not in ("urlset", "sitemapindex"):
        raise NotASitemap(f"root element is <{root_name}>, not a sitemap", root_name)
    kind: Literal["urlset", "index"] = "index" if root_name == "sitemapindex" else "urlset"
    entry_name = "sitemap" if kind == "index" else "url"
    links: list[DiscoveredLink] = []
    truncated = False
    for entry in root:
        if _local(entry.tag) != entry_name:
            continue
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        if len(links) >= max_urls:
            truncated = True
            break
        title = published = language = None
        news = entry.find(f"{{{NEWS_NS}}}news")
        if news is not None:
            title = _clean(news.findtext(f"{{{NEWS_NS}}}title"))
            published = parse_w3c_datetime(news.findtext(f"{{{NEWS_NS}}}publication_date"))
            language = _language(news.findtext(f"{{{NEWS_NS}}}publication/{{{NEWS_NS}}}language"))
        links.append(
            DiscoveredLink(
                url=loc,
                title=title,
                published=published,
                language=language,
                lastmod=parse_w3c_datetime(_child_text(entry, "lastmod")),
            )
        )
    return Sitemap(kind=kind, links=links, truncated=truncated)
