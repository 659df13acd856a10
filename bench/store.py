"""Storing cost per item: `Archive.store` on realistic captures, in batches as the pipeline sends them.

500 article pages (English and Chinese, 30-150 kB of HTML each, rendered by `bench.corpus`) with their
extracted records are stored in batches of 50 into an empty archive ("new"), then the same batches are
stored again ("replay": every item already has its outcome), then a 304 revisit of every URL ("304").
Text hashes, MinHash signatures and compressed bodies are computed before timing and passed in, as the
pipeline's extraction workers do, so the figures are the storing alone: locks, statements, commits.

    python -m bench.store                      # SQLite file in a temp directory
    python -m bench.store --start-pg           # also a private PostgreSQL 15 server (fsync on)
    python -m bench.store --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --no-sqlite

A database given with --pg-url must be empty (a fresh database: the archive migrates it); it is used for
one round only. The figures are ms per item (wall time of the `store` calls / items), the best of
`--repeat` rounds, each into a fresh database: the machine is shared, and the best round is the one
least disturbed by other work.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.corpus import HOST_PROFILES, _page_size, _paragraphs, _title, render_page
from schemas import ArticleRecord, Capture
from storage import Archive
from storage.precompute import Precomputed, precompute

log = logging.getLogger(__name__)

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
SOURCE = "bench_store"
Item = tuple[Capture, ArticleRecord | None]


def make_items(n: int, seed: int = 7) -> tuple[list[Item], list[Precomputed | None]]:
    """`n` distinct article pages with their records and precomputed values (reproducible)."""
    rng = random.Random(seed)
    items: list[Item] = []
    sigs: list[Precomputed | None] = []
    for i in range(n):
        layout, lang = HOST_PROFILES[i % len(HOST_PROFILES)]
        title = _title(rng, lang)
        paras = _paragraphs(rng, lang)
        published = T0 - timedelta(hours=i)
        body = render_page(rng, layout, lang, f"Site {i % 7}", title, published, _page_size(rng))
        url = f"https://site{i % 7}.example/news/{i}.html"
        at = T0 + timedelta(seconds=i)
        text = "\n".join(paras)
        capture = Capture(source_id=SOURCE, url=url, final_url=url, status=200, kind="page",
                          headers={"content-type": "text/html; charset=utf-8", "etag": f'"e{i}"'},
                          body=body, fetched_at=at)
        record = ArticleRecord(source_id=SOURCE, url=url, canonical_url=url, title=title, text=text,
                               extractor_version="bench-1", language=lang, language_confidence=0.99)
        items.append((capture, record))
        sigs.append(precompute(capture, record))
    return items, sigs


def revisits(items: list[Item]) -> list[Item]:
    """A 304 of every URL a day later (no body, no record)."""
    out: list[Item] = []
    for capture, _record in items:
        out.append((Capture(source_id=SOURCE, url=capture.url, final_url=capture.url, status=304,
                            kind="not_modified", headers={"etag": capture.headers.get("etag", "")},
                            body=None, fetched_at=capture.fetched_at + timedelta(days=1)), None))
    return out


def timed_store(archive: Archive, items: list[Item], sigs: list[Precomputed | None] | None,
                batch: int) -> float:
    """Milliseconds per item storing `items` in batches of `batch`."""
    spent = 0.0
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        chunk_sigs = sigs[start:start + batch] if sigs is not None else None
        began = time.perf_counter()
        outcomes = archive.store(chunk, run_id="bench", precomputed=chunk_sigs)
        spent += time.perf_counter() - began
        if "error" in outcomes:
            raise SystemExit(f"storing failed: {outcomes}")
    return spent * 1000 / len(items)


def run(url: str, items: list[Item], sigs: list[Precomputed | None], batch: int) -> dict[str, float]:
    archive = Archive.open(url)
    try:
        archive.store(items[:1], run_id="warm-up", precomputed=sigs[:1])  # connections, statement caches
        new = timed_store(archive, items[1:], sigs[1:], batch)
        replay = timed_store(archive, items[1:], sigs[1:], batch)
        not_modified = timed_store(archive, revisits(items[1:]), None, batch)
        counts = archive.counts()
    finally:
        archive.close()
    expected = len(items)
    if counts["article_versions"] != expected or counts["captures"] != 2 * expected - 1:
        raise SystemExit(f"unexpected counts {counts}")
    return {"new": new, "replay": replay, "not_modified": not_modified}


def best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {name: min(r[name] for r in rounds) for name in rounds[0]}


@contextmanager
def private_postgres() -> Iterator[Callable[[str], str]]:
    """A throwaway PostgreSQL 15 server with production durability (fsync, synchronous_commit on);
    yields a function that creates a database and returns its URL."""
    from bench.measure import ThrowawayPostgres, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found: install postgresql-15 or pass --pg-url")
    server = ThrowawayPostgres(bindir)
    server.start()
    try:
        yield server.create_database
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=501, help="items per pass, the first one warms up")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--start-pg", action="store_true")
    parser.add_argument("--pg-url")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per backend; the best is shown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    items, sigs = make_items(args.items)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scipol-bench-store-") as tmp:
        if not args.no_sqlite:
            results["sqlite"] = best([run(f"sqlite:///{Path(tmp) / f'store{r}.db'}", items, sigs, args.batch)
                                      for r in range(args.repeat)])
        if args.pg_url:
            results["postgresql"] = run(args.pg_url, items, sigs, args.batch)
        elif args.start_pg:
            with private_postgres() as create_database:
                results["postgresql"] = best([run(create_database(f"bench_store_{r}"), items, sigs, args.batch)
                                              for r in range(args.repeat)])
    print(f"ms per item, {args.items - 1} items in batches of {args.batch}, best of {args.repeat} rounds")
    print(f"{'backend':<12}{'new':>8}{'replay':>8}{'304':>8}")
    for backend, r in results.items():
        print(f"{backend:<12}{r['new']:>8.2f}{r['replay']:>8.2f}{r['not_modified']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
