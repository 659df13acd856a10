"""One crawl of a source at a time, across processes; a dead holder never blocks the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from storage.archive import Archive

ROOT = Path(__file__).resolve().parents[2]

_HOLDER = textwrap.dedent("""
    import sys, time
    from storage.archive import Archive
    archive = Archive.open(sys.argv[1])
    with archive.source_lock("nsf_news") as got:
        print("got" if got else "busy", flush=True)
        time.sleep(60)
""")


def _start_holder(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "got"
    return proc


def test_a_source_locked_by_another_process_is_refused_until_that_process_dies(db_url: str) -> None:
    archive = Archive.open(db_url)
    holder = _start_holder(db_url)
    try:
        with archive.source_lock("nsf_news") as got:
            assert got is False
        with archive.source_lock("other_source") as got:
            assert got is True  # locks are per source
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    deadline = time.monotonic() + 10
    got = False
    while time.monotonic() < deadline and not got:
        with archive.source_lock("nsf_news") as got:
            pass
        time.sleep(0.1)
    assert got is True
    archive.close()


def test_the_lock_is_released_on_exit_and_can_be_taken_again(db_url: str) -> None:
    archive = Archive.open(db_url)
    for _ in range(3):
        with archive.source_lock("nsf_news") as got:
            assert got is True
    archive.close()
