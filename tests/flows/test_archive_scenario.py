"""The archivist's scenario, identical on SQLite and PostgreSQL.

A small site on 127.0.0.1 (reached as `localhost`, so host-case variants are real) changes between five
ingest runs (`run_ingest`: a real Scrapy crawl subprocess, real extraction, a real archive). Its pages
get edited, get markup- and whitespace-only changes, disappear and come back, get syndicated and
republished, in English and Chinese, and its feed lists URL variants. The test states, page by page,
what the archive must hold afterwards, and then checks that both databases hold the same thing once
ids are mapped to URLs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pytest
import sqlalchemy as sa

from flows.pipeline import IngestOptions
from flows.runs import run_ingest
from schemas import RunReport, SourceConfig
from storage.archive import Archive

SOURCE_ID = "archive_scenario"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# --- page texts ---------------------------------------------------------------------------------

DEADLINE_TITLE = "Ministry opens fellowships for early-career researchers"
DEADLINE_PARAS = [
    "The Ministry of Science has opened a new round of fellowships for researchers within eight years "
    "of their doctorate, with a focus on laboratory sciences and engineering.",
    "Applications must be submitted by 30 April 2026, and each fellowship is worth up to 250,000 euros "
    "over three years.",
    "Host institutions must confirm their support in writing and provide office space, equipment and "
    "access to a mentor for the whole duration of the award.",
]
DEADLINE_EDITED = [
    DEADLINE_PARAS[0],
    "Applications must be submitted by 15 May 2026, and each fellowship is worth up to 300,000 euros "
    "over three years.",
    DEADLINE_PARAS[2],
]

WITHDRAWN_TITLE = "Call for quantum computing infrastructure proposals"
WITHDRAWN_PARAS = [
    "The national research agency invites consortia to propose shared quantum computing facilities "
    "that universities and small companies can use for experiments.",
    "Each consortium should include at least three partners from different regions and describe how "
    "access time will be allocated fairly among external users.",
]

OPEN_ACCESS_TITLE = "Agency adopts open-access policy for funded research"
OPEN_ACCESS_PARAS = [
    "From next year every peer-reviewed article that results from agency funding must be freely "
    "available on the day of publication under an open licence.",
    "Authors may publish in any journal as long as they deposit the accepted manuscript in a public "
    "repository, and the agency will pay reasonable publication charges.",
]

CLIMATE_TITLE = "National call for climate research networks 2026"
CLIMATE_REISSUED_TITLE = "Climate research networks call reissued with clarified eligibility"
CLIMATE_PARAS = [
    "The research council announces a call for collaborative networks studying regional climate "
    "adaptation, coastal flooding and the resilience of food systems.",
    "Networks may request funding for up to five years and must include at least one partner from "
    "local government or a public utility.",
    "Proposals will be assessed on scientific quality, the strength of the partnership and the plan "
    "for sharing data with other networks and the public.",
]
CLIMATE_REISSUED = [
    CLIMATE_PARAS[0],
    "Networks may request funding for up to five years and must include at least one partner from "
    "local government, a public utility or a civil protection agency.",
    CLIMATE_PARAS[2],
]

CHAIR_TITLE = "Science council appoints a new chair"
CHAIR_PARAS = [
    "The science council has appointed a marine biologist with long experience of international "
    "programmes as its new chair for a term of four years.",
    "She said her first priority would be to simplify grant reporting and to give young scientists "
    "a stronger voice in the council's committees.",
]

NOTICE_TITLE = "关于组织申报2026年度重点研发计划项目的通知"
NOTICE_REPOST_TITLE = "关于重新发布2026年度重点研发计划项目申报通知的说明"
NOTICE_PARAS = [
    "各有关单位：根据国家重点研发计划管理有关规定，现将2026年度重点专项项目申报工作有关事项通知如下。",
    "申报单位应为在中国境内注册的科研院所、高等学校和企业，具有较强的科研能力和条件，运行管理规范。",
    "申报项目应当围绕专项指南确定的研究方向，突出需求牵引和问题导向，明确考核指标和预期成果，避免重复申报。",
    "各推荐单位应当加强对申报材料的审核把关，对申报单位和项目负责人的信用情况进行核实，确保推荐意见客观公正。",
    "项目申报截止日期为2026年4月30日，逾期不予受理。请各单位认真组织，严格审核申报材料的真实性。",
    "联系人：科技部高技术研究发展中心，电话010-12345678。",
]
NOTICE_REPOST = [
    *NOTICE_PARAS[:4],
    "项目申报截止日期为2026年5月20日，逾期不予受理。请各单位认真组织，严格审核申报材料的真实性。",
    NOTICE_PARAS[5],
]


def article_html(
    title: str,
    paras: list[str],
    *,
    lang: str = "en",
    published: str = "2026-03-02",
    site: str = "Science Policy Notes",
    markup: bool = False,
    spaced: bool = False,
) -> str:
    """A small article page. `markup` wraps words in inline tags and adds attributes; `spaced` adds line
    breaks, indentation and full-width spaces inside paragraphs: neither changes the wording."""
    body = []
    for p in paras:
        if markup:
            words = p.split(" ")
            words[1] = f"<b>{words[1]}</b>"
            words[-2] = f'<span class="hl">{words[-2]}</span>'
            p = " ".join(words)
        if spaced:
            p = "\n        " + p.replace("，", "，\n   ").replace(", ", ",\n   ") + "\n    "
        attrs = ' class="para" data-v="2"' if markup else ""
        body.append(f"<p{attrs}>{p}</p>")
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | {site}</title>"
        f'<meta name="date" content="{published}"></head>\n'
        f'<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>\n'
        f"<main><article><h1>{escape(title)}</h1>\n"
        f'<p class="meta">Published {published}</p>\n'
        + "\n".join(body)
        + "\n</article></main>\n<footer><p>Copyright 2026 Science Policy Notes</p></footer></body></html>\n"
    )


# --- the site -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    html: str
    modified: datetime
    status: int = 200

    @property
    def body(self) -> bytes:
        return self.html.encode("utf-8")

    @property
    def etag(self) -> str:
        import hashlib

        return '"' + hashlib.sha256(self.body).hexdigest()[:24] + '"'


@dataclass
class SiteState:
    """What the site serves: pages by path (a missing path answers 404) and the feed/sitemap entries
    (links may point to pages that are gone, as real feeds do)."""

    pages: dict[str, Page] = field(default_factory=dict)
    feed: list[tuple[str, str]] = field(default_factory=list)
    """(link as written in the feed, title); links may carry tracking parameters, fragments, host case."""
    sitemap: list[str] = field(default_factory=list)


class ScenarioSite:
    """A threaded HTTP server on 127.0.0.1 with a mutable page table, ETag/Last-Modified revalidation,
    an RSS feed and a sitemap."""

    def __init__(self) -> None:
        self.state = SiteState()
        self._lock = threading.Lock()
        self.requests: list[tuple[str, int]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                status, headers, body = site._answer(self.path, dict(self.headers.items()))
                with site._lock:
                    site.requests.append((self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> ScenarioSite:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        path = raw_path.split("?", 1)[0].split("#", 1)[0]
        with self._lock:
            state = self.state
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        if path == "/feed.xml":
            return 200, {"Content-Type": "application/rss+xml; charset=utf-8"}, self._feed(state).encode()
        if path == "/sitemap.xml":
            return 200, {"Content-Type": "application/xml; charset=utf-8"}, self._sitemap(state).encode()
        page = state.pages.get(path)
        if page is None or page.status != 200:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        validators = {"ETag": page.etag, "Last-Modified": format_datetime(page.modified, usegmt=True)}
        inm = {h.lower(): v for h, v in headers.items()}.get("if-none-match")
        ims = {h.lower(): v for h, v in headers.items()}.get("if-modified-since")
        # RFC 9110: If-None-Match, when present, decides alone.
        if inm is not None:
            if page.etag in [t.strip() for t in inm.split(",")]:
                return 304, validators, b""
        elif ims is not None:
            try:
                if page.modified <= parsedate_to_datetime(ims):
                    return 304, validators, b""
            except (TypeError, ValueError):
                pass
        return 200, {"Content-Type": "text/html; charset=utf-8", **validators}, page.body

    def _feed(self, state: SiteState) -> str:
        items = "".join(
            f"<item><title>{xml_escape(title)}</title><link>{xml_escape(link)}</link>"
            f"<pubDate>{format_datetime(T0, usegmt=True)}</pubDate></item>\n"
            for link, title in state.feed
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>Science Policy Notes</title><link>{self.url('/')}</link>"
            "<description>notes</description>\n"
            f"{items}</channel></rss>\n"
        )

    def _sitemap(self, state: SiteState) -> str:
        urls = "".join(f"<url><loc>{xml_escape(self.url(p))}</loc></url>\n" for p in state.sitemap)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )


# --- the scenario -------------------------------------------------------------------------------

# Paths of the pages; the canonical URL of each is http://localhost:PORT + path.
DEADLINE = "/en/fellowships.html"
WITHDRAWN = "/en/quantum-call.html"
OPEN_ACCESS = "/en/open-access.html"
SYNDICATED = "/partner/open-access-policy.html"
CLIMATE = "/en/climate-networks-2026.html"
CLIMATE_REISSUED_PATH = "/en/climate-networks-2026-reissued.html"
CHAIR = "/en/new-chair.html"
NOTICE = "/zh/tongzhi-2026.html"
NOTICE_REPOST_PATH = "/zh/tongzhi-2026-chongfa.html"
ALL_PATHS = [
    DEADLINE,
    WITHDRAWN,
    OPEN_ACCESS,
    SYNDICATED,
    CLIMATE,
    CLIMATE_REISSUED_PATH,
    CHAIR,
    NOTICE,
    NOTICE_REPOST_PATH,
]


def site_states(site: ScenarioSite) -> Iterator[SiteState]:
    """The site as each of the five runs finds it."""

    def at(day: int) -> datetime:
        return T0 + timedelta(days=day)

    pages = {
        DEADLINE: Page(article_html(DEADLINE_TITLE, DEADLINE_PARAS), at(0)),
        WITHDRAWN: Page(article_html(WITHDRAWN_TITLE, WITHDRAWN_PARAS), at(0)),
        OPEN_ACCESS: Page(article_html(OPEN_ACCESS_TITLE, OPEN_ACCESS_PARAS), at(0)),
        CLIMATE: Page(article_html(CLIMATE_TITLE, CLIMATE_PARAS), at(0)),
        CHAIR: Page(article_html(CHAIR_TITLE, CHAIR_PARAS), at(0)),
        NOTICE: Page(article_html(NOTICE_TITLE, NOTICE_PARAS, lang="zh-CN", site="科技动态"), at(0)),
    }
    feed = [
        (site.url(DEADLINE), DEADLINE_TITLE),
        (site.url(WITHDRAWN), WITHDRAWN_TITLE),
        (site.url(OPEN_ACCESS), OPEN_ACCESS_TITLE),
        (site.url(CLIMATE), CLIMATE_TITLE),
        # The same article under tracking parameters, a fragment and another host case.
        (site.url(CHAIR + "?utm_source=rss&utm_medium=feed#top", host="LocalHost"), CHAIR_TITLE),
        (site.url(NOTICE), NOTICE_TITLE),
    ]
    # The chair article is linked only from the feed, so its variant URLs are what the crawl fetches.
    sitemap = [DEADLINE, WITHDRAWN, OPEN_ACCESS, CLIMATE, NOTICE]

    # Run 1: everything new.
    yield SiteState(dict(pages), list(feed), list(sitemap))

    # Run 2: markup-only change; a page disappears (still linked); a syndicated copy appears; the
    # feed now links the chair article under other tracking parameters and host case.
    pages[DEADLINE] = Page(article_html(DEADLINE_TITLE, DEADLINE_PARAS, markup=True), at(1))
    del pages[WITHDRAWN]
    pages[SYNDICATED] = Page(article_html(OPEN_ACCESS_TITLE, OPEN_ACCESS_PARAS, site="Partner Wire"), at(1))
    feed = [
        *[f for f in feed if CHAIR not in f[0]],
        (site.url(SYNDICATED), OPEN_ACCESS_TITLE),
        (site.url(CHAIR + "?utm_campaign=spring&utm_content=x#comments", host="LOCALHOST"), CHAIR_TITLE),
    ]
    sitemap = [*sitemap, SYNDICATED]
    yield SiteState(dict(pages), list(feed), list(sitemap))

    # Run 3: the deadline and amount change; the page is still gone; the climate call is republished
    # at a new URL with a new headline and a small edit.
    pages[DEADLINE] = Page(article_html(DEADLINE_TITLE, DEADLINE_EDITED), at(2))
    pages[CLIMATE_REISSUED_PATH] = Page(article_html(CLIMATE_REISSUED_TITLE, CLIMATE_REISSUED), at(2))
    feed = [*feed, (site.url(CLIMATE_REISSUED_PATH), CLIMATE_REISSUED_TITLE)]
    sitemap = [*sitemap, CLIMATE_REISSUED_PATH]
    yield SiteState(dict(pages), list(feed), list(sitemap))

    # Run 4: the withdrawn page is back with the same text; the Chinese notice is re-posted with a new
    # title and a changed deadline (截止日期).
    pages[WITHDRAWN] = Page(article_html(WITHDRAWN_TITLE, WITHDRAWN_PARAS), at(3))
    pages[NOTICE_REPOST_PATH] = Page(
        article_html(NOTICE_REPOST_TITLE, NOTICE_REPOST, lang="zh-CN", site="科技动态"), at(3)
    )
    feed = [*feed, (site.url(NOTICE_REPOST_PATH), NOTICE_REPOST_TITLE)]
    sitemap = [*sitemap, NOTICE_REPOST_PATH]
    yield SiteState(dict(pages), list(feed), list(sitemap))

    # Run 5: whitespace-only change of the Chinese notice (new bytes, new ETag, same wording).
    pages[NOTICE] = Page(
        article_html(NOTICE_TITLE, NOTICE_PARAS, lang="zh-CN", site="科技动态", spaced=True), at(4)
    )
    yield SiteState(dict(pages), list(feed), list(sitemap))


def scenario_source(site: ScenarioSite) -> SourceConfig:
    return SourceConfig(
        id=SOURCE_ID,
        name="Archive scenario site",
        feeds=[site.url("/feed.xml")],
        sitemaps=[site.url("/sitemap.xml")],
        allowed_domains=["localhost"],
        default_language="en",
        allow_private_addresses=True,
        download_delay=0,
        concurrency=4,
        lookback_days=36500,
        # Every run re-requests every listed article: the scenario's edits, removals and reappearances
        # are found by the ingest itself, whatever the site's dates say (the default `changed` policy
        # is tested in test_demo_ingest.py and test_crawl_site.py).
        recheck_known="all",
    )


@dataclass(frozen=True)
class ArchiveState:
    """An archive with ids replaced by canonical URL paths, so two databases can be compared."""

    versions: dict[str, tuple[tuple[int, str, str], ...]]
    """path -> (version_no, reason, title) per version."""
    texts: dict[str, tuple[str, ...]]
    """path -> text per version."""
    removed: dict[str, bool]
    duplicate_of: dict[str, str | None]
    clusters: frozenset[frozenset[str]]
    """Groups of paths sharing a cluster id (articles without a cluster are left out)."""
    latest: dict[str, tuple[int, str]]
    """path -> (version_no, text) as `latest_articles` shows it."""
    removed_at: dict[str, datetime | None] = field(compare=False, default_factory=dict)


def read_archive(url: str, base: str) -> ArchiveState:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            arts = conn.execute(
                sa.text(
                    "SELECT article_id, url, removed_at, duplicate_of, cluster_id, version_no, text "
                    "FROM latest_articles ORDER BY url"
                )
            ).all()
            hist = conn.execute(
                sa.text(
                    "SELECT url, version_no, reason, title, text FROM article_history "
                    "ORDER BY url, version_no"
                )
            ).all()
    finally:
        engine.dispose()
    path_of = {row.article_id: row.url.removeprefix(base) for row in arts}
    versions: dict[str, list[tuple[int, str, str]]] = {}
    texts: dict[str, list[str]] = {}
    for row in hist:
        versions.setdefault(row.url.removeprefix(base), []).append((row.version_no, row.reason, row.title))
        texts.setdefault(row.url.removeprefix(base), []).append(row.text)
    groups: dict[int, set[str]] = {}
    for row in arts:
        if row.cluster_id is not None:
            groups.setdefault(row.cluster_id, set()).add(path_of[row.article_id])
    return ArchiveState(
        versions={p: tuple(v) for p, v in versions.items()},
        texts={p: tuple(t) for p, t in texts.items()},
        removed={path_of[r.article_id]: r.removed_at is not None for r in arts},
        duplicate_of={path_of[r.article_id]: path_of.get(r.duplicate_of) for r in arts},
        clusters=frozenset(frozenset(g) for g in groups.values()),
        latest={path_of[r.article_id]: (r.version_no, r.text) for r in arts},
        removed_at={path_of[r.article_id]: r.removed_at for r in arts},
    )


@dataclass
class Played:
    reports: list[RunReport]
    after_run: list[ArchiveState]
    requests: list[list[tuple[str, int]]]
    """(path with query, status) of every request the site answered, per run."""
    article_urls: dict[str, set[str]]
    """canonical path -> every URL the archive maps to that article (after the last run)."""
    base: str
    """http://localhost:PORT"""

    def counts(self) -> list[tuple[int, ...]]:
        """The per-run report figures that must not depend on the database."""
        return [
            (s.new_articles, s.new_versions, s.unchanged, s.not_modified, s.duplicates, s.removals)
            for s in (r.sources[0] for r in self.reports)
        ]


def play(site: ScenarioSite, db_url: str, tmp_path: Path) -> Played:
    """Serve each site state in turn and ingest it once; the archive is read after every run."""
    source = scenario_source(site)
    base = site.url("")
    reports, states, requests = [], [], []
    archive = Archive.open(db_url)
    try:
        for state in site_states(site):
            site.state = state
            site.requests.clear()
            report = run_ingest([source], archive, options=IngestOptions(timeout_s=120))
            reports.append(report)
            requests.append(list(site.requests))
            states.append(read_archive(db_url, base))
    finally:
        archive.close()
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT a.canonical_url, u.url FROM article_urls u JOIN articles a ON a.id = u.article_id"
                )
            ).all()
    finally:
        engine.dispose()
    urls: dict[str, set[str]] = {}
    for canonical, alias in rows:
        urls.setdefault(canonical.removeprefix(base), set()).add(alias)
    return Played(reports, states, requests, urls, base)


def versions(*entries: tuple[str, str]) -> tuple[tuple[int, str, str], ...]:
    return tuple((i, reason, title) for i, (reason, title) in enumerate(entries, start=1))


def check_expectations(played: Played) -> None:
    """The archive an archivist expects, page by page and run by run."""
    r1, r2, r3, r4, r5 = played.after_run
    for report in played.reports:
        assert report.status == "completed", report
        assert report.sources[0].error_count == 0, report

    # The chair article was fetched only under its variant URLs (tracking parameters, host case), the
    # second time conditionally (304: the archive knew the variant as the same article), and it is
    # one article with both variants recorded as its aliases.
    chair_fetches = [[(p, status) for p, status in run if p.startswith(CHAIR)] for run in played.requests]
    assert chair_fetches[0] == [(CHAIR + "?utm_source=rss&utm_medium=feed", 200)]
    assert chair_fetches[1] == [(CHAIR + "?utm_campaign=spring&utm_content=x", 304)]
    assert sum(1 for p in played.article_urls if p.startswith(CHAIR)) == 1
    port = played.base.rsplit(":", 1)[1]
    assert played.article_urls[CHAIR] == {
        f"http://localhost:{port}{CHAIR}",  # canonical
        f"http://LocalHost:{port}{CHAIR}?utm_source=rss&utm_medium=feed",  # as the feed wrote it
        f"http://localhost:{port}{CHAIR}?utm_source=rss&utm_medium=feed",  # as fetched
    }

    # Run 1: six articles, one version each; the chair article once despite its tracking URL.
    assert set(r1.versions) == {DEADLINE, WITHDRAWN, OPEN_ACCESS, CLIMATE, CHAIR, NOTICE}
    assert all(len(v) == 1 and v[0][1] == "new" for v in r1.versions.values())
    assert not any(r1.removed.values()) and not any(r1.duplicate_of.values())
    assert r1.clusters == frozenset()
    assert "30 April 2026" in r1.texts[DEADLINE][0] and "250,000 euros" in r1.texts[DEADLINE][0]
    assert "2026年4月30日" in r1.texts[NOTICE][0]

    # Run 2: markup-only change makes no version; the vanished page is marked removed but its last
    # text stays readable; the syndicated copy points at the first-seen original.
    assert r2.versions[DEADLINE] == r1.versions[DEADLINE]
    assert r2.removed[WITHDRAWN] is True
    assert r2.latest[WITHDRAWN] == (1, r1.texts[WITHDRAWN][0])
    assert r2.versions[SYNDICATED] == versions(("new", OPEN_ACCESS_TITLE))
    assert r2.texts[SYNDICATED] == r1.texts[OPEN_ACCESS]
    assert r2.duplicate_of[SYNDICATED] == OPEN_ACCESS and r2.duplicate_of[OPEN_ACCESS] is None
    assert r2.clusters == {frozenset({OPEN_ACCESS, SYNDICATED})}
    assert played.reports[1].sources[0].duplicates == 1
    assert played.reports[1].sources[0].removals == 1
    assert played.reports[1].sources[0].new_versions == 1  # the syndicated copy only

    # Run 3: the changed deadline and amount make version 2; the page still gone keeps its first
    # removal time; the republished call joins the original's cluster without being a duplicate.
    assert r3.versions[DEADLINE] == versions(("new", DEADLINE_TITLE), ("edited", DEADLINE_TITLE))
    edited = r3.texts[DEADLINE][1]
    assert "15 May 2026" in edited and "300,000 euros" in edited and "30 April" not in edited
    assert r3.removed[WITHDRAWN] is True and r3.removed_at[WITHDRAWN] == r2.removed_at[WITHDRAWN]
    assert r3.versions[CLIMATE_REISSUED_PATH] == versions(("new", CLIMATE_REISSUED_TITLE))
    assert r3.duplicate_of[CLIMATE_REISSUED_PATH] is None
    assert frozenset({CLIMATE, CLIMATE_REISSUED_PATH}) in r3.clusters

    # Run 4: the page is back (a `reappeared` version even with the same text, removal cleared); the
    # re-posted Chinese notice joins the original's cluster.
    assert r4.versions[WITHDRAWN] == versions(("new", WITHDRAWN_TITLE), ("reappeared", WITHDRAWN_TITLE))
    assert r4.texts[WITHDRAWN][1] == r4.texts[WITHDRAWN][0]
    assert r4.removed[WITHDRAWN] is False
    assert r4.versions[NOTICE_REPOST_PATH] == versions(("new", NOTICE_REPOST_TITLE))
    assert "2026年5月20日" in r4.texts[NOTICE_REPOST_PATH][0]
    assert r4.duplicate_of[NOTICE_REPOST_PATH] is None
    assert frozenset({NOTICE, NOTICE_REPOST_PATH}) in r4.clusters

    # Run 5: a whitespace-only change of the Chinese page makes no version; nothing else changes.
    assert played.reports[4].sources[0].new_versions == 0
    assert r5 == r4

    # The final archive, in full.
    assert set(r5.versions) == set(ALL_PATHS)  # one article per page, URL variants included
    assert r5.versions == {
        DEADLINE: versions(("new", DEADLINE_TITLE), ("edited", DEADLINE_TITLE)),
        WITHDRAWN: versions(("new", WITHDRAWN_TITLE), ("reappeared", WITHDRAWN_TITLE)),
        OPEN_ACCESS: versions(("new", OPEN_ACCESS_TITLE)),
        SYNDICATED: versions(("new", OPEN_ACCESS_TITLE)),
        CLIMATE: versions(("new", CLIMATE_TITLE)),
        CLIMATE_REISSUED_PATH: versions(("new", CLIMATE_REISSUED_TITLE)),
        CHAIR: versions(("new", CHAIR_TITLE)),
        NOTICE: versions(("new", NOTICE_TITLE)),
        NOTICE_REPOST_PATH: versions(("new", NOTICE_REPOST_TITLE)),
    }
    assert {p for p, gone in r5.removed.items() if gone} == set()
    assert {p: d for p, d in r5.duplicate_of.items() if d} == {SYNDICATED: OPEN_ACCESS}
    assert r5.clusters == {
        frozenset({OPEN_ACCESS, SYNDICATED}),
        frozenset({CLIMATE, CLIMATE_REISSUED_PATH}),
        frozenset({NOTICE, NOTICE_REPOST_PATH}),
    }
    for path, (version_no, text) in r5.latest.items():
        assert version_no == len(r5.versions[path]) and text == r5.texts[path][-1]


def test_the_archivist_scenario_gives_the_same_archive_on_sqlite_and_postgresql(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Extraction in this process: the same code as the worker pool, without a pool start per run.
    monkeypatch.setenv("SCIPOL_EXTRACT_WORKERS", "1")
    results = {}
    with ScenarioSite() as site:
        for name, url in (("sqlite", f"sqlite:///{tmp_path}/archive.db"), ("postgresql", pg_url)):
            played = play(site, url, tmp_path)
            check_expectations(played)
            results[name] = played
    # Same archive, run by run, on both databases (ids mapped to URLs; removal times differ), and
    # the same run reports.
    assert results["sqlite"].after_run == results["postgresql"].after_run
    assert results["sqlite"].counts() == results["postgresql"].counts()
    assert results["sqlite"].article_urls == results["postgresql"].article_urls
