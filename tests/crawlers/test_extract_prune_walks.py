"""The prune walks give exactly the elements of trafilatura's XPath, in the same order."""

from __future__ import annotations

import gzip
import random
from collections.abc import Callable
from copy import copy

import pytest
import trafilatura.core as traf_core
import trafilatura.main_extractor as traf_main
from lxml.etree import XPath
from lxml.html import HtmlElement, document_fromstring, tostring
from trafilatura.htmlprocessing import convert_tags, prune_unwanted_nodes, tree_cleaning
from trafilatura.xpaths import OVERALL_DISCARD_XPATH, RAW_TREE_PRUNE_XPATH, REMOVE_COMMENTS_AND_LISTS_XPATH

from crawlers.extract import prune_walks
from crawlers.extract.article import _options
from crawlers.extract.cascade import shortcut_cascade
from crawlers.extract.page_tree import clean_markup, parse_markup
from tests.crawlers.test_golden_pages import golden_folders

PAIRS: list[tuple[XPath, Callable[[HtmlElement], list[HtmlElement]]]] = [
    (RAW_TREE_PRUNE_XPATH[0], prune_walks.infinite_scroll_containers),
    (RAW_TREE_PRUNE_XPATH[1], prune_walks.share_button_blocks),
    (REMOVE_COMMENTS_AND_LISTS_XPATH[0], prune_walks.comment_sections),
    (OVERALL_DISCARD_XPATH[0], prune_walks.boilerplate_blocks),
    (OVERALL_DISCARD_XPATH[1], prune_walks.hidden_blocks),
]
TAGS = ["div", "section", "aside", "ol", "ul", "list", "item", "details", "p", "span", "h1", "article", "li", "a"]
NAMES = ["", "comment", "Comment-list", "commentary", "comments", "comol", "xcomment", "disqus_thread",
         "dsq-comments", "article-comments", "post-comments-box", "my post-comments", "mvp-post-add-box",
         "x mvp-post-add-wrap", "infinite-scroll", "infinitescroll", "Infinite-scroll", "elementor-share-buttons",
         "a elementor-share-buttons--x", "share", "main", "&#99;omment", "comment&amp;x", "cookie-bar", "x cookie",
         "reply-box", "a reply-", "hidden", "is-hidden", "reader-comments", "comments-title", "x hide", "nav-main",
         "Navigation", "sidebar", "x ad-slot", "ad-", "top ad here", "article-body", "content", "bylines", "mymeta"]
OTHER_ATTRS = {
    "style": ["display:none", "display: none;color:red", "color:hidden", "display:block", "visibility:hidden"],
    "role": ["navigation", "Navigation", "NAV", "main", "banner"],
    "data-component": ["MostPopularStories", "mostpopularstories", "Other"],
    "data-lp-replacement-content": ["", "x"],
    "aria-hidden": ["true", "false", "TRUE"],
}


def random_attributes(rng: random.Random) -> str:
    attrs = [(a, rng.choice(NAMES)) for a in ("id", "class") if rng.random() < 0.6]
    attrs += [(a, rng.choice(values)) for a, values in OTHER_ATTRS.items() if rng.random() < 0.12]
    rng.shuffle(attrs)  # a union like @id|@class reads the attribute written first
    return "".join(f' {a}="{v}"' for a, v in attrs)


def random_page(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 4)):
        tag = rng.choice(TAGS)
        attrs = random_attributes(rng)
        inner = random_page(rng, depth + 1) if depth < 4 and rng.random() < 0.7 else "text"
        parts.append(f"<{tag}{attrs}>{inner}</{tag}> tail{rng.randint(0, 9)}")
    return "".join(parts)


@pytest.mark.parametrize("seed", range(4))
def test_the_walks_find_what_the_xpath_finds_on_random_pages(seed: int) -> None:
    rng = random.Random(seed)
    hits = 0
    for _ in range(300):
        tree = document_fromstring(f"<html><body><div id='comments'>{random_page(rng)}</div></body></html>")
        for xpath, walk in PAIRS:
            expected = xpath(tree)
            assert walk(tree) == expected
            hits += len(expected)
    assert hits > 300  # the pages do hold what the expressions look for


def test_the_walks_find_what_the_xpath_finds_on_every_golden_page() -> None:
    folders = golden_folders()
    assert len(folders) > 50
    for folder in folders:
        html, data = clean_markup(gzip.decompress((folder / "raw.html.gz").read_bytes()).decode("utf-8", "replace"))
        tree = parse_markup(html, data)
        assert tree is not None
        for xpath, walk in PAIRS:
            assert walk(tree) == xpath(tree), folder
        # The overall discard runs on trafilatura's cleaned and converted tree (list, item, head, ...).
        converted = convert_tags(tree_cleaning(copy(tree), _options("https://x.example/")), _options("https://x.example/"))
        for xpath, walk in PAIRS[3:]:
            assert walk(converted) == xpath(converted), folder


def test_pruning_with_the_walks_leaves_the_same_page() -> None:
    rng = random.Random(9)
    for _ in range(200):
        page = f"<html><body>{random_page(rng)}</body></html>"
        with_xpath, with_walks = document_fromstring(page), document_fromstring(page)
        prune_unwanted_nodes(with_xpath, [*RAW_TREE_PRUNE_XPATH, *REMOVE_COMMENTS_AND_LISTS_XPATH])
        prune_unwanted_nodes(with_xpath, OVERALL_DISCARD_XPATH, with_backup=True)
        with shortcut_cascade():
            installed = [*traf_core.RAW_TREE_PRUNE_XPATH, *traf_core.REMOVE_COMMENTS_AND_LISTS_XPATH]
            prune_unwanted_nodes(with_walks, installed)
            prune_unwanted_nodes(with_walks, traf_main.OVERALL_DISCARD_XPATH, with_backup=True)
        assert tostring(with_walks) == tostring(with_xpath)


def test_the_walks_act_only_inside_the_shortcut_and_only_over_the_expressions_they_copy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    installed = traf_core.RAW_TREE_PRUNE_XPATH[0]
    assert isinstance(installed, prune_walks._Either)
    either = prune_walks._Either(lambda t: ["xpath"], lambda t: ["walk"], installed.active)  # type: ignore[arg-type]
    tree = document_fromstring("<p>x</p>")
    assert either(tree) == ["xpath"]
    with shortcut_cascade():
        assert either(tree) == ["walk"]
    # A trafilatura whose expression changed keeps its own.
    changed = [XPath(".//*[self::div][contains(@class, 'infinite')]"), RAW_TREE_PRUNE_XPATH[1]]
    monkeypatch.setattr(traf_core, "RAW_TREE_PRUNE_XPATH", changed)
    assert prune_walks.install(installed.active) is False
    assert traf_core.RAW_TREE_PRUNE_XPATH is changed
