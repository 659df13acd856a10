"""trafilatura's prune expressions as Python walks, giving the same elements as its XPath.

`trafilatura_sequence` first prunes the raw page with `RAW_TREE_PRUNE_XPATH` (infinite-scroll
containers, share buttons) and `REMOVE_COMMENTS_AND_LISTS_XPATH` (comment sections); its main
extractor prunes each candidate tree with `OVERALL_DISCARD_XPATH` (navigation, share bars, hidden
blocks). Their EXSLT `re:test` predicates call back from libxml2 into Python for every element they
test: the raw-tree prunes were 6.6 % of all samples of an ingest (bench profile), the overall discard
another ~3 %, more than any of our own steps. A walk over the same elements that reads the same
attributes and searches the same patterns returns the same elements in the same (document) order in a
fifth of the time. `re:test(@id, p)` is `re.search(p, value of @id)`, false when there is no such
attribute; `contains(@class, s)` is a substring test; `.//*[self::x]` is a descendant walk, the context
element excluded; a union of two attributes (`@id|@class`) stands, in a string function, for the one
written first on the element.

Like `cascade`, these act only inside `shortcut_cascade()` (other callers keep trafilatura's XPath),
and only when trafilatura's expressions are the ones written here (`install` checks their text, so a
changed trafilatura keeps its own). tests/crawlers/test_extract_prune_walks.py compares both on random
trees and on every golden page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import ModuleType

import trafilatura.core as traf_core
import trafilatura.main_extractor as traf_main
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


def _first_of(el: HtmlElement, a: str, b: str) -> str:
    """The string value of `@a|@b`: the attribute of the two written first on the element, else ""."""
    va, vb = el.get(a), el.get(b)
    if va is None:
        return vb or ""
    if vb is None:
        return va
    keys = el.keys()
    return va if keys.index(a) < keys.index(b) else vb


_COOKIE = re.compile("cookie")
_DISCARD_ID = re.compile(
    "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author|^(?:jp-|dpsp-content)"
    "|bmdh|footer|Footer|share|Share|nav|Nav|menu|related|message-container|premium|^ad-")
_DISCARD_CLASS = re.compile(
    "^shar|social|viral|newsletter|syndication|tags|sidebar|banner|bread-?crumb|button|author"
    "|^(?:nav|post-nav|ZendeskForm)|subnav|avigation|navbar|navbox|menu|bar| ad |-ad-|(?:^| )ad-|dfp[Aa]d"
    "|outbrain|taboola|criteo|paid-?content|widget|footer|Footer|byline|Byline|share-|sociable|embedded|embed"
    "|tag-list|consent|modal-content|permission|elated|next-|-stories|most-popular|more-on|meta|rating"
    "|attachment|timestamp|user-info|user-profile|-icon|article-infos|message-container|slide|viewport"
    "|overlay|options|expand|obfuscated|blurred|mol-factbox|yin|zlylin|nfoline")
_HIDDEN = re.compile("hidden")
_HIDDEN_ID = re.compile("reader-comments|akismet")
_HIDDEN_CLASS = re.compile(
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print| hidden| hide"
    "|noprint|notloaded")


def boilerplate_blocks(tree: HtmlElement) -> list[HtmlElement]:
    """OVERALL_DISCARD_XPATH[0]: navigation, share, ad, widget and byline blocks, by their names."""
    found = []
    for el in tree.iterdescendants("div", "item", "list", "p", "section", "span"):
        if el.get("data-lp-replacement-content") is not None:
            found.append(el)
            continue
        role = el.get("role")
        if role is not None and "nav" in role.replace("N", "n"):
            found.append(el)
            continue
        component = el.get("data-component")
        if component is not None and "MostPopularStories" in component:
            found.append(el)
            continue
        id_, class_ = el.get("id"), el.get("class")
        if id_ is None and class_ is None:
            continue
        if (_COOKIE.search(_first_of(el, "id", "class")) or _DISCARD_ID.search(id_ or "")
                or _DISCARD_CLASS.search(class_ or "")):
            found.append(el)
    return found


def hidden_blocks(tree: HtmlElement) -> list[HtmlElement]:
    """OVERALL_DISCARD_XPATH[1]: hidden elements and comment furniture, of any tag."""
    found = []
    for el in tree.iterdescendants("*"):
        id_, class_, style = el.get("id"), el.get("class"), el.get("style")
        if id_ is None and class_ is None and style is None:
            if el.get("aria-hidden") == "true":
                found.append(el)
            continue
        if (class_ == "comments-title" or _first_of(el, "id", "class").startswith("reply-")
                or _HIDDEN.search(_first_of(el, "id", "style"))
                or (style is not None and ("display:none" in style or "display: none" in style))
                or _HIDDEN_ID.search(id_ or "") or _HIDDEN_CLASS.search(class_ or "")
                or el.get("aria-hidden") == "true"):
            found.append(el)
    return found


Walk = Callable[[HtmlElement], list[HtmlElement]]

# Each list of trafilatura 2.3.1's that is replaced: the module that reads it at call time (the one that
# imported the name), its name, and per expression (whitespace collapsed: what the walk was written
# from) the walk that replaces it.
_PRUNES: tuple[tuple[ModuleType, str, tuple[tuple[str, Walk], ...]], ...] = (
    (traf_core, "RAW_TREE_PRUNE_XPATH", (
        (".//*[self::div or self::section or self::aside][ re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') "
         "or re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][ not(.//h1) or re:test(@id, "
         "'mvp-post-add-(?:box|wrap)') or re:test(@class, 'mvp-post-add-(?:box|wrap)')]", infinite_scroll_containers),
        (".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]",
         share_button_blocks),
    )),
    (traf_core, "REMOVE_COMMENTS_AND_LISTS_XPATH", (
        (".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ re:test(@id, "
         "'^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)') or re:test(@class, "
         "'^[Cc]omment(?!ary)|(?:article|post)-comments')][ not(self::ol or self::ul) or re:test(@id, "
         "'^(?:[Cc]omment(?!ary)|comol)') or re:test(@class, '^[Cc]omment(?!ary)|(?:article|post)-comments')]",
         comment_sections),
    )),
    (traf_main, "OVERALL_DISCARD_XPATH", (
        (".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
         "@data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or contains(@data-component, "
         "'MostPopularStories') or re:test(@id|@class, 'cookie') or re:test(@id, '" + _DISCARD_ID.pattern + "') or "
         "re:test(@class, '" + _DISCARD_CLASS.pattern + "')]", boilerplate_blocks),
        (".//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or re:test(@id|@style, 'hidden') or "
         "contains(@style, 'display:none') or contains(@style, 'display: none') or re:test(@id, "
         "'reader-comments|akismet') or re:test(@class, '" + _HIDDEN_CLASS.pattern + "') or @aria-hidden='true']",
         hidden_blocks),
    )),
)


class _Either:
    """Called by `prune_unwanted_nodes` in place of one XPath: the walk when `active()`, else the XPath."""

    __slots__ = ("xpath", "walk", "active")

    def __init__(self, xpath: XPath, walk: Walk, active: Callable[[], bool]) -> None:
        self.xpath, self.walk, self.active = xpath, walk, active

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        return self.walk(tree) if self.active() else self.xpath(tree)  # type: ignore[no-any-return]


def _text(xpath: object) -> str:
    return " ".join(str(getattr(xpath, "path", "")).split())


def install(active: Callable[[], bool]) -> bool:
    """Put the walks into trafilatura (acting when `active()`); False when its expressions differ."""
    for module, name, pairs in _PRUNES:
        current = getattr(module, name, None)
        if isinstance(current, list) and all(isinstance(x, _Either) for x in current):
            continue  # installed already
        if not isinstance(current, list) or tuple(_text(x) for x in current) != tuple(e for e, _ in pairs):
            logger.warning("trafilatura's %s is not the one prune_walks was written for: using its XPath", name)
            return False
    for module, name, pairs in _PRUNES:
        current = getattr(module, name)
        if not all(isinstance(x, _Either) for x in current):
            setattr(module, name, [_Either(x, walk, active) for x, (_, walk) in zip(current, pairs, strict=True)])
    return True
