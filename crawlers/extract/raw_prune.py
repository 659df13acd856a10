"""Two of trafilatura's raw-tree prunes as Python walks, giving the same elements as its XPath.

`trafilatura_sequence` first prunes the raw page with `RAW_TREE_PRUNE_XPATH` (infinite-scroll
containers, share buttons) and `REMOVE_COMMENTS_AND_LISTS_XPATH` (comment sections). Their EXSLT
`re:test` predicates call back from libxml2 into Python for every div, section and list of the page:
the two prunes were 6.6 % of all samples of an ingest (bench profile), more than any of our own steps.
A walk over the same elements that reads `id` and `class` and searches the same patterns returns the
same elements in the same (document) order in a fifth of the time. `re:test(@id, p)` is
`re.search(p, value of @id)`, false when there is no such attribute; `contains(@class, s)` is a
substring test; `.//*[self::x]` is a descendant walk, the context element excluded.

Like `cascade`, these act only inside `shortcut_cascade()` (other callers keep trafilatura's XPath),
and only when trafilatura's expressions are the ones written here (`install` checks their text, so a
changed trafilatura keeps its own). tests/crawlers/test_extract_raw_prune.py compares both on random
trees and on every golden page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import trafilatura.core as traf_core
from lxml.etree import XPath
from lxml.html import HtmlElement

logger = logging.getLogger(__name__)

_INFINITE = re.compile(r"mvp-post-add-(?:box|wrap)|infinite-?scroll")
_APPENDED_ARTICLE = re.compile(r"mvp-post-add-(?:box|wrap)")
_COMMENTS_ID_OR_THREAD = re.compile(r"^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)")
_COMMENTS_ID = re.compile(r"^(?:[Cc]omment(?!ary)|comol)")
_COMMENTS_CLASS = re.compile(r"^[Cc]omment(?!ary)|(?:article|post)-comments")


def infinite_scroll_containers(tree: HtmlElement) -> list[HtmlElement]:
    """RAW_TREE_PRUNE_XPATH[0]: containers of appended follow-up articles (without the page's h1)."""
    found = []
    for el in tree.iterdescendants("div", "section", "aside"):
        id_, class_ = el.get("id") or "", el.get("class") or ""
        if not (_INFINITE.search(id_) or _INFINITE.search(class_)):
            continue
        if (next(el.iterdescendants("h1"), None) is None or _APPENDED_ARTICLE.search(id_)
                or _APPENDED_ARTICLE.search(class_)):
            found.append(el)
    return found


def share_button_blocks(tree: HtmlElement) -> list[HtmlElement]:
    """RAW_TREE_PRUNE_XPATH[1]."""
    return [el for el in tree.iterdescendants("div", "section", "aside")
            if "elementor-share-buttons" in (el.get("class") or "")]


def comment_sections(tree: HtmlElement) -> list[HtmlElement]:
    """REMOVE_COMMENTS_AND_LISTS_XPATH[0]: comment containers, and ol/ul comment lists."""
    found = []
    for el in tree.iterdescendants("div", "list", "section", "details", "ol", "ul"):
        id_, class_ = el.get("id") or "", el.get("class") or ""
        if not (_COMMENTS_ID_OR_THREAD.search(id_) or _COMMENTS_CLASS.search(class_)):
            continue
        if el.tag not in ("ol", "ul") or _COMMENTS_ID.search(id_) or _COMMENTS_CLASS.search(class_):
            found.append(el)
    return found


# trafilatura 2.3.1's expressions, whitespace collapsed: what the functions above were written from.
_EXPECTED = {
    "RAW_TREE_PRUNE_XPATH": (
        ".//*[self::div or self::section or self::aside][ re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') "
        "or re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][ not(.//h1) or re:test(@id, "
        "'mvp-post-add-(?:box|wrap)') or re:test(@class, 'mvp-post-add-(?:box|wrap)')]",
        ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
    ),
    "REMOVE_COMMENTS_AND_LISTS_XPATH": (
        ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ re:test(@id, "
        "'^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or re:test(@class, "
        "'^[Cc]omment(?!ary)|(?:article|post)-comments')][ not(self::ol or self::ul) or re:test(@id, "
        "'^(?:[Cc]omment(?!ary)|comol)') or re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]",
    ),
}
_WALKS: dict[str, tuple[Callable[[HtmlElement], list[HtmlElement]], ...]] = {
    "RAW_TREE_PRUNE_XPATH": (infinite_scroll_containers, share_button_blocks),
    "REMOVE_COMMENTS_AND_LISTS_XPATH": (comment_sections,),
}


class _Either:
    """Called by `prune_unwanted_nodes` in place of one XPath: the walk when `active()`, else the XPath."""

    __slots__ = ("xpath", "walk", "active")

    def __init__(self, xpath: XPath, walk: Callable[[HtmlElement], list[HtmlElement]],
                 active: Callable[[], bool]) -> None:
        self.xpath, self.walk, self.active = xpath, walk, active

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        return self.walk(tree) if self.active() else self.xpath(tree)  # type: ignore[no-any-return]


def _text(xpath: object) -> str:
    return " ".join(str(getattr(xpath, "path", "")).split())


def install(active: Callable[[], bool]) -> bool:
    """Put the walks into `trafilatura.core` (acting when `active()`); False when its expressions differ."""
    for name, expected in _EXPECTED.items():
        current = getattr(traf_core, name, None)
        if isinstance(current, list) and all(isinstance(x, _Either) for x in current):
            continue  # installed already
        if not isinstance(current, list) or tuple(_text(x) for x in current) != expected:
            logger.warning("trafilatura's %s is not the one raw_prune was written for: using its XPath", name)
            return False
    for name, walks in _WALKS.items():
        current = getattr(traf_core, name)
        if not all(isinstance(x, _Either) for x in current):
            setattr(traf_core, name, [_Either(x, w, active) for x, w in zip(current, walks, strict=True)])
    return True
