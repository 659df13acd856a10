"""`scipol ingest --feed URL`: an ad-hoc source without editing the sources file; loopback refused
unless --allow-private."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from flows.commands.common import source_id_for_host
from flows.demo import DemoSite

ROOT = Path(__file__).resolve().parents[2]


def _ingest(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCIPOL_SPOOL_DIR": str(tmp / "spool")}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "flows.cli", "ingest", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_adhoc_feed_is_ingested_with_allow_private_and_refused_without(tmp_path: Path) -> None:
    db = tmp_path / "adhoc.db"
    with DemoSite() as site:
        refused = _ingest("--feed", f"{site.base_url}/feed.xml", "--delay", "0", "--db", f"sqlite:///{db}",
                          tmp=tmp_path)
        requests_when_refused = len(site.requests)
        done = _ingest("--feed", f"{site.base_url}/feed.xml", "--delay", "0", "--allow-private",
                       "--source-id", "demo_adhoc", "--db", f"sqlite:///{db}", tmp=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "private_address" in refused.stdout
    assert requests_when_refused == 0
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        per_source = dict(conn.execute(sa.text(
            "select source_id, count(*) from latest_articles group by source_id")).all())
    engine.dispose()
    assert per_source.get("demo_adhoc", 0) >= 30


def test_an_adhoc_source_id_comes_from_the_host() -> None:
    assert source_id_for_host("www.nsf.gov") == "www_nsf_gov"
    assert source_id_for_host("127.0.0.1") == "site_127_0_0_1"


def test_a_finished_ingest_ends_the_program_with_its_report_written_and_the_archive_closed(tmp_path: Path) -> None:
    """The program skips the interpreter's teardown once a plain-CLI ingest is over (flows.program): the
    report is complete on stdout, the run is recorded as finished, and SQLite's WAL was checkpointed by
    closing the archive (no -wal file left behind)."""
    import json

    db = tmp_path / "closed.db"
    with DemoSite() as site:
        done = _ingest("--feed", f"{site.base_url}/feed.xml", "--delay", "0", "--allow-private", "--json",
                       "--no-prefect", "--source-id", "demo_exit", "--db", f"sqlite:///{db}", tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["status"] == "completed" and report["sources"][0]["new_articles"] >= 30
    assert not Path(f"{db}-wal").exists()
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        status, finished = conn.execute(sa.text("select status, finished_at from runs where run_id = :r"),
                                        {"r": report["run_id"]}).one()
    engine.dispose()
    assert status == "completed" and finished is not None


def test_exit_now_ends_only_the_program() -> None:
    code = "import sys; from flows import program; {start}program.exit_now(3); print('still running')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONUNBUFFERED", None)  # stdout to a pipe is then block-buffered, as in production
    other = subprocess.run([sys.executable, "-c", code.format(start="")], env=env, capture_output=True, text=True,
                           timeout=60)
    assert (other.returncode, other.stdout.strip()) == (0, "still running")
    ended = subprocess.run([sys.executable, "-c", code.format(start="program.started(); print('done', flush=False); ")],
                           env=env, capture_output=True, text=True, timeout=60)
    assert (ended.returncode, ended.stdout.strip()) == (3, "done")  # buffered output flushed before the exit
