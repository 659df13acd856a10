"""Page metadata read from the HTML itself: meta tags, JSON-LD, `<time>`, canonical links, `<html lang>`.

Read before trafilatura runs (it prunes the tree). Each field lists its sources in the order trusted;
`article.py` merges these with what the text's bylines and trafilatura found.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from crawlers.extract.bylines import parse_names
from crawlers.extract.cleaning import normalize_line
from crawlers.extract.dates import parse_date
from crawlers.urls import canonicalize_url

logger = logging.getLogger(__name__)

_MAX_JSONLD_CHARS = 1_000_000
_MAX_LINKS = 2000
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "blogposting",
        "report",
        "scholarlyarticle",
        "techarticle",
        "pressrelease",
        "governmentarticle",
        "liveblogposting",
        "webpage",
        "opinionnewsarticle",
        "backgroundnewsarticle",
    }
)
_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "firstpublishedtime",
    "originalpublicationdate",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "date",
    "citation_publication_date",
    "citation_date",
    "sailthru.date",
    "parsely-pub-date",
    "article.published",
    "weibo:article:create_at",
    "releasedate",
    "created",
    "dc.date.created",
    "dcterms.created",
)
_UPDATED_META = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "lastmod",
    "last-modified",
    "dcterms.modified",
    "dc.date.modified",
    "article.updated",
    "updated",
    "lastpublishedtime",
    "modified",
)
_AUTHOR_META = (
    "author",
    "article:author",
    "dc.creator",
    "dcterms.creator",
    "citation_author",
    "parsely-author",
    "sailthru.author",
    "byl",
)
# Names a site states as its own, in order: og:site_name, then (after JSON-LD publisher.name) these.
# Visible logo text and <title> suffixes are not used: they are layout, not metadata.
_SITE_META_FALLBACK = ("application-name", "sitename")
_DC_CREATOR_META = frozenset({"dc.creator", "dcterms.creator"})
_ORG_META = (
    "dc.publisher",
    "dcterms.publisher",
    "dc.creator",
    "dcterms.creator",
    "source",
    "publisher",
    "application-name",
)
_HEADER_MAX = 160
_HEADER_BLOCKS = (
    "p",
    "div",
    "span",
    "li",
    "time",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "em",
    "strong",
    "small",
    "a",
)
_BYLINE_PREFIX = re.compile(r"^\s*(?:by|von|par)\s+", re.IGNORECASE)


@dataclass
class PageMetadata:
    title: str | None = None
    """`og:title`, else `<title>`."""
    h1: str | None = None
    html_title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: date | None = None
    published_malformed: bool = False
    """A publication date was declared but is not a real date: no other guess should replace it."""
    updated: date | None = None
    site_name: str | None = None
    canonical: str | None = None
    """The page's own canonical claim (rel=canonical, else og:url), absolute, not yet checked."""
    html_lang: str | None = None
    link_texts: frozenset[str] = frozenset()
    """Normalised texts of links to the page's own site (teaser headlines look like these)."""
    byline_texts: list[str] = field(default_factory=list)
    """Texts of elements marked as bylines/authors (class, rel, itemprop), in page order."""
    header_texts: frozenset[str] = frozenset()
    """Normalised short texts next to the headline in the HTML (kicker, label, date, deck)."""
    header_lines: tuple[str, ...] = ()
    """The same texts as written (case kept), in page order: bylines hidden in an information bar."""
    org_names: tuple[str, ...] = ()
    """Names the page gives its publisher (site name, DC.Publisher/Creator, `source`): title suffixes."""


def _text(el: HtmlElement) -> str:
    # Most elements asked for hold bare text: .text is it, without text_content()'s XPath evaluation.
    return " ".join(((el.text or "") if len(el) == 0 else el.text_content()).split())


def _meta_map(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        content = el.get("content")
        if content is None or not content.strip():
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = el.get(attr)
            if key:
                found.setdefault(key.strip().lower(), content.strip())
    return found


def _jsonld_objects(tree: HtmlElement) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        raw = script.text or ""
        if not raw.strip() or len(raw) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue  # malformed JSON-LD is common; the other sources still apply
        stack: list[Any] = [data]
        while stack and len(objects) < 200:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                objects.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(reversed(graph))
    return objects


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {str(v).lower() for v in values if v}


def _names(value: Any) -> list[str]:
    """Author names out of a JSON-LD author/publisher value (str, dict or list)."""
    out: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items[:20]:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and not name.strip().startswith(("http://", "https://")):
            out.append(" ".join(name.split()))
    return out


def _split_meta_authors(value: str) -> list[str]:
    if value.startswith(("http://", "https://")):
        return []
    value = _BYLINE_PREFIX.sub("", value)
    parts = re.split(r"\s*(?:,|;|、|\band\b|&)\s*", value)
    return [p.strip() for p in parts if p.strip()]


@lru_cache(maxsize=1)
def _tld_extractor() -> Any:
    import tldextract

    # The bundled public-suffix snapshot only: no network, no cache directory.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """example.gov.cn for www.most.example.gov.cn; the host itself for IPs and unknown suffixes."""
    host = host.lower().rstrip(".")
    try:
        parts = _tld_extractor()(host)
    except Exception:  # tldextract problems must not stop extraction; fall back to the full host
        logger.debug("tldextract failed for %s", host, exc_info=True)
        return host
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    labels = host.split(".")
    if len(labels) >= 2 and not host.replace(".", "").isdigit() and ":" not in host:
        # Unlisted suffix (.example, .local, intranet names): the last two labels.
        return ".".join(labels[-2:])
    return host


def same_site(url_a: str, url_b: str) -> bool:
    host_a = (urlsplit(url_a).hostname or "").lower()
    host_b = (urlsplit(url_b).hostname or "").lower()
    return bool(host_a) and bool(host_b) and registrable_domain(host_a) == registrable_domain(host_b)


_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


def _link_texts(tree: HtmlElement, page_url: str) -> frozenset[str]:
    page_site = registrable_domain(urlsplit(page_url).hostname or "") if page_url else ""
    texts: set[str] = set()
    for i, a in enumerate(tree.iter("a")):
        if i >= _MAX_LINKS:
            break
        if len(a) == 0:
            raw = a.text or ""
            # Menu and tag links: a bare text under 5 characters is never kept, so their href is not
            # read (attribute access was a fifth of this loop), unless it has "//": urlsplit raises on
            # some of those ("http://[x"), and such a page must fail as it did.
            if len(raw) < 5 and "//" not in (a.get("href") or ""):
                continue
        else:
            raw = a.text_content()
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        if "//" in href[:8]:  # absolute or scheme-relative: only then can it leave the site
            host = urlsplit(href).hostname
            if host and page_site and registrable_domain(host) != page_site:
                continue  # external links are references, not teasers
        text = " ".join(raw.split())  # _text(a), with the element's text already read
        if len(text) >= 12 or (len(text) >= 5 and len(_CJK_CHAR.findall(text)) >= 5):
            texts.add(text.casefold())
    return frozenset(texts)


def _longer_than(el: HtmlElement, limit: int) -> bool:
    """len(el.text_content()) > limit."""
    # Measured on the bench corpus, libxml2 building the whole text (even of an article-body neighbour)
    # is five times faster than summing itertext() chunks in Python until the limit.
    return len(el.text_content()) > limit


def _header_texts(h1: HtmlElement | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """Texts of the elements right around the headline (and its wrapper): normalised, and as written."""
    if h1 is None:
        return frozenset(), ()
    texts: set[str] = set()
    lines: dict[str, None] = {}
    anchors = [h1]
    parent = h1.getparent()
    if parent is not None and parent.tag not in ("body", "article", "main"):
        anchors.append(parent)
    for anchor in anchors:
        neighbours: list[HtmlElement] = []
        prev, nxt = anchor.getprevious(), anchor.getnext()
        for _ in range(2):
            if prev is not None:
                neighbours.append(prev)
                prev = prev.getprevious()
            if nxt is not None:
                neighbours.append(nxt)
                nxt = nxt.getnext()
        for el in neighbours:
            if not isinstance(el.tag, str) or _longer_than(el, 4 * _HEADER_MAX):
                continue  # the article body container, not header furniture
            for node in (el, *el.iterdescendants(*_HEADER_BLOCKS)):
                text = _text(node)
                if text and len(text) <= _HEADER_MAX:
                    # _text already collapsed the whitespace: casefold() is normalize_line() here.
                    texts.add(text.casefold())
                    lines[text] = None
    return frozenset(texts), tuple(lines)


_HEADLINE_TAGS = ("h2", "h3", "div", "p", "span", "strong", "td")


def _headline_element(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """Without an <h1>, the element whose whole text is the title (a styled div or h2 headline)."""
    if not title:
        return None
    want = normalize_line(title)
    body = next(tree.iter("body"), None)
    for el in (body if body is not None else tree).iter(*_HEADLINE_TAGS):
        text = el.text_content()
        if len(text) <= 2 * len(want) + 20 and normalize_line(text) == want:
            return el
    return None


# Cheap contains() tests select the few candidates; the exact class-token test runs on those in Python.
# Written over the attribute axis: libxml2 walks only the attributes that exist instead of testing four
# predicates on every element (a third of the time on a 500-element page, same nodes in document order).
_BYLINE_XPATH = etree.XPath(
    '//@class[contains(., "byline") or contains(., "author")]/.. | //@rel[. = "author"]/..'
    ' | //@itemprop[. = "author"]/..'
)
_PUBLISHED_XPATH = etree.XPath('//@itemprop[. = "datePublished"]/.. | //time/@pubdate/..')


def _is_byline_element(el: HtmlElement) -> bool:
    if el.get("rel") == "author" or el.get("itemprop") == "author":
        return True
    classes = (el.get("class") or "").split()
    return any(
        c in ("byline", "author") or "-byline" in c or "byline-" in c or "author-name" in c for c in classes
    )


def _mentions_byline_markup(html: str) -> bool:
    """Whether "author"/"byline" occurs inside a class/rel/itemprop attribute (most pages only have
    <meta name="author">): a string scan that spares the XPath walk over every element."""
    for word in ("author", "byline"):
        pos = html.find(word)
        seen = 0
        while pos >= 0 and seen < 50:
            start = html.rfind("<", 0, pos)
            tag = html[start:pos] if start >= 0 and pos - start < 300 else ""
            if ("class=" in tag or "rel=" in tag or "itemprop=" in tag) and not tag.startswith("<meta"):
                return True
            pos = html.find(word, pos + len(word))
            seen += 1
    return False


def _byline_texts(tree: HtmlElement, html: str | None = None) -> list[str]:
    texts: list[str] = []
    if html is not None and not _mentions_byline_markup(html):
        return texts
    found = 0
    for el in _BYLINE_XPATH(tree):
        if not _is_byline_element(el):
            continue
        found += 1
        if found > 8:
            break
        text = _text(el)
        if text and len(text) <= 120 and text not in texts:
            texts.append(text)
    return texts


def read_metadata(tree: HtmlElement, page_url: str, html: str | None = None) -> PageMetadata:
    """Collect metadata from a parsed page. Never raises on odd markup (missing values stay None)."""
    meta = _meta_map(tree)
    objects = _jsonld_objects(tree)
    article_objs = [o for o in objects if _types(o) & _ARTICLE_TYPES]
    # NewsArticle before WebPage: a page's WebPage object often carries the site's dates.
    article_objs.sort(key=lambda o: "webpage" in _types(o))
    md = PageMetadata()

    # iter() walks in C; find(".//x") goes through lxml's Python ElementPath.
    title_el = next(tree.iter("title"), None)
    md.html_title = _text(title_el) or None if title_el is not None else None
    h1 = next(tree.iter("h1"), None)
    md.h1 = (_text(h1) or None) if h1 is not None else None
    md.title = meta.get("og:title") or meta.get("twitter:title") or meta.get("dc.title") or md.html_title

    md.site_name = meta.get("og:site_name")
    for obj in article_objs:
        md.published = md.published or parse_date(_first_str(obj.get("datePublished")))
        md.updated = md.updated or parse_date(_first_str(obj.get("dateModified")))
        if not md.authors:
            md.authors = _names(obj.get("author"))
        if not md.site_name:
            pub = _names(obj.get("publisher"))
            md.site_name = pub[0] if pub else None
    for key in _PUBLISHED_META:
        if md.published:
            break
        md.published = parse_date(meta.get(key))
        if md.published is None and meta.get(key) and re.search(r"\d{4}", meta[key]):
            md.published_malformed = True
    if md.published is not None:
        md.published_malformed = False
    if md.published is None and (html is None or "datePublished" in html or "pubdate" in html):
        for t in _PUBLISHED_XPATH(tree)[:3]:
            md.published = parse_date(t.get("datetime") or t.get("content") or _text(t))
            if md.published:
                break
    for key in _UPDATED_META:
        if md.updated:
            break
        md.updated = parse_date(meta.get(key))
    if not md.site_name:
        md.site_name = next((meta[k] for k in _SITE_META_FALLBACK if meta.get(k)), None)
    if not md.authors:
        for key in _AUTHOR_META:
            if meta.get(key):
                md.authors = _split_meta_authors(meta[key])
                if key in _DC_CREATOR_META:
                    # Dublin Core's creator is usually the issuing body: only personal names are authors.
                    md.authors = [a for a in md.authors if parse_names(a) == [a]]
                if md.authors:
                    break
    md.org_names = tuple(
        dict.fromkeys(
            " ".join(v.split())
            for v in (md.site_name, *(meta.get(k) for k in _ORG_META))
            if v and v.strip() and len(v) <= 80
        )
    )

    href = None
    for link in tree.iter("link"):
        if link.get("href") and "canonical" in (link.get("rel") or "").lower().split():
            href = link.get("href")
            break
    href = href or meta.get("og:url")
    if href and page_url:
        try:
            md.canonical = urljoin(page_url, href.strip())
        except ValueError:
            md.canonical = None

    lang = tree.get("lang") or tree.get("xml:lang") or meta.get("content-language") or meta.get("language")
    md.html_lang = lang.strip() if lang and lang.strip() else None
    md.link_texts = _link_texts(tree, page_url)
    headline = h1 if h1 is not None else _headline_element(tree, md.title)
    md.header_texts, md.header_lines = _header_texts(headline)
    md.byline_texts = _byline_texts(tree, html)
    return md


def _first_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def choose_canonical(page_url: str, claimed: str | None) -> str:
    """rel=canonical/og:url when it points to the page's own registrable domain, else the page URL;
    canonicalised either way. Falls back to the raw page URL when it is not http(s)."""
    if claimed and same_site(claimed, page_url):
        try:
            return canonicalize_url(claimed)
        except ValueError:
            pass
    try:
        return canonicalize_url(page_url)
    except ValueError:
        return page_url
