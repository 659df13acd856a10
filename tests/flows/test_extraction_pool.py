"""The extraction pool: workers forked warm from a forkserver give what extraction in this process gives,
and closing the pool leaves no process behind."""

from __future__ import annotations

import gzip
import json
import os
from datetime import datetime
from pathlib import Path

from flows.extraction import ExtractionPool, extract_for_archive
from schemas import Capture

PAGES = Path(__file__).parents[1] / "fixtures" / "pages"


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
