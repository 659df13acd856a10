"""The archive repository: the only way the rest of scipol reads and writes the database.

Every write is safe to repeat. A batch is stored in one transaction per chunk of up to
`Archive.store_chunk` items (each item in its own savepoint only when the chunk has to be stored
again because an item failed); each item (1) locks the article row, (2) inserts
the capture (unique per source, URL and fetch time) and (3) records what storing it did in
`store_outcomes` (unique per capture and extractor version). A replayed item finds its outcome (one
read per chunk) and changes nothing, so a batch stored three times, or re-stored after a crash between
or inside chunks, adds its versions once. Version numbers are assigned under the article lock (BEGIN
IMMEDIATE on SQLite; SELECT ... FOR UPDATE on PostgreSQL, all of a chunk's stored articles at its
start in id order, so that two writers of overlapping batches queue instead of deadlocking), so they
are gapless under concurrent writers.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from itertools import count
from typing import Any, TypeVar

from sqlalchemy import Connection, Date, Engine, Integer, String, Text, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, NoResultFound, OperationalError, SQLAlchemyError

from schemas import ArticleRecord, Capture, FetchError, KnownUrl, RunReport, SourceConfig
from schemas.run import StoreOutcome
from storage import bulk, dedupe, driver, search
from storage.chunk_writes import ChunkWrites
from storage.db import ensure_schema, is_readonly, make_engine
from storage.errors import ReadOnlyArchiveError
from storage.locks import source_lock
from storage.models import Capture as CaptureRow
from storage.models import CaptureBody, FetchErrorRow, MinhashBand, Run, Source, StoreOutcomeRow, UTCDateTime
from storage.precompute import BODY_COMPRESSION, Precomputed, pack_body
from storage.snapshots import ArticleSnapshot, VersionSnapshot
from storage.statements import Statements, statements
from storage.versions import LatestVersion, decide, diff_size, text_hash

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_ATTEMPTS = 10
"""Attempts of a chunk on transient errors (deadlocks, lock timeouts, lost races), each after a backoff
capped at ~1 s. With 8 PostgreSQL writers storing overlapping batches in different orders, one writer
lost 6 deadlocks in a row once in CI (tests/storage/test_storage_concurrency.py); a retry is always safe:
the whole chunk was rolled back."""
_STREAM_CHUNK = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or _aware(b) > _aware(a) else _aware(a)


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying the whole item for: lock contention and lost races."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
        return True
    if isinstance(exc, OperationalError) and ("database is locked" in str(orig) or "busy" in str(orig)):
        return True
    # A lost race on a unique key (two writers, one version number or one capture): re-running the
    # item re-reads what the winner committed. Other integrity errors are data errors.
    return isinstance(exc, IntegrityError) and (sqlstate == "23505" or "UNIQUE constraint failed" in str(orig))


_EMPTY_TEXT_HASH = text_hash("")
_ADVISORY_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:k)")

_PLAIN_OUTCOMES: dict[str, StoreOutcome] = {"not_modified": "not_modified", "non_html": "non_html"}


def _no_nul(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL characters; they carry no meaning in an article.
    return value.replace("\x00", "") if "\x00" in value else value


@dataclass
class _Item:
    """One capture with its record, cleaned, with derived values computed before any lock is taken."""

    capture: Capture
    record: ArticleRecord | None
    fetched_at: datetime
    usable: bool
    extractor_version: str
    title: str
    digest: str
    sha: str | None
    size: int | None
    """Bytes of the raw body (None without one)."""
    given: Precomputed | None = None
    """Derived values computed by the caller (in an extraction worker), when they match this item."""

    @cached_property
    def signature(self) -> dedupe.Signature | None:
        """MinHash of the text, computed at most once and outside the write transaction when possible."""
        if self.given is not None:
            return self.given.signature
        return dedupe.signature(self.record.text) if self.record is not None else None

    @classmethod
    def prepare(cls, capture: Capture, record: ArticleRecord | None, given: Precomputed | None = None) -> _Item:
        if given is not None and given.text != (record.text if record is not None else None):
            logger.warning("precomputed values of %s (%s) are not for its record; computing them again",
                           capture.url, capture.source_id)
            given = None
        capture = capture.model_copy(update={
            "url": _no_nul(capture.url), "final_url": _no_nul(capture.final_url),
            "headers": {_no_nul(k): _no_nul(v) for k, v in capture.headers.items()},
            "hint_title": _no_nul(capture.hint_title) if capture.hint_title else capture.hint_title})
        if record is not None:
            record = record.model_copy(update={
                "title": _no_nul(record.title), "text": _no_nul(record.text),
                "authors": [_no_nul(a) for a in record.authors],
                "site_name": _no_nul(record.site_name) if record.site_name else record.site_name})
        # One normalisation of the text serves both: `has_text(t)` is `text_hash(t) != text_hash("")`.
        if record is None or not record.text:
            digest = _EMPTY_TEXT_HASH
        elif given is not None and given.text_digest is not None and given.text == record.text:
            digest = given.text_digest  # the text had no NUL to remove: it is the text hashed
        else:
            digest = text_hash(record.text)
        usable = capture.kind == "page" and record is not None and digest != _EMPTY_TEXT_HASH
        spooled = capture.spooled_body
        if spooled is not None and not (given is not None and given.packed_body is not None
                                        and given.body_sha256 == spooled.sha256 and given.body_size == spooled.length):
            capture = capture.with_body()  # nothing computed from it ahead: read it from the spool here
            spooled = None
        sha = None
        size = None
        if spooled is not None:
            # The extraction worker read the body from the spool, checked it against this hash and compressed it.
            sha, size = spooled.sha256, spooled.length
        elif capture.body is not None:
            size = len(capture.body)
            sha = (given.body_sha256 if given is not None and given.body_sha256
                   else hashlib.sha256(capture.body).hexdigest())
            if capture.sha256 and capture.sha256 != sha:
                logger.warning("capture of %s (%s) declared sha256 %s but its body hashes to %s; keeping the latter",
                               capture.url, capture.source_id, capture.sha256, sha)
        return cls(capture=capture, record=record, fetched_at=_aware(capture.fetched_at), usable=usable,
                   extractor_version=record.extractor_version if usable and record is not None else "",
                   title=(record.title or capture.hint_title or "") if record is not None else "",
                   digest=digest if usable else "",
                   sha=sha, size=size, given=given)

    @property
    def packed_ahead(self) -> bool:
        return self.given is not None and self.given.packed_body is not None

    @cached_property
    def packed(self) -> bytes:
        """The body compressed for `capture_bodies` (only computed when the body is new)."""
        if self.given is not None and self.given.packed_body is not None:
            return self.given.packed_body
        return pack_body(self.capture.body or b"")


class Archive:
    """Versioned articles, raw captures and run reports in one database (SQLite or PostgreSQL)."""

    store_chunk = 50
    """Items per write transaction of `store`: bounds how long a batch holds SQLite's write lock (and
    how long a PostgreSQL store transaction stays open, see `reading.DEFAULT_SETTLE_SECONDS`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.readonly = is_readonly(engine)
        self._schema_checked = False
        self._known_sources: set[str] = set()

    @classmethod
    def open(cls, url: str | None = None, *, readonly: bool = False) -> Archive:
        """Connect to the archive at `url` (default `database_url()`); migrate it unless read-only."""
        archive = cls(make_engine(url, readonly=readonly))
        archive._ensure_schema()
        return archive

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def source_lock(self, source_id: str) -> AbstractContextManager[bool]:
        """Lock a source for one crawl (non-blocking; yields False when another run holds it)."""
        return source_lock(self.engine, source_id)

    # -- plumbing -------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if not self._schema_checked:
            # Read-only: raises SchemaNotReadyError when the database is not at head.
            ensure_schema(self.engine)
            self._schema_checked = True

    def _writable(self) -> None:
        if self.readonly:
            raise ReadOnlyArchiveError("this archive was opened read-only")
        self._ensure_schema()

    def _reader(self) -> Connection:
        self._ensure_schema()
        conn = self.engine.connect().execution_options(scipol_read=True)
        if conn.dialect.name == "postgresql":
            # One snapshot for every statement of a read (search ids, then their texts): under READ
            # COMMITTED a version committed in between gave hits without the matched term. Read-only
            # REPEATABLE READ transactions never fail with serialisation errors.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        return conn

    def _retry(self, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                return fn()
            except DBAPIError as exc:
                if attempt == _MAX_ATTEMPTS or not _transient(exc):
                    raise
                delay = min(0.02 * 2 ** attempt, 1.0) * (0.5 + random.random())
                logger.info("retrying %s after %s (attempt %s)", what, type(exc.orig).__name__, attempt)
                time.sleep(delay)
        raise AssertionError("unreachable")

    @staticmethod
    def _insert(conn: Connection, table: Any) -> Any:
        return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)

    # -- sources, runs, errors ------------------------------------------------------------------

    def sync_sources(self, sources: list[SourceConfig]) -> None:
        """Insert or update one row per configured source (sources are never deleted: articles keep them)."""
        self._writable()

        def write() -> None:
            now = _utcnow()
            with self.engine.begin() as conn:
                for src in sources:
                    config = src.model_dump(mode="json")
                    stmt = self._insert(conn, Source).values(id=src.id, name=src.name, config=config,
                                                             created_at=now, updated_at=now)
                    conn.execute(stmt.on_conflict_do_update(
                        index_elements=["id"],
                        set_={"name": stmt.excluded.name, "config": stmt.excluded.config,
                              "updated_at": stmt.excluded.updated_at}))

        self._retry("sync_sources", write)
        self._known_sources.update(src.id for src in sources)

    def _ensure_source(self, conn: Connection, source_id: str, now: datetime) -> None:
        # Captures may arrive for a source that was never synced (ad-hoc runs): keep the FK satisfied.
        if source_id in self._known_sources:
            return
        conn.execute(statements(conn.dialect.name).ensure_source, {
            "id": source_id, "name": source_id, "config": {}, "created_at": now, "updated_at": now})

    def record_errors(self, errors: Sequence[FetchError], *, run_id: str | None = None) -> None:
        """Store failed fetches; the same error (source, URL, reason, time) is stored once."""
        self._writable()
        if not errors:
            return

        def write() -> None:
            now = _utcnow()
            with self.engine.begin() as conn:
                for source_id in sorted({e.source_id for e in errors}):
                    self._ensure_source(conn, source_id, now)
                for err in errors:
                    conn.execute(self._insert(conn, FetchErrorRow).values(
                        source_id=err.source_id, url=err.url, reason=err.reason, status=err.status,
                        message=err.message[:4000], at=err.at, run_id=run_id,
                    ).on_conflict_do_nothing(index_elements=["source_id", "url", "reason", "at"]))

        self._retry("record_errors", write)

    def start_run(self, report: RunReport) -> None:
        self._save_run(report)

    def finish_run(self, report: RunReport) -> None:
        self._save_run(report)

    def _save_run(self, report: RunReport) -> None:
        self._writable()
        values = {"run_id": report.run_id, "flow": report.flow, "started_at": report.started_at,
                  "finished_at": report.finished_at, "status": report.status,
                  "report": report.model_dump(mode="json")}

        def write() -> None:
            with self.engine.begin() as conn:
                stmt = self._insert(conn, Run).values(**values)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["run_id"],
                    set_={k: stmt.excluded[k] for k in ("flow", "finished_at", "status", "report")}))

        self._retry("save_run", write)

    def recent_runs(self, limit: int = 10) -> list[RunReport]:
        with self._reader() as conn:
            rows = conn.execute(select(Run.report).order_by(Run.started_at.desc(), Run.run_id.desc())
                                .limit(limit)).scalars()
            return [RunReport.model_validate(r) for r in rows]

    # -- storing captures -----------------------------------------------------------------------

    def store(self, items: Sequence[tuple[Capture, ArticleRecord | None]], *,
              run_id: str | None = None,
              precomputed: Sequence[Precomputed | None] | None = None) -> list[StoreOutcome]:
        """Store a batch of captures with their extracted records; one outcome per item, in order.

        Items already stored are found in one read per chunk and not written again. The rest are
        written in input order (so a later item sees what an earlier one did to the same article), in
        one transaction per `store_chunk` items. Lock contention retries the whole chunk; a data error
        on one item rolls the chunk back and stores it again with a savepoint per item, so that item
        alone is logged and gives `error`; a database that is down raises. `precomputed`, when given, holds
        `precompute.precompute(capture, record)` per item (or None), computed by the caller in
        parallel: text hash, MinHash signature, body hash and compressed body (~4 ms a page, which
        would otherwise be spent in this one thread, partly holding SQLite's write lock).
        """
        self._writable()
        if precomputed is not None and len(precomputed) != len(items):
            raise ValueError("precomputed must align with items")
        prepared: list[_Item] = []
        for index, (capture, record) in enumerate(items):
            prepared.append(_Item.prepare(capture, record, precomputed[index] if precomputed is not None else None))
        outcomes: list[StoreOutcome | None] = [None] * len(prepared)
        with self._reader() as conn:
            for index, outcome in self._replayed(conn, prepared).items():
                outcomes[index] = outcome
        todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
        for start in range(0, len(todo), self.store_chunk):
            chunk = todo[start:start + self.store_chunk]
            try:
                done = self._write_chunk(prepared, chunk, run_id)
            except SQLAlchemyError as exc:
                if isinstance(exc, OperationalError):
                    raise
                # Outside any item (the sources, the commit): nothing of the chunk was stored.
                logger.exception("cannot store %s captures (first: %s): %s", len(chunk),
                                 prepared[chunk[0]].capture.url, type(exc).__name__)
                continue
            for index, outcome in done.items():
                outcomes[index] = outcome
            # Only after a commit: a rolled-back insert of the source must be retried next time.
            self._known_sources.update(prepared[i].capture.source_id for i in chunk)
        return [outcome if outcome is not None else "error" for outcome in outcomes]

    def _replayed(self, conn: Connection, items: Sequence[_Item]) -> dict[int, StoreOutcome]:
        """The recorded outcome of every item that was stored before, by index (read without taking the
        write lock: outcomes are never changed once written)."""
        sql = statements(conn.dialect.name)
        found: dict[int, StoreOutcome] = {}
        for start in range(0, len(items), self.store_chunk):
            wanted: dict[tuple[str, str, datetime, str], list[int]] = {}
            for index in range(start, min(start + self.store_chunk, len(items))):
                item = items[index]
                key = (item.capture.source_id, item.capture.url, item.fetched_at, item.extractor_version)
                wanted.setdefault(key, []).append(index)
            rows = conn.execute(sql.replayed, {
                "source_ids": sorted({k[0] for k in wanted}), "urls": sorted({k[1] for k in wanted}),
                "fetched_ats": sorted({k[2] for k in wanted}),
                "extractor_versions": sorted({k[3] for k in wanted})})
            for source_id, url, fetched_at, extractor_version, outcome in rows:
                for index in wanted.get((source_id, url, _aware(fetched_at), extractor_version), ()):
                    found[index] = outcome
        return found

    def _write_chunk(self, items: Sequence[_Item], chunk: Sequence[int], run_id: str | None
                     ) -> dict[int, StoreOutcome]:
        """Store a chunk in one transaction; when an item of it fails, store the chunk again with a
        savepoint per item, so that the failing item alone gives `error`.

        The first attempt takes no savepoints: two statements and their bookkeeping per item (~0.4 ms,
        bench/store.py) bought nothing in the usual chunk where every item stores.
        """
        try:
            return self._retried_chunk(items, chunk, run_id, isolate=False)
        except (SQLAlchemyError, ValueError) as exc:
            if isinstance(exc, OperationalError):
                raise  # the database is down: savepoints would not help
            logger.info("storing %s captures together failed (%s); again one savepoint per capture",
                        len(chunk), type(exc).__name__)
            return self._retried_chunk(items, chunk, run_id, isolate=True)

    def _retried_chunk(self, items: Sequence[_Item], chunk: Sequence[int], run_id: str | None, *,
                       isolate: bool) -> dict[int, StoreOutcome]:
        attempts = count(1)
        return self._retry("store", lambda: self._store_chunk(
            items, chunk, run_id, isolate=isolate, last_attempt=next(attempts) == _MAX_ATTEMPTS))

    def _store_chunk(self, items: Sequence[_Item], chunk: Sequence[int], run_id: str | None, *,
                     isolate: bool = True, last_attempt: bool = False) -> dict[int, StoreOutcome]:
        """Store the items at `chunk` (indices into `items`, in lock order) in one transaction.

        Runs whole again on a retry: nothing of a rolled-back attempt is kept. `isolate`: each item in
        a savepoint, and an item's data error gives `error` for it alone (without, any error rolls back
        the chunk and raises). On the last attempt a unique violation that kept coming back is that
        item's data error, not a race.
        """
        outcomes: dict[int, StoreOutcome] = {}
        with self.engine.begin() as conn:
            sql = statements(conn.dialect.name)
            now = _utcnow()
            for source_id in sorted({items[i].capture.source_id for i in chunk}):
                self._ensure_source(conn, source_id, now)
            if conn.dialect.name == "postgresql":
                self._lock_articles(conn, sql, [items[i] for i in chunk])
            # With savepoints each item writes its own rows, so that a rolled-back item leaves none behind.
            deferred = None if isolate else ChunkWrites(
                signatures=lambda: [s for i in chunk if items[i].usable and (s := items[i].signature)])
            if deferred is not None:
                self._insert_bodies(conn, [items[i] for i in chunk], now)
            for index in chunk:
                item = items[index]
                if deferred is not None:
                    outcomes[index] = self._store_one(conn, sql, item, run_id, deferred)
                    continue
                try:
                    with conn.begin_nested():
                        outcomes[index] = self._store_one(conn, sql, item, run_id, None)
                except (SQLAlchemyError, ValueError) as exc:
                    if isinstance(exc, OperationalError) or (
                            isinstance(exc, DBAPIError) and _transient(exc) and not last_attempt):
                        raise  # the whole chunk again (lost race, lock), or the database is down
                    # The savepoint is rolled back: the other items of the chunk are stored.
                    logger.exception("cannot store capture of %s for source %s: %s", item.capture.url,
                                     item.capture.source_id, type(exc).__name__)
                    outcomes[index] = "error"
            if deferred is not None:
                deferred.flush(conn)
        return outcomes

    @staticmethod
    def _insert_bodies(conn: Connection, items: Sequence[_Item], now: datetime) -> None:
        """The bodies compressed ahead (by extraction workers) of a chunk's items, in one statement; the
        others are written by their item, after checking whether they are stored already."""
        rows = {item.sha: _body_row(item, now) for item in items if item.sha is not None and item.packed_ahead}
        bulk.insert_many(conn, CaptureBody, list(rows.values()), skip_conflicts=True)

    @staticmethod
    def _lock_articles(conn: Connection, sql: Statements, items: Sequence[_Item]) -> None:
        """Lock every stored article the items may touch, in id order, before storing any of them.

        Items are stored in input order (article ids, "first seen" between duplicates and the change
        feed follow it), so two writers of overlapping batches would otherwise lock the same rows in
        different orders and deadlock. The per-item locks that follow are then already held. A row
        created by this chunk is locked in input order: a race on a new URL can still deadlock once,
        and the retry finds the row stored and locks it here.
        """
        canonical: set[str] = set()
        aliases: set[str] = set()
        for item in items:
            if item.usable and item.record is not None:
                canonical.add(item.record.canonical_url)
            else:
                aliases.update((item.capture.url, item.capture.final_url))
        conn.execute(sql.lock_articles, {"canonical_urls": sorted(canonical), "alias_urls": sorted(aliases)}).all()

    def _store_one(self, conn: Connection, sql: Statements, item: _Item, run_id: str | None,
                   deferred: ChunkWrites | None) -> StoreOutcome:
        """`deferred`: the chunk's rows written when it ends (its bodies compressed ahead were written
        when it began); None: every row is written now."""
        capture, record = item.capture, item.record
        # Per item: `store_outcomes.created_at` is what the change feed's settle window is measured on.
        now = _utcnow()
        article: dict[str, Any] | None
        if item.usable and record is not None:
            article = self._lock_or_create_article(conn, sql, item)
        else:
            article = self._lock_known_article(conn, sql, capture)
        article_id = article["id"] if article else None
        # With the body packed ahead (by an extraction worker) an insert that may do nothing is one
        # statement (or none: a chunk writes those when it begins); otherwise the check first spares
        # compressing a body that is stored already.
        written_with_chunk = deferred is not None and item.packed_ahead
        if item.sha is not None and not written_with_chunk and (
                item.packed_ahead or conn.execute(sql.body_exists, {"sha": item.sha}).scalar() is None):
            conn.execute(sql.insert_body, _body_row(item, now))
        capture_id, inserted = self._put_capture(conn, sql, item, article_id, run_id, now)
        # A capture found stored may have been stored (by another writer, or by an identical item
        # earlier in this batch) since the replay check. One inserted just now has no outcome yet.
        if not inserted:
            prior = deferred.outcome_of.get((capture_id, item.extractor_version)) if deferred else None
            if prior is None:
                prior = conn.execute(sql.prior_outcome, {"capture_id": capture_id,
                                                         "extractor_version": item.extractor_version}).scalar()
            if prior is not None:
                return prior  # type: ignore[no-any-return]

        version_id: int | None = None
        outcome: StoreOutcome
        fetched_at = item.fetched_at
        if item.usable and record is not None and article is not None:
            outcome, version_id = self._apply_record(conn, sql, article, item, capture_id, now, deferred)
        elif capture.kind == "gone":
            outcome = "removed"
            if article is not None:
                values: dict[str, Any] = {"last_fetched_at": _later(article["last_fetched_at"], fetched_at)}
                # An older 404 arriving late must not remove a page seen since.
                if article["removed_at"] is None and fetched_at >= _aware(article["last_seen_at"]):
                    values["removed_at"] = fetched_at
                conn.execute(sql.update_article, {"b_id": article["id"], **values})
        else:
            outcome = _PLAIN_OUTCOMES.get(capture.kind, "no_text")
            if article is not None:
                values = {"last_fetched_at": _later(article["last_fetched_at"], fetched_at)}
                if capture.kind == "not_modified":
                    values["last_seen_at"] = _later(article["last_seen_at"], fetched_at)
                conn.execute(sql.update_article, {"b_id": article["id"], **values})

        row = {"capture_id": capture_id, "extractor_version": item.extractor_version, "outcome": outcome,
               "article_id": article_id, "version_id": version_id, "run_id": run_id, "created_at": now}
        if deferred is not None:
            deferred.add_outcome(row)
        else:
            conn.execute(sql.insert_outcome, row)
        return outcome

    def _lock_or_create_article(self, conn: Connection, sql: Statements, item: _Item) -> dict[str, Any]:
        capture, record = item.capture, item.record
        assert record is not None
        seen_at = item.fetched_at  # UTC already (`_aware`), as the row reads back
        new_id = driver.scalar(conn, sql.insert_article_id, {
            "source_id": capture.source_id, "canonical_url": record.canonical_url,
            "first_seen_at": seen_at, "last_seen_at": seen_at, "last_fetched_at": seen_at,
            "latest_version_no": 0, "removed_at": None, "duplicate_of": None, "cluster_id": None,
            "latest_text_hash": None})
        # A row this transaction inserted is already locked by it; an existing one is locked here.
        row = {"id": int(new_id), "latest_version_no": 0, "removed_at": None, "last_seen_at": seen_at,
               "last_fetched_at": seen_at, "duplicate_of": None, "cluster_id": None} if new_id is not None else dict(
            conn.execute(sql.lock_article_by_url, {"url": record.canonical_url}).mappings().one())
        # One statement for the article's URLs, in this order (the first recorded alias wins lookups).
        driver.executemany(conn, sql.insert_article_url, [
            {"url": url, "article_id": row["id"], "first_seen_at": item.fetched_at}
            for url in dict.fromkeys((record.canonical_url, capture.url, capture.final_url, record.url))])
        return row

    def _lock_known_article(self, conn: Connection, sql: Statements, capture: Capture) -> dict[str, Any] | None:
        urls = list(dict.fromkeys((capture.url, capture.final_url)))
        row = conn.execute(sql.lock_article_by_alias, {"urls": urls}).mappings().first()
        return dict(row) if row is not None else None

    def _put_capture(self, conn: Connection, sql: Statements, item: _Item, article_id: int | None,
                     run_id: str | None, now: datetime) -> tuple[int, bool]:
        """The capture's id, and whether this call inserted it."""
        capture = item.capture
        headers = dict(capture.headers)
        inserted = driver.scalar(conn, sql.insert_capture, {
            "sha256": item.sha, "source_id": capture.source_id, "article_id": article_id, "url": capture.url,
            "final_url": capture.final_url, "status": capture.status, "kind": capture.kind, "headers": headers,
            "content_type": capture.content_type, "etag": headers.get("etag"),
            "last_modified": headers.get("last-modified"), "fetched_at": item.fetched_at, "run_id": run_id,
            "discovered_via": capture.discovered_via, "hint_title": capture.hint_title,
            "hint_published": capture.hint_published, "hint_language": capture.hint_language,
            "created_at": now})
        if inserted is not None:
            return int(inserted), True
        return int(conn.execute(sql.capture_id, {"source_id": capture.source_id, "url": capture.url,
                                                 "fetched_at": item.fetched_at}).scalar_one()), False

    def _apply_record(self, conn: Connection, sql: Statements, article: dict[str, Any], item: _Item,
                      capture_id: int, now: datetime, deferred: ChunkWrites | None
                      ) -> tuple[StoreOutcome, int | None]:
        record = item.record
        assert record is not None
        latest = None
        if article["latest_version_no"]:
            row = conn.execute(sql.latest_version, {"article_id": article["id"],
                                                    "version_no": article["latest_version_no"]}).one()
            latest = LatestVersion(*row)
        decision = decide(latest, removed=article["removed_at"] is not None, title=item.title, body=record.text,
                          extractor_version=record.extractor_version, capture_sha256=item.sha)
        seen = {"last_seen_at": _later(article["last_seen_at"], item.fetched_at),
                "last_fetched_at": _later(article["last_fetched_at"], item.fetched_at)}
        if decision == "unchanged":
            driver.execute(conn, sql.update_article, {"b_id": article["id"], **seen})
            return "unchanged", None

        added, removed = diff_size(latest.text if latest else "", record.text)
        version_no = article["latest_version_no"] + 1
        version_id = driver.scalar(conn, sql.insert_version, {
            "article_id": article["id"], "version_no": version_no, "reason": decision, "title": item.title,
            "text": record.text, "text_hash": item.digest, "authors": list(record.authors),
            "published_at": record.published, "updated_at": record.updated, "language": record.language,
            "language_confidence": record.language_confidence, "site_name": record.site_name, "url": record.url,
            "capture_id": capture_id, "captured_at": item.fetched_at,
            "extractor_version": record.extractor_version, "chars_added": added, "chars_removed": removed,
            "created_at": now})
        if version_id is None:  # as Result.scalar_one() would say: an insert without a conflict clause returns a row
            raise NoResultFound(f"INSERT ... RETURNING gave no row for a version of article {article['id']}")
        values: dict[str, Any] = {**seen, "latest_version_no": version_no, "latest_text_hash": item.digest,
                                  "removed_at": None}
        outcome: StoreOutcome = decision
        duplicate_of = article["duplicate_of"]
        if decision == "new":
            duplicate_of = self._find_exact_duplicate(conn, sql, item.digest, article["id"])
            if duplicate_of is not None:
                values["duplicate_of"] = duplicate_of
                outcome = "duplicate"
        driver.execute(conn, sql.update_article, {"b_id": article["id"], **values})
        # A first version: the article has no search row, signature or bands to replace yet.
        first = latest is None
        if deferred is None:
            search.index_article(conn, article["id"], item.title, record.text, first=first)
        else:
            deferred.search_rows.add(article["id"], item.title, record.text, first=first)
        self._cluster(conn, sql, article["id"], version_no, item.signature, duplicate_of, article["cluster_id"], now,
                      first=first, deferred=deferred)
        return outcome, version_id

    def _find_exact_duplicate(self, conn: Connection, sql: Statements, digest: str, article_id: int) -> int | None:
        """The first-seen other article that ever had this exact normalised text."""
        if conn.dialect.name == "postgresql":
            # Two new articles with the same text in concurrent transactions would not see each
            # other; a lock on the hash makes the second wait and find the first.
            key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
            conn.execute(_ADVISORY_XACT_LOCK, {"k": key})
        found = driver.scalar(conn, sql.exact_duplicate, {"digest": digest, "article_id": article_id})
        return int(found) if found is not None else None

    # -- near duplicates ------------------------------------------------------------------------

    def _cluster(self, conn: Connection, sql: Statements, article_id: int, version_no: int,
                 sig: dedupe.Signature | None, duplicate_of: int | None, cluster_id: int | None,
                 now: datetime, *, first: bool = False, deferred: ChunkWrites | None = None) -> None:
        """Refresh the MinHash signature and bands of an article and, when it has no cluster yet, put it
        in the cluster of its exact duplicate or of its closest earlier near duplicate.

        `deferred`: the new signature and bands are written when the chunk ends, and candidates come from
        what the chunk read when it began plus what its earlier items added (`ChunkWrites.closest`)."""
        if not first:
            conn.execute(sql.delete_bands, {"article_id": article_id})
            conn.execute(sql.delete_signature, {"article_id": article_id})
            if deferred is not None:
                deferred.drop_signature(article_id)
        best = duplicate_of
        if sig is not None and deferred is not None:
            deferred.add_signature(article_id, version_no, sig, now)
            if best is None:
                best = deferred.closest(conn, sql, article_id, sig)
        elif sig is not None:
            conn.execute(sql.insert_signature, {"article_id": article_id, "version_no": version_no,
                                                "shingling": sig.shingling, "signature": sig.to_bytes(),
                                                "updated_at": now})
            bands = sig.bands()
            bulk.insert_many(conn, MinhashBand, [{"band": b, "bucket_hash": h, "article_id": article_id}
                                                 for b, h in bands], skip_conflicts=True)
            if best is None:
                best = self._closest(conn, sql, article_id, sig, bands)
        if best is None or cluster_id is not None:
            return
        cluster = self._cluster_of(conn, sql, best, now)
        conn.execute(sql.set_cluster_if_none, {"b_id": article_id, "cluster_id": cluster})

    def _closest(self, conn: Connection, sql: Statements, article_id: int, sig: dedupe.Signature,
                 bands: list[tuple[int, int]]) -> int | None:
        best: tuple[float, int] | None = None
        params = {**{f"bucket{b}": h for b, h in bands}, "article_id": article_id}
        for cand_id, shingling, data in conn.execute(sql.near_candidates, params):
            score = sig.near_duplicate_score(dedupe.Signature.from_bytes(shingling, bytes(data)))
            if score is not None and (best is None or score > best[0]):
                best = (score, cand_id)
        return best[1] if best else None

    def _cluster_of(self, conn: Connection, sql: Statements, seed: int, now: datetime) -> int:
        """The cluster of `seed`, created when it has none (a concurrent writer may win the race)."""
        current = conn.execute(sql.cluster_of, {"id": seed}).scalar()
        if current is not None:
            return int(current)
        new_id = conn.execute(sql.insert_cluster, {"seed_article_id": seed, "created_at": now}).scalar_one()
        if conn.execute(sql.set_cluster_if_none, {"b_id": seed, "cluster_id": new_id}).rowcount == 1:
            return int(new_id)
        conn.execute(sql.delete_cluster, {"id": new_id})
        return int(conn.execute(sql.cluster_of, {"id": seed}).scalar_one())

    # -- reading for the crawl ------------------------------------------------------------------

    def known_urls(self, source_id: str) -> Iterator[KnownUrl]:
        """Every URL fetched for this source, with the validators of its latest page capture.

        After a 404/410 the validators are dropped, so the next fetch is unconditional.
        """
        # One pass over the source's captures: per URL the latest capture, and the validators of the
        # latest page capture (the first row when pages sort first; NULL when the URL has none). A join of
        # two such passes was quadratic on SQLite (no index on the materialised side): 0.4 s a source at
        # 1,250 URLs, a large part of a run over an unchanged site.
        sql = text("""
SELECT url, kind, fetched_at, etag, last_modified FROM (
  SELECT url, kind, fetched_at,
         ROW_NUMBER() OVER (PARTITION BY url ORDER BY fetched_at DESC, id DESC) AS rn,
         FIRST_VALUE(CASE WHEN kind = 'page' THEN etag END) OVER pages_first AS etag,
         FIRST_VALUE(CASE WHEN kind = 'page' THEN last_modified END) OVER pages_first AS last_modified
  FROM captures WHERE source_id = :source_id
  WINDOW pages_first AS (PARTITION BY url ORDER BY CASE WHEN kind = 'page' THEN 0 ELSE 1 END,
                                                   fetched_at DESC, id DESC)
) latest
WHERE rn = 1
ORDER BY url
""").columns(url=Text(), kind=String(), fetched_at=UTCDateTime(), etag=Text(), last_modified=Text())
        with self._reader() as conn:
            result = conn.execution_options(yield_per=_STREAM_CHUNK).execute(sql, {"source_id": source_id})
            for row in result:
                gone = row.kind == "gone"
                yield KnownUrl(url=row.url, etag=None if gone else row.etag,
                               last_modified=None if gone else row.last_modified,
                               last_fetched_at=row.fetched_at, gone=gone)

    def due_revisits(self, source_id: str, now: datetime, schedule_hours: list[float], limit: int) -> list[str]:
        """Canonical URLs of live articles with a revisit point (first seen + h hours, h in the schedule)
        that has passed without a fetch since; least recently fetched first."""
        hours = sorted({float(h) for h in schedule_hours if float(h) > 0})
        if not hours or limit <= 0:
            return []
        with self._reader() as conn:
            if conn.dialect.name == "sqlite":
                elapsed = "(julianday(:now) - julianday(a.first_seen_at)) * 24.0"
                fetched = "(julianday(a.last_fetched_at) - julianday(a.first_seen_at)) * 24.0"
            else:
                elapsed = "EXTRACT(EPOCH FROM (:now - a.first_seen_at)) / 3600.0"
                fetched = "EXTRACT(EPOCH FROM (a.last_fetched_at - a.first_seen_at)) / 3600.0"
            # Floats rendered by repr() of float(): no user text reaches the SQL.
            schedule = " UNION ALL ".join(f"SELECT {h!r} AS h" for h in hours)
            sql = text(f"""
SELECT a.canonical_url
FROM articles a CROSS JOIN ({schedule}) s
WHERE a.source_id = :source_id AND a.removed_at IS NULL
  AND {elapsed} >= s.h
  AND (a.last_fetched_at IS NULL OR {fetched} < s.h)
GROUP BY a.id, a.canonical_url, a.last_fetched_at
ORDER BY a.last_fetched_at, a.id
LIMIT :limit
""").bindparams(bindparam("now", type_=UTCDateTime()), bindparam("limit", type_=Integer()))
            return [r[0] for r in conn.execute(sql, {"source_id": source_id, "now": _aware(now), "limit": limit})]

    # -- reprocessing and verification ----------------------------------------------------------

    def captures_for_reprocess(self, source_id: str | None = None, *,
                               skip_extractor_version: str | None = None) -> Iterator[Capture]:
        """The latest page capture (with its body) of every article, for re-extraction.

        `skip_extractor_version`: leave out captures already stored with that extractor version, so a
        second reprocess with the same rules reads nothing (and reports nothing) again.
        """
        c = CaptureRow.__table__.c
        rn = func.row_number().over(partition_by=c.article_id, order_by=(c.fetched_at.desc(), c.id.desc()))
        inner = select(CaptureRow, rn.label("rn")).where(
            c.kind == "page", c.article_id.is_not(None), c.sha256.is_not(None))
        if source_id is not None:
            inner = inner.where(c.source_id == source_id)
        sub = inner.subquery()
        query = (select(sub, CaptureBody.body, CaptureBody.compression)
                 .join(CaptureBody, CaptureBody.sha256 == sub.c.sha256)
                 .where(sub.c.rn == 1).order_by(sub.c.article_id))
        if skip_extractor_version is not None:
            done = StoreOutcomeRow.__table__.c
            query = query.where(~select(done.capture_id).where(
                done.capture_id == sub.c.id, done.extractor_version == skip_extractor_version).exists())
        with self._reader() as conn:
            for row in conn.execution_options(yield_per=_STREAM_CHUNK).execute(query).mappings():
                yield Capture(
                    source_id=row["source_id"], url=row["url"], final_url=row["final_url"],
                    status=row["status"], kind=row["kind"], headers=dict(row["headers"] or {}),
                    body=_unpack(row["compression"], bytes(row["body"])), sha256=row["sha256"],
                    fetched_at=row["fetched_at"], discovered_via=row["discovered_via"] or "feed",
                    hint_title=row["hint_title"], hint_published=row["hint_published"],
                    hint_language=row["hint_language"])

    def verify_captures(self) -> Iterator[tuple[str, str]]:
        """(sha256, problem) for every stored body that does not decompress or re-hash to its key."""
        query = select(CaptureBody.sha256, CaptureBody.compression, CaptureBody.body, CaptureBody.size)
        with self._reader() as conn:
            for sha, compression, packed, size in conn.execution_options(yield_per=_STREAM_CHUNK).execute(query):
                try:
                    body = _unpack(compression, bytes(packed))
                except (zlib.error, ValueError) as exc:
                    yield sha, f"cannot decompress: {exc}"
                    continue
                actual = hashlib.sha256(body).hexdigest()
                if actual != sha:
                    yield sha, f"hash mismatch: body hashes to {actual}"
                elif len(body) != size:
                    yield sha, f"size mismatch: {len(body)} bytes, recorded {size}"

    # -- reading articles -----------------------------------------------------------------------

    def latest(self, url: str) -> ArticleSnapshot | None:
        """The latest version of the article with this canonical (or alias) URL."""
        sql = _typed(text(f"""SELECT {_SNAPSHOT_COLUMNS} FROM latest_articles
            WHERE article_id = (SELECT article_id FROM article_urls WHERE url = :url
                                UNION SELECT id FROM articles WHERE canonical_url = :url LIMIT 1)"""))
        with self._reader() as conn:
            row = conn.execute(sql, {"url": url}).mappings().first()
            return ArticleSnapshot(**row) if row else None

    def history(self, url: str) -> list[VersionSnapshot]:
        """Every version of the article with this canonical URL, oldest first."""
        sql = text("""SELECT article_id, url, version_no, reason, title, text, text_hash, captured_at,
                             chars_added, chars_removed, extractor_version
                      FROM article_history WHERE url = :url ORDER BY version_no""").columns(
            captured_at=UTCDateTime())
        with self._reader() as conn:
            return [VersionSnapshot(**r) for r in conn.execute(sql, {"url": url}).mappings()]

    def as_of(self, when: datetime, source_id: str | None = None) -> list[ArticleSnapshot]:
        """The archive as it was at `when`: each article's version current then (see `views.py`)."""
        where = "valid_from <= :t AND (valid_to IS NULL OR valid_to > :t)"
        if source_id is not None:
            where += " AND source_id = :source_id"
        sql = _typed(text(f"""SELECT article_id, source_id, url, version_no, title, text, language,
                published_at, valid_from AS captured_at,
                CASE WHEN removed_at <= :t THEN removed_at END AS removed_at, duplicate_of, cluster_id
            FROM article_timeline WHERE {where} ORDER BY article_id""")).bindparams(
            bindparam("t", type_=UTCDateTime()))
        with self._reader() as conn:
            rows = conn.execute(sql, {"t": _aware(when), "source_id": source_id}).mappings()
            return [ArticleSnapshot(**r) for r in rows]

    def search(self, query: str, limit: int = 20) -> list[ArticleSnapshot]:
        """Articles whose latest title or text contains every term of `query` (Chinese or English)."""
        with self._reader() as conn:
            ids = search.search_article_ids(conn, query, limit)
            if not ids:
                return []
            sql = _typed(text(f"SELECT {_SNAPSHOT_COLUMNS} FROM latest_articles WHERE article_id IN :ids")
                         .bindparams(bindparam("ids", expanding=True)))
            by_id = {r["article_id"]: ArticleSnapshot(**r) for r in conn.execute(sql, {"ids": ids}).mappings()}
            return [by_id[i] for i in ids if i in by_id]

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (for reports and tests)."""
        tables = ("sources", "captures", "capture_bodies", "articles", "article_versions", "article_urls",
                  "fetch_errors", "runs", "clusters", "store_outcomes")
        with self._reader() as conn:
            return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in tables}


def _body_row(item: _Item, now: datetime) -> dict[str, Any]:
    """The `capture_bodies` row of an item with a body."""
    return {"sha256": item.sha, "body": item.packed, "compression": BODY_COMPRESSION,
            "size": item.size or 0, "compressed_size": len(item.packed), "created_at": now}


_SNAPSHOT_COLUMNS = ("article_id, source_id, url, version_no, title, text, language, published_at, "
                     "captured_at, removed_at, duplicate_of, cluster_id")


def _typed(sql: Any) -> Any:
    return sql.columns(article_id=Integer(), version_no=Integer(), published_at=Date(),
                       captured_at=UTCDateTime(), removed_at=UTCDateTime(), duplicate_of=Integer(),
                       cluster_id=Integer())


def _unpack(compression: str, data: bytes) -> bytes:
    if compression == "zlib":
        return zlib.decompress(data)
    if compression == "none":
        return data
    raise ValueError(f"unknown compression {compression!r}")
