"""The extraction pool: workers forked warm from a forkserver give what extraction in this process gives,
and closing the pool leaves no process behind."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from flows.extraction import ExtractionPool, extract_for_archive
from schemas import Capture

ROOT = Path(__file__).parents[2]
PAGES = ROOT / "tests" / "fixtures" / "pages"


def _golden_captures(limit: int) -> list[Capture]:
    captures = []
    for case in sorted(PAGES.glob("*/*/meta.json"))[:limit]:
        meta = json.loads(case.read_text())
        captures.append(Capture(
            source_id=meta["source_id"], url=meta["url"], final_url=meta["url"], status=meta["status"], kind="page",
            headers={k.lower(): v for k, v in meta["headers"].items()},
            body=gzip.decompress((case.parent / "raw.html.gz").read_bytes()),
            fetched_at=datetime.fromisoformat(meta["fetched_at"].replace("Z", "+00:00"))))
    return captures


def _forkservers_of(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"multiprocessing.forkserver" in cmdline:
            found.append(int(proc.name))
    return found


def test_workers_extract_what_this_process_extracts_and_leave_nothing_running() -> None:
    captures = _golden_captures(12)
    assert len(captures) == 12
    expected = [extract_for_archive(c, None) for c in captures]
    pool = ExtractionPool(2)
    try:
        pool.warm()
        got = pool.map(captures, None)
        assert _forkservers_of(os.getpid()), "the workers are not forked from a forkserver"
    finally:
        pool.close()
    assert got == expected
    assert all(record is not None for record, _pre in got)
    assert all(pre.packed_body is not None and pre.text_digest is not None for _record, pre in got)
    assert _forkservers_of(os.getpid()) == []
    # A closed pool can be used again: the next one starts its own forkserver.
    again = ExtractionPool(2)
    try:
        assert again.map(captures[:2], None) == expected[:2]
    finally:
        again.close()
    assert _forkservers_of(os.getpid()) == []


@pytest.mark.parametrize("watcher", ["_exit_with_parent", "_poll_for_exit"])
def test_a_worker_ends_when_the_process_that_runs_its_pool_is_gone(watcher: str) -> None:
    """`_exit_with_parent` (pidfd) and its fallback for systems without pidfd (polling)."""
    run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.0)"])
    code = (f"import time; from flows.extraction import {watcher}; {watcher}({run.pid}); "
            "time.sleep(30); raise SystemExit(0)")
    worker = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            worker.wait(timeout=0.5)  # still running while the run lives
        run.wait(timeout=10)
        assert worker.wait(timeout=10) == 3
    finally:
        for proc in (run, worker):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_the_forkserver_warm_up_compiles_the_rules_and_extracts_its_pages_without_error() -> None:
    code = """
import gc, logging
logging.basicConfig(level=logging.WARNING)
import crawlers.extract.warm
from crawlers.extract.ruleset import rules_for
tiers = [a for _b, _r, a in (*rules_for().drop_tiers, *rules_for().cut_tiers) if a is not None]
print(len(tiers), sum(a._compiled is not None for a in tiers), gc.get_freeze_count() > 0)
"""
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warming the extraction workers failed" not in done.stderr
    tiers, compiled, frozen = done.stdout.split()
    assert int(tiers) >= 2 and compiled == tiers and frozen == "True"


@pytest.mark.timeout(120)  # the failure this guards against is a close() that blocks
def test_two_pools_share_the_forkserver_and_closing_one_leaves_the_other_working() -> None:
    captures = _golden_captures(3)
    expected = [extract_for_archive(c, None) for c in captures]
    first, second = ExtractionPool(2), ExtractionPool(2)
    try:
        assert first.map(captures, None) == expected
        assert second.map(captures, None) == expected
        first.close()  # must neither block on the other pool's workers nor stop them
        assert len(_forkservers_of(os.getpid())) == 1
        assert second.map(captures, None) == expected
    finally:
        first.close()
        second.close()
    assert _forkservers_of(os.getpid()) == []


def test_a_sources_first_batches_are_small_so_the_workers_start_early() -> None:
    from flows.pipeline import _batches

    at = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    items: list[Capture] = [Capture(source_id="a", url=f"https://a.example/{i}", final_url=f"https://a.example/{i}",
                                    status=200, kind="page", body=b"<html></html>", fetched_at=at) for i in range(200)]
    sizes = [len(b) for b in _batches(items, 50)]
    assert sizes == [8, 16, 32, 50, 50, 44]
    assert [len(b) for b in _batches(items[:5], 50)] == [5]
    assert [len(b) for b in _batches(items[:30], 4)] == [4] * 7 + [2]  # never above the configured size
    assert [c for b in _batches(items, 50) for c in b] == items


@pytest.mark.timeout(120)
def test_warm_returns_while_the_forkserver_still_imports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a worker waits until the forkserver has imported the extraction stack (~1 s). A source that
    asks for warm workers must not wait for that before it starts its crawl (bench/RESULTS.md: five of
    eight sources started 1.2 s late)."""
    import threading
    import time

    from flows import extraction

    assert _forkservers_of(os.getpid()) == []  # else the preload below would be ignored
    gate = tmp_path / "open"
    (tmp_path / "scipol_test_gated_preload.py").write_text(
        "import os, time\n"
        "open(os.environ['SCIPOL_TEST_GATE'] + '.waiting', 'w').close()\n"
        "while not os.path.exists(os.environ['SCIPOL_TEST_GATE']):\n"
        "    time.sleep(0.01)\n")
    # The forkserver is a new interpreter: it finds the module through PYTHONPATH (an ImportError in a
    # preload is ignored, which would make this test pass without a gate).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SCIPOL_TEST_GATE", str(gate))
    waiting = Path(f"{gate}.waiting")
    monkeypatch.setattr(extraction, "_PRELOAD", ["scipol_test_gated_preload", *extraction._PRELOAD])

    pool = ExtractionPool(2)
    callers = [threading.Thread(target=pool.warm) for _ in range(8)]  # eight sources start at once
    try:
        for t in callers:
            t.start()
        deadline = time.monotonic() + 60  # a generous bound, not a speed check: they wait for no one
        for t in callers:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in callers), "warm() waited for the forkserver's imports"
        for _ in range(6000):  # the forkserver reaches the gate (at most 60 s)
            if waiting.exists():
                break
            threading.Event().wait(0.01)
        assert waiting.exists(), "the forkserver never imported the gated module"
    finally:
        gate.touch()
        pool.close()
    assert _forkservers_of(os.getpid()) == []

    # Warmed and used normally, the gate open: the workers extract as before.
    captures = _golden_captures(2)
    again = ExtractionPool(2)
    try:
        again.warm()
        assert again.map(captures, None) == [extract_for_archive(c, None) for c in captures]
    finally:
        again.close()
    assert _forkservers_of(os.getpid()) == []


@pytest.mark.timeout(120)
def test_close_waits_for_a_start_in_progress_and_leaves_no_forkserver(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that ends (or fails) right after `warm()` closes its pool while the workers are still being
    started: the start must not create a pool after `close()` has returned."""
    import threading

    go = threading.Event()
    started_pool = ExtractionPool._started_pool

    def held_back(self: ExtractionPool):  # type: ignore[no-untyped-def]
        go.wait(60)
        return started_pool(self)

    monkeypatch.setattr(ExtractionPool, "_started_pool", held_back)
    pool = ExtractionPool(2)
    pool.warm()
    starter = pool._starter
    assert starter is not None and starter.is_alive()
    closer = threading.Thread(target=pool.close)
    try:
        closer.start()
        closer.join(timeout=0.5)
        assert closer.is_alive(), "close() returned while the workers were still being started"
    finally:
        go.set()
    closer.join(timeout=60)
    starter.join(timeout=60)
    assert not closer.is_alive() and not starter.is_alive()
    assert _forkservers_of(os.getpid()) == []
    pool.close()  # nothing left to close


def test_pages_left_in_the_spool_travel_without_their_bodies_and_extract_as_read_ones(tmp_path: Path) -> None:
    """The ingest's pages: the workers read each body from the spool, so the storing process pickles none."""
    import pickle

    from crawlers.spool import SpoolReader, SpoolWriter
    from schemas.capture import sha256_hex

    captures = [c.model_copy(update={"sha256": sha256_hex(c.body or b"")}) for c in _golden_captures(6)]
    writer = SpoolWriter(tmp_path)
    for capture in captures:
        writer.write(capture)
    writer.close()
    spooled = SpoolReader(tmp_path, defer_page_bodies=True).read_new()
    assert all(isinstance(c, Capture) and c.body is None and c.spooled_body is not None for c in spooled)
    for capture, left in zip(captures, spooled, strict=True):
        assert capture.body is not None and len(capture.body) > 2000
        # What crosses to a worker: the record and where its body is, not the page.
        assert len(pickle.dumps(left)) < len(pickle.dumps(capture)) - len(capture.body) // 2
    expected = [extract_for_archive(c, None) for c in captures]
    assert all(pre.body_size == len(c.body or b"") for c, (_r, pre) in zip(captures, expected, strict=True))
    pool = ExtractionPool(2)
    try:
        got = pool.map(spooled, None)  # type: ignore[arg-type]
    finally:
        pool.close()
    assert got == expected
    assert [extract_for_archive(c, None) for c in spooled] == expected  # one worker: read in this process
