"""Where a page becomes a record: decode, prune, trafilatura, clean, metadata, language.

`extract_html` never raises on bad input: anything that is not an article (not HTML, no text, a
parser failure) is None, logged once with the source id and URL.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache
from typing import Any

from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.core import trafilatura_sequence
from trafilatura.settings import Document, Extractor
from trafilatura.xml import xmltotxt

from crawlers.extract.bylines import parse_names
from crawlers.extract.cascade import shortcut_cascade
from crawlers.extract.cleaning import Cleaned, byline_names, clean_text, normalize_line
from crawlers.extract.decode import decode_html
from crawlers.extract.language import detect_language
from crawlers.extract.metadata import PageMetadata, choose_canonical, read_metadata
from crawlers.extract.page_tree import clean_markup, parse_markup
from crawlers.extract.ruleset import RuleSet, rules_for
from schemas.article import ArticleRecord
from schemas.capture import Capture
from schemas.sources import SourceConfig

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Larger bodies are not parsed (the crawler's own limit is lower; this guards ad-hoc calls)."""

# Magic numbers of formats that are never HTML, whatever the Content-Type says (RELIABILITY.md A8, A17).
# Compressed bytes are refused rather than decompressed: inflating is the fetcher's job, with its limits.
MIN_TEXT_CHARS = 20
"""Fewer non-space characters than this after cleaning is a page without article text (a nav stub)."""

_NON_HTML_MAGIC = (
    b"%PDF",
    b"PK\x03\x04",
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
    b"Rar!",
    b"\xd0\xcf\x11\xe0",
    b"7z\xbc\xaf",
    b"BZh",
    b"\xfd7zXZ",
    b"(\xb5/\xfd",
    b"RIFF",
    b"\x00\x00\x00",
    b"OggS",
    b"ID3",
    b"wOFF",
    b"wOF2",
)
_NON_HTML_TYPES = re.compile(
    r"^(?:image|audio|video|font)/|^application/(?:pdf|zip|x-|msword|vnd\.|octet-stream)"
)
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html|head|body|p|div|article|meta|title)\b", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TITLE_SEPARATOR = r"--|[-|–—·•:_/｜－]"


def _looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:1024].lstrip()
    if head.startswith(_NON_HTML_MAGIC):
        return False
    if _NON_HTML_TYPES.search(content_type):
        # Mislabelled HTML served as octet-stream still counts when it plainly is HTML.
        return content_type.startswith("application/octet-stream") and bool(_HTML_SNIFF.search(head))
    return True


_PROTECTED_TAGS = frozenset({"html", "body", "main", "article"})
_SIGNUP_BOX_MAX_CHARS = 400
_SIGNUP_BOX_LEVELS = 3


def _droppable(el: HtmlElement) -> bool:
    # A selector that happens to match the page or article container would empty the page.
    return (
        el.getparent() is not None
        and el.tag not in _PROTECTED_TAGS
        and next(el.iterdescendants("h1"), None) is None
    )


_SIGNUP_WORDS = ("newsletter", "subscri", "signup", "sign-up", "nl-box", "abonn")
_SIGNUP_TAGS = ("div", "aside", "section", "form")


def _named_signup_box(el: HtmlElement) -> bool:
    names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return any(w in names for w in _SIGNUP_WORDS)


_EMAIL_INPUTS = etree.XPath('//input[translate(@type, "EMAIL", "email")="email"]')


def _signup_boxes(tree: HtmlElement) -> list[HtmlElement]:
    """Newsletter boxes: the largest small container around an e-mail input, or one named for it."""
    # The containers are walked directly: lower-casing the whole page to test whether any name occurs
    # cost more than visiting the (few hundred) containers themselves.
    boxes: list[HtmlElement] = []
    for el in tree.iter(*_SIGNUP_TAGS):
        if (el.get("class") or el.get("id")) and _named_signup_box(el):
            if len(el.text_content()) <= _SIGNUP_BOX_MAX_CHARS:
                boxes.append(el)
            if len(boxes) >= 20:
                break
    if next(tree.iter("input"), None) is None:
        return boxes  # most pages have no form field at all: spare the XPath walk
    for field in _EMAIL_INPUTS(tree)[:20]:
        box = None
        el = field.getparent()
        for _ in range(_SIGNUP_BOX_LEVELS):
            if el is None or el.tag in _PROTECTED_TAGS:
                break
            if len(el.text_content()) > _SIGNUP_BOX_MAX_CHARS:
                break
            if el.tag in ("div", "aside", "section", "form"):
                box = el
            el = el.getparent()
        if box is not None:
            boxes.append(box)
    return boxes


_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "ul",
        "ol",
        "dl",
        "table",
        "blockquote",
        "figure",
        "pre",
        "aside",
        "header",
        "footer",
        "nav",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "hr",
    }
)


def _paragraph_sections(tree: HtmlElement) -> None:
    """A <section> holding only inline text is a paragraph (WeChat's editor writes every line so);
    trafilatura drops such text, subheadings like `<section><span><strong>01 …</strong></span></section>`."""
    for el in tree.iter("section"):
        if any(isinstance(child.tag, str) and child.tag in _BLOCK_TAGS for child in el.iterdescendants()):
            continue
        if (el.text_content() or "").strip():
            el.tag = "p"


def _prune(tree: HtmlElement, rules: RuleSet, html: str) -> None:
    found: list[HtmlElement] = []
    xpath = rules.selectors_xpath(tree, html)
    if xpath is not None:
        try:
            result = xpath(tree)
        except Exception:  # an odd selector or tree must not stop extraction
            logger.debug("drop_selectors failed", exc_info=True)
            result = []
        found.extend(el for el in result if isinstance(el, HtmlElement)) if isinstance(result, list) else None
    found.extend(_signup_boxes(tree))
    for el in found:
        if _droppable(el):
            el.drop_tree()
    if "<section" in html:
        _paragraph_sections(tree)


def _strip_site(title: str, names: tuple[str, ...]) -> str:
    """ "Headline - Site" / "Site | Headline" / "Headline-Site": drop a name the page gives its publisher."""
    for name in names:
        site = re.escape(name)
        m = re.fullmatch(
            rf"(.+?)\s*(?:{_TITLE_SEPARATOR})\s*{site}\s*", title, re.IGNORECASE
        ) or re.fullmatch(rf"\s*{site}\s*(?:{_TITLE_SEPARATOR})\s*(.+)", title, re.IGNORECASE)
        if m:
            return m.group(1).strip()
    return title


def _choose_title(md: PageMetadata, traf_title: str | None, hint: str | None, site_name: str | None) -> str:
    primary = md.title or traf_title or md.h1 or hint or ""
    primary = " ".join(primary.split())
    if md.h1:
        h1 = " ".join(md.h1.split())
        norm_h1 = normalize_line(h1)
        site = normalize_line(site_name or "")
        if norm_h1 and norm_h1 != site and (not primary or norm_h1 in normalize_line(primary)):
            return h1
    if primary:
        names = tuple(dict.fromkeys(n for n in (site_name, *md.org_names) if n))
        return _strip_site(primary, names)
    return primary


def _site_name(md: PageMetadata) -> str | None:
    # trafilatura's sitename is not used: it falls back to the host name or a <title> suffix.
    return " ".join(md.site_name.split()) if md.site_name else None


def _authors(cleaned: Cleaned, md: PageMetadata, rules: RuleSet) -> list[str]:
    """Bylines in the text, then byline elements outside it, then author metadata, then "Author:" fields."""
    if cleaned.byline_authors:
        return cleaned.byline_authors
    for text in md.byline_texts:
        # The same byline rules as for text lines ("By X", "记者 X"); a bare "Jane Doe" counts too.
        names = byline_names(text, rules) or parse_names(text)
        if names:
            return names
    if md.authors:
        return list(dict.fromkeys(md.authors))
    for text in md.header_lines:
        # An information bar under the headline ("作者：本报记者 张晓 王磊") that trafilatura left out.
        names = byline_names(text, rules)
        if names:
            return names
    return cleaned.field_authors


def _htmldate(tree: HtmlElement, url: str) -> date | None:
    """trafilatura's own date search (htmldate, same settings), as the last resort."""
    from htmldate import find_date

    from crawlers.extract.dates import parse_date

    try:
        found = find_date(tree, url=url, **_options_template().date_params)
    except Exception:  # htmldate raises on some malformed dates; a missing date is the answer then
        logger.debug("htmldate failed for %s", url, exc_info=True)
        return None
    return parse_date(found) if isinstance(found, str) else None


def _extract(
    body: bytes,
    url: str,
    headers: dict[str, str] | None,
    source: SourceConfig | None,
    source_id: str,
    capture_sha256: str | None,
    hint_title: str | None,
    hint_published: date | None,
    hint_language: str | None,
) -> ArticleRecord | None:
    content_type = ""
    for key, value in (headers or {}).items():
        if key.lower() == "content-type":
            content_type = value.split(";")[0].strip().lower()
    if not body or body.isspace():  # isspace stops at the first byte; strip() would copy the body
        logger.info("no article text (empty body) source=%s url=%s", source_id, url)
        return None
    if len(body) > MAX_BODY_BYTES or not _looks_like_html(body, content_type):
        logger.info(
            "not extracted (not HTML or too large, %d bytes) source=%s url=%s", len(body), source_id, url
        )
        return None

    decoded = decode_html(body, headers)
    html, data = clean_markup(_XML_DECL.sub("", decoded.text, count=1))
    tree = parse_markup(html, data)
    if tree is None:
        logger.info("no article text (unparseable HTML) source=%s url=%s", source_id, url)
        return None
    md = read_metadata(tree, url, html)
    rules = rules_for(source)
    _prune(tree, rules, html)

    # trafilatura's metadata step is a third of its time and our metadata already covers it; the one
    # thing it adds, htmldate's date search, runs below only for pages that state no date at all.
    # (It also made trafilatura discard whole pages whose meta date had a "+25:00" offset.)
    # Only that search reads the tree after trafilatura: on every other page trafilatura may consume it.
    dates_need_tree = md.published is None and not md.published_malformed
    doc = _trafilatura(tree, url, consume=not dates_need_tree)
    raw_text = (getattr(doc, "text", None) or "") if doc is not None else ""
    if not raw_text.strip():
        logger.info("no article text source=%s url=%s", source_id, url)
        return None
    traf_title = getattr(doc, "title", None)
    site_name = _site_name(md)
    title = _choose_title(md, traf_title, hint_title, site_name)
    titles = [t for t in (title, md.h1, md.html_title, md.title, traf_title) if t]
    cleaned = clean_text(
        raw_text, rules, titles=titles, link_texts=md.link_texts, header_texts=md.header_texts
    )
    if len("".join(cleaned.text.split())) < MIN_TEXT_CHARS:
        logger.info("no article text after cleaning source=%s url=%s", source_id, url)
        return None

    published = md.published or (cleaned.dates[0] if cleaned.dates else None)
    if published is None and not md.published_malformed:
        # htmldate would repair a declared but impossible date into a wrong one (2024-02-30 ->
        # 2024-02-01); in an archive no date beats a wrong date, so it only runs when none was declared.
        published = _htmldate(tree, url) or hint_published
    updated = md.updated or (cleaned.updated_dates[0] if cleaned.updated_dates else None)
    language = detect_language(
        cleaned.text,
        html_lang=md.html_lang or hint_language,
        default_language=source.default_language if source is not None else None,
    )
    return ArticleRecord(
        source_id=source_id,
        url=url,
        canonical_url=choose_canonical(url, md.canonical),
        title=title,
        text=cleaned.text,
        authors=_authors(cleaned, md, rules),
        published=published,
        updated=updated if updated != published else None,
        site_name=site_name,
        language=language.code,
        language_confidence=language.confidence,
        extractor_version=_version(),
        capture_sha256=capture_sha256,
    )


@lru_cache(maxsize=1)
def _options_template() -> Extractor:
    # Building an Extractor reads trafilatura's config file settings each time (~0.2 ms): once per process.
    return Extractor(
        output_format="python",
        fast=False,
        precision=False,
        recall=False,
        comments=False,
        tables=True,
        dedup=False,
        with_metadata=False,
    )


def _options(url: str) -> Extractor:
    template = _options_template()
    options = Extractor.__new__(Extractor)
    for slot in Extractor.__slots__:
        setattr(options, slot, getattr(template, slot))
    options.url = url
    options.source = url
    return options


def _trafilatura(tree: HtmlElement, url: str, *, consume: bool = False) -> Any:
    """trafilatura's extraction of `tree` (no metadata: ours covers it); with `consume`, the tree is left
    pruned and unusable, else bare_extraction works on a copy and `tree` stays usable for htmldate."""
    options = _options(url)
    with shortcut_cascade():
        if consume:
            return _extract_in_place(tree, options)
        return bare_extraction(tree, url=url, options=options)


def _extract_in_place(tree: HtmlElement, options: Extractor) -> Document | None:
    """`bare_extraction(tree, options=options)` without its first step, a copy of the whole tree.

    That copy protects callers who read the tree afterwards and costs 0.5 ms on a 60 KB page, 3-4% of
    trafilatura's whole time. The steps kept are bare_extraction's for our options (no metadata, target
    language, deduplication or tree-size limit; other options go through bare_extraction itself), and
    test_extract_page_tree holds both paths to the same text.
    """
    if (
        options.format != "python"
        or options.with_metadata
        or options.lang
        or options.dedup
        or options.max_tree_size
        or options.comments
    ):
        # output_format "python" (our options) makes bare_extraction return a Document or None.
        return bare_extraction(tree, url=options.url, options=options)  # type: ignore[return-value]
    try:
        body, text, _, comments = trafilatura_sequence(tree, options, options.url)
    except (TypeError, ValueError):  # bare_extraction's own "discard this page" signals
        logger.debug("trafilatura discarded %s", options.url, exc_info=True)
        return None
    if len(text) < options.min_output_size and len(comments) < options.min_output_comm_size:
        return None
    document = Document()
    document.text = xmltotxt(body, options.formatting)
    document.raw_text = document.text
    document.body = body
    return document


def _version() -> str:
    from crawlers.extract import EXTRACTOR_VERSION

    return EXTRACTOR_VERSION


def extract_html(
    body: bytes,
    *,
    url: str,
    headers: dict[str, str] | None = None,
    source: SourceConfig | None = None,
    source_id: str = "adhoc",
    capture_sha256: str | None = None,
    hint_title: str | None = None,
    hint_published: date | None = None,
    hint_language: str | None = None,
) -> ArticleRecord | None:
    """Extract one page. None when it holds no article text; never raises on bad HTML."""
    if source is not None and source_id == "adhoc":
        source_id = source.id
    try:
        return _extract(
            body, url, headers, source, source_id, capture_sha256, hint_title, hint_published, hint_language
        )
    except Exception:
        # A parser or rule bug on one page must not stop a crawl: record it once, loudly, and move on.
        logger.warning("extraction failed source=%s url=%s", source_id, url, exc_info=True)
        return None


def extract_capture(capture: Capture, source: SourceConfig | None = None) -> ArticleRecord | None:
    """Extract a fetched page. Captures that are not pages (304, gone, non-HTML) give None."""
    if capture.kind != "page" or capture.body is None:
        logger.info(
            "no article text (capture kind %s) source=%s url=%s",
            capture.kind,
            capture.source_id,
            capture.final_url,
        )
        return None
    return extract_html(
        capture.body,
        url=capture.final_url or capture.url,
        headers=capture.headers,
        source=source,
        source_id=capture.source_id,
        capture_sha256=capture.sha256,
        hint_title=capture.hint_title,
        hint_published=capture.hint_published.date() if capture.hint_published else None,
        hint_language=capture.hint_language,
    )
