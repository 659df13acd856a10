"""Plain RSS 2.0 is read without feedparser (crawlers/discovery.py, `_plain_rss_links`): on every feed
it accepts, it must give exactly the links feedparser gives, and every feed it is not sure about must
go to feedparser."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from crawlers import discovery

BASE = "https://news.example/feed.xml"


def _item(title: str | None = "Ministry funds AI centres", link: str | None = "https://news.example/a/1.html",
          date: str | None = "Wed, 21 May 2025 14:04:00 GMT", extra: str = "") -> str:
    parts = []
    if title is not None:
        parts.append(f"<title>{title}</title>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + extra + "</item>"


def _feed(*items: str, channel: str = "<title>News</title><link>https://news.example/</link>",
          declaration: str = '<?xml version="1.0" encoding="utf-8"?>', rss: str = '<rss version="2.0">') -> bytes:
    return f"{declaration}\n{rss}<channel>{channel}{''.join(items)}</channel></rss>".encode()


# (name, feed, whether the plain reader must take it)
PLAIN = [
    ("basic", _feed(_item(), _item("Second", "https://news.example/a/2.html", "Tue, 20 May 2025 08:00:00 +0800"))),
    ("no declaration", _feed(_item(), declaration="")),
    ("bom", b"\xef\xbb\xbf" + _feed(_item())),
    ("cjk title", _feed(_item("科技部发布 2025 年度重点专项指南", "https://news.example/zh/1.html"))),
    ("whitespace", _feed(_item("\n  Spaced   title \t", "\n https://news.example/a/3.html \n",
                               "  Mon, 5 May 2025 07:00:00 -0500 "))),
    ("no date", _feed(_item(date=None))),
    ("no title", _feed(_item(title=None))),
    ("empty title", _feed(_item(title=""))),
    ("cdata title", _feed(_item("<![CDATA[A plain CDATA title]]>"))),
    ("no weekday", _feed(_item(date="1 Jan 2024 00:00:00 UT"))),
    ("zulu", _feed(_item(date="Sun, 18 May 2025 16:48:00 Z"))),
    ("utc", _feed(_item(date="Sun, 18 May 2025 16:48:00 UTC"))),
    ("query link", _feed(_item(link="https://news.example/view?id=1&amp;lang=en#top"))),
    ("port link", _feed(_item(link="http://127.0.0.2:8080/a/1.html"))),
    ("language", _feed(_item(), channel="<title>N</title><language>en-US</language>")),
    ("bad language", _feed(_item(), channel="<language>not a language!</language>")),
    ("chinese language", _feed(_item(), channel="<language>zh_CN</language>")),
    ("extras", _feed(_item(extra='<guid isPermaLink="false">x1</guid><description>&lt;p&gt;Hi&lt;/p&gt;</description>'
                                  "<category>Policy</category><author>a@b.example (A)</author>"
                                  '<enclosure url="https://news.example/x.jpg" length="1" type="image/jpeg"/>'
                                  "<dc:creator>Chen Nan</dc:creator>"
                                  "<content:encoded><![CDATA[<p>Body</p>]]></content:encoded>"),
                     rss='<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                         'xmlns:content="http://purl.org/rss/1.0/modules/content/">')),
    ("atom self link", _feed(_item(), channel='<atom:link href="https://news.example/feed.xml" rel="self"/>',
                             rss='<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">')),
    ("image", _feed(_item(), channel="<image><url>https://news.example/l.png</url><title>N</title>"
                                     "<link>https://news.example/</link></image>")),
    ("empty channel", _feed()),
]

NOT_PLAIN = [
    ("relative link", _feed(_item(link="/a/1.html"))),
    ("no link", _feed(_item(link=None, extra='<guid isPermaLink="true">https://news.example/a/9.html</guid>'))),
    ("two links", _feed(_item(extra="<link>https://news.example/other.html</link>"))),
    ("markup title", _feed(_item("&lt;b&gt;Bold&lt;/b&gt; news"))),
    ("entity title", _feed(_item("R&amp;D budget up"))),
    ("named zone", _feed(_item(date="Wed, 21 May 2025 14:04:00 EST"))),
    ("iso date", _feed(_item(date="2025-05-21T14:04:00Z"))),
    ("year 1", _feed(_item(date="Mon, 1 Jan 0001 00:30:00 +0100"))),  # feedparser reads the year 100
    ("extra slashes", _feed(_item(link="https:///news.example/a/1.html"))),  # feedparser drops the third
    ("impossible date", _feed(_item(date="Mon, 30 Feb 2025 10:00:00 GMT"))),
    ("xml:lang", _feed(_item(extra="").replace("<item>", '<item xml:lang="fr">'))),
    ("xml:base", _feed(_item(), rss='<rss version="2.0" xml:base="https://other.example/">')),
    ("dc:language", _feed(_item(extra="<dc:language>fr</dc:language>"),
                          rss='<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">')),
    ("dc:date", _feed(_item(extra="<dc:date>2025-01-01</dc:date>"),
                      rss='<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">')),
    ("language after items", _feed(_item(), "<language>fr</language>")),
    ("rss 0.91", _feed(_item(), rss='<rss version="0.91">')),
    ("latin-1", _feed(_item("Café"), declaration='<?xml version="1.0" encoding="ISO-8859-1"?>')),
    ("not utf-8", _feed(_item()).replace(b"Ministry", b"Minist\xe8ry")),
    ("undefined entity", _feed(_item("Science&nbsp;policy"))),
    ("broken xml", _feed(_item()).replace(b"</channel>", b"")),
    ("atom", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
             b'<entry><title>E</title><link href="https://news.example/e.html"/></entry></feed>'),
    ("html", b"<html><body><p>hello</p></body></html>"),
    ("javascript link", _feed(_item(link="javascript:alert(1)"))),
]


@pytest.mark.parametrize(("name", "body"), PLAIN, ids=[c[0] for c in PLAIN])
def test_plain_rss_is_read_without_feedparser_and_as_feedparser_reads_it(name: str, body: bytes) -> None:
    plain = discovery._plain_rss_links(discovery.strip_doctype(body), BASE)
    assert plain is not None, f"{name}: the plain reader should take this feed"
    assert plain == discovery._feedparser_links(body, BASE)
    assert discovery.parse_feed(body, BASE) == plain


@pytest.mark.parametrize(("name", "body"), NOT_PLAIN, ids=[c[0] for c in NOT_PLAIN])
def test_anything_else_goes_to_feedparser(name: str, body: bytes) -> None:
    assert discovery._plain_rss_links(discovery.strip_doctype(body), BASE) is None, name
    try:
        expected = discovery._feedparser_links(body, BASE)
    except discovery.DiscoveryError:
        with pytest.raises(discovery.DiscoveryError):
            discovery.parse_feed(body, BASE)
        return
    assert discovery.parse_feed(body, BASE) == expected


def test_plain_reader_values() -> None:
    """What the plain reader returns, spelled out (not only 'as feedparser')."""
    body = _feed(_item("  Ministry \n funds  ", " https://news.example/a/1.html ", "Tue, 20 May 2025 08:00:00 +0800"),
                 channel="<language>en-GB</language>")
    [link] = discovery._plain_rss_links(body, BASE) or []
    when = datetime(2025, 5, 20, 0, 0, tzinfo=UTC)
    assert link == discovery.DiscoveredLink(url="https://news.example/a/1.html", title="Ministry funds",
                                            published=when, lastmod=when, language="en-gb")


_TITLES = ["Plain title", "科技部：加强基础研究", "  padded  ", "", "Ünïcödé — dash", "A < B", "Q&amp;A", "x" * 300,
           "Tab\tand\nnewline", "<![CDATA[cdata & more]]>", "'quotes' \"double\""]
_LINKS = ["https://news.example/a/{i}.html", " http://news.example/b/{i}?x=1&amp;y=2 ", "/rel/{i}.html",
          "HTTPS://NEWS.example/C/{i}", "https://news.example/d/{i}.html#frag", "https://news.example/ü/{i}",
          "https://news.example/e/{i}/../f", "ftp://news.example/{i}", "https://news.example/sp ace/{i}"]
_DATES = ["Wed, 21 May 2025 14:04:00 GMT", "1 Jan 2024 00:00:00 +0000", "Fri, 31 Dec 2099 23:59:59 -1200",
          "Thu, 01 Jan 1970 00:00:00 GMT", "Sat, 29 Feb 2024 12:00:00 +0530", "21 May 2025 14:04 GMT",
          "Wed, 21 May 2025 24:00:00 GMT", "2025-05-21", "Wed, 21 May 2025 14:04:00 PST", None]


def test_random_feeds_agree_with_feedparser() -> None:
    """Feeds built from random mixes of awkward values: wherever the plain reader answers, feedparser
    gives the same links; and it does answer for most of them (the fast path is in use)."""
    rng = random.Random(2025)
    taken = 0
    for n in range(300):
        items = []
        for i in range(rng.randint(0, 6)):
            items.append(_item(rng.choice([*_TITLES, None]), rng.choice(_LINKS).format(i=f"{n}-{i}"),
                               rng.choice(_DATES)))
        channel = rng.choice(["", "<language>zh-CN</language>", "<title>T</title><language>en</language>"])
        body = _feed(*items, channel=channel)
        plain = discovery._plain_rss_links(body, BASE)
        if plain is None:
            continue
        taken += 1
        assert plain == discovery._feedparser_links(body, BASE), body.decode()
    assert taken >= 30
