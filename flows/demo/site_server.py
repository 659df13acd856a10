"""A small science-policy news site served from bundled static files, for demos and tests.

The site has two editions. Edition 1 is the site as first published; in edition 2 one English
article (manifest kind "edited") has been revised: its bytes, ETag, Last-Modified and sitemap
``lastmod`` change, everything else stays byte-identical. Switch at runtime with
``site.edition = 2``.

Only paths built from ``site/manifest.json`` are served (plus the feed, sitemap, listing pages and
robots.txt); nothing is read from disk per request, so no request can reach other files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as xml_escape

logger = logging.getLogger(__name__)

SITE_DIR = Path(__file__).resolve().parent / "site"
LISTING_PAGE_SIZE = 20
SITE_NAME = "Science Policy Daily"
ARTICLE_KINDS = frozenset({"article", "seed", "syndicated", "edited"})


@dataclass(frozen=True)
class DemoArticle:
    """One article URL of the running site (a syndicated article has two entries)."""

    path: str
    url: str
    lang: str
    title: str
    published: date
    kind: str
    # For the second URL of a syndicated article: the path of the original.
    syndicated_from: str | None = None


@dataclass(frozen=True)
class RequestRecord:
    """One request the site answered, in arrival order."""

    method: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _ManifestEntry:
    path: str
    file: Path
    lang: str
    title: str
    published: date
    published_at: datetime
    kind: str
    also_at: str | None
    edition2_file: Path | None
    edition2_modified: datetime | None


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    etag: str | None = None
    last_modified: datetime | None = None


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # HTTP dates have one-second resolution; dropping microseconds keeps 304 comparisons exact.
    return parsed.astimezone(UTC).replace(microsecond=0)


def load_manifest(site_dir: Path = SITE_DIR) -> list[_ManifestEntry]:
    """Read ``manifest.json`` and check that every file it names exists."""
    raw = json.loads((site_dir / "manifest.json").read_text(encoding="utf-8"))
    entries: list[_ManifestEntry] = []
    for item in raw["articles"]:
        kind = item["kind"]
        if kind not in ARTICLE_KINDS:
            raise ValueError(f"manifest: unknown kind {kind!r} for {item['path']}")
        file = site_dir / item["path"].lstrip("/")
        edition2_file = site_dir / item["edition2_file"] if item.get("edition2_file") else None
        for needed in (file, edition2_file):
            if needed is not None and not needed.is_file():
                raise FileNotFoundError(f"manifest names a missing file: {needed}")
        published_at = _utc(item.get("published_at") or item["published"])
        modified = item.get("edition2_modified")
        entries.append(
            _ManifestEntry(
                path=item["path"],
                file=file,
                lang=item["lang"],
                title=item["title"],
                published=date.fromisoformat(item["published"]),
                published_at=published_at,
                kind=kind,
                also_at=item.get("also_at"),
                edition2_file=edition2_file,
                edition2_modified=_utc(modified) if modified else None,
            )
        )
    return entries


class _Edition:
    """Every response body of one edition, built once when the server starts."""

    def __init__(self, entries: list[_ManifestEntry], number: int, base_url: str) -> None:
        self.pages: dict[str, _Resource] = {}
        self.lastmod: dict[str, datetime] = {}
        for entry in entries:
            body_file, modified = entry.file, entry.published_at
            if number == 2 and entry.edition2_file is not None:
                body_file = entry.edition2_file
                modified = entry.edition2_modified or entry.published_at
            body = body_file.read_bytes()
            page = _Resource(body, "text/html; charset=utf-8", _etag(body), modified)
            for path in (entry.path, entry.also_at):
                if path:
                    self.pages[path] = page
                    self.lastmod[path] = modified
        self.feed = self._resource(_render_feed(entries, base_url), "application/rss+xml; charset=utf-8")
        self.sitemap = self._resource(
            _render_sitemap(entries, self.lastmod, base_url), "application/xml; charset=utf-8"
        )

    @staticmethod
    def _resource(text: str, content_type: str) -> _Resource:
        body = text.encode("utf-8")
        return _Resource(body, content_type, _etag(body))


def _url_paths(entry: _ManifestEntry) -> list[str]:
    return [p for p in (entry.path, entry.also_at) if p]


def _render_feed(entries: list[_ManifestEntry], base_url: str) -> str:
    items: list[str] = []
    for entry in sorted(entries, key=lambda e: (e.published_at, e.path), reverse=True):
        for path in _url_paths(entry):
            url = xml_escape(base_url + path)
            items.append(
                "<item>"
                f"<title>{xml_escape(entry.title)}</title>"
                f"<link>{url}</link>"
                f'<guid isPermaLink="true">{url}</guid>'
                f"<pubDate>{format_datetime(entry.published_at, usegmt=True)}</pubDate>"
                "</item>"
            )
    newest = max(e.published_at for e in entries)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{SITE_NAME}</title>\n"
        f"<link>{xml_escape(base_url)}/news/</link>\n"
        "<description>News on research funding and science policy (demo site, fictional content)"
        "</description>\n"
        f'<atom:link href="{xml_escape(base_url)}/feed.xml" rel="self" type="application/rss+xml"/>\n'
        f"<lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n"
        + "\n".join(items)
        + "\n</channel>\n</rss>\n"
    )


def _render_sitemap(entries: list[_ManifestEntry], lastmod: dict[str, datetime], base_url: str) -> str:
    urls: list[str] = []
    for entry in entries:
        for path in _url_paths(entry):
            urls.append(
                f"<url><loc>{xml_escape(base_url + path)}</loc>"
                f"<lastmod>{lastmod[path].isoformat()}</lastmod></url>"
            )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + "\n".join(urls) + "\n</urlset>\n"
    )


def _render_listing(entries: list[_ManifestEntry], page: int, pages: int) -> str:
    ordered = sorted(entries, key=lambda e: (e.published_at, e.path), reverse=True)
    chunk = ordered[(page - 1) * LISTING_PAGE_SIZE : page * LISTING_PAGE_SIZE]
    rows = "\n".join(
        f'<li class="teaser" lang="{escape(e.lang)}"><a class="article-link" href="{escape(e.path)}">'
        f'{escape(e.title)}</a> <time datetime="{e.published.isoformat()}">'
        f"{e.published.isoformat()}</time></li>"
        for e in chunk
    )
    nav: list[str] = []
    if page > 1:
        prev = "/news/" if page == 2 else f"/news/?page={page - 1}"
        nav.append(f'<a rel="prev" href="{prev}">&laquo; Newer</a>')
    nav.append(f'<span class="page-number">Page {page} of {pages}</span>')
    if page < pages:
        nav.append(f'<a rel="next" href="/news/?page={page + 1}">Older &raquo;</a>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Latest news - page {page} | {SITE_NAME}</title>\n"
        '<link rel="alternate" type="application/rss+xml" href="/feed.xml">\n</head>\n<body>\n'
        f'<header class="site-header"><a class="logo" href="/">{SITE_NAME}</a></header>\n'
        '<main>\n<h1>Latest news</h1>\n<ul class="article-list">\n'
        f"{rows}\n</ul>\n"
        f'<nav class="pagination">{" ".join(nav)}</nav>\n</main>\n'
        "<footer><p>Demo site: all content is fictional and for software testing only.</p></footer>\n"
        "</body>\n</html>\n"
    )


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    # HTTP/1.1 so crawlers can keep connections open; every response sets Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "DemoSite/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Requests are recorded in DemoSite.requests; stderr stays quiet for tests and demos.
        return

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_POST(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"}, True
        )

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _answer(self, send_body: bool) -> None:
        site = self.server.demo_site
        parts = urlsplit(self.path)
        path = parts.path
        edition = site.current_edition_data()
        if path in edition.pages:
            self._send_resource(edition.pages[path], send_body)
        elif path == "/feed.xml":
            self._send_resource(edition.feed, send_body)
        elif path == "/sitemap.xml":
            self._send_resource(edition.sitemap, send_body)
        elif path == "/robots.txt":
            body = f"User-agent: *\nAllow: /\n\nSitemap: {site.base_url}/sitemap.xml\n".encode()
            self._send(HTTPStatus.OK, body, "text/plain; charset=utf-8", {}, send_body)
        elif path == "/":
            self._send(
                HTTPStatus.MOVED_PERMANENTLY,
                b"",
                "text/plain; charset=utf-8",
                {"Location": "/news/"},
                send_body,
            )
        elif path == "/news/":
            listing = site.listing_page(parse_qs(parts.query).get("page", ["1"])[-1])
            if listing is None:
                self._not_found(send_body)
            else:
                self._send(HTTPStatus.OK, listing, "text/html; charset=utf-8", {}, send_body)
        else:
            self._not_found(send_body)

    def _not_found(self, send_body: bool) -> None:
        body = (
            b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
            b"<body><h1>Page not found</h1></body></html>"
        )
        self._send(HTTPStatus.NOT_FOUND, body, "text/html; charset=utf-8", {}, send_body)

    def _send_resource(self, resource: _Resource, send_body: bool) -> None:
        headers = {"Cache-Control": "no-cache"}
        if resource.etag:
            headers["ETag"] = resource.etag
        if resource.last_modified:
            headers["Last-Modified"] = format_datetime(resource.last_modified, usegmt=True)
        if self._not_modified(resource):
            self._send(HTTPStatus.NOT_MODIFIED, b"", None, headers, False)
        else:
            self._send(HTTPStatus.OK, resource.body, resource.content_type, headers, send_body)

    def _not_modified(self, resource: _Resource) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since is only read without it.
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            if resource.etag is None:
                return False
            tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
            return "*" in tags or resource.etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None or resource.last_modified is None:
            return False
        try:
            since_at = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
        return resource.last_modified <= since_at

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str],
        send_body: bool,
    ) -> None:
        self.server.demo_site.record(self.command, self.path, int(status), dict(self.headers.items()))
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], demo_site: DemoSite) -> None:
        self.demo_site = demo_site
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler hanging up mid-response is normal here; the default prints a traceback to stderr.
        logger.debug("demo site: error while answering %s", client_address, exc_info=True)


class DemoSite:
    """The demo news site on a local port; use as a context manager or call start()/stop()."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, edition: int = 1, site_dir: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._site_dir = site_dir or SITE_DIR
        self._entries = load_manifest(self._site_dir)
        self._lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._edition = self._check_edition(edition)
        self._editions: dict[int, _Edition] = {}
        self._listing: list[bytes] = []
        self._server: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    @staticmethod
    def _check_edition(value: int) -> int:
        if value not in (1, 2):
            raise ValueError(f"edition must be 1 or 2, not {value!r}")
        return value

    @property
    def edition(self) -> int:
        return self._edition

    @edition.setter
    def edition(self, value: int) -> None:
        self._edition = self._check_edition(value)

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("DemoSite is not started")
        return self._base_url

    @property
    def articles(self) -> list[DemoArticle]:
        """Every article URL: the two seed renderings and both URLs of the syndicated article included."""
        base = self.base_url
        result: list[DemoArticle] = []
        for e in self._entries:
            result.append(DemoArticle(e.path, base + e.path, e.lang, e.title, e.published, e.kind))
            if e.also_at:
                result.append(
                    DemoArticle(e.also_at, base + e.also_at, e.lang, e.title, e.published, e.kind, e.path)
                )
        return result

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log (a copy: clear it with clear_requests())."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def record(self, method: str, path: str, status: int, headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, status, headers))

    def page_bytes(self, path: str, edition: int | None = None) -> bytes:
        """The exact bytes served at an article path in an edition (default: the current one)."""
        if not self._editions:
            raise RuntimeError("DemoSite is not started")
        return self._editions[self._check_edition(edition or self._edition)].pages[path].body

    def current_edition_data(self) -> _Edition:
        return self._editions[self._edition]

    def listing_page(self, page_param: str) -> bytes | None:
        """The /news/ page for a ``page`` query value, or None when there is no such page."""
        if not page_param.isdigit():
            return None
        page = int(page_param)
        if not 1 <= page <= len(self._listing):
            return None
        return self._listing[page - 1]

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("DemoSite is already started")
        server = _DemoHTTPServer((self.host, self.port), self)
        bound_host, bound_port = server.server_address[:2]
        host = bound_host if isinstance(bound_host, str) else bound_host.decode()
        self._base_url = f"http://{'[' + host + ']' if ':' in host else host}:{bound_port}"
        self._editions = {n: _Edition(self._entries, n, self._base_url) for n in (1, 2)}
        pages = max(1, -(-len(self._entries) // LISTING_PAGE_SIZE))
        self._listing = [
            _render_listing(self._entries, p, pages).encode("utf-8") for p in range(1, pages + 1)
        ]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-site", daemon=True
        )
        self._thread.start()
        logger.info(
            "demo site serving %d articles at %s (edition %d)",
            len(self._entries),
            self._base_url,
            self._edition,
        )
        return self._base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = None
        self._thread = None
        logger.info("demo site at %s stopped", self._base_url)

    def __enter__(self) -> DemoSite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.demo.site_server",
        description="Serve the bundled demo science-policy site until Ctrl-C. "
        "Send SIGUSR1 to switch between edition 1 and edition 2.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--edition", type=int, choices=(1, 2), default=1)
    args = parser.parse_args(argv)
    site = DemoSite(args.host, args.port, args.edition)
    url = site.start()

    def toggle(signum: int, frame: object) -> None:
        site.edition = 2 if site.edition == 1 else 1
        print(f"now serving edition {site.edition}", flush=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A shell starts background jobs with SIGINT ignored; restore it, and treat SIGTERM alike.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, toggle)
    print(
        f"Demo site: {url}/news/ (feed {url}/feed.xml, sitemap {url}/sitemap.xml), edition {site.edition}",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
