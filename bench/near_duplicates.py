"""Near-duplicate lookup at scale: how long finding the candidates for one new article takes with
10k, 100k and 1M stored articles, and full-text search latency at 100k.

The archive is grown in place (10k, then 100k, then 1M articles) by bulk inserts straight into the
tables the write path fills for deduplication: `articles` (a minimal row each), `minhash_signatures`
and `minhash_bands`. Signatures are synthetic (random 64-value MinHash vectors; 2 % of articles are
perturbed copies of an earlier one, as re-posted notices are), their bands come from the real
`storage.dedupe.Signature.bands`. At each size the bench times the archive's own lookup
(`Archive._closest`: the `near_candidates` statement and the similarity check) for 200 new articles:
100 real texts through `dedupe.signature` (no stored near duplicate: the common case) and 100 perturbed
copies of stored articles (candidates found). At 100k it also fills `article_search` through
`storage.search.index_article` and times `storage.search.search_article_ids`.

    python -m bench.near_duplicates                          # SQLite, temp directory
    python -m bench.near_duplicates --start-pg               # also a private PostgreSQL 15 server
    python -m bench.near_duplicates --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench --no-sqlite

Results go to bench/near_duplicates_results.json (merged per backend, with the exact command and the
machine) and a table on stdout. A PostgreSQL database given with --pg-url is emptied first.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select  # noqa: E402

from bench.access import EN_QUERIES, ZH_QUERIES, _en_text, _zh_text  # noqa: E402
from storage import dedupe, search  # noqa: E402
from storage.archive import Archive  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import MinhashBand, MinhashSignature, Source  # noqa: E402
from storage.statements import statements  # noqa: E402

log = logging.getLogger("bench.near_duplicates")
RESULTS = Path(__file__).with_name("near_duplicates_results.json")
SOURCE = "bench_dedupe"
CHUNK = 50_000
"""Articles per transaction while building."""
FAMILY_SHARE = 0.02
PERTURBED_VALUES = 8
"""Values of 64 changed in a perturbed copy: similarity ~0.875, like a re-posted notice with a new date."""
LOOKUPS = 100
"""Lookups per kind (fresh text, near copy) per size."""
FTS_AT = 100_000
NOW = datetime(2026, 1, 1, tzinfo=UTC)


# --- synthetic signatures -----------------------------------------------------------------------


def _random_signature(rng: random.Random, shingling: str) -> dedupe.Signature:
    return dedupe.Signature(
        shingling, struct.unpack(f">{dedupe.NUM_PERM}Q", rng.randbytes(8 * dedupe.NUM_PERM))
    )


def _perturbed(rng: random.Random, sig: dedupe.Signature) -> dedupe.Signature:
    values = list(sig.values)
    for i in rng.sample(range(dedupe.NUM_PERM), PERTURBED_VALUES):
        values[i] = rng.getrandbits(64)
    return dedupe.Signature(sig.shingling, tuple(values))


class Corpus:
    """Synthetic signatures for articles 1..n, reproducible, with near-duplicate families."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.seeds: list[int] = []
        """Articles that later articles are perturbed copies of (1 % of the random ones)."""
        self.signatures: dict[int, dedupe.Signature] = {}
        """Signatures of the seeds (the only ones kept in memory)."""

    def rows(self, start: int, stop: int) -> Iterator[tuple[int, dedupe.Signature]]:
        rng = self.rng
        for article_id in range(start, stop):
            if self.seeds and rng.random() < FAMILY_SHARE:
                sig = _perturbed(rng, self.signatures[rng.choice(self.seeds)])
            else:
                sig = _random_signature(rng, "char5" if rng.random() < 0.3 else "word3")
                if rng.random() < 0.01:
                    self.seeds.append(article_id)
                    self.signatures[article_id] = sig
            yield article_id, sig


# --- building -----------------------------------------------------------------------------------


@contextmanager
def _bulk(engine: Engine) -> Iterator[Any]:
    """A raw DB-API connection tuned for bulk loading (SQLite: no journal sync, a large cache)."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.execute("PRAGMA synchronous = OFF")
            raw.execute("PRAGMA cache_size = -1000000")  # 1 GB
        else:
            # Foreign-key triggers off for this session only (16 checks per article otherwise); the
            # rows are built consistent. Needs a superuser, which the bench's own server gives.
            cur: Any = raw.cursor()
            cur.execute("SET session_replication_role = replica")
            cur.execute("SET maintenance_work_mem = '256MB'")
            cur.close()
            raw.commit()
        yield raw
    finally:
        raw.close()


def grow(engine: Engine, corpus: Corpus, start: int, stop: int) -> float:
    """Add articles start..stop-1 with signatures and bands; returns seconds."""
    began = time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    ts = NOW if pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    with _bulk(engine) as raw:
        cur: Any = raw.cursor()
        for lo in range(start, stop, CHUNK):
            hi = min(stop, lo + CHUNK)
            articles: list[tuple[Any, ...]] = []
            sigs: list[tuple[Any, ...]] = []
            bands: list[tuple[int, int, int]] = []
            for article_id, sig in corpus.rows(lo, hi):
                articles.append((article_id, SOURCE, f"https://dedupe.example/a/{article_id}", ts, ts, 1))
                sigs.append((article_id, 1, sig.shingling, sig.to_bytes(), ts))
                bands.extend((band, bucket, article_id) for band, bucket in sig.bands())
            if not pg:
                cur.execute("BEGIN")  # the engine's connections run in autocommit mode otherwise
            if pg:
                with cur.copy(
                    "COPY articles (id, source_id, canonical_url, first_seen_at, last_seen_at, "
                    "latest_version_no) FROM STDIN"
                ) as copy:
                    for row in articles:
                        copy.write_row(row)
                with cur.copy(
                    "COPY minhash_signatures (article_id, version_no, shingling, signature, updated_at) "
                    "FROM STDIN"
                ) as copy:
                    for sig_row in sigs:
                        copy.write_row(sig_row)
                with cur.copy("COPY minhash_bands (band, bucket_hash, article_id) FROM STDIN") as copy:
                    for band_row in bands:
                        copy.write_row(band_row)
            else:
                cur.executemany(
                    "INSERT INTO articles (id, source_id, canonical_url, first_seen_at, last_seen_at, "
                    "latest_version_no) VALUES (?, ?, ?, ?, ?, ?)",
                    articles,
                )
                cur.executemany(
                    "INSERT INTO minhash_signatures (article_id, version_no, shingling, signature, "
                    "updated_at) VALUES (?, ?, ?, ?, ?)",
                    sigs,
                )
                cur.executemany(
                    "INSERT INTO minhash_bands (band, bucket_hash, article_id) VALUES (?, ?, ?)", bands
                )
            raw.commit()
            log.info("%s: %d articles", engine.dialect.name, hi - 1)
        cur.execute("ANALYZE")
        raw.commit()
    if pg:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE minhash_bands"
            )
    return time.perf_counter() - began


def fill_search(engine: Engine, n: int, seed: int = 11) -> float:
    """Index `n` articles' title and text with the archive's own `search.index_article`; returns seconds."""
    rng = random.Random(seed)
    began = time.perf_counter()
    for lo in range(1, n + 1, 10_000):
        with engine.begin() as conn:
            for article_id in range(lo, min(n, lo + 9_999) + 1):
                zh = rng.random() < 0.3
                title = (_zh_text(rng, 16) if zh else _en_text(rng, 9).split(".")[0]).strip()
                body = _zh_text(rng, 600) if zh else _en_text(rng, 220)
                search.index_article(conn, article_id, title, body)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


# --- measuring ----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _fresh_signatures(rng: random.Random, n: int) -> list[dedupe.Signature]:
    """Signatures of real-looking texts through the real `dedupe.signature` (English and Chinese)."""
    out: list[dedupe.Signature] = []
    while len(out) < n:
        body = _zh_text(rng, 600) if len(out) % 3 == 0 else _en_text(rng, 220)
        sig = dedupe.signature(body)
        if sig is not None:
            out.append(sig)
    return out


def indexed_near_candidates() -> Any:
    """The lookup written so that SQLite can use the bands primary key: one `band = ? AND bucket_hash = ?`
    term per band, OR-ed (SQLite plans `(band, bucket_hash) IN (VALUES ...)` as a scan of the whole table).
    Same rows as `statements(...).near_candidates`; this is the fix proposed for storage/statements.py."""
    return (
        select(MinhashSignature.article_id, MinhashSignature.shingling, MinhashSignature.signature)
        .where(
            MinhashSignature.article_id.in_(
                select(MinhashBand.article_id).where(
                    or_(
                        *(
                            and_(
                                MinhashBand.band == band,
                                MinhashBand.bucket_hash == bindparam(f"bucket{band}"),
                            )
                            for band in range(dedupe.BANDS)
                        )
                    ),
                    MinhashBand.article_id != bindparam("article_id"),
                )
            )
        )
        .order_by(MinhashSignature.article_id)
    )


def _closest_indexed(
    conn: Connection, stmt: Any, sig: dedupe.Signature, bands: list[tuple[int, int]]
) -> tuple[int | None, int]:
    """`Archive._closest` with the indexed statement: (best article, number of candidates)."""
    best: tuple[float, int] | None = None
    rows = conn.execute(stmt, {**{f"bucket{b}": h for b, h in bands}, "article_id": -1}).all()
    for cand_id, shingling, data in rows:
        score = sig.similarity(dedupe.Signature.from_bytes(shingling, bytes(data)))
        if score >= dedupe.NEAR_DUPLICATE_THRESHOLD and (best is None or score > best[0]):
            best = (score, cand_id)
    return (best[1] if best else None), len(rows)


def _summary(times: list[float]) -> dict[str, Any]:
    return {
        "lookups": len(times),
        "p50_ms": round(_pct(times, 0.5), 3),
        "p95_ms": round(_pct(times, 0.95), 3),
        "max_ms": round(max(times), 3),
        "mean_ms": round(sum(times) / len(times), 3),
    }


def measure_lookups(engine: Engine, corpus: Corpus, seed: int, budget_s: float) -> dict[str, Any]:
    """Time the archive's lookup and the indexed one for fresh texts and near copies.

    The archive's statement gets at most `budget_s` per kind (at least 5 lookups): where it scans the
    whole bands table, 100 lookups at 1M articles would take many minutes.
    """
    rng = random.Random(seed)
    fresh = _fresh_signatures(rng, LOOKUPS)
    near = [_perturbed(rng, corpus.signatures[rng.choice(corpus.seeds)]) for _ in range(LOOKUPS)]
    archive = Archive(engine)
    indexed = indexed_near_candidates()
    out: dict[str, Any] = {}
    with engine.connect().execution_options(scipol_read=True) as conn:
        sql = statements(conn.dialect.name)
        for sig in fresh[:3]:  # warm-up: statement caches, first pages
            archive._closest(conn, sql, -1, sig, sig.bands())
            _closest_indexed(conn, indexed, sig, sig.bands())
        for kind, sigs in (("fresh", fresh), ("near", near)):
            times_archive: list[float] = []
            times_indexed: list[float] = []
            found, candidates, disagreements = 0, [], 0
            started = time.perf_counter()
            for sig in sigs:
                bands = sig.bands()
                t = time.perf_counter()
                best, n = _closest_indexed(conn, indexed, sig, bands)
                times_indexed.append((time.perf_counter() - t) * 1000)
                found += best is not None
                candidates.append(n)
                if len(times_archive) < 5 or time.perf_counter() - started < budget_s:
                    t = time.perf_counter()
                    best_archive = archive._closest(conn, sql, -1, sig, bands)
                    times_archive.append((time.perf_counter() - t) * 1000)
                    disagreements += best_archive != best
            out[kind] = {
                "archive": _summary(times_archive),
                "indexed": _summary(times_indexed),
                "found_near_duplicate": found,
                "of": len(sigs),
                "candidates_mean": round(sum(candidates) / len(candidates), 2),
                "archive_vs_indexed_disagreements": disagreements,
            }
        out["plan_archive"] = _plan(
            conn, sql.near_candidates, {"buckets": fresh[0].bands(), "article_id": -1}
        )
        out["plan_indexed"] = _plan(
            conn, indexed, {**{f"bucket{b}": h for b, h in fresh[0].bands()}, "article_id": -1}
        )
    return out


def _plan(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[str]:
    """The query plan of a lookup statement (to see whether the bands index is used)."""
    sql = str(stmt.params(**params).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()]
    return [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql).all()]


def measure_search(engine: Engine) -> dict[str, Any]:
    timings: dict[str, float] = {}
    hits: dict[str, int] = {}
    with engine.connect().execution_options(scipol_read=True) as conn:
        search.search_article_ids(conn, "warmup", 20)
        for q in [*EN_QUERIES, *ZH_QUERIES]:
            t = time.perf_counter()
            hits[q] = len(search.search_article_ids(conn, q, 20))
            timings[q] = (time.perf_counter() - t) * 1000
    every = list(timings.values())
    zh = [timings[q] for q in ZH_QUERIES]
    slowest = max(timings, key=lambda q: timings[q])
    return {
        "queries": len(every),
        "p50_ms": round(_pct(every, 0.5), 1),
        "p95_ms": round(_pct(every, 0.95), 1),
        "max_ms": round(max(every), 1),
        "slowest_query": slowest,
        "en_p50_ms": round(_pct([timings[q] for q in EN_QUERIES], 0.5), 1),
        "zh_p50_ms": round(_pct(zh, 0.5), 1),
        "zh_p95_ms": round(_pct(zh, 0.95), 1),
        "hits_per_query": hits,
    }


def _db_size_mb(engine: Engine) -> float:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            size = conn.exec_driver_sql(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            )
        else:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
        return round(int(size.scalar_one()) / 1e6, 1)


def run(url: str, sizes: list[int], budget_s: float) -> dict[str, Any]:
    engine = make_engine(url)
    backend = engine.dialect.name
    if backend == "postgresql":
        with engine.begin() as conn:  # a previous bench archive in the same database
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(url)
    with engine.begin() as conn:
        conn.execute(insert(Source).values(id=SOURCE, name=SOURCE, config={}, created_at=NOW, updated_at=NOW))
    corpus = Corpus()
    result: dict[str, Any] = {"sizes": {}}
    stored = 0
    for size in sizes:
        build_s = grow(engine, corpus, stored + 1, size + 1)
        stored = size
        entry: dict[str, Any] = {"grow_s": round(build_s, 1)}
        entry["db_mb"] = _db_size_mb(engine)
        entry.update(measure_lookups(engine, corpus, seed=size, budget_s=budget_s))
        log.info(
            "%s %d: fresh p50 %.3f ms (archive's statement) / %.3f ms (indexed)",
            backend,
            size,
            entry["fresh"]["archive"]["p50_ms"],
            entry["fresh"]["indexed"]["p50_ms"],
        )
        if size == FTS_AT:
            entry["fts_build_s"] = round(fill_search(engine, size), 1)
            entry["fts"] = measure_search(engine)
            log.info("%s %d: search p50 %.1f ms", backend, size, entry["fts"]["p50_ms"])
        result["sizes"][str(size)] = entry
    first, last = result["sizes"][str(sizes[0])], result["sizes"][str(sizes[-1])]
    result["growth"] = {"articles_x": sizes[-1] / sizes[0]}
    for kind in ("fresh", "near"):
        for variant in ("archive", "indexed"):
            result["growth"][f"{kind}_{variant}_p50_x"] = round(
                last[kind][variant]["p50_ms"] / first[kind][variant]["p50_ms"], 2
            )
    with engine.connect() as conn:
        result["server_version"] = str(
            conn.exec_driver_sql(
                "SELECT sqlite_version()" if backend == "sqlite" else "SHOW server_version"
            ).scalar_one()
        )
    engine.dispose()
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite_library": sqlite3.sqlite_version,
    }


@contextmanager
def private_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL 15 server, started the way the tests start theirs."""
    from tests.support.postgres import PostgresServer, _find_bindir, _LocalPostgres

    bindir = _find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found: install postgresql-15 or pass --pg-url")
    local = _LocalPostgres(bindir)
    local.start()
    try:
        yield PostgresServer("127.0.0.1", local.port, "postgres").create_database()
    finally:
        local.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes, ascending")
    parser.add_argument(
        "--sqlite-path", type=Path, help="SQLite file to build (default: a temp file, deleted)"
    )
    parser.add_argument("--pg-url", help="also run on this (disposable) PostgreSQL database")
    parser.add_argument("--start-pg", action="store_true", help="also run on a private PostgreSQL 15 server")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.name})")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=15.0,
        help="seconds per size and kind for the archive's own statement (default 15)",
    )
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    out: Path = args.out
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    command = (
        "python -m bench.near_duplicates" + (" " + " ".join(sys.argv[1:] if argv is None else argv)).rstrip()
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scipol-bench-") as tmp:
        if not args.no_sqlite:
            path = args.sqlite_path or Path(tmp) / "near_duplicates.db"
            path.unlink(missing_ok=True)
            results["sqlite"] = run(f"sqlite:///{path}", sizes, args.budget_s)
        if args.pg_url:
            results["postgresql"] = run(args.pg_url, sizes, args.budget_s)
        elif args.start_pg:
            with private_postgres() as url:
                results["postgresql"] = run(url, sizes, args.budget_s)
    results["command"] = command.strip()
    results["machine"] = machine()
    results["total_s"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(results, sizes)
    print(f"results: {out}")
    return 0


def print_table(results: dict[str, Any], sizes: list[int]) -> None:
    print(
        "lookup of near-duplicate candidates for one new article, ms (p50 / p95); "
        "archive = the statement in storage/statements.py, indexed = the proposed OR form"
    )
    print(
        f"{'backend':<11}{'articles':>10}{'grow s':>8}{'db MB':>8}{'fresh archive':>18}{'fresh indexed':>16}"
        f"{'near archive':>18}{'near indexed':>16}{'cands':>7}{'found':>8}"
    )

    def pair(e: dict[str, Any]) -> str:
        return f"{e['p50_ms']:.2f}/{e['p95_ms']:.2f}"

    for backend in ("sqlite", "postgresql"):
        if backend not in results:
            continue
        for size in sizes:
            e = results[backend]["sizes"].get(str(size))
            if e is None:
                continue
            print(
                f"{backend:<11}{size:>10}{e['grow_s']:>8}{e['db_mb']:>8}{pair(e['fresh']['archive']):>18}"
                f"{pair(e['fresh']['indexed']):>16}{pair(e['near']['archive']):>18}{pair(e['near']['indexed']):>16}"
                f"{e['near']['candidates_mean']:>7}{e['near']['found_near_duplicate']:>5}/{e['near']['of']}"
            )
        g = results[backend]["growth"]
        print(
            f"{'':<11}{g['articles_x']:>9.0f}x archive -> p50 x{g['fresh_archive_p50_x']} (archive, fresh), "
            f"x{g['fresh_indexed_p50_x']} (indexed, fresh), x{g['near_indexed_p50_x']} (indexed, near)"
        )
        for size in sizes:
            fts = results[backend]["sizes"].get(str(size), {}).get("fts")
            if fts:
                print(
                    f"{'':<11}full-text search at {size}: p50 {fts['p50_ms']} ms, p95 {fts['p95_ms']} ms, "
                    f"max {fts['max_ms']} ms ({fts['slowest_query']!r}); {fts['queries']} queries, "
                    f"index built in {results[backend]['sizes'][str(size)]['fts_build_s']} s"
                )


if __name__ == "__main__":
    raise SystemExit(main())
