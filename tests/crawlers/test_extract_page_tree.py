"""The cheap paths of extraction build exactly what trafilatura's own would: the page tree (page_tree.py),
trafilatura run on our tree without its defensive copy, and the drop selectors written over attributes."""

from __future__ import annotations

from copy import copy

import pytest
from cssselect import GenericTranslator
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import INVALID_XML_CHARS, load_html

from crawlers.extract.article import _XML_DECL, _options, _trafilatura
from crawlers.extract.decode import decode_html
from crawlers.extract.metadata import _BYLINE_XPATH, _PUBLISHED_XPATH, _link_texts, _longer_than
from crawlers.extract.page_tree import clean_markup, parse_markup
from crawlers.extract.ruleset import _simple_selector_xpath, rules_for
from schemas.sources import CleaningRules
from tests.crawlers.test_golden_pages import golden_folders, load_page

ODD_PAGES = [
    "",
    "   ",
    "plain text, no markup at all",
    "<p>a fragment</p>",
    "<html/>",
    "<!DOCTYPE html/><html><body><p>doctype with a slash, no newline</p></body></html>",
    "<!doctype html>\n<html/>\n<body><p>x\x00y\ufffe z\uffff</p></body>",
    "\x00\x01<html><body><p>control characters first</p></body></html>",
    "<html><body><p>caf\u00e9 \U0001f600 \ufffd \uff01</p></body></html>",
    "<html><body><p>\x0b\x0c\x1f form feeds</p></body></html>",
    "<div>" * 300 + "deeply nested" + "</div>" * 300,
]


def _golden_texts() -> list[str]:
    texts = []
    for folder in golden_folders():
        page = load_page(folder)
        headers = {str(k).lower(): str(v) for k, v in (page.meta.get("headers") or {}).items()}
        texts.append(_XML_DECL.sub("", decode_html(page.body, headers).text, count=1))
    return texts


def _serialized(tree: HtmlElement | None) -> str | None:
    return None if tree is None else etree.tostring(tree, encoding="unicode")


def _our_tree(html: str) -> HtmlElement | None:
    return parse_markup(*clean_markup(html))


@pytest.mark.parametrize("html", ODD_PAGES, ids=range(len(ODD_PAGES)))
def test_odd_pages_parse_as_trafilatura_parses_them(html: str) -> None:
    assert _serialized(_our_tree(html)) == _serialized(load_html(html))


def test_golden_pages_parse_as_trafilatura_parses_them() -> None:
    texts = _golden_texts()
    assert len(texts) >= 50
    mismatched = [i for i, html in enumerate(texts) if _serialized(_our_tree(html)) != _serialized(load_html(html))]
    assert mismatched == []


def test_clean_markup_removes_xml_invalid_characters_only() -> None:
    html = "<p>a\x00b\x1fc\ufffed\uffffe\ufffdf\t\n\r</p>"
    text, data = clean_markup(html)
    assert text == INVALID_XML_CHARS.sub("", html) == "<p>abcde\ufffdf\t\n\r</p>"
    assert data == text.encode("utf-8")
    clean = "<p>nothing to remove \uff01\ufffd</p>"
    assert clean_markup(clean)[0] is clean


def test_trafilatura_on_our_tree_in_place_gives_bare_extractions_text() -> None:
    texts = _golden_texts()
    for html in texts[::4]:
        tree = load_html(html)
        assert tree is not None
        url = "https://example.org/page"
        expected = bare_extraction(copy(tree), url=url, options=_options(url))
        kept = copy(tree)
        doc = _trafilatura(tree, url, consume=True)
        assert (doc.text if doc is not None else None) == (expected.text if expected is not None else None)
        # Without `consume` the caller's tree is left as it was.
        _trafilatura(kept, url)
        assert _serialized(kept) == _serialized(load_html(html))


def test_simple_selectors_select_what_cssselect_selects() -> None:
    selectors = [*rules_for().drop_selectors, "div.rh-inline-promo", "section#comments", ".story-tags"]
    translator = GenericTranslator()
    for html in _golden_texts()[::3]:
        tree = load_html(html)
        assert tree is not None
        for css in selectors:
            ours = _simple_selector_xpath(css)
            assert ours is not None, css
            assert etree.XPath(ours)(tree) == etree.XPath(translator.css_to_xpath(css))(tree), css


def test_complex_selectors_are_left_to_cssselect() -> None:
    for css in ("div > p.promo", ".a .b", "DIV.promo", "[data-x]", ".1bad", "div:not(.x)"):
        assert _simple_selector_xpath(css) is None


def test_the_selector_prefilter_never_changes_what_the_selectors_select() -> None:
    # Class/id selectors are kept when their names are in the page's class or id values, others when their
    # names are anywhere in the page: either way every element the full selector list selects is selected.
    extra = [".share-bar", ".related-articles", ".inline-related", "div.rh-inline-promo", "#print",
             "div > p.promo", "a[href*='x.com']", "aside"]
    rules = rules_for(cleaning=CleaningRules(drop_selectors=extra))
    everything = etree.XPath(" | ".join(GenericTranslator().css_to_xpath(c) for c in rules.drop_selectors))
    bodies = [
        "",
        '<div class="share">x</div>',
        '<div class="share-bar related-articles">x</div>',
        '<p id="print">x</p><div class="rh-inline-promo">y</div>',
        # The names as text, not as classes: nothing to select, and the selectors are not even kept.
        "<p>inline-related qrcode qr_code_pc js_pc_qr_code bdshare print share-bar</p>",
        '<div class="share&#45;bar">an entity in the class name</div>',
        '<div class="sharXshare-ba share-box">x</div>' + '<span class="share">s</span>' * 10,
        '<div><p class="promo">complex</p></div><a href="https://x.com/y">link</a><aside>a</aside>',
        '<div class="x">promo</div><p id="share">an id is not a class</p>',
    ]
    kept_any = 0
    for body in bodies:
        html = f"<html><body>{body}<p>filler text</p></body></html>"
        tree = load_html(html)
        assert tree is not None
        expected = everything(tree)
        xpath = rules.selectors_xpath(tree, html)
        assert (xpath(tree) if xpath is not None else []) == expected, body
        kept_any += xpath is not None
        if body.startswith("<p>inline-related"):
            plain = rules_for(cleaning=CleaningRules(drop_selectors=[".share-bar", "#print"]))
            assert plain.selectors_xpath(tree, html) is None  # names only in the text
    assert kept_any >= 6


def test_metadata_xpaths_select_what_the_element_predicates_select() -> None:
    byline = etree.XPath(
        '//*[@rel="author" or @itemprop="author" or contains(@class, "byline") or contains(@class, "author")]'
    )
    published = etree.XPath('//time[@itemprop="datePublished" or @pubdate]|//*[@itemprop="datePublished"]')
    extra = (
        '<html><body><p class="byline">By A</p><span rel="author">B</span><time pubdate datetime="2024-01-02">'
        'x</time><meta itemprop="datePublished" content="2024-01-01"><div itemprop="author">C</div></body></html>'
    )
    for html in [*_golden_texts(), extra]:
        tree = load_html(html)
        assert tree is not None
        assert _BYLINE_XPATH(tree) == byline(tree)
        assert _PUBLISHED_XPATH(tree) == published(tree)


def test_link_texts_keep_long_same_site_links_and_still_fail_on_a_bad_absolute_href() -> None:
    tree = load_html(
        "<html><body><a href='/a'>Home</a><a href='/b'>Research council opens call</a>"
        "<a href='https://other.example/c'>External report on funding</a><a>No href at all here</a>"
        "<a href='/d'><span>Nested</span> link text here</a><a href='#top'>Back to the top of page</a>"
        "</body></html>"
    )
    assert tree is not None
    assert _link_texts(tree, "https://site.example/x") == {"research council opens call", "nested link text here"}
    # A short link is never kept, but its href is still parsed when absolute: a malformed one raises as it
    # always did (extract_html then logs the page as failed).
    bad = load_html("<html><body><a href='http://[x/'>Go</a></body></html>")
    assert bad is not None
    with pytest.raises(ValueError):
        _link_texts(bad, "https://site.example/x")


def test_longer_than_counts_text_like_text_content() -> None:
    tree = load_html("<html><body><div id='d'>ab<p>cd<b>ef</b>gh</p>ij</div>tail</body></html>")
    assert tree is not None
    div = tree.get_element_by_id("d")
    assert len(div.text_content()) == 10
    assert _longer_than(div, 9)
    assert not _longer_than(div, 10)


def test_form_elements_are_plain_html_elements_and_extract_as_with_lxml_html_classes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from trafilatura.utils import HTML_PARSER

    import crawlers.extract.page_tree as page_tree
    from crawlers.extract.article import extract_html

    page = ("<html><body><article><h1>Funding call opens</h1>"
            + "<p>The council opens a call for proposals on data infrastructure and climate science.</p>" * 3
            + "<form class='newsletter'><label for='e'>Email</label><input type='email' id='e'>"
            "<select><option>Weekly</option></select><textarea>Note</textarea></form>"
            "<p>Applications are reviewed by independent panels of experts.</p></article></body></html>")
    tree = _our_tree(page)
    assert tree is not None
    assert {type(el) for el in tree.iter("form", "input", "select", "textarea", "label")} == {HtmlElement}
    assert _serialized(tree) == _serialized(load_html(page))
    ours = extract_html(page.encode(), url="https://gov.example/a")
    monkeypatch.setattr(page_tree, "PARSER", HTML_PARSER)  # lxml.html's class lookup: FormElement, ...
    assert type(next(_our_tree(page).iter("form"))) is not HtmlElement  # type: ignore[union-attr]
    assert extract_html(page.encode(), url="https://gov.example/a") == ours
    assert ours is not None and "independent panels" in ours.text
