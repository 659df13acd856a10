"""One article, one URL (RELIABILITY.md D8): variants collapse, distinct articles never merge."""

from __future__ import annotations

import pytest

from crawlers.urls import canonicalize_url, host_allowed

BASE = "https://news.gov.example/kjdt/202411/t20241120_1.html"


@pytest.mark.parametrize(
    "variant",
    [
        BASE,
        "https://news.gov.example/kjdt/202411/t20241120_1.html?utm_source=rss&utm_medium=feed",
        "https://news.gov.example/kjdt/202411/t20241120_1.html#comments",
        "https://news.gov.example:443/kjdt/202411/t20241120_1.html",
        "HTTPS://News.Gov.Example/kjdt/202411/t20241120_1.html",
        "https://news.gov.example/kjdt/202411/t20241120_1.html?fbclid=abc&gclid=def",
        "https://news.gov.example/kjdt/202411/t20241120_1.html?from=timeline&isappinstalled=0",
        "https://news.gov.example/kjdt/202411/t20241120_1.html;jsessionid=0A1B2C",
        "https://news.gov.example/kjdt/202411/t20241120_1.html?PHPSESSID=77",
        "https://news.gov.example/kjdt/202411/t20241120%5F1.html",
    ],
)
def test_url_variants_of_one_article_have_one_canonical_form(variant: str) -> None:
    assert canonicalize_url(variant) == BASE


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://x.example/news?id=1", "https://x.example/news?id=2"),
        ("https://x.example/News/a", "https://x.example/news/a"),
        ("http://x.example/a", "https://x.example/a"),
        ("https://x.example/a", "https://y.example/a"),
        ("https://x.example/a?from=beijing", "https://x.example/a?from=shanghai"),
        ("https://x.example:8443/a", "https://x.example/a"),
    ],
)
def test_distinct_articles_are_never_merged(a: str, b: str) -> None:
    assert canonicalize_url(a) != canonicalize_url(b)


def test_a_trailing_slash_is_kept_as_the_site_declares_it() -> None:
    # WordPress-style canonical URLs end in "/" and pages declare them so (rel=canonical); stripping it
    # would report a canonical URL the site never used. The page's rel=canonical merges the variants.
    assert canonicalize_url("https://blog.example/2025/04/02/post/") == "https://blog.example/2025/04/02/post/"


def test_query_parameters_are_sorted_and_the_root_keeps_its_slash() -> None:
    assert canonicalize_url("https://x.example/a?b=2&a=1") == "https://x.example/a?a=1&b=2"
    assert canonicalize_url("https://x.example") == "https://x.example/"
    assert canonicalize_url("https://x.example/") == "https://x.example/"


@pytest.mark.parametrize("bad", ["file:///etc/passwd", "javascript:alert(1)", "ftp://x.example/a", "/relative"])
def test_non_http_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        canonicalize_url(bad)


def test_subdomains_are_allowed_but_lookalike_hosts_are_not() -> None:
    assert host_allowed("www.nsf.gov", ["nsf.gov"])
    assert host_allowed("nsf.gov", ["nsf.gov"])
    assert not host_allowed("evilnsf.gov", ["nsf.gov"])
    assert not host_allowed("nsf.gov.evil.example", ["nsf.gov"])
