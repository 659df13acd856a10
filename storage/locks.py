"""Per-source locks: one crawl of a source at a time, across runs, workers and machines.

Two Prefect runs (or two workers) may start the same source at once; crawling it twice would
halve the politeness delay a site gets. The lock dies with its holder, so a SIGKILLed run never
blocks the next one: PostgreSQL session advisory locks are released when the connection drops,
and an flock on a file next to the SQLite archive is released when the process exits.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

# Keeps our advisory-lock keys apart from any other application's on a shared server.
_NAMESPACE = "scipol.source:"


def _pg_key(source_id: str) -> int:
    digest = hashlib.blake2b((_NAMESPACE + source_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def source_lock(engine: Engine, source_id: str) -> Iterator[bool]:
    """Try to lock `source_id` without waiting; yields whether this holder got it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _pg_key(source_id)
            got = bool(conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        yield True  # an in-memory archive has a single process by construction
        return
    lock_path = Path(f"{database}.source-{source_id}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
