"""The bench machinery on a tiny corpus: generator, multi-host site, profile reader, and one whole run."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest

from bench.corpus import MAX_BYTES, MIN_BYTES, generate_corpus, load_manifest
from bench.measure import (
    ThrowawayPostgres,
    _alive,
    cpu_seconds,
    find_pg_bindir,
    process_tree,
    run_timed,
    summarize_collapsed,
)
from bench.run import NOTES_MARKER, main, write_results
from bench.site import BenchSites


def _get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_corpus_is_the_same_for_the_same_seed_and_pages_are_article_sized(tmp_path: Path) -> None:
    a = generate_corpus(tmp_path / "a", pages=10, hosts=3, seed=7)
    b = generate_corpus(tmp_path / "b", pages=10, hosts=3, seed=7)
    c = generate_corpus(tmp_path / "c", pages=10, hosts=3, seed=8)
    digests = [p.sha256 for h in a for p in h.pages]
    assert digests == [p.sha256 for h in b for p in h.pages]
    assert digests != [p.sha256 for h in c for p in h.pages]
    assert len(digests) == len(set(digests)) == 10
    assert [h.host for h in a] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert {(h.layout, h.lang) for h in a} == {("news", "en"), ("gov", "zh"), ("wechat", "zh")}
    for h in a:
        for p in h.pages:
            body = (tmp_path / "a" / p.file).read_bytes()
            assert MIN_BYTES * 0.95 <= len(body) <= MAX_BYTES * 1.05
            # The furniture real pages carry: inline scripts, and a site menu (WeChat pages have none).
            assert b"<script" in body and (b"<nav" in body or h.layout == "wechat")
    assert load_manifest(tmp_path / "a") == a  # a second call reuses the files


def test_each_host_serves_its_own_feed_sitemap_and_pages_with_304s(tmp_path: Path) -> None:
    hosts = generate_corpus(tmp_path, pages=6, hosts=2, seed=1)
    with BenchSites(tmp_path, hosts) as sites:
        urls = sites.base_urls()
        assert set(urls) == {"127.0.0.2", "127.0.0.3"}
        for h in hosts:
            base = urls[h.host]
            status, _, sitemap = _get(base, "/sitemap.xml")
            assert status == 200
            locs = re.findall(r"<loc>([^<]+)</loc>", sitemap.decode())
            assert locs == [base + p.path for p in h.pages]
            assert _get(base, "/feed.xml")[0] == 200
            assert _get(base, "/robots.txt")[0] == 200
            page = h.pages[0]
            status, headers, body = _get(base, page.path)
            assert status == 200 and body == (tmp_path / page.file).read_bytes()
            assert _get(base, page.path, {"If-None-Match": headers["etag"]})[0] == 304
            assert _get(base, page.path, {"If-Modified-Since": headers["last-modified"]})[0] == 304
            assert _get(base, page.path, {"If-None-Match": '"other"'})[0] == 200
        # A page of one host is not served by another.
        assert _get(urls["127.0.0.3"], hosts[0].pages[0].path)[0] == 404
        stats = json.loads(_get(urls["127.0.0.2"], "/_bench/stats")[2])
        assert stats["by_status"]["304"] == 4 and stats["by_status"]["404"] == 1


def test_profile_summary_splits_processes_and_leaves_library_frames_out(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    main_proc = 'process 10:"python -m flows.cli ingest --json"'
    worker = 'process 11:"python -c from multiprocessing.spawn import spawn_main; spawn_main(pipe_handle=5)"'
    crawl = 'process 12:"python -m crawlers.crawl_main job.json"'
    extract = "_extract (crawlers/extract/article.py:150)"
    raw.write_text(
        "\n".join(
            [
                f"{main_proc};run_ingest (flows/runs.py:50);store (storage/archive.py:300) 30",
                f"{main_proc};{worker};{extract};bare_extraction (trafilatura/core.py:9) 50",
                f"{main_proc};{worker};{extract};clean_text (crawlers/extract/cleaning.py:9) 10",
                f"{main_proc};{crawl};parse_article (crawlers/spiders/source.py:380) 10",
            ]
        )
        + "\n"
    )
    s = summarize_collapsed(raw)
    assert s.samples == 100
    assert dict(s.by_process) == {
        "extraction workers": 60.0,
        "ingest main process": 30.0,
        "crawl subprocesses (scrapy)": 10.0,
    }
    assert s.library_share == 50.0
    top = dict(s.top_self)
    # trafilatura's own time is the library share, not listed among our costs.
    assert top == {
        "storage/archive.py:store": 30.0,
        "crawlers/extract/cleaning.py:clean_text": 10.0,
        "crawlers/spiders/source.py:parse_article": 10.0,
    }
    assert dict(s.top_inclusive)["crawlers/extract/article.py:_extract"] == 60.0


def test_process_tree_finds_this_process() -> None:
    import os

    assert process_tree(os.getpid())[0] == os.getpid()


def test_a_timed_run_reports_the_exit_code_output_and_cpu_of_its_tree() -> None:
    import sys

    # The child spins in a grandchild for a while: the CPU figure covers the whole tree it waited for.
    script = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
              "'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass']); "
              "print('done'); sys.exit(3)")
    timed = run_timed([sys.executable, "-c", script], timeout_s=60)
    assert timed.returncode == 3
    assert timed.stdout.strip() == "done"
    assert timed.cpu_s >= 0.3


def test_a_timed_run_that_hangs_is_killed_with_its_children_at_the_timeout(tmp_path: Path) -> None:
    import sys
    import time

    pid_file = tmp_path / "grandchild.pid"
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    with pytest.raises(TimeoutError):
        run_timed([sys.executable, "-c", script], timeout_s=1.5)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)  # gone, or a zombie waiting for whoever adopted it


def test_the_throwaway_server_counts_the_cpu_of_live_and_exited_backends() -> None:
    import os
    import time

    import psycopg

    bindir = find_pg_bindir()
    assert bindir is not None, "PostgreSQL server binaries are installed by the test set-up (make postgres-bin)"
    server = ThrowawayPostgres(bindir)
    server.start()
    try:
        dsn = server.create_database("cpu").replace("postgresql+psycopg://", "postgresql://")
        before = server.cpu_s()
        conn = psycopg.connect(dsn)
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT sum(i) FROM generate_series(1, 4000000) AS i").fetchone()
        used = cpu_seconds(backend)
        assert used >= 0.05  # the query kept its backend busy (the figures below are only as good as this)
        # Clock ticks (1/100 s) in float: one tick of slack for rounding in the subtraction.
        assert server.cpu_s() - before >= used - 0.01  # a live backend is counted
        conn.close()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{backend}") and time.monotonic() < deadline:
            time.sleep(0.02)  # until the postmaster has reaped it
        assert not os.path.exists(f"/proc/{backend}")
        assert server.cpu_s() - before >= used - 0.02  # and still after it exited
    finally:
        server.stop()


REQUIRED_KEYS = {
    "pages",
    "baseline_s",
    "ingest_sqlite_s",
    "ingest_postgres_s",
    "second_run_s",
    "peak_rss_mb",
    "ratios",
    "machine",
    "command",
    "runs",
    "goals",
    "settings",
    "throughput_pages_per_s",
}


@pytest.mark.timeout(300)
def test_a_tiny_bench_run_writes_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    (results_dir / "RESULTS.md").write_text(f"old\n{NOTES_MARKER}\nHand-written finding.\n")
    rc = main(
        [
            "--pages",
            "20",
            "--hosts",
            "2",
            "--no-postgres",
            "--out",
            str(tmp_path / "out"),
            "--results-dir",
            str(results_dir),
            "--rounds",
            "2",
        ]
    )
    assert rc == 0
    data = json.loads((results_dir / "results.json").read_text())
    assert REQUIRED_KEYS <= set(data)
    assert data["pages"] == 20 and data["hosts"] == 2
    assert (
        data["command"] == "python -m bench.run --pages 20 --hosts 2 --no-postgres --out "
        f"{tmp_path / 'out'} --results-dir {results_dir} --rounds 2"
    )
    for key in ("baseline_s", "ingest_sqlite_s", "second_run_s"):
        assert data[key] > 0
    assert data["ingest_postgres_s"] is None and "skipped" in data["postgres_note"]
    assert 50 < data["peak_rss_mb"] < 4096 and data["peak_pss_mb"] <= data["peak_rss_mb"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["packages"]["trafilatura"]
    runs = data["runs"]
    assert runs["baseline"]["fetched"] == 20 and runs["baseline"]["with_text"] == 20
    assert runs["ingest_sqlite"]["pages_fetched"] == 20 and runs["ingest_sqlite"]["new_articles"] == 20
    assert runs["ingest_sqlite"]["errors"] == {}
    # The second run over the unchanged site requests no known article (the sitemap dates none after
    # our copy); the third, with --recheck-known, requests each conditionally and gets 304s.
    second, third = runs["second_run_sqlite"], runs["recheck_run_sqlite"]
    assert second["pages_fetched"] == 0 and second["known_skipped"] == 20 and second["new_versions"] == 0
    # Only robots.txt, feeds and sitemaps are fetched (a few per host), never an article.
    assert "304" not in second["site_answers"] and second["site_answers"].get("200", 0) <= 4 * data["hosts"]
    assert third["not_modified"] == 20 and third["new_versions"] == 0 and third["site_answers"]["304"] == 20
    assert data["ratios"]["recheck_vs_first"] == round(data["recheck_run_s"] / data["ingest_sqlite_s"], 3)
    # Each round measures the baseline and a first ingest into a fresh archive back to back; the ratios are
    # the medians of the rounds' own ratios, and each step's figure is one of its rounds' runs.
    rounds = data["rounds"]
    assert len(rounds) == 2
    for x in rounds:
        assert x["ingest_sqlite"]["new_articles"] == 20 and x["second_run_sqlite"]["known_skipped"] == 20
        first, base, second = x["ingest_sqlite"]["wall_s"], x["baseline"]["wall_s"], x["second_run_sqlite"]["wall_s"]
        assert x["ratios"]["ingest_sqlite_vs_baseline"] == round(first / base, 3)
        assert x["ratios"]["second_vs_first"] == round(second / first, 3)
    for key in ("ingest_sqlite_vs_baseline", "second_vs_first", "ingest_sqlite_vs_baseline_cpu"):
        assert data["ratios"][key] == round(sum(x["ratios"][key] for x in rounds) / 2, 3)
    assert data["ingest_sqlite_s"] in {x["ingest_sqlite"]["wall_s"] for x in rounds}
    assert data["baseline_s"] == min(x["baseline"]["wall_s"] for x in rounds)  # lower middle of two
    md = (results_dir / "RESULTS.md").read_text()
    assert "| baseline" in md and "Hand-written finding." in md and "old\n" not in md
    assert "pages 20 on 2 hosts" in capsys.readouterr().out
    # A run of another size is kept beside the default one, not over it.
    data["pages"] = 2000
    (results_dir / "results.json").write_text(json.dumps(data))
    write_results({**data, "pages": 20, "command": "again"}, results_dir)
    merged = json.loads((results_dir / "results.json").read_text())
    assert merged["pages"] == 2000 and merged["other_runs"]["20"]["command"] == "again"
