"""A run SIGKILLed mid-way leaves a consistent archive, and the next run completes the work:
nothing lost, nothing doubled (RELIABILITY.md E1)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from flows.demo import DemoSite

ROOT = Path(__file__).resolve().parents[2]


def _ingest_cmd(sources: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "flows.cli", "ingest", "--no-prefect", "--sources", str(sources),
            "--db", f"sqlite:///{db}"]


def _env(tmp: Path) -> dict[str, str]:
    # Small batches: the demo's 37 pages are stored in several transactions, so a kill can land between.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCIPOL_SPOOL_DIR": str(tmp / "spool"), "SCIPOL_BATCH_SIZE": "4"}
    env.pop("SCIPOL_DATABASE_URL", None)
    return env


def _count(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0  # schema not created yet


def _survivors(tmp: Path) -> list[str]:
    """Processes started by this test's runs (they carry its spool directory in their environment)."""
    marker = f"SCIPOL_SPOOL_DIR={tmp / 'spool'}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _archive_state(db: Path) -> dict[str, object]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        versions = conn.execute(
            "select url, version_no, title, text from article_history order by url, version_no").fetchall()
        articles = conn.execute("select url from latest_articles order by url").fetchall()
        # Which copy of a syndicated pair is "first seen" depends on timing; how many are linked does not.
        duplicates = conn.execute("select count(*) from latest_articles where duplicate_of is not null").fetchone()[0]
        gaps = conn.execute(
            "select count(*) from (select article_id, max(version_no) m, count(*) n from article_versions "
            "group by article_id) where m != n").fetchone()[0]
        bodies = conn.execute("select count(*) - count(distinct sha256) from capture_bodies").fetchone()[0]
    return {"versions": versions, "articles": articles, "duplicates": duplicates, "gaps": gaps,
            "duplicate_bodies": bodies}


def test_an_ingest_killed_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    with DemoSite() as site:
        sources = tmp_path / "sources.yaml"
        sources.write_text((ROOT / "flows" / "demo" / "sources.yaml").read_text()
                           .replace("__BASE_URL__", site.base_url))
        reference = tmp_path / "reference.db"
        done = subprocess.run(_ingest_cmd(sources, reference), env=_env(tmp_path), capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]

        target = tmp_path / "target.db"
        kills = 0
        for attempt in range(3):
            stored_before = _count(target, "select count(*) from captures")
            # Later attempts re-request every known article (304s are stored too), so each has work
            # to be killed in; by default an unchanged article is not requested again.
            cmd = _ingest_cmd(sources, target) + (["--recheck-known"] if attempt else [])
            proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Kill once this attempt has stored something more, after a random extra moment.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if _count(target, "select count(*) from captures") > stored_before:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.3))
            if proc.poll() is None:
                # SIGTERM is what `kill` and a cancelled worker send; SIGKILL what the OOM killer does.
                proc.send_signal(signal.SIGTERM if attempt == 0 else signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        # Nothing of a killed run lives on: its crawl host and extraction workers end with it.
        deadline = time.monotonic() + 15
        while _survivors(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _survivors(tmp_path) == []
        final = subprocess.run(_ingest_cmd(sources, target), env=_env(tmp_path), capture_output=True,
                               text=True, timeout=300)
        assert final.returncode == 0, final.stderr[-2000:]

    assert kills >= 2
    expected, got = _archive_state(reference), _archive_state(target)
    assert got["gaps"] == 0 and got["duplicate_bodies"] == 0
    assert got["articles"] == expected["articles"]
    assert got["versions"] == expected["versions"]
    assert got["duplicates"] == expected["duplicates"]
