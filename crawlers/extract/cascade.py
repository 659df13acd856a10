"""trafilatura's extractor cascade, minus two steps whose result provably cannot change the output.

1. The readability fallback.

In its default (not `fast`) mode trafilatura runs readability on a copy of the whole page after its
own extractor, and takes readability's text only when (`trafilatura.external._prefer_readability`,
"balanced" focus): its own text is empty, or readability's is more than twice as long, or its own
is structurally deficient (no paragraph text, or more tables than paragraphs) while readability's
is longer than twice `min_extracted_size`. Readability's text is a subset of the page's text
outside script/style/fencedframe elements (it removes those, then selects and moves elements, never
copies text), so that text's trimmed length bounds it. When the bound rules every condition out,
the copy and the readability run (a third of trafilatura's time on a 60 KB page) change nothing,
and we skip them: the justext check that follows runs as before. Output is identical by
construction; tests/crawlers/test_extract_cascade.py compares both paths page by page.

2. The page measure of the recall-escalation test. When its own text is under 3,000 characters,
trafilatura escalates if that text is under 20% of `html2txt(page)`, which copies and cleans the
whole page (3 ms on a 60 KB page). `html2txt` is the trimmed page text minus what it deletes
(scripts and styles among them) plus at most two spaces per block element it pads, so that sum
bounds it; when the text (at least what the main extractor found: the baseline rescue in between
only ever makes it longer) is 20% of the bound, escalation is ruled out and `html2txt` is skipped.

Both bounds were first computed from the whole page's text and every script's, split into words: half a
millisecond a page, most of it on inline scripts (JSON state blobs) that the bounds then subtract again.
Each test now first asks `visible_length_range`, which reads only the text outside scripts and styles,
and needs the exact bound only when its narrow range straddles the test's threshold.

Both are installed into `trafilatura.core` but only act inside `shortcut_cascade()`, so other callers
in the process (the extraction-quality bench's plain trafilatura) run unchanged, and trafilatura is
pinned to the version these arguments were checked against (pyproject.toml).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from typing import Any

import trafilatura.core as traf_core
from lxml.etree import XPath
from lxml.html import HtmlElement, document_fromstring
from trafilatura.baseline import _BLOCK_ELEMS
from trafilatura.core import ESCALATION_PAGE_SHARE
from trafilatura.external import compare_extraction
from trafilatura.main_extractor import extract_content
from trafilatura.settings import Extractor

from crawlers.extract import prune_walks

_PARAGRAPH_TEXT = XPath(".//p//text()")
# Text nodes outside script and style elements, as plain strings (no smart-string back references).
_VISIBLE_TEXT = XPath("descendant::text()[not(parent::script or parent::style)]", smart_strings=False)
_active = threading.local()
_original = traf_core._extract_and_compare
_original_html2txt = traf_core.html2txt
_BLOCKS = tuple(_BLOCK_ELEMS)


def _trimmed_length(text: str) -> int:
    """`len(trafilatura.utils.trim(text))`. trim is lru-cached: hashing and caching whole-page strings
    there cost time and evicted trafilatura's own short entries."""
    return len(" ".join(text.split()))


def visible_length_range(tree: HtmlElement) -> tuple[int, int] | None:
    """Bounds of `len(trim(tree.text_content())) - sum(len(trim(el.text or "")) for el in
    tree.iter("script", "style"))`, read without the scripts' text; None when a script or style element
    has children (then that sum is not the scripts' whole text).

    Trimmed lengths add up over a concatenation, plus one per whitespace gap between two pieces that
    hold words. Dropping the k scripts and styles that hold text keeps every other piece and changes
    only those gaps, by at most two per script (one it closes, one it opens), so the exact value is
    within 2k of the trimmed length of the text outside them.
    """
    holding = 0
    for el in tree.iter("script", "style"):
        if len(el):
            return None
        if el.text:
            holding += 1
    visible = _trimmed_length("".join(_VISIBLE_TEXT(tree)))
    return visible - 2 * holding, visible + 2 * holding


def readability_cannot_win(body: Any, text: str, raw_tree: HtmlElement, options: Extractor) -> bool:
    """True when trafilatura would keep its own extraction whatever readability returned."""
    if options.focus != "balanced" or not text:
        return False
    deficient = not _PARAGRAPH_TEXT(body) or len(body.findall(".//table")) > len(body.findall(".//p"))
    threshold = options.min_extracted_size * 2
    span = visible_length_range(raw_tree)
    if span is not None:
        # Decided by the range whenever the exact bound would land on the same side of each test.
        low, high = span
        if deficient and low > threshold:
            return False
        if not deficient or high <= threshold:
            if high <= 2 * len(text):
                return True
            if low > 2 * len(text):
                return False
    bound = readability_text_bound(raw_tree)
    if deficient and bound > threshold:
        return False
    return bound <= 2 * len(text)


def readability_text_bound(raw_tree: HtmlElement) -> int:
    """An upper bound of the length of any trimmed text readability can return for this page.

    Readability's text is the page's text minus script and style contents (it drops those; fencedframe
    text is counted here, which only loosens the bound), trimmed: its length is the non-space characters
    plus one per inner whitespace run. Taking text out never adds a run, and takes away every run
    inside what it takes (those lie between two of its own non-space characters), so the page's
    trimmed length minus each script's and style's trimmed length bounds it (they hold only text).
    """
    return _text_outside_scripts(raw_tree)


def _text_outside_scripts(root: HtmlElement) -> int:
    """The trimmed length of `root`'s text minus the trimmed length of each script's and style's."""
    total = _trimmed_length(root.text_content())
    hidden = sum(_trimmed_length(el.text or "") for el in root.iter("script", "style"))
    return total - hidden


def _empty_page() -> HtmlElement:
    return document_fromstring("<html><body></body></html>")


def _extract_and_compare(
    cleaned_tree: HtmlElement, cleaned_tree_backup: HtmlElement, tree: HtmlElement, options: Extractor
) -> tuple[Any, str]:
    """trafilatura.core._extract_and_compare, with readability given an empty page when it cannot win."""
    if not getattr(_active, "on", False):
        return _original(cleaned_tree, cleaned_tree_backup, tree, options)
    postbody, temp_text = extract_content(cleaned_tree, options)
    if getattr(_active, "main_text_len", None) is None:
        # The main pass (the recall retry, later, calls this again): what the escalation test sees is
        # this text or a longer one from the baseline rescue.
        _active.main_text_len = len(temp_text)
    if not options.fast:
        # An empty page makes readability's text empty, which trafilatura never prefers; the
        # justext rescue inside compare_extraction then runs exactly as it would have.
        raw = _empty_page() if readability_cannot_win(postbody, temp_text, tree, options) else copy(tree)
        postbody, temp_text = compare_extraction(cleaned_tree_backup, raw, postbody, temp_text, options)
    return postbody, temp_text


def _page_body(tree: HtmlElement) -> HtmlElement:
    # iterdescendants walks in C; find(".//body") goes through lxml's Python ElementPath.
    body = next(tree.iterdescendants("body"), None)
    return tree if body is None else body


def html2txt_bound(tree: HtmlElement) -> int:
    """An upper bound of `len(trafilatura.baseline.html2txt(tree))` (see the module docstring)."""
    body = _page_body(tree)
    return _text_outside_scripts(body) + 2 * _block_count(body) + 2


def html2txt_bound_range(tree: HtmlElement) -> tuple[int, int] | None:
    """Bounds of `html2txt_bound(tree)` from `visible_length_range` (None when it has none)."""
    body = _page_body(tree)
    span = visible_length_range(body)
    if span is None:
        return None
    padded = 2 * _block_count(body) + 2
    return span[0] + padded, span[1] + padded


def _block_count(body: HtmlElement) -> int:
    # A Python walk: the same count as an XPath (one self:: test per block tag) took ten times as long.
    # list() drains the iterator in C, without a generator step per element.
    return len(list(body.iter(*_BLOCKS)))


def _html2txt(content: Any, clean: bool = True) -> str:
    """trafilatura.core's html2txt, whose only use there is `len(text) < 0.2 * len(html2txt(tree))`."""
    least = getattr(_active, "main_text_len", None) if getattr(_active, "on", False) else None
    if least is not None and clean and isinstance(content, HtmlElement):
        span = html2txt_bound_range(content)
        if span is not None and least >= ESCALATION_PAGE_SHARE * span[1]:
            return ""  # the comparison is false for the real text as for this one: no escalation
        # Below the range's low end escalation is certain; in between only the exact bound decides.
        undecided = span is None or least >= ESCALATION_PAGE_SHARE * span[0]
        if undecided and least >= ESCALATION_PAGE_SHARE * html2txt_bound(content):
            return ""
    return _original_html2txt(content, clean)  # type: ignore[no-any-return]


@contextmanager
def shortcut_cascade(enabled: bool = True) -> Iterator[None]:
    """Within this block (this thread, one page), trafilatura skips the steps that cannot matter."""
    previous = getattr(_active, "on", False)
    _active.on = enabled
    _active.main_text_len = None
    try:
        yield
    finally:
        _active.on = previous
        _active.main_text_len = None


def active() -> bool:
    """Whether this thread is inside `shortcut_cascade()`."""
    return bool(getattr(_active, "on", False))


traf_core._extract_and_compare = _extract_and_compare  # type: ignore[assignment]
traf_core.html2txt = _html2txt  # type: ignore[assignment]
prune_walks.install(active)
