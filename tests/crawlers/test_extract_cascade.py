"""The cascade shortcuts (crawlers/extract/cascade.py) never change what trafilatura returns.

Both rest on an upper bound of a text length: readability's output, and `html2txt`'s page measure.
The bounds are checked against the real values on every golden page, generated benchmark pages and
hand-made worst cases (whitespace-heavy scripts, minified blocks, empty bodies); the records are
checked equal with and without the shortcuts; and the shortcuts are shown to engage.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy
from datetime import UTC, datetime

import pytest
from lxml.html import HtmlElement
from trafilatura.baseline import html2txt
from trafilatura.external import try_readability
from trafilatura.utils import load_html, trim

from bench.corpus import HOST_PROFILES, _page_size, render_page
from crawlers.extract import cascade, extract_html
from tests.crawlers.test_golden_pages import extract_page, golden_folders, load_page

WORST_CASES = [
    "<html><body></body></html>",
    "<html><body>" + "<div>a</div>" * 500 + "</body></html>",  # padding spaces outnumber the text
    "<html><body><p>x</p><script>var  a = 1;\n\n   b  =  2 ;</script><p>y</p><style> p { } </style></body></html>",
    "<html><head><script>  lots   of   spaced   code  </script></head><body><br><br><p>t</p></body></html>",
    "<html><body><aside>side text</aside><footer>foot</footer><p>" + "word " * 200 + "</p></body></html>",
    "<p>no html or body element at all</p>",
    "<html><body><table><tr><td>a</td><td>b</td></tr></table>tail<div>c<p>d</p>e</div></body></html>",
    "<html><body><fencedframe>framed</fencedframe><svg><text>svg text</text></svg><p>p</p></body></html>",
]


def _corpus_pages(n: int = 24) -> list[tuple[str, bytes]]:
    rng = random.Random(11)
    pages = []
    for i in range(n):
        layout, lang = HOST_PROFILES[i % len(HOST_PROFILES)]
        title = f"Bench page {i}"
        body = render_page(rng, layout, lang, f"Site {i}", title, datetime(2026, 1, 1, tzinfo=UTC), _page_size(rng))
        pages.append((f"https://site{i}.example/news/{i}.html", body))
    return pages


def _trees() -> Iterator[tuple[str, HtmlElement]]:
    for folder in golden_folders():
        tree = load_html(load_page(folder).body)
        if tree is not None:
            yield folder.name, tree
    for url, body in _corpus_pages():
        tree = load_html(body)
        assert tree is not None
        yield url, tree
    for i, html in enumerate(WORST_CASES):
        tree = load_html(html)
        if tree is not None:
            yield f"worst-{i}", tree


def test_the_bounds_hold_on_every_page() -> None:
    checked = 0
    for name, tree in _trees():
        readability_text = trim(try_readability(copy(tree)).text_content())
        assert len(readability_text) <= cascade.readability_text_bound(tree), name
        assert len(html2txt(tree)) <= cascade.html2txt_bound(tree), name
        checked += 1
    assert checked > 100


def test_the_ranges_hold_the_exact_bounds() -> None:
    # The shortcuts first decide from these ranges; they must contain the bound they stand for.
    ranged = 0
    for name, tree in _trees():
        span = cascade.visible_length_range(tree)
        if span is not None:
            assert span[0] <= cascade.readability_text_bound(tree) <= span[1], name
            ranged += 1
        span = cascade.html2txt_bound_range(tree)
        if span is not None:
            assert span[0] <= cascade.html2txt_bound(tree) <= span[1], name
    assert ranged > 100


def test_a_script_with_children_has_no_range() -> None:
    # The HTML parser keeps script content as one text node; a tree built otherwise may not.
    tree = load_html("<html><body><p>text</p><script>a</script></body></html>")
    assert tree is not None
    script = next(tree.iter("script"))
    script.append(HtmlElement("b"))
    assert cascade.visible_length_range(tree) is None


@contextmanager
def _counting() -> Iterator[dict[str, int]]:
    counts = {"readability_skipped": 0, "html2txt_skipped": 0}
    real_win, real_bound = cascade.readability_cannot_win, cascade.html2txt_bound_range
    original_html2txt = cascade._original_html2txt

    def cannot_win(*args: object) -> bool:
        result = real_win(*args)  # type: ignore[arg-type]
        counts["readability_skipped"] += result
        return result

    def bound(tree: HtmlElement) -> tuple[int, int] | None:
        counts["html2txt_skipped"] += 1  # undone below when the real html2txt still runs
        return real_bound(tree)

    def real_html2txt(*args: object, **kwargs: object) -> str:
        if cascade._active.on:
            counts["html2txt_skipped"] -= 1
        return original_html2txt(*args, **kwargs)  # type: ignore[arg-type]

    cascade.readability_cannot_win, cascade.html2txt_bound_range = cannot_win, bound  # type: ignore[assignment]
    cascade._original_html2txt = real_html2txt
    try:
        yield counts
    finally:
        cascade.readability_cannot_win, cascade.html2txt_bound_range = real_win, real_bound  # type: ignore[assignment]
        cascade._original_html2txt = original_html2txt


@pytest.fixture
def without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> object:
    import crawlers.extract.article as article

    def switch(enabled: bool) -> None:
        monkeypatch.setattr(article, "shortcut_cascade", lambda: cascade.shortcut_cascade(enabled))

    return switch


def test_records_are_identical_with_and_without_the_shortcuts(without_shortcuts: object) -> None:
    switch = without_shortcuts
    with _counting() as counts:
        pages = [(load_page(f), None) for f in golden_folders()]
        for page, _ in pages:
            switch(True)  # type: ignore[operator]
            fast = extract_page(page)
            switch(False)  # type: ignore[operator]
            assert extract_page(page) == fast, page.id
        for url, body in _corpus_pages():
            switch(True)  # type: ignore[operator]
            fast = extract_html(body, url=url)
            switch(False)  # type: ignore[operator]
            assert extract_html(body, url=url) == fast, url
    # Not vacuous: on these pages both shortcuts are taken, many times.
    assert counts["readability_skipped"] > 40 and counts["html2txt_skipped"] > 10, counts
