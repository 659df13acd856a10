"""Downstream access at scale: search latency and export throughput on a synthetic archive.

Builds an archive of N articles (default 100,000; 70 % English, 30 % Chinese, some with several
versions) by bulk insert straight into the tables the write path fills (sources, articles,
article_versions, article_search), on SQLite and, with --pg-url, on PostgreSQL. Then it times 50
searches (25 English, 25 Chinese; single words of different frequency, two-word queries, and
two-character Chinese words that take the LIKE path) and a full JSON-lines export.

    python -m bench.access                      # 100k articles on SQLite in a temp directory
    python -m bench.access --n 20000 --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

Results go to bench/access_results.json (merged per backend) and a table on stdout. The PostgreSQL
database given must be empty (or a previous bench archive: it is dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, text  # noqa: E402

from flows.commands.export import _write_jsonl  # noqa: E402
from storage.db import make_engine, upgrade  # noqa: E402
from storage.models import Article, ArticleVersion, Source  # noqa: E402
from storage.reading import Reader  # noqa: E402

log = logging.getLogger("bench.access")
RESULTS = Path(__file__).with_name("access_results.json")
BATCH = 2000
T0 = datetime(2025, 1, 1, tzinfo=UTC)

EN_COMMON = (
    "research science policy funding programme national agency ministry council innovation "
    "technology university data grant call proposal review panel office federal budget "
    "report strategy development infrastructure support public health energy climate"
).split()
EN_RARE = (
    "quantum semiconductor fusion genomics biodiversity cryosphere exascale photonics neutrino "
    "microbiome telescope hydrogen battery vaccine antimicrobial robotics"
).split()
EN_FILLER = (
    "the of and to in for on with by from a is are will be has have this that its new "
    "which under year million teams projects open access applications deadline"
).split()
ZH_COMMON = (
    "科技 创新 研究 国家 发展 项目 政策 资金 计划 重点 工作 单位 建设 推动 加强 提升 人才 产业".split()
)
ZH_RARE = "量子 人工智能 半导体 核聚变 基因组 生物多样性 超级计算 光子学 中微子 疫苗 机器人 氢能".split()
ZH_FILLER = "的 和 在 是 对 为 以 及 等 年 月 日 与 将 进行 关于 通知 有关".split()

EN_QUERIES = [
    "research",
    "funding",
    "quantum",
    "fusion",
    "neutrino",
    "telescope",
    "vaccine",
    "policy",
    "exascale",
    "hydrogen",
    "ministry",
    "grant",
    "robotics",
] + [
    "quantum research",
    "fusion energy",
    "climate data",
    "vaccine funding",
    "national strategy",
    "battery innovation",
    "open access",
    "panel review",
    "genomics infrastructure",
    "public health",
    "photonics university",
    "no-such-word-xyz",
]
ZH_QUERIES = [
    "科技",
    "创新",
    "量子",
    "疫苗",
    "氢能",
    "人才",
    "政策",
    "项目",
    "半导体",
    "核聚变",
    "人工智能",
    "生物多样性",
] + [
    "量子 科技",
    "人工智能 创新",
    "疫苗 研究",
    "半导体 产业",
    "国家 重点",
    "超级计算 建设",
    "光子学 研究",
    "中微子 计划",
    "机器人 产业",
    "基因组 资金",
    "核聚变 发展",
    "氢能 政策",
    "鲲鹏",  # two characters and no match: the LIKE path reads every text (the worst case)
]


def _en_text(rng: random.Random, words: int) -> str:
    pool = (
        rng.choices(EN_COMMON, k=words // 3)
        + rng.choices(EN_FILLER, k=words // 2)
        + rng.choices(EN_RARE, k=max(1, words // 40))
    )
    rng.shuffle(pool)
    sentences = [" ".join(pool[i : i + 12]).capitalize() + "." for i in range(0, len(pool), 12)]
    return "\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def _zh_text(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(ZH_COMMON if rng.random() < 0.4 else ZH_RARE if rng.random() < 0.05 else ZH_FILLER)
        out.append(word)
        size += len(word)
        if rng.random() < 0.06:
            out.append("。")
    return "".join(out)


def _articles(n: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rng = random.Random(seed)
    for i in range(1, n + 1):
        zh = rng.random() < 0.3
        source = "bench_zh" if zh else "bench_en"
        first = T0 + timedelta(minutes=5 * i)
        n_versions = 1 + (rng.random() < 0.15) + (rng.random() < 0.05)
        base_title = (_zh_text(rng, 16) if zh else _en_text(rng, 9).split(".")[0]).strip()
        body = _zh_text(rng, 600) if zh else _en_text(rng, 220)
        versions = []
        for v in range(1, n_versions + 1):
            if v > 1:
                body = body + ("\n" + _zh_text(rng, 40) if zh else "\n" + _en_text(rng, 15))
            versions.append(
                {
                    "article_id": i,
                    "version_no": v,
                    "reason": "new" if v == 1 else "edited",
                    "title": base_title,
                    "text": body,
                    "text_hash": f"{i:032x}{v:032x}",
                    "authors": [],
                    "published_at": first.date(),
                    "updated_at": None,
                    "language": "zh" if zh else "en",
                    "language_confidence": 0.99,
                    "site_name": None,
                    "url": f"https://{source}.example/a/{i}",
                    "capture_id": None,
                    "captured_at": first + timedelta(days=v - 1),
                    "extractor_version": "bench-1",
                    "chars_added": 0,
                    "chars_removed": 0,
                    "created_at": first + timedelta(days=v - 1),
                }
            )
        last = versions[-1]
        article = {
            "id": i,
            "source_id": source,
            "canonical_url": f"https://{source}.example/a/{i}",
            "first_seen_at": first,
            "last_seen_at": last["captured_at"],
            "last_fetched_at": last["captured_at"],
            "removed_at": None,
            "duplicate_of": None,
            "cluster_id": None,
            "latest_version_no": n_versions,
            "latest_text_hash": last["text_hash"],
        }
        yield article, versions


def build(url: str, n: int, seed: int = 7) -> float:
    """Create the schema and bulk-load `n` articles; returns the seconds it took."""
    started = time.perf_counter()
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # a previous bench archive in the same database
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Source.__table__),
            [
                {"id": sid, "name": sid, "config": {}, "created_at": now, "updated_at": now}
                for sid in ("bench_en", "bench_zh")
            ],
        )
    search_sql = (
        "INSERT INTO article_search (rowid, article_id, title, text) VALUES (:id, :id, :title, :text)"
        if engine.dialect.name == "sqlite"
        else "INSERT INTO article_search (article_id, title, text) VALUES (:id, :title, :text)"
    )
    arts: list[dict[str, Any]] = []
    vers: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(Article.__table__), arts)
            conn.execute(insert(ArticleVersion.__table__), vers)
            conn.execute(text(search_sql), found)
        arts.clear(), vers.clear(), found.clear()

    for i, (article, versions) in enumerate(_articles(n, seed), 1):
        arts.append(article)
        vers.extend(versions)
        found.append({"id": article["id"], "title": versions[-1]["title"], "text": versions[-1]["text"]})
        if len(arts) >= BATCH:
            flush()
            if i % 20_000 == 0:
                log.info("%s articles loaded", i)
    if arts:
        flush()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(url: str) -> dict[str, Any]:
    reader = Reader.open(url)
    try:
        reader.search("warmup")  # first-query costs (page cache, plan cache) are not what we measure
        timings: dict[str, list[float]] = {"en": [], "zh": []}
        hits: dict[str, int] = {}
        for lang, queries in (("en", EN_QUERIES), ("zh", ZH_QUERIES)):
            for q in queries:
                t = time.perf_counter()
                found = reader.search(q, limit=20)
                timings[lang].append((time.perf_counter() - t) * 1000)
                hits[q] = len(found)
        all_ms = timings["en"] + timings["zh"]
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sink = _NullText()
        t = time.perf_counter()
        rows = _write_jsonl(reader.export_rows(), sink, UTC)
        export_s = time.perf_counter() - t
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        all_rows = sum(1 for _ in reader.export_rows(all_versions=True))
        all_s = time.perf_counter() - t
    finally:
        reader.close()
    return {
        "queries": len(all_ms),
        "search_p50_ms": round(_pct(all_ms, 0.5), 1),
        "search_p95_ms": round(_pct(all_ms, 0.95), 1),
        "search_max_ms": round(max(all_ms), 1),
        "search_en_p50_ms": round(_pct(timings["en"], 0.5), 1),
        "search_en_p95_ms": round(_pct(timings["en"], 0.95), 1),
        "search_zh_p50_ms": round(_pct(timings["zh"], 0.5), 1),
        "search_zh_p95_ms": round(_pct(timings["zh"], 0.95), 1),
        "export_rows": rows,
        "export_s": round(export_s, 2),
        "export_rows_per_s": round(rows / export_s),
        "export_mb": round(sink.bytes / 1e6, 1),
        "export_all_versions_rows": all_rows,
        "export_all_versions_rows_per_s": round(all_rows / all_s),
        "export_peak_rss_growth_mb": round(max(0, rss_after - rss_before) / 1024, 1),
        "hits_per_query": hits,
    }


class _NullText(io.TextIOBase):
    """Counts what the exporter writes (UTF-8 bytes) and throws it away."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, s: str) -> int:  # type: ignore[override]
        self.bytes += len(s.encode("utf-8"))
        return len(s)


def _db_size_mb(engine: Engine) -> float:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            size = conn.exec_driver_sql(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            )
        else:
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())")
        return round(int(size.scalar_one()) / 1e6, 1)


def run(label: str, url: str, n: int) -> dict[str, Any]:
    log.info("%s: building %s articles", label, n)
    build_s = build(url, n)
    engine = make_engine(url)
    size = _db_size_mb(engine)
    engine.dispose()
    log.info("%s: built in %.1f s (%.0f MB); measuring", label, build_s, size)
    result = {
        "n": n,
        "build_s": round(build_s, 1),
        "db_mb": size,
        **measure(url),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="articles (default 100000)")
    parser.add_argument(
        "--sqlite-path", type=Path, help="SQLite file to build (default: a temp file, deleted)"
    )
    parser.add_argument("--pg-url", help="also run on this (empty, disposable) PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="scipol-bench-") as tmp:
        if not args.no_sqlite:
            path = args.sqlite_path or Path(tmp) / "bench.db"
            path.unlink(missing_ok=True)
            results["sqlite"] = run("sqlite", f"sqlite:///{path}", args.n)
        if args.pg_url:
            results["postgresql"] = run("postgresql", args.pg_url, args.n)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    keys = [
        ("n", "articles"),
        ("build_s", "build s"),
        ("db_mb", "db MB"),
        ("search_p50_ms", "search p50 ms"),
        ("search_p95_ms", "search p95 ms"),
        ("search_en_p95_ms", "  en p95 ms"),
        ("search_zh_p95_ms", "  zh p95 ms"),
        ("export_rows_per_s", "export rows/s"),
        ("export_all_versions_rows_per_s", "export all versions rows/s"),
        ("export_peak_rss_growth_mb", "export RSS growth MB"),
    ]
    backends = [b for b in ("sqlite", "postgresql") if b in results]
    print(f"{'':<28}" + "".join(f"{b:>14}" for b in backends))
    for key, label in keys:
        print(f"{label:<28}" + "".join(f"{results[b].get(key, '-')!s:>14}" for b in backends))
    print(f"results: {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
