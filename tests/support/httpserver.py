"""A small threaded HTTP server on 127.0.0.1 for crawl tests, with fault injection.

    with FaultServer() as srv:
        srv.route("/feed.xml", Reply(body=rss, headers={"Content-Type": "application/rss+xml"}))
        srv.route("/flaky", Reply(status=503), Reply(body=b"<html>ok</html>"))  # a sequence; the last repeats
        srv.route("/known", lambda req: Reply(status=304) if req.headers.get("If-None-Match") else Reply(...))
        ...
        srv.hits("/flaky")    # how many requests reached a path
        srv.requests          # every request: path, headers, monotonic arrival time

Replies can lie about Content-Length and hang up (truncate_to), stall before answering (delay_s, which
a server stop interrupts), or be computed from the request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    """Wait this long before answering (interrupted when the server stops)."""
    truncate_to: int | None = None
    """Declare Content-Length of the full body but send only this many bytes, then close."""
    chunked: bool = False
    """Send the body with Transfer-Encoding: chunked (no Content-Length)."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    """Path with query string."""
    headers: dict[str, str]
    at: float
    """time.monotonic() on arrival."""


Responder = Reply | Callable[[RecordedRequest], Reply]


def html(body: str, status: int = 200, **headers: str) -> Reply:
    return Reply(
        status=status,
        body=body.encode("utf-8"),
        headers={"Content-Type": "text/html; charset=utf-8", **headers},
    )


class FaultServer:
    def __init__(self) -> None:
        self._routes: dict[str, list[Responder]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.default = Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                server._handle(self)

            do_HEAD = do_GET

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients hanging up mid-reply is what fault tests do

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- configuration -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *responders: Responder) -> None:
        """Serve `path` with these replies in turn; the last one repeats. A route with a query string
        matches exactly; one without also serves that path with any query string."""
        if not responders:
            raise ValueError("route needs at least one reply")
        with self._lock:
            self._routes[path] = list(responders)
            self._served[path] = 0

    # --- observation ---------------------------------------------------------------------------
    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def times(self, path: str | None = None) -> list[float]:
        with self._lock:
            return [r.at for r in self.requests if path is None or r.path == path]

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        request = RecordedRequest(
            handler.command, path, {k: v for k, v in handler.headers.items()}, time.monotonic()
        )
        with self._lock:
            self.requests.append(request)
            route = path if path in self._routes else path.split("?", 1)[0]
            responders = self._routes.get(route)
            if responders is None:
                responder: Responder = self.default
            else:
                index = min(self._served[route], len(responders) - 1)
                self._served[route] += 1
                responder = responders[index]
        reply = responder(request) if callable(responder) else responder
        if reply.delay_s and self._stopping.wait(reply.delay_s):
            handler.close_connection = True
            return
        try:
            self._send(handler, reply)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        handler.send_response(reply.status)
        names = {k.lower() for k in reply.headers}
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in names:
            handler.send_header("Content-Length", str(len(reply.body)))
        if reply.truncate_to is not None:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if reply.truncate_to is not None:
            handler.wfile.write(reply.body[: reply.truncate_to])
            handler.wfile.flush()
            handler.close_connection = True
            return
        if reply.chunked:
            step = 64 * 1024
            for i in range(0, len(reply.body), step):
                chunk = reply.body[i : i + step]
                handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
            return
        handler.wfile.write(reply.body)
