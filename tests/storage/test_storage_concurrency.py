"""Concurrent writers and crashes (RELIABILITY.md D5, D6, E1): no duplicates, no gaps, no lost or
doubled rows, no "database is locked"."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))

import archive_scenarios  # noqa: E402
from archive_scenarios import SEQUENCE, expected_versions, revisits, scenario  # noqa: E402

from storage import Archive  # noqa: E402
from storage.db import upgrade  # noqa: E402

logger = logging.getLogger(__name__)
N_URLS = 8
REPO = Path(__file__).resolve().parents[2]


def check_archive(url: str, *, writers: int) -> dict[str, int]:
    """Assert the invariants after the standard scenario; return the figures."""
    archive = Archive.open(url)
    try:
        with archive.engine.connect() as conn:
            per_article = conn.execute(text(
                "SELECT article_id, COUNT(*), MIN(version_no), MAX(version_no), COUNT(DISTINCT version_no) "
                "FROM article_versions GROUP BY article_id")).all()
            urls = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT canonical_url) FROM articles")).one()
            latest_ok = conn.execute(text(
                "SELECT COUNT(*) FROM articles a JOIN article_versions v ON v.article_id = a.id "
                "AND v.version_no = a.latest_version_no")).scalar()
            repeats = conn.execute(text(
                "SELECT COUNT(*) FROM article_versions v JOIN article_versions p "
                "ON p.article_id = v.article_id AND p.version_no = v.version_no - 1 "
                "WHERE p.text_hash = v.text_hash AND p.title = v.title")).scalar()
        counts = archive.counts()
    finally:
        archive.close()
    versions = expected_versions()
    assert tuple(urls) == (N_URLS, N_URLS)  # one article per URL
    assert latest_ok == N_URLS
    assert repeats == 0  # every version differs from the one before it
    for _article, n, lo, hi, distinct in per_article:
        assert (n, lo, hi, distinct) == (versions, 1, versions, versions)  # gapless, exactly as expected
    assert counts["article_versions"] == N_URLS * versions
    assert counts["captures"] == N_URLS * len(SEQUENCE) + N_URLS * writers
    assert counts["store_outcomes"] == counts["captures"]  # every capture processed exactly once
    return counts


def test_eight_processes_write_the_same_urls_into_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"  # not migrated: the workers also race to create the schema
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        failures = [f for f in pool.starmap(archive_scenarios.write_scenario, [(url, i) for i in range(8)]) if f]
    assert failures == []  # no "database is locked" or anything else
    counts = check_archive(url, writers=8)
    logger.info("D5 figures: %s", counts)


def test_sixteen_concurrent_writers_into_postgresql(pg_url: str) -> None:
    with ThreadPoolExecutor(16) as pool:
        failures = [f for f in pool.map(archive_scenarios.write_scenario, [pg_url] * 16, range(16)) if f]
    assert failures == []
    counts = check_archive(pg_url, writers=16)
    logger.info("D6 figures: %s", counts)


def _write_shuffled(url: str, worker_no: int) -> str:
    """The standard scenario with every batch in a worker-specific order and chunk size: the writers
    lock overlapping sets of articles in one transaction each. '' on success, else the traceback."""
    rng = random.Random(worker_no)
    try:
        archive = Archive.open(url)
        archive.store_chunk = (3, 5, 50)[worker_no % 3]
        try:
            for batch in scenario(N_URLS):
                archive.store(rng.sample(batch, len(batch)), run_id=f"shuffled-{worker_no}")
            archive.store(rng.sample(revisits(worker_no), N_URLS), run_id=f"shuffled-{worker_no}")
        finally:
            archive.close()
        return ""
    except Exception:  # noqa: BLE001 - reported back to the test
        return traceback.format_exc()


def test_postgresql_writers_of_overlapping_batches_in_different_orders_neither_deadlock_nor_gap(
        pg_url: str) -> None:
    upgrade(pg_url)
    with ThreadPoolExecutor(8) as pool:
        failures = [f for f in pool.map(_write_shuffled, [pg_url] * 8, range(8)) if f]
    assert failures == []  # deadlocks are avoided by the lock order, or retried in full
    check_archive(pg_url, writers=8)


def _killable_run(url: str, kill_after: int | None) -> int:
    """Run the scenario in a subprocess; SIGKILL it after `kill_after` stored items. Returns items seen."""
    proc = subprocess.Popen([sys.executable, str(Path(archive_scenarios.__file__)), url], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    seen = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("stored"):
                seen += 1
                if kill_after is not None and seen >= kill_after:
                    proc.send_signal(signal.SIGKILL)  # lands somewhere inside the next item
                    break
    finally:
        try:
            _out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    if kill_after is None:
        assert proc.returncode == 0, err
    return seen


def test_killed_writers_lose_and_double_nothing(db_url: str) -> None:
    upgrade(db_url)
    total = N_URLS * len(SEQUENCE)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills = sorted(rng.sample(range(1, total), 3))
    logger.info("kill test seed %s: kills after %s of %s items", seed, kills, total)
    for kill_after in kills:
        _killable_run(db_url, kill_after)
    assert _killable_run(db_url, None) == total
    check_archive(db_url, writers=0)
    # And a batch replayed in one piece after all that changes nothing.
    archive = Archive.open(db_url)
    try:
        before = archive.counts()
        for batch in scenario(N_URLS):
            archive.store(batch)
        assert archive.counts() == before
        assert revisits(0)  # the helper stays importable from the script module too
    finally:
        archive.close()
