"""The baseline: what the same pages cost with nothing but a plain HTTP client and trafilatura.

Reads each host's sitemap, fetches every page with http.client in threads (keep-alive, one
connection per thread and host), and runs `trafilatura.extract` on each in a ProcessPoolExecutor
with one worker per core. Nothing is stored. Fetching and extraction overlap, as in the ingest.

    python -m bench.baseline --hosts '{"127.0.0.2": "http://127.0.0.2:8123", ...}'

Prints one JSON line: pages fetched, pages with text, extracted characters, seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from urllib.parse import urlsplit

_LOC = re.compile(r"<loc>([^<]+)</loc>")
_local = threading.local()


def _get(url: str, timeout: float = 30.0) -> tuple[int, bytes, str]:
    parts = urlsplit(url)
    conns: dict[str, http.client.HTTPConnection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    for attempt in (1, 2):  # a kept-alive connection the server closed is reopened once
        conn = conns.get(parts.netloc) or http.client.HTTPConnection(parts.netloc, timeout=timeout)
        conns[parts.netloc] = conn
        try:
            conn.request("GET", parts.path or "/", headers={"User-Agent": "bench-baseline/1.0"})
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type", "")
        except (http.client.HTTPException, OSError):
            conn.close()
            conns.pop(parts.netloc, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _extract(body: bytes, content_type: str, url: str) -> int:
    import trafilatura

    charset = content_type.split("charset=", 1)[1].strip() if "charset=" in content_type else "utf-8"
    text = trafilatura.extract(body.decode(charset, errors="replace"), url=url)
    return len(text or "")


def _warm() -> None:
    import trafilatura  # noqa: F401 - load the library in each worker before the clock matters


def run_baseline(
    base_urls: list[str], threads: int = 16, workers: int | None = None
) -> dict[str, float | int]:
    """Fetch and extract every sitemap URL of the given hosts; the figures of that run."""
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    fetched = failed = with_text = chars = 0
    lock = threading.Lock()
    # Made before any thread starts: the default fork context must not copy a threaded process.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(_warm) for _ in range(workers)]:
            f.result()
        futures: list[Future[int]] = []

        def fetch(url: str) -> None:
            nonlocal fetched, failed
            try:
                status, body, ctype = _get(url)
            except (http.client.HTTPException, OSError):
                status, body, ctype = 0, b"", ""
            with lock:
                if status != 200:
                    failed += 1
                    return
                fetched += 1
                futures.append(pool.submit(_extract, body, ctype, url))

        urls: list[str] = []
        for base in base_urls:
            status, body, _ = _get(base + "/sitemap.xml")
            if status != 200:
                raise RuntimeError(f"sitemap of {base} answered {status}")
            urls.extend(_LOC.findall(body.decode("utf-8")))
        with ThreadPoolExecutor(max_workers=threads) as fetchers:
            list(fetchers.map(fetch, urls))
        for fut in futures:
            n = fut.result()
            chars += n
            with_text += n > 0
    return {
        "urls": len(urls),
        "fetched": fetched,
        "failed": failed,
        "with_text": with_text,
        "chars": chars,
        "seconds": round(time.perf_counter() - started, 3),
        "workers": workers,
        "threads": threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", required=True, help="JSON object: host -> base URL (as bench.site prints)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="Extraction processes (default: cores).")
    args = parser.parse_args(argv)
    result = run_baseline(list(json.loads(args.hosts).values()), args.threads, args.workers)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
