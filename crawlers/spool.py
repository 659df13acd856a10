"""The spool: how a crawl subprocess hands its records to the flow while it is still running.

Layout of a spool directory:
    job.json          the crawl job (written by the runner)
    records.jsonl     one JSON record per line, appended and flushed as items arrive
    bodies.bin        capture bodies as received (decompressed), appended; a record names its body's
                      sha256, offset and length (a body fetched twice is written once)
    stats.json        the crawl's stats, written when the spider closes
    crawl.log         this crawl's log lines (the crawl host routes them here, crawlers.crawl_log)
    done.json         written by the crawl host when the crawl has ended: {"ok": ..., "error": ...}

A body is written and flushed before its record line is, and a reader only takes lines that end in
a newline, so a reader tailing the spool never sees a record whose body is missing, even if the crawl
is killed mid-write.

Bodies are not compressed here: a spool lives for one run and is read back at once, and gzip on the way
in and out cost ~3 % of an ingest's CPU (bench/RESULTS.md) to save disk for minutes. The archive
compresses each body once, when it stores it. Nor does each body get a file of its own: creating,
renaming and closing ~2,000 files cost the crawl process more than writing their bytes.
A spool holds at most one run of one source.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from crawlers.errors import SpoolError

if TYPE_CHECKING:
    from schemas.capture import Capture, FetchError

    SpoolRecord = Capture | FetchError
# The records (pydantic, ~0.25 s to import) are imported where they are used: `scipol ingest` starts its
# crawl process through crawlers.runner, which imports this module, before it needs them.

logger = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"
BODIES_FILE = "bodies.bin"
STATS_FILE = "stats.json"
LOG_FILE = "crawl.log"
DONE_FILE = "done.json"
"""Written by the crawl host when a crawl has ended, after its records and stats."""
NOTIFY_FD_ENV = "SCIPOL_CRAWL_NOTIFY_FD"
"""Names the pipe a crawl host writes `ended <job path>` to once it has written a crawl's DONE_FILE, so the
runner wakes at once (crawlers/runner.py); the DONE_FILE alone decides that a crawl has ended."""


class SpoolWriter:
    """Appends records to a spool directory. Used by the crawl's item pipeline (one writer per spool)."""

    def __init__(self, spool_dir: str | Path) -> None:
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO | None = open(self.spool_dir / RECORDS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._bodies: BinaryIO = open(self.spool_dir / BODIES_FILE, "ab")  # noqa: SIM115
        self._bodies_end = self._bodies.seek(0, os.SEEK_END)
        self._written: dict[str, tuple[int, int]] = {}
        """sha256 -> (offset, length) of every body in `bodies.bin`."""

    def write(self, record: SpoolRecord) -> None:
        from schemas.capture import Capture, sha256_hex

        if self._fh is None:
            raise SpoolError(f"spool writer for {self.spool_dir} is closed")
        entry: dict[str, Any]
        if isinstance(record, Capture):
            entry = {"type": "capture", "record": record.model_dump(mode="json", exclude={"body"}),
                     "body_sha256": None}
            if record.body is not None:
                sha = record.sha256 or sha256_hex(record.body)
                offset, length = self._write_body(sha, record.body)
                entry.update(body_sha256=sha, body_offset=offset, body_length=length)
        else:
            entry = {"type": "fetch_error", "record": record.model_dump(mode="json"), "body_sha256": None}
        self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()

    def _write_body(self, sha: str, body: bytes) -> tuple[int, int]:
        known = self._written.get(sha)
        if known is not None:
            return known
        offset = self._bodies_end
        self._bodies.write(body)
        self._bodies.flush()  # before the record line that points at it
        self._bodies_end += len(body)
        self._written[sha] = (offset, len(body))
        return offset, len(body)

    def write_stats(self, stats: dict[str, Any]) -> None:
        tmp = self.spool_dir / f"{STATS_FILE}.tmp"
        tmp.write_text(json.dumps(stats, indent=1, sort_keys=True, default=str), encoding="utf-8")
        tmp.replace(self.spool_dir / STATS_FILE)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._bodies.close()


class SpoolReader:
    """Tails `records.jsonl`: each `read_new()` returns the records completed since the last call.

    `defer_page_bodies`: a page's body is not read here; its capture names where it is
    (`Capture.spooled_body`) for the extraction worker that reads it.
    """

    def __init__(self, spool_dir: str | Path, *, defer_page_bodies: bool = False) -> None:
        self.spool_dir = Path(spool_dir)
        self.defer_page_bodies = defer_page_bodies
        self._offset = 0
        self._pending = b""

    @property
    def has_partial_line(self) -> bool:
        return bool(self._pending.strip())

    def read_new(self, limit: int | None = None) -> list[SpoolRecord]:
        """The records completed since the last call, at most `limit` of them (with their bodies).

        A limit keeps memory flat when the crawl runs ahead of storing: the rest stay on disk until
        asked for (reading everything available held a whole crawl's bodies in memory at once).
        """
        path = self.spool_dir / RECORDS_FILE
        try:
            with open(path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        data = self._pending + data
        self._offset += len(data) - len(self._pending)
        lines = data.split(b"\n")
        self._pending = lines.pop()  # an unterminated last line is still being written
        if limit is not None and len(lines) > limit:
            rest = lines[limit:]
            lines = lines[:limit]
            # Not consumed: read again next time (the offset moves back over them).
            self._offset -= sum(len(line) + 1 for line in rest) + len(self._pending)
            self._pending = b""
        return [self._decode(line) for line in lines if line.strip()]

    def _decode(self, line: bytes) -> SpoolRecord:
        from schemas.capture import Capture, FetchError, SpooledBody
        from schemas.errors import SpooledBodyError

        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise SpoolError(f"{self.spool_dir / RECORDS_FILE}: unreadable record line: {exc}") from None
        if entry.get("type") == "fetch_error":
            return FetchError.model_validate(entry["record"])
        data = dict(entry["record"])
        sha = entry.get("body_sha256")
        if sha:
            offset, length = entry.get("body_offset"), entry.get("body_length")
            if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
                raise SpoolError(f"{self.spool_dir / RECORDS_FILE}: record of body {sha} has no valid offset "
                                 "and length")
            spooled = SpooledBody(path=str(self.spool_dir / BODIES_FILE), offset=offset, length=length, sha256=sha)
            if self.defer_page_bodies and data.get("kind") == "page":
                data["spooled_body"] = spooled
                data["sha256"] = sha
            else:
                try:
                    data["body"] = spooled.read()  # checked against its length and hash
                except SpooledBodyError as exc:
                    raise SpoolError(str(exc)) from None
        return Capture.model_validate(data)


def read_spool(spool_dir: str | Path) -> list[SpoolRecord]:
    """Every complete record in a spool directory, in the order written."""
    return SpoolReader(spool_dir).read_new()


def read_stats(spool_dir: str | Path) -> dict[str, Any]:
    """The stats the crawl wrote on close, or {} when it never got there."""
    path = Path(spool_dir) / STATS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
