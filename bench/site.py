"""Serve a generated corpus (bench/corpus.py) from several loopback hosts, one site per host.

Each host (127.0.0.2, 127.0.0.3, ...) gets its own ThreadingHTTPServer, all on one port when it is
free on every address (else each on its own free port). Per host: ``/robots.txt``, ``/feed.xml``
(the newest 50 articles), ``/sitemap.xml`` (every article, with ``lastmod``) and the article pages.
Pages carry ETag (their sha256) and Last-Modified (their publication time) and answer 304 to a
matching ``If-None-Match`` (or, without it, ``If-Modified-Since``), as real news sites do.

``/_bench/stats`` returns request counts per status as JSON (for checking a run, e.g. that a second
run was answered with 304s). Page bodies are read from disk per request (the page cache keeps them),
so a 10,000-page corpus does not sit in this process' memory.

    python -m bench.site --corpus bench/out/corpus    # prints one JSON line {"hosts": [...]} when ready
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from bench.corpus import HostEntry, load_manifest

log = logging.getLogger(__name__)

FEED_ITEMS = 50


@dataclass(frozen=True)
class _Page:
    file: Path
    etag: str
    last_modified: datetime
    content_type: str


@dataclass(frozen=True)
class _Doc:
    body: bytes
    etag: str
    content_type: str


class _HostSite:
    """Everything one host serves, built once at start-up (page bodies stay on disk)."""

    def __init__(self, corpus_dir: Path, entry: HostEntry, base_url: str) -> None:
        self.entry = entry
        self.base_url = base_url
        self.pages: dict[str, _Page] = {}
        for p in entry.pages:
            self.pages[p.path] = _Page(
                corpus_dir / p.file,
                f'"{p.sha256[:32]}"',
                datetime.fromisoformat(p.published).astimezone(UTC),
                "text/html; charset=utf-8",
            )
        newest = sorted(entry.pages, key=lambda p: (p.published, p.path), reverse=True)
        items = "".join(
            f"<item><title>{xml_escape(p.title)}</title><link>{xml_escape(base_url + p.path)}</link>"
            f'<guid isPermaLink="true">{xml_escape(base_url + p.path)}</guid>'
            f"<pubDate>{format_datetime(datetime.fromisoformat(p.published), usegmt=True)}</pubDate></item>\n"
            for p in newest[:FEED_ITEMS]
        )
        feed = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{xml_escape(entry.site_name)}</title><link>{xml_escape(base_url)}/</link>"
            f"<description>bench corpus</description>\n{items}</channel></rss>\n"
        )
        urls = "".join(
            f"<url><loc>{xml_escape(base_url + p.path)}</loc><lastmod>{p.published}</lastmod></url>\n"
            for p in entry.pages
        )
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
        )
        robots = f"User-agent: *\nAllow: /\nSitemap: {base_url}/sitemap.xml\n"
        self.docs = {
            "/feed.xml": _doc(feed, "application/rss+xml; charset=utf-8"),
            "/sitemap.xml": _doc(sitemap, "application/xml; charset=utf-8"),
            "/robots.txt": _doc(robots, "text/plain; charset=utf-8"),
        }


def _doc(text: str, content_type: str) -> _Doc:
    import hashlib

    body = text.encode("utf-8")
    return _Doc(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', content_type)


class _Handler(BaseHTTPRequestHandler):
    server: _HostServer
    protocol_version = "HTTP/1.1"  # keep-alive: crawlers reuse connections
    server_version = "BenchSite/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # counted in the stats instead; a line per request would cost more than serving it

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        page = site.pages.get(path)
        if page is not None:
            headers = {
                "ETag": page.etag,
                "Last-Modified": format_datetime(page.last_modified, usegmt=True),
                "Cache-Control": "no-cache",
            }
            if self._not_modified(page.etag, page.last_modified):
                self._send(HTTPStatus.NOT_MODIFIED, b"", None, headers, False)
                return
            try:
                body = page.file.read_bytes()
            except OSError:
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, b"", "text/plain", {}, send_body)
                return
            self._send(HTTPStatus.OK, body, page.content_type, headers, send_body)
            return
        doc = site.docs.get(path)
        if doc is not None:
            headers = {"ETag": doc.etag}
            if self._not_modified(doc.etag, None):
                self._send(HTTPStatus.NOT_MODIFIED, b"", None, headers, False)
            else:
                self._send(HTTPStatus.OK, doc.body, doc.content_type, headers, send_body)
            return
        if path == "/_bench/stats":
            body = json.dumps(self.server.owner.stats()).encode()
            self._send(HTTPStatus.OK, body, "application/json", {}, send_body, count=False)
            return
        self._send(HTTPStatus.NOT_FOUND, b"<html><body>Not found</body></html>", "text/html", {}, send_body)

    def _not_modified(self, etag: str, last_modified: datetime | None) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return "*" in inm or etag in {t.strip().removeprefix("W/") for t in inm.split(",")}
        ims = self.headers.get("If-Modified-Since")
        if ims is None or last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return last_modified <= (since if since.tzinfo else since.replace(tzinfo=UTC))

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str],
        send_body: bool,
        *,
        count: bool = True,
    ) -> None:
        if count:
            self.server.owner.count(self.server.host, int(status), len(body) if send_body else 0)
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


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], owner: BenchSites) -> None:
        self.owner = owner
        self.host = address[0]
        self.site: _HostSite  # set right after binding, once the port is known
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("bench site: error answering %s", client_address, exc_info=True)


class BenchSites:
    """All hosts of a corpus, served until stop(); use as a context manager."""

    def __init__(self, corpus_dir: Path, hosts: list[HostEntry] | None = None, port: int = 0) -> None:
        self.corpus_dir = Path(corpus_dir)
        loaded = hosts if hosts is not None else load_manifest(self.corpus_dir)
        if not loaded:
            raise FileNotFoundError(f"no corpus manifest in {self.corpus_dir}")
        self.hosts = loaded
        self.port = port
        self._servers: list[_HostServer] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._bytes = 0

    def count(self, host: str, status: int, nbytes: int) -> None:
        with self._lock:
            self._counts[str(status)] += 1
            self._counts[f"{host} {status}"] += 1
            self._bytes += nbytes

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_status = {k: v for k, v in self._counts.items() if " " not in k}
            return {"by_status": by_status, "requests": sum(by_status.values()), "bytes": self._bytes}

    def base_urls(self) -> dict[str, str]:
        """Host address -> base URL (``http://127.0.0.2:PORT``)."""
        return {s.host: f"http://{s.host}:{s.server_address[1]}" for s in self._servers}

    def _bind_all(self, port: int) -> list[_HostServer]:
        bound: list[_HostServer] = []
        try:
            for entry in self.hosts:
                bound.append(_HostServer((entry.host, port), self))
                port = port or bound[0].server_address[1]
        except OSError:
            for s in bound:
                s.server_close()
            raise
        return bound

    def start(self) -> dict[str, str]:
        if self._servers:
            raise RuntimeError("already started")
        servers: list[_HostServer] | None = None
        if self.port:
            servers = self._bind_all(self.port)
        else:
            # One port on every address, like real sites on :80; a few tries, since the port that
            # was free on the first address may be taken on another. Then any free port per host.
            for _ in range(5):
                try:
                    servers = self._bind_all(0)
                    break
                except OSError:
                    continue
            if servers is None:
                servers = [_HostServer((e.host, 0), self) for e in self.hosts]
        for server, entry in zip(servers, self.hosts, strict=True):
            server.site = _HostSite(self.corpus_dir, entry, f"http://{entry.host}:{server.server_address[1]}")
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"bench-site-{entry.host}",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        log.info("bench site: %d hosts, %d pages", len(self.hosts), sum(len(h.pages) for h in self.hosts))
        return self.base_urls()

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> BenchSites:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _loopback_ok(host: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, 0))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).with_name("out") / "corpus")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=6 * 3600,
        help="Stop by itself after this long (a bench that died must not leave it running).",
    )
    args = parser.parse_args(argv)
    sites = BenchSites(args.corpus, port=args.port)
    if not all(_loopback_ok(h.host) for h in sites.hosts):
        print(json.dumps({"error": "cannot bind the 127.0.0.x addresses"}), flush=True)
        return 2
    urls = sites.start()
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(json.dumps({"hosts": urls}), flush=True)
    deadline = time.monotonic() + args.max_seconds
    parent = os.getppid()
    # Bounded: wakes up each second; ends at the deadline, on a signal, or when the parent is gone.
    while not stop.wait(1.0) and time.monotonic() < deadline and os.getppid() == parent:
        pass
    sites.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
