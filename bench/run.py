"""The throughput bench: `scipol ingest` against a plain fetch+trafilatura baseline, in one run.

    python -m bench.run                       # 2,000 pages on 8 loopback hosts (make bench)
    python -m bench.run --pages 10000
    python -m bench.run --scaling --profile   # also 1 vs 2 ingest processes, and a py-spy profile

Steps, all against the same local site (bench/site.py, one host per source on 127.0.0.2, ...):

1. baseline: sitemap + pages with http.client in threads, `trafilatura.extract` in a process pool
   (one worker per core), nothing stored (bench/baseline.py);
2. `scipol ingest` into a fresh SQLite archive, then into a fresh PostgreSQL database (a throwaway
   server; skipped with a note when the binaries are missing), peak RSS of the process tree sampled
   every 100 ms;
3. a second SQLite run over the unchanged site (default policy: known articles the sitemap does not
   date after our copy are not requested), and a third with `--recheck-known` (a conditional
   request per known article: 304s);
4. with --scaling: 1 vs 2 concurrent ingest processes over disjoint halves of the hosts, one PostgreSQL;
5. with --profile: a py-spy profile of one SQLite ingest.

Steps 1 and the SQLite half of 2 and 3 run `--rounds` times (default 5), baseline and ingest back to
back in alternating order: the figures are the medians, the ratios the medians of each round's ratio
(this machine's speed drifts by 20-30 % within an hour; one pair measured minutes apart is not a ratio).

Results: `bench/results.json` and `bench/RESULTS.md` (notes after the marker line in RESULTS.md are
kept). Every server listens on 127.0.0.x only and is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from bench.corpus import HostEntry, generate_corpus
from bench.measure import (
    ThrowawayPostgres,
    Timed,
    find_pg_bindir,
    kill_tree,
    run_timed,
    summarize_collapsed,
)

log = logging.getLogger("bench.run")

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_PAGES = 2000
DEFAULT_HOSTS = 8
GOALS = {"ingest_vs_baseline": 1.5, "second_vs_first": 0.10, "peak_rss_mb_10k": 1024}
NOTES_MARKER = (
    "<!-- Notes below this line are written by hand and kept when the bench regenerates this file. -->"
)
PACKAGES = (
    "scrapy",
    "trafilatura",
    "lxml",
    "sqlalchemy",
    "psycopg",
    "prefect",
    "pydantic",
    "twisted",
    "langdetect",
    "py-spy",
)


# --- environment ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": packages,
    }


def _loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _child_env(spool: Path, prefect_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The plain CLI path: no Prefect API, so `scipol ingest` runs run_ingest directly.
    for key in ("PREFECT_API_URL", "SCIPOL_DATABASE_URL", "SCIPOL_EXTRACT_WORKERS", "SCIPOL_BATCH_SIZE"):
        env.pop(key, None)
    env["PREFECT_HOME"] = str(prefect_home)
    env["SCIPOL_SPOOL_DIR"] = str(spool)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# --- the site and its sources --------------------------------------------------------------------


class SiteProcess:
    """bench.site in a child process (its CPU is not the ingest's, its memory not in the ingest's tree)."""

    def __init__(self, corpus_dir: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.site", "--corpus", str(corpus_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()  # the site prints one line when it listens
        try:
            info = json.loads(line)
        except ValueError:
            self.stop()
            raise RuntimeError(f"bench site did not start: {line!r}") from None
        if "hosts" not in info:
            self.stop()
            raise RuntimeError(f"bench site did not start: {info}")
        self.hosts: dict[str, str] = info["hosts"]

    def stats(self) -> dict[str, Any]:
        with urlopen(next(iter(self.hosts.values())) + "/_bench/stats", timeout=10) as resp:
            return json.loads(resp.read())

    def answers_since(self, before: dict[str, int]) -> dict[str, int]:
        """Responses by status served since `before` (a `stats()["by_status"]`)."""
        after = self.stats()["by_status"]
        return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            kill_tree(self.proc.pid)
        self.proc.wait(timeout=10)


def source_id(host: HostEntry) -> str:
    return f"bench_{host.dir}"


def write_sources(path: Path, hosts: list[HostEntry], base_urls: dict[str, str]) -> list[str]:
    """The sources file: one source per host, no delay, up to 4 concurrent requests; the ids."""
    import yaml

    sources = []
    for h in hosts:
        base = base_urls[h.host]
        sources.append(
            {
                "id": source_id(h),
                "name": f"bench {h.site_name} ({h.layout}, {h.lang})",
                "feeds": [f"{base}/feed.xml"],
                "sitemaps": [f"{base}/sitemap.xml"],
                "default_language": h.lang,
                "allow_private_addresses": True,  # the bench hosts are loopback addresses
                "download_delay": 0,  # production sources use 2-5 s: throughput here is not politeness
                "concurrency": 4,
                "lookback_days": 36500,
                "page_budget": len(h.pages) + 20,  # articles + robots.txt, feed, sitemap, retries
            }
        )
    path.write_text(
        "# Generated by bench/run.py: one source per bench host.\n"
        + yaml.safe_dump({"sources": sources}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return [s["id"] for s in sources]


# --- one ingest ----------------------------------------------------------------------------------


def _report_totals(stdout: str) -> dict[str, Any]:
    """Totals of a `scipol ingest --json` report."""
    try:
        report = json.loads(stdout[stdout.index("{") :])
    except ValueError:
        return {"status": "unreadable report"}
    totals: dict[str, Any] = {"status": report.get("status")}
    for key in ("pages_fetched", "new_articles", "new_versions", "unchanged", "not_modified", "duplicates",
                "known_skipped"):
        totals[key] = sum(int(s.get(key, 0)) for s in report.get("sources", []))
    errors: dict[str, int] = {}
    for s in report.get("sources", []):
        for k, v in (s.get("errors") or {}).items():
            errors[k] = errors.get(k, 0) + int(v)
    totals["errors"] = errors
    totals["failed_sources"] = [
        s["source_id"] for s in report.get("sources", []) if s.get("status") == "failed"
    ]
    return totals


def ingest_cmd(sources_file: Path, db_url: str, ids: list[str] | None = None,
               extra: tuple[str, ...] = ()) -> list[str]:
    """`scipol ingest` on the plain CLI path (no Prefect API), with a JSON report on stdout."""
    cmd = [sys.executable, "-m", "flows.cli", "ingest", "--sources", str(sources_file), "--db", db_url, "--json",
           "--no-prefect"]
    for sid in ids or ():
        cmd += ["--source", sid]
    return cmd + list(extra)


def baseline_cmd(hosts: dict[str, str], threads: int) -> list[str]:
    """The baseline (bench/baseline.py) over the hosts a `SiteProcess` serves."""
    return [sys.executable, "-m", "bench.baseline", "--hosts", json.dumps(hosts), "--threads", str(threads)]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.work = Path(tempfile.mkdtemp(prefix="run-", dir=self._mkdir(self.out / "runs")))
        self.env = _child_env(self._mkdir(self.work / "spool"), self._mkdir(self.work / "prefect-home"))
        self.timeout_s = (
            600 + args.pages * 1.0
        )  # generous: a hung step must end, a slow machine must not fail

    @staticmethod
    def _mkdir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    def ingest(
        self,
        name: str,
        sources_file: Path,
        db_url: str,
        ids: list[str] | None = None,
        sample_memory: bool = True,
        extra: tuple[str, ...] = (),
    ) -> tuple[Timed, dict[str, Any]]:
        load = _loadavg()
        log.info("%s: starting (load average %.2f)", name, load or 0)
        timed = run_timed(
            ingest_cmd(sources_file, db_url, ids, extra),
            env=self.env,
            timeout_s=self.timeout_s,
            sample_memory=sample_memory,
            log_path=self.work / f"{name}.log",
            cwd=self.work,
        )
        totals = _report_totals(timed.stdout)
        totals["load_average_at_start"] = load
        if timed.returncode != 0:
            log.warning("%s exited with %s: %s", name, timed.returncode, timed.stderr_tail[-500:])
        log.info(
            "%s: %.1f s wall, %.1f s CPU, peak RSS %s MB, %s",
            name,
            timed.wall_s,
            timed.cpu_s,
            timed.peak_rss_mb,
            {k: totals.get(k) for k in ("pages_fetched", "new_articles", "not_modified")},
        )
        return timed, totals


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _rate(pages: int | None, seconds: float | None) -> float | None:
    return round(pages / seconds, 1) if pages and seconds else None


def run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    bench = Bench(args)
    corpus_dir = args.out / "corpus"
    t0 = time.perf_counter()
    hosts = generate_corpus(corpus_dir, args.pages, args.hosts, args.seed)
    corpus_s = round(time.perf_counter() - t0, 1)
    sizes = sorted(p.size for h in hosts for p in h.pages)
    pages = len(sizes)
    res: dict[str, Any] = {
        "pages": pages,
        "hosts": len(hosts),
        "seed": args.seed,
        "corpus": {
            "bytes_total": sum(sizes),
            "bytes_median": sizes[len(sizes) // 2],
            "bytes_min": sizes[0],
            "bytes_max": sizes[-1],
            "layouts": sorted({f"{h.layout}/{h.lang}" for h in hosts}),
            "generated_in_s": corpus_s,
        },
        "command": " ".join(["python", "-m", "bench.run", *map(shlex.quote, args.argv)]),
        "started_at": started_at.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "download_delay_s": 0,
            "concurrency_per_source": 4,
            "parallel_sources": 8,
            "extract_workers": os.cpu_count(),
            "batch_size": 50,
            "baseline_threads": args.threads,
            "postgres": "throwaway 15 server, fsync and synchronous_commit on, shared_buffers 128MB",
        },
        "baseline_s": None,
        "baseline_cpu_s": None,
        "ingest_sqlite_s": None,
        "ingest_sqlite_cpu_s": None,
        "ingest_postgres_s": None,
        "ingest_postgres_cpu_s": None,
        "ingest_postgres_server_cpu_s": None,
        "ingest_postgres_with_server_cpu_s": None,
        "second_run_s": None,
        "recheck_run_s": None,
        "peak_rss_mb": None,
        "peak_pss_mb": None,
        "postgres_note": None,
        "runs": {},
    }
    with ExitStack() as stack:
        site = SiteProcess(corpus_dir, bench.env)
        stack.callback(site.stop)
        sources_file = bench.work / "sources.yaml"
        ids = write_sources(sources_file, hosts, site.hosts)
        if args.keep:
            res["sources_file"] = str(sources_file)

        # 1-3. Rounds of: the baseline, a first ingest into a fresh SQLite archive and a second run over
        # the unchanged site. This machine's speed drifts by 20-30 % within an hour, so one baseline and
        # one ingest measured minutes apart can differ by that much for nothing; each round measures
        # both back to back, in alternating order, and the figures are the medians over the rounds.
        rounds: list[dict[str, Any]] = []
        peaks: list[float] = []
        pss: list[float] = []
        sqlite_url = ""
        for r in range(args.rounds):
            sqlite_url = f"sqlite:///{bench.work / f'archive-{r}.db'}"
            found: dict[str, Any] = {}
            for step in ("baseline", "ingest") if r % 2 == 0 else ("ingest", "baseline"):
                if step == "baseline":
                    found["baseline"] = _baseline(bench, site, args, pages)
                    continue
                first, first_totals = bench.ingest(f"ingest_sqlite_r{r}", sources_file, sqlite_url)
                found["ingest_sqlite"] = {**_timed_fields(first), **first_totals}
                before = site.stats()["by_status"]
                # The default policy: known articles are not requested again.
                second, second_totals = bench.ingest(f"second_run_sqlite_r{r}", sources_file, sqlite_url)
                found["second_run_sqlite"] = {**_timed_fields(second), **second_totals,
                                              "site_answers": site.answers_since(before)}
                peaks += [t.peak_rss_mb for t in (first, second) if t.peak_rss_mb is not None]
                pss += [t.peak_pss_mb for t in (first, second) if t.peak_pss_mb is not None]
            found["ratios"] = {
                "ingest_sqlite_vs_baseline": _ratio(found["ingest_sqlite"]["wall_s"], found["baseline"]["wall_s"]),
                "ingest_sqlite_vs_baseline_cpu": _ratio(found["ingest_sqlite"]["cpu_s"],
                                                        found["baseline"]["cpu_s"]),
                "second_vs_first": _ratio(found["second_run_sqlite"]["wall_s"], found["ingest_sqlite"]["wall_s"]),
            }
            log.info("round %d of %d: %s", r + 1, args.rounds, found["ratios"])
            rounds.append(found)
        res["rounds"] = rounds
        for key in ("baseline", "ingest_sqlite", "second_run_sqlite"):
            res["runs"][key] = _median_run([found[key] for found in rounds])
        res["baseline_s"], res["baseline_cpu_s"] = res["runs"]["baseline"]["wall_s"], res["runs"]["baseline"]["cpu_s"]
        res["ingest_sqlite_s"] = res["runs"]["ingest_sqlite"]["wall_s"]
        res["ingest_sqlite_cpu_s"] = res["runs"]["ingest_sqlite"]["cpu_s"]
        res["second_run_s"] = res["runs"]["second_run_sqlite"]["wall_s"]

        # A third run over the last round's archive, re-requesting every known article.
        before = site.stats()["by_status"]
        recheck, recheck_totals = bench.ingest("recheck_run_sqlite", sources_file, sqlite_url,
                                               extra=("--recheck-known",))
        res["recheck_run_s"] = recheck.wall_s
        res["runs"]["recheck_run_sqlite"] = {**_timed_fields(recheck), **recheck_totals,
                                             "site_answers": site.answers_since(before)}
        peaks += [t.peak_rss_mb for t in (recheck,) if t.peak_rss_mb is not None]
        pss += [t.peak_pss_mb for t in (recheck,) if t.peak_pss_mb is not None]

        # 4. PostgreSQL: first ingest, then 1 vs 2 concurrent processes over halves of the hosts
        bindir = None if args.no_postgres else find_pg_bindir()
        if bindir is None:
            res["postgres_note"] = (
                "skipped (--no-postgres)"
                if args.no_postgres
                else "PostgreSQL server binaries not found (apt-get install postgresql-15, "
                "or make postgres-bin): PostgreSQL figures are null"
            )
            log.warning("PostgreSQL: %s", res["postgres_note"])
        else:
            pg = ThrowawayPostgres(bindir)
            stack.callback(pg.stop)
            pg.start()
            res["settings"]["postgres_version"] = pg.version()
            pg_url = pg.create_database("bench_pg")
            server_before = pg.cpu_s()
            pg_first, pg_totals = bench.ingest("ingest_postgres", sources_file, pg_url)
            server_cpu = round(pg.cpu_s() - server_before, 2)
            res["ingest_postgres_s"], res["ingest_postgres_cpu_s"] = pg_first.wall_s, pg_first.cpu_s
            res["ingest_postgres_server_cpu_s"] = server_cpu
            res["ingest_postgres_with_server_cpu_s"] = round(pg_first.cpu_s + server_cpu, 2)
            res["runs"]["ingest_postgres"] = {**_timed_fields(pg_first), **pg_totals, "server_cpu_s": server_cpu}
            peaks.append(pg_first.peak_rss_mb or 0)
            pss.append(pg_first.peak_pss_mb or 0)
            if args.scaling:
                res["scaling"] = scaling(bench, pg, sources_file, ids, pages, pg_first)
        res["peak_rss_mb"] = max(peaks) if peaks else None
        res["peak_pss_mb"] = max(pss) if pss else None

        # 5. profile (optional): one more SQLite ingest into a fresh archive under py-spy
        if args.profile:
            res["profile"] = profile(bench, sources_file, pages)

    res["ratios"] = {
        # Per round (baseline and ingest back to back), then the median over the rounds.
        "ingest_sqlite_vs_baseline": _median_ratio(res["rounds"], "ingest_sqlite_vs_baseline"),
        "ingest_postgres_vs_baseline": _ratio(res["ingest_postgres_s"], res["baseline_s"]),
        "second_vs_first": _median_ratio(res["rounds"], "second_vs_first"),
        "recheck_vs_first": _ratio(res.get("recheck_run_s"), res["ingest_sqlite_s"]),
        "ingest_sqlite_vs_baseline_cpu": _median_ratio(res["rounds"], "ingest_sqlite_vs_baseline_cpu"),
        "ingest_postgres_vs_baseline_cpu": _ratio(res["ingest_postgres_cpu_s"], res["baseline_cpu_s"]),
        # The server shares the machine's cores with the ingest: its CPU counts against the same budget.
        "ingest_postgres_with_server_vs_baseline_cpu": _ratio(
            res.get("ingest_postgres_with_server_cpu_s"), res["baseline_cpu_s"]),
    }
    res["throughput_pages_per_s"] = {
        "baseline": _rate(pages, res["baseline_s"]),
        "ingest_sqlite": _rate(pages, res["ingest_sqlite_s"]),
        "ingest_postgres": _rate(pages, res["ingest_postgres_s"]),
    }
    res["goals"] = {
        "ingest_vs_baseline_max": GOALS["ingest_vs_baseline"],
        "second_vs_first_max": GOALS["second_vs_first"],
        "peak_rss_mb_max_at_10000_pages": GOALS["peak_rss_mb_10k"],
        "ingest_vs_baseline_met": _met(
            res["ratios"]["ingest_sqlite_vs_baseline"], GOALS["ingest_vs_baseline"]
        ),
        "second_vs_first_met": _met(res["ratios"]["second_vs_first"], GOALS["second_vs_first"]),
        "recheck_vs_first_met": _met(res["ratios"]["recheck_vs_first"], GOALS["second_vs_first"]),
        "peak_rss_met": _met(res["peak_rss_mb"], GOALS["peak_rss_mb_10k"]) if pages >= 10000 else None,
    }
    res["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if not args.keep:
        shutil.rmtree(bench.work, ignore_errors=True)
    return res


def _baseline(bench: Bench, site: SiteProcess, args: argparse.Namespace, pages: int) -> dict[str, Any]:
    """One baseline run: plain fetch + trafilatura over every page."""
    load = _loadavg()
    log.info("baseline: plain fetch + trafilatura over %d pages (load average %.2f)", pages, load or 0)
    base = run_timed(
        baseline_cmd(site.hosts, args.threads),
        env=bench.env,
        timeout_s=bench.timeout_s,
        # Sampled as the ingest is: the sampler's own CPU then weighs on both sides of the ratio.
        sample_memory=True,
        log_path=bench.work / "baseline.log",
        cwd=ROOT,
    )
    if base.returncode != 0:
        raise RuntimeError(f"baseline failed: {base.stderr_tail}")
    base_out = json.loads(base.stdout.strip().splitlines()[-1])
    log.info("baseline: %.1f s wall, %.1f s CPU, %s", base.wall_s, base.cpu_s, base_out)
    return {**base_out, "wall_s": base.wall_s, "cpu_s": base.cpu_s, "peak_rss_mb": base.peak_rss_mb,
            "load_average_at_start": load}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda x: x["wall_s"])
    return ordered[(len(ordered) - 1) // 2]


def _median_ratio(rounds: list[dict[str, Any]], key: str) -> float | None:
    values = [x["ratios"][key] for x in rounds if x["ratios"].get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def _met(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _timed_fields(t: Timed) -> dict[str, Any]:
    return {
        "wall_s": t.wall_s,
        "cpu_s": t.cpu_s,
        "peak_rss_mb": t.peak_rss_mb,
        "peak_pss_mb": t.peak_pss_mb,
        "peak_processes": t.peak_processes,
        "returncode": t.returncode,
    }


def scaling(
    bench: Bench, pg: ThrowawayPostgres, sources_file: Path, ids: list[str], pages: int, one: Timed
) -> dict[str, Any]:
    """Two ingest processes at once, each over half of the hosts, into one fresh PostgreSQL database."""
    url = pg.create_database("bench_pg_scaling")
    halves = [ids[0::2], ids[1::2]]
    log.info("scaling: 2 concurrent ingest processes over %s + %s", halves[0], halves[1])
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(bench.ingest, f"scaling_half_{i}", sources_file, url, half, True)
            for i, half in enumerate(halves)
        ]
        results = [f.result() for f in futures]
    wall = round(time.perf_counter() - started, 3)
    fetched = sum(int(t.get("pages_fetched", 0)) for _, t in results)
    return {
        "one_process_s": one.wall_s,
        "two_processes_s": wall,
        "one_process_pages_per_s": _rate(pages, one.wall_s),
        "two_processes_pages_per_s": _rate(fetched, wall),
        "speedup": _ratio(one.wall_s, wall),
        "halves": [
            {"sources": h, **_timed_fields(t), **tot} for h, (t, tot) in zip(halves, results, strict=True)
        ],
        "peak_rss_mb_sum_of_both": round(sum(t.peak_rss_mb or 0 for t, _ in results), 1),
    }


def profile(bench: Bench, sources_file: Path, pages: int) -> dict[str, Any]:
    """One SQLite ingest under py-spy (all subprocesses); the top costs outside trafilatura/lxml."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return {"note": "py-spy not installed (pip install py-spy)"}
    raw = bench.work / "profile.txt"
    cmd = [
        spy,
        "record",
        "--subprocesses",
        "--nonblocking",
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(raw),
        "--",
        *ingest_cmd(sources_file, f"sqlite:///{bench.work / 'profile.db'}"),
    ]
    log.info("profile: py-spy over one SQLite ingest")
    timed = run_timed(
        cmd, env=bench.env, timeout_s=bench.timeout_s * 2, log_path=bench.work / "profile.log", cwd=bench.work
    )
    if timed.returncode != 0 or not raw.exists():
        return {"note": f"py-spy failed ({timed.returncode}): {timed.stderr_tail[-500:]}"}
    keep = bench.args.out / f"profile-{pages}.txt"
    shutil.copy(raw, keep)
    summary = summarize_collapsed(raw)
    return {
        "tool": "py-spy record --subprocesses --nonblocking --rate 100",
        "wall_s_under_profiler": timed.wall_s,
        "collapsed_stacks": str(keep.relative_to(ROOT)) if keep.is_relative_to(ROOT) else str(keep),
        **asdict(summary),
    }


# --- results files -------------------------------------------------------------------------------

OPTIONAL_SECTIONS = ("scaling", "profile")
"""Measured only on request (--scaling, --profile): a run without them keeps the previous figures."""


def merge_results(path: Path, res: dict[str, Any]) -> dict[str, Any]:
    """The default-size run is the file's top level; runs of other sizes go under `other_runs`.

    Optional sections a run did not measure are carried over from the previous run of the same
    size, with the command and time they come from.
    """
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    other = dict(old.get("other_runs", {}))
    previous = old if old.get("pages") == res["pages"] else other.get(str(res["pages"]), {})
    res = dict(res)
    for key in OPTIONAL_SECTIONS:
        if key not in res and key in previous:
            section = dict(previous[key])
            section.setdefault("measured_by", previous.get("command"))
            section.setdefault("measured_at", previous.get("finished_at"))
            res[key] = section
    if old.get("pages") == DEFAULT_PAGES and res["pages"] != DEFAULT_PAGES:
        other[str(res["pages"])] = res
        return {**old, "other_runs": other}
    other.pop(str(res["pages"]), None)
    return {**res, "other_runs": other} if other else res


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.3f}{unit}" if v < 1 else f"{v:,.1f}{unit}"
    return f"{v}{unit}"


def _fmt_ratio(v: float | None) -> str:
    """A ratio with enough digits to be read against its goal (1.45 is not 1.4)."""
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


def _measured_by(section: dict[str, Any]) -> str:
    if not section.get("measured_by"):
        return ""
    return f" (from an earlier run: `{section['measured_by']}`, {section.get('measured_at')})"


def render_markdown(data: dict[str, Any], old_text: str = "") -> str:
    m = data["machine"]
    r = data["ratios"]
    runs = data["runs"]
    lines = [
        "# Ingest throughput bench",
        "",
        f"Generated by `{data['command']}` at {data['finished_at']} (`make bench` runs the default: "
        f"{DEFAULT_PAGES} pages). Raw figures: `bench/results.json`.",
        "",
        f"**Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}, Python {m['python']}, "
        f"SQLite {m['sqlite']}, {data['settings'].get('postgres_version', 'no PostgreSQL')}. Packages: "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
        + ".",
        "",
        f"**Corpus:** {data['pages']} pages on {data['hosts']} loopback hosts (one source each), "
        f"{data['corpus']['bytes_total'] / 1e6:,.0f} MB, median {data['corpus']['bytes_median'] / 1000:.0f} KB "
        f"({data['corpus']['bytes_min'] / 1000:.0f}-{data['corpus']['bytes_max'] / 1000:.0f} KB), layouts "
        f"{', '.join(data['corpus']['layouts'])}, seed {data['seed']}.",
        "",
        "| step | wall s | CPU s | pages/s | peak RSS MB (tree) | what happened |",
        "|---|---:|---:|---:|---:|---|",
    ]
    b = runs.get("baseline", {})
    lines.append(
        f"| baseline: http.client + trafilatura.extract, {b.get('workers')} procs | {_fmt(data['baseline_s'])} | "
        f"{_fmt(data['baseline_cpu_s'])} | {_fmt(data['throughput_pages_per_s']['baseline'])} | "
        f"{_fmt(b.get('peak_rss_mb'))} | "
        f"{b.get('fetched')} fetched, {b.get('with_text')} with text |"
    )
    for key, label in (
        ("ingest_sqlite", "scipol ingest, SQLite"),
        ("second_run_sqlite", "second run, SQLite (default: known articles not re-requested)"),
        ("recheck_run_sqlite", "third run, SQLite, `--recheck-known` (a conditional request each)"),
        ("ingest_postgres", "scipol ingest, PostgreSQL"),
    ):
        x = runs.get(key)
        if not x:
            lines.append(f"| {label} | n/a | n/a | n/a | n/a | {data.get('postgres_note') or 'not run'} |")
            continue
        what = (
            f"{x.get('pages_fetched')} fetched, {x.get('new_articles')} new, {x.get('not_modified')} x 304, "
            f"{x.get('unchanged')} unchanged, {x.get('known_skipped', 0)} known not requested, "
            f"errors {x.get('errors') or 0}"
        )
        if x.get("server_cpu_s") is not None:
            what += f"; the PostgreSQL server used {_fmt(x['server_cpu_s'])} CPU s more (same cores)"
        lines.append(
            f"| {label} | {_fmt(x['wall_s'])} | {_fmt(x['cpu_s'])} | "
            f"{_fmt(_rate(data['pages'], x['wall_s']))} | {_fmt(x['peak_rss_mb'])} | {what} |"
        )
    lines += [
        "",
        "| ratio | value | goal |",
        "|---|---:|---:|",
        f"| ingest (SQLite) / baseline, wall | {_fmt_ratio(r['ingest_sqlite_vs_baseline'])} "
        f"| <= {GOALS['ingest_vs_baseline']} |",
        f"| ingest (PostgreSQL) / baseline, wall | {_fmt_ratio(r['ingest_postgres_vs_baseline'])} "
        f"| <= {GOALS['ingest_vs_baseline']} |",
        f"| ingest (SQLite) / baseline, CPU | {_fmt_ratio(r['ingest_sqlite_vs_baseline_cpu'])} | - |",
        f"| ingest (PostgreSQL) / baseline, CPU, the server's included "
        f"| {_fmt_ratio(r.get('ingest_postgres_with_server_vs_baseline_cpu'))} | - |",
        f"| second run / first run (SQLite), wall | {_fmt(r['second_vs_first'])} | <= {GOALS['second_vs_first']} |",
        f"| `--recheck-known` run / first run (SQLite), wall | {_fmt(r.get('recheck_vs_first'))} "
        f"| <= {GOALS['second_vs_first']} |",
        f"| peak RSS of the ingest process tree, MB | {_fmt(data['peak_rss_mb'])} (PSS {_fmt(data['peak_pss_mb'])}) "
        f"| < {GOALS['peak_rss_mb_10k']} at 10,000 pages |",
    ]
    rounds = data.get("rounds") or []
    if rounds:
        lines += [
            "",
            f"**Rounds:** {len(rounds)}, each a baseline and a first SQLite ingest back to back (alternating "
            "which goes first) and a second run; the table shows each step's median run, the ratios are the "
            "medians of the per-round ratios. Per round: "
            + "; ".join(
                f"baseline {_fmt(x['baseline']['wall_s'])} s, ingest {_fmt(x['ingest_sqlite']['wall_s'])} s "
                f"(x{_fmt_ratio(x['ratios']['ingest_sqlite_vs_baseline'])}, CPU "
                f"x{_fmt_ratio(x['ratios']['ingest_sqlite_vs_baseline_cpu'])}), second run "
                f"{_fmt(x['second_run_sqlite']['wall_s'])} s ({_fmt(x['ratios']['second_vs_first'])})"
                for x in rounds
            )
            + ".",
        ]
    sc = data.get("scaling")
    if sc:
        lines += [
            "",
            "**Scaling, one PostgreSQL:** 1 process over all hosts "
            f"{_fmt(sc['one_process_s'])} s ({_fmt(sc['one_process_pages_per_s'])} pages/s); 2 concurrent processes "
            f"over disjoint halves {_fmt(sc['two_processes_s'])} s ({_fmt(sc['two_processes_pages_per_s'])} pages/s): "
            f"speed-up x{_fmt(sc['speedup'])}; their RSS peaks sum to {_fmt(sc['peak_rss_mb_sum_of_both'])} MB."
            + _measured_by(sc),
        ]
    for pages_key, other in sorted(data.get("other_runs", {}).items(), key=lambda kv: int(kv[0])):
        o = other["ratios"]
        lines += [
            "",
            f"**Run with {pages_key} pages** (`{other['command']}`, {other['finished_at']}): baseline "
            f"{_fmt(other['baseline_s'])} s, ingest SQLite {_fmt(other['ingest_sqlite_s'])} s "
            f"(x{_fmt_ratio(o['ingest_sqlite_vs_baseline'])}), PostgreSQL {_fmt(other['ingest_postgres_s'])} s, "
            f"second run {_fmt(other['second_run_s'])} s (x{_fmt(o['second_vs_first'])}), peak RSS "
            f"{_fmt(other['peak_rss_mb'])} MB (PSS {_fmt(other['peak_pss_mb'])} MB).",
        ]
    prof = data.get("profile")
    if prof and "top_self" in prof:
        lines += [
            "",
            f"**Profile** ({prof['tool']}, {prof['samples']} samples, "
            f"{_fmt(prof['wall_s_under_profiler'])} s under the profiler): "
            + ", ".join(f"{k} {v} %" for k, v in prof["by_process"])
            + f"; {prof['library_share']} % of samples inside trafilatura/lxml/htmldate."
            + _measured_by(prof),
            "",
            "| top costs outside trafilatura/lxml/htmldate (self time) | % of samples |",
            "|---|---:|",
        ]
        lines += [f"| `{k}` | {v} |" for k, v in prof["top_self"]]
        lines += ["", "| our functions, inclusive | % of samples |", "|---|---:|"]
        lines += [f"| `{k}` | {v} |" for k, v in prof["top_inclusive"]]
    lines += [
        "",
        "## Settings",
        "",
        "- Download delay **0** and up to 4 concurrent requests per source (production sources use 2-5 s and 1): "
        "this measures the pipeline, not politeness. AutoThrottle stays on as in production.",
        "- `scipol ingest --no-prefect` (the plain CLI path, `run_ingest`: up to "
        f"{data['settings']['parallel_sources']} sources in threads, one pool of "
        f"{data['settings']['extract_workers']} extraction workers forked from a forkserver, batches of 50 stored "
        "per source).",
        f"- PostgreSQL: {data['settings']['postgres']}.",
        "- CPU s is user+system time of the whole process tree (all crawls and workers): other work on a shared "
        "machine stretches wall time but not CPU time. Load average at each step's start is in results.json.",
        "",
        NOTES_MARKER,
    ]
    kept = old_text.split(NOTES_MARKER, 1)[1] if NOTES_MARKER in old_text else "\n"
    return "\n".join(lines) + kept


def write_results(res: dict[str, Any], results_dir: Path) -> dict[str, Any]:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "results.json"
    data = merge_results(path, res)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md = results_dir / "RESULTS.md"
    old = md.read_text(encoding="utf-8") if md.exists() else ""
    md.write_text(render_markdown(data, old), encoding="utf-8")
    return data


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES)
    parser.add_argument(
        "--hosts", type=int, default=DEFAULT_HOSTS, help="Loopback hosts = sources (max 250)."
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--threads", type=int, default=16, help="Fetch threads of the baseline.")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="Corpus and scratch files.")
    parser.add_argument(
        "--results-dir", type=Path, default=BENCH_DIR, help="Where results.json and RESULTS.md go."
    )
    parser.add_argument("--no-postgres", action="store_true", help="Skip the PostgreSQL ingest and scaling.")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="Also run 2 concurrent ingest processes over halves of the hosts (one PostgreSQL).",
    )
    parser.add_argument("--profile", action="store_true", help="Also profile one SQLite ingest with py-spy.")
    parser.add_argument("--keep", action="store_true", help="Keep the run's scratch folder (logs, archives).")
    parser.add_argument(
        "--rounds", type=int, default=5,
        help="Rounds of baseline + SQLite ingest + second run; the figures are their medians.",
    )
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    args.argv = raw
    if not 1 <= args.hosts <= 250 or args.pages < 1 or args.rounds < 1:
        parser.error("--pages and --rounds must be >= 1 and --hosts 1..250")
    return args


def summary_lines(res: dict[str, Any]) -> list[str]:
    r = res["ratios"]
    return [
        f"pages {res['pages']} on {res['hosts']} hosts",
        f"baseline        {_fmt(res['baseline_s'])} s  (CPU {_fmt(res['baseline_cpu_s'])} s)",
        f"ingest SQLite   {_fmt(res['ingest_sqlite_s'])} s  (CPU {_fmt(res['ingest_sqlite_cpu_s'])} s)  "
        f"ratio {_fmt_ratio(r['ingest_sqlite_vs_baseline'])} (goal <= {GOALS['ingest_vs_baseline']})",
        f"ingest Postgres {_fmt(res['ingest_postgres_s'])} s  ratio {_fmt_ratio(r['ingest_postgres_vs_baseline'])}"
        + (f"  [{res['postgres_note']}]" if res.get("postgres_note") else ""),
        f"second run      {_fmt(res['second_run_s'])} s  ratio {_fmt(r['second_vs_first'])} "
        f"(goal <= {GOALS['second_vs_first']})",
        f"--recheck-known {_fmt(res.get('recheck_run_s'))} s  ratio {_fmt(r.get('recheck_vs_first'))}",
        f"peak RSS        {_fmt(res['peak_rss_mb'])} MB (PSS {_fmt(res['peak_pss_mb'])} MB; goal < "
        f"{GOALS['peak_rss_mb_10k']} MB at 10,000 pages)",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        res = run(args)
    except KeyboardInterrupt:
        log.warning("interrupted: every server and child process was stopped")
        return 130
    write_results(res, args.results_dir)
    print("\n".join(summary_lines(res)))
    print(f"results: {args.results_dir / 'results.json'}, {args.results_dir / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
