"""Extraction quality and cost: plain trafilatura vs scipol's extractor over the golden pages.

    PYTHONPATH=. python bench/extraction_quality.py [--rounds 5] [--out bench/extraction_results.json]
        [--corpus bench/out/corpus [--corpus-pages 300] [--corpus-rounds 3]]

Quality, per page and summed over every golden folder (tests/fixtures/pages and the blind holdout):

- recall: share of the `must_contain` tokens found in the output. A snippet's tokens count as found when
  the whole snippet is in the output (whitespace-normalised), so partial matches earn nothing.
- precision: share of output tokens that are not boilerplate, where boilerplate is every `must_not_contain`
  snippet that leaked into the output (its tokens, each occurrence counted). Tokens are words for
  alphabetic scripts and single characters for Han, so Chinese and English pages weigh alike.
- leaks: `must_not_contain` snippets found in the output (snippet count, the most readable figure).
- start/end: pages whose body starts / ends where expected.

Cost: plain `trafilatura.extract(text)` is given the
page already decoded to a str (decoding is not its job), ours is `extract_html(bytes)`, the whole path
(decode, parse once, metadata, pruning, trafilatura on the shared tree, cleaning, language, record). Both
run in this process over the same pages, interleaved page by page, the order alternating every round,
`--rounds` times after a warm-up pass, timed in CPU time (`time.process_time`: the machine is shared, and
other processes' load must not count). The goal: ours costs at most 15% more than plain trafilatura
(`total_vs_plain_trafilatura` <= 0.15).

`--corpus DIR` runs the same cost comparison (no quality figures: these pages have no expectations) over
the ingest benchmark's generated pages (`DIR/h*/a/*.html`, see `python -m bench.corpus`), an even spread
of `--corpus-pages` of them; written under the key `corpus_throughput`. They are what the ingest
benchmark spends its CPU on, so the goal applies to them as much as to the golden pages.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from crawlers.extract import EXTRACTOR_VERSION, article, extract_html  # noqa: E402
from crawlers.extract.decode import decode_html  # noqa: E402
from tests.crawlers.test_golden_pages import (  # noqa: E402
    GoldenPage,
    compare,
    extract_page,
    golden_folders,
    load_page,
    normalize_body,
    normalize_ws,
)

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\d_]+|\d+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(text)]


def quality(text: str | None, expected: dict[str, Any]) -> dict[str, float]:
    out = normalize_ws(text or "")
    must = [normalize_ws(s) for s in expected.get("must_contain") or []]
    must_not = [normalize_ws(s) for s in expected.get("must_not_contain") or []]
    must_tokens = sum(len(tokens(s)) for s in must)
    found_tokens = sum(len(tokens(s)) for s in must if s in out)
    output_tokens = len(tokens(out))
    leaked = [s for s in must_not if s and s in out]
    leaked_tokens = sum(len(tokens(s)) * out.count(s) for s in leaked)
    start = normalize_body(expected.get("body_starts_with") or "")
    end = normalize_body(expected.get("body_ends_with") or "")
    return {
        "must_tokens": must_tokens,
        "found_tokens": found_tokens,
        "output_tokens": output_tokens,
        "leaked_tokens": min(leaked_tokens, output_tokens),
        "leaks": len(leaked),
        "must_not": len(must_not),
        "start_ok": float(bool(start) and normalize_body(out).startswith(start)),
        "end_ok": float(bool(end) and out.endswith(end)),
    }


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    total = {k: sum(r[k] for r in rows) for k in rows[0]}
    return {
        "recall": round(total["found_tokens"] / max(1, total["must_tokens"]), 4),
        "precision": round(1 - total["leaked_tokens"] / max(1, total["output_tokens"]), 4),
        "leaks": int(total["leaks"]),
        "must_not_total": int(total["must_not"]),
        "start_ok": int(total["start_ok"]),
        "end_ok": int(total["end_ok"]),
        "pages": len(rows),
    }


def decoded_text(page: GoldenPage) -> str:
    headers = {str(k).lower(): str(v) for k, v in (page.meta.get("headers") or {}).items()}
    return decode_html(page.body, headers).text


def plain_trafilatura(page: GoldenPage, text: str | None = None) -> str | None:
    return trafilatura.extract(text if text is not None else decoded_text(page), url=page.meta["url"])


class _TrafilaturaTimer:
    """Wraps our module's trafilatura call to split our time into trafilatura's share and ours."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._inner = article._trafilatura

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return self._inner(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - t0

    def __enter__(self) -> _TrafilaturaTimer:
        article._trafilatura = self  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        article._trafilatura = self._inner  # type: ignore[assignment]


def compare_cost(
    ours: list[Callable[[], object]], plain: list[Callable[[], object]], rounds: int
) -> dict[str, float]:
    """CPU time of `ours[i]` against `plain[i]`, page by page, after one warm-up pass of both.

    Interleaved so both see the same machine state (caches, frequency, neighbours' load); who goes first
    alternates by round so neither always runs on a cache the other warmed.
    """
    for run_ours, run_plain in zip(ours, plain, strict=True):
        run_ours()
        run_plain()
    plain_s = ours_s = 0.0
    with _TrafilaturaTimer() as timer:
        for r in range(rounds):
            for run_ours, run_plain in zip(ours, plain, strict=True):
                first, second = (run_plain, run_ours) if r % 2 == 0 else (run_ours, run_plain)
                t0 = time.process_time()
                first()
                t1 = time.process_time()
                second()
                t2 = time.process_time()
                if first is run_plain:
                    plain_s, ours_s = plain_s + t1 - t0, ours_s + t2 - t1
                else:
                    ours_s, plain_s = ours_s + t1 - t0, plain_s + t2 - t1
    n = len(ours) * rounds
    inside = timer.seconds
    return {
        "plain_trafilatura_pages_per_s": round(n / plain_s, 2),
        "scipol_pages_per_s": round(n / ours_s, 2),
        "plain_trafilatura_ms_per_page": round(1000 * plain_s / n, 2),
        "scipol_ms_per_page": round(1000 * ours_s / n, 2),
        "scipol_inside_trafilatura_ms_per_page": round(1000 * inside / n, 2),
        "scipol_own_ms_per_page": round(1000 * (ours_s - inside) / n, 2),
        "own_work_vs_plain_trafilatura": round((ours_s - inside) / plain_s, 4),
        "total_vs_plain_trafilatura": round(ours_s / plain_s - 1, 4),
    }


def run(rounds: int) -> dict[str, Any]:
    pages = [load_page(f) for f in golden_folders()]
    if not pages:
        raise SystemExit("no golden pages found under tests/fixtures")

    plain_rows, ours_rows, field_fail = [], [], 0
    per_page = []
    for page in pages:
        plain_text = plain_trafilatura(page)
        record = extract_page(page)
        q_plain = quality(plain_text, page.expected)
        q_ours = quality(record.text if record else None, page.expected)
        plain_rows.append(q_plain)
        ours_rows.append(q_ours)
        problems = compare(record, page.expected)
        field_fail += bool(problems)
        per_page.append(
            {
                "page": page.id,
                "plain_leaks": q_plain["leaks"],
                "ours_leaks": q_ours["leaks"],
                "golden_problems": problems,
            }
        )

    texts = [decoded_text(page) for page in pages]
    ours_calls = [_bind(extract_page, page) for page in pages]
    plain_calls = [_bind(plain_trafilatura, page, text) for page, text in zip(pages, texts, strict=True)]
    return {
        "extractor_version": EXTRACTOR_VERSION,
        "trafilatura_version": trafilatura.__version__,
        "pages": len(pages),
        "pages_by_folder": dict(Counter(page.root.name for page in pages)),
        "rounds": rounds,
        "quality": {"plain_trafilatura": summarise(plain_rows), "scipol": summarise(ours_rows)},
        "golden_pages_failing": field_fail,
        "throughput": compare_cost(ours_calls, plain_calls, rounds),
        "per_page": per_page,
    }


def _bind(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: fn(*args)


_CORPUS_HEADERS = {"content-type": "text/html; charset=utf-8"}
"""What bench/site.py serves the corpus pages with."""


def corpus_pages(corpus: Path, limit: int) -> list[tuple[Path, str]]:
    """An even spread of `limit` corpus pages over every host, with the URL each is served at."""
    manifest_path = corpus / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        found = [
            (corpus / page["file"], f"http://{host['host']}{page['path']}")
            for host in manifest["hosts_list"]
            for page in host["pages"]
        ]
    else:
        found = [(f, f"http://{f.parent.parent.name}.test/a/{f.name}") for f in corpus.glob("h*/a/*.html")]
    found.sort()
    if not found:
        raise SystemExit(f"no corpus pages under {corpus} (generate them with `python -m bench.corpus`)")
    step = max(1, len(found) // max(1, limit))
    return found[::step][:limit]


def run_corpus(corpus: Path, limit: int, rounds: int) -> dict[str, Any]:
    pages = [(path.read_bytes(), url) for path, url in corpus_pages(corpus, limit)]
    texts = [body.decode("utf-8", errors="replace") for body, _ in pages]
    ours_calls = [_bind(_extract_corpus_page, body, url) for body, url in pages]
    plain_calls = [_bind(trafilatura.extract, text, url) for text, (_, url) in zip(texts, pages, strict=True)]
    sizes = sorted(len(body) for body, _ in pages)
    return {
        "corpus": str(corpus),
        "pages": len(pages),
        "median_bytes": sizes[len(sizes) // 2],
        "rounds": rounds,
        **compare_cost(ours_calls, plain_calls, rounds),
    }


def _extract_corpus_page(body: bytes, url: str) -> object:
    return extract_html(body, url=url, headers=_CORPUS_HEADERS)


def print_table(results: dict[str, Any]) -> None:
    q = results["quality"]
    t = results["throughput"]
    rows = [
        ("token recall (must_contain)", q["plain_trafilatura"]["recall"], q["scipol"]["recall"]),
        ("token precision (1 - leaked)", q["plain_trafilatura"]["precision"], q["scipol"]["precision"]),
        (
            "boilerplate snippets leaked",
            f"{q['plain_trafilatura']['leaks']}/{q['plain_trafilatura']['must_not_total']}",
            f"{q['scipol']['leaks']}/{q['scipol']['must_not_total']}",
        ),
        (
            "body starts right",
            f"{q['plain_trafilatura']['start_ok']}/{results['pages']}",
            f"{q['scipol']['start_ok']}/{results['pages']}",
        ),
        (
            "body ends right",
            f"{q['plain_trafilatura']['end_ok']}/{results['pages']}",
            f"{q['scipol']['end_ok']}/{results['pages']}",
        ),
        ("pages/s", t["plain_trafilatura_pages_per_s"], t["scipol_pages_per_s"]),
        ("ms/page", t["plain_trafilatura_ms_per_page"], t["scipol_ms_per_page"]),
    ]
    print(
        f"{results['pages']} golden pages, {results['rounds']} timed rounds, {results['extractor_version']}"
    )
    print(f"{'':32} {'trafilatura':>14} {'scipol':>14}")
    for label, a, b in rows:
        print(f"{label:32} {a!s:>14} {b!s:>14}")
    print(
        f"scipol time inside trafilatura: {t['scipol_inside_trafilatura_ms_per_page']} ms/page; "
        f"own work (decode, metadata, cleaning, language): {t['scipol_own_ms_per_page']} ms/page "
        f"= {100 * t['own_work_vs_plain_trafilatura']:.1f}% of plain trafilatura's time "
        f"(total {100 * t['total_vs_plain_trafilatura']:+.1f}%)"
    )
    print(f"golden pages with any field or snippet mismatch: {results['golden_pages_failing']}")
    goal = "met" if t["total_vs_plain_trafilatura"] <= 0.15 else "NOT met"
    print(f"cost goal (at most +15% over plain trafilatura.extract on decoded text): {goal}")
    c = results.get("corpus_throughput")
    if c:
        goal = "met" if c["total_vs_plain_trafilatura"] <= 0.15 else "NOT met"
        print(
            f"corpus ({c['pages']} pages, median {c['median_bytes']} bytes, {c['rounds']} rounds): "
            f"trafilatura {c['plain_trafilatura_ms_per_page']} ms/page, scipol {c['scipol_ms_per_page']} "
            f"ms/page ({c['scipol_inside_trafilatura_ms_per_page']} inside trafilatura), total "
            f"{100 * c['total_vs_plain_trafilatura']:+.1f}%: goal {goal}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "extraction_results.json")
    parser.add_argument("--corpus", type=Path, help="also time the bench corpus pages under this folder")
    parser.add_argument("--corpus-pages", type=int, default=300)
    parser.add_argument("--corpus-rounds", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    results = run(max(1, args.rounds))
    if args.corpus is not None:
        results["corpus_throughput"] = run_corpus(
            args.corpus, max(1, args.corpus_pages), max(1, args.corpus_rounds)
        )
    print_table(results)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
