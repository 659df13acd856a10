"""Hostile HTML never crashes extraction (RELIABILITY.md B1, B2): deep nesting, a 20 MB text node, NULs."""

from __future__ import annotations

import pytest

from crawlers.extract import extract_html

PARA = "<p>" + "The ministry published a funding notice for research infrastructure in 2025. " * 5 + "</p>"

CASES = {
    "100k_nested_divs": ("<html><body>" + "<div>" * 100_000 + PARA + "</div>" * 100_000 + "</body></html>").encode(),
    "20mb_text_node": ("<html><body><article>" + PARA + "<p>" + "x" * 20_000_000 + "</p></article></body></html>")
    .encode(),
    "nul_bytes": ("<html><body><article>" + PARA * 3 + "</article></body></html>").encode()
    .replace(b"ministry", b"mini\x00stry"),
    "100k_unclosed_tags": ("<html><body>" + "<b><i>" * 50_000 + PARA).encode(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_html_gives_a_record_or_none_never_an_exception(name: str) -> None:
    record = extract_html(CASES[name], url="http://hostile.example/a.html")
    if record is not None:
        assert "\x00" not in record.text
        assert record.text.strip()


def test_nul_bytes_do_not_cost_the_article() -> None:
    record = extract_html(CASES["nul_bytes"], url="http://hostile.example/a.html")
    assert record is not None
    assert "funding notice for research infrastructure" in record.text
