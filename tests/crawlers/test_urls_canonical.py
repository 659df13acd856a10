"""`canonicalize_url`'s shortcut for URLs already canonical answers as the general path does."""

from __future__ import annotations

import random

import pytest

from crawlers import urls
from crawlers.urls import canonicalize_url

_CHARS = "aZ09/:@!$&'()*+,;=~._-%?#[] \t\né中"


def _general(url: str) -> str | type[ValueError]:
    try:
        return urls._canonicalize(url)  # noqa: SLF001 - the path the shortcut stands in for
    except ValueError:
        return ValueError


def _either(url: str) -> str | type[ValueError]:
    try:
        return canonicalize_url(url)
    except ValueError:
        return ValueError


@pytest.mark.parametrize("url", [
    "https://news.example/a/17-quantum-funding.html",
    "http://127.0.0.2:8123/a/1.html",  # a port: general path
    "http://127.0.0.2/a/1.html",
    "http://127.0.0.2:80/a/1.html",  # the default port: dropped
    "https://127.0.0.2:80/a/1.html",
    "https://127.0.0.2:443/a/1.html",
    "https://127.0.0.2:65535/a",
    "https://127.0.0.2:65536/a",  # out of range: not a URL
    "https://127.0.0.2:99999/a",
    "https://127.0.0.2:0080/a",  # leading zeros
    "https://127.0.0.2:0/a",
    "https://gov.example/",
    "https://gov.example",  # no path: gains a slash
    "https://Gov.example/a",
    "https://gov.example./a",
    "https://gov.example/a;jsessionid=abc/b",
    "https://gov.example/a%7Eb",
    "https://gov.example/a~b",
    "https://gov.example/a?utm_source=x",
    "https://gov.example/a#top",
    "https://gov.example/a b",
    "https://gov.example/a\tb",
    "https://gov.example/é",
    "https://user@gov.example/a",
    "https://gov.example/a@b:c!$&'()*+,=~._-",
    "https://-gov-.example/a",
    "ftp://gov.example/a",
    "HTTPS://gov.example/a",
    " https://gov.example/a",
    "https://gov..example/a",
    "https:///a",
])
def test_edge_urls(url: str) -> None:
    assert _either(url) == _general(url)


def test_shortcut_taken_for_plain_urls() -> None:
    assert urls._ALREADY_CANONICAL.fullmatch("https://news.example/a/17-x.html")  # noqa: SLF001
    assert not urls._ALREADY_CANONICAL.fullmatch("https://news.example/a?x=1")  # noqa: SLF001


def test_random_urls() -> None:
    rng = random.Random(5)
    hosts = ["news.example", "a-b.example", "127.0.0.2", "x.example.", "X.example", "news.example:443",
             "news.example:80", "[::1]", "b.example:8080", "c.example:65536", "d.example:008080", "e.example:1"]
    for _ in range(5000):
        path = "".join(rng.choice(_CHARS) for _ in range(rng.randrange(0, 12)))
        url = f"{rng.choice(['http', 'https', 'HTTP'])}://{rng.choice(hosts)}/{path}"
        assert _either(url) == _general(url), url
