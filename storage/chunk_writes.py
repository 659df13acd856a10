"""What one chunk of `Archive.store` writes together at its end, and the near-duplicate lookups it
answers from memory meanwhile.

Every statement costs ~0.1 ms of SQLAlchemy on top of the database's own work, and SQLite's FTS5
flushed its in-memory index at the savepoint of every statement that followed a search row. Rows that
no later item of the chunk reads back from the database (outcomes, search rows, MinHash signatures
and bands) are therefore kept here and written with one statement per table when the chunk ends.

Near duplicates are the one case where a later item does read what an earlier one wrote: it looks for
candidates among the bands of every article stored before it, this chunk's included. The bands and
signatures stored before the chunk are read once, in two statements, at the first lookup; those
of the chunk's own items are kept here; `closest` answers from both what a query per item answered.
A chunk whose items change nothing (a re-check of unchanged pages) reads none of it.

Only used without per-item savepoints: a rolled-back item must take its rows with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection

from schemas.run import StoreOutcome
from storage import bulk, dedupe, search
from storage.models import MinhashBand, MinhashSignature, StoreOutcomeRow
from storage.statements import Statements

BandKey = tuple[int, int]
"""(band, bucket hash)"""

_IDS_PER_QUERY = 500
"""Ids bound per IN list: far below SQLite's limit on parameters, whatever the candidate count."""


@dataclass
class _Added:
    version_no: int
    signature: dedupe.Signature
    bands: frozenset[BandKey]
    updated_at: datetime


@dataclass
class ChunkWrites:
    """The rows of one chunk's transaction that are written when it ends (`flush`)."""

    search_rows: search.PendingSearchRows = field(default_factory=search.PendingSearchRows)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    outcome_of: dict[tuple[int, str], StoreOutcome] = field(default_factory=dict)
    """(capture id, extractor version) -> the outcome this chunk recorded for it, not yet written."""
    stored_bands: dict[BandKey, list[int]] = field(default_factory=dict)
    """Articles stored before the chunk with each band of its items (read by `_load`)."""
    stored_signatures: dict[int, dedupe.Signature] = field(default_factory=dict)
    added: dict[int, _Added] = field(default_factory=dict)
    """article id -> the signature this chunk gave it, not yet written."""
    replaced: set[int] = field(default_factory=set)
    """Articles whose stored signature and bands this chunk deleted: what `_load` read of them is stale."""
    signatures: Callable[[], Iterable[dedupe.Signature]] = lambda: ()
    """The signatures of the chunk's items, whose stored near duplicates `closest` reads at its first
    call (a function: an item without a precomputed signature computes it only if a lookup happens)."""
    _loaded: bool = False

    def _load(self, conn: Connection, sql: Statements) -> None:
        """Read the stored articles that share a band with any of the chunk's items' signatures."""
        self._loaded = True
        wanted: dict[int, set[int]] = {}
        for sig in self.signatures():
            for band, bucket in sig.bands():
                wanted.setdefault(band, set()).add(bucket)
        if not wanted:
            return
        params = {f"buckets{band}": sorted(wanted.get(band, ())) for band in range(dedupe.BANDS)}
        for band, bucket, article_id in conn.execute(sql.chunk_bands, params):
            self.stored_bands.setdefault((band, bucket), []).append(article_id)
        ids = sorted({a for ids in self.stored_bands.values() for a in ids})
        it = iter(ids)
        while part := list(islice(it, _IDS_PER_QUERY)):
            for article_id, shingling, data in conn.execute(sql.signatures_of, {"ids": part}):
                self.stored_signatures[article_id] = dedupe.Signature.from_bytes(shingling, bytes(data))

    def drop_signature(self, article_id: int) -> None:
        """The article's signature rows were deleted (a new version): neither the stored nor an added
        one is a candidate until `add_signature` gives it a new one."""
        self.replaced.add(article_id)
        self.added.pop(article_id, None)

    def add_signature(self, article_id: int, version_no: int, sig: dedupe.Signature, now: datetime) -> None:
        self.added[article_id] = _Added(version_no, sig, frozenset(sig.bands()), now)

    def closest(self, conn: Connection, sql: Statements, article_id: int, sig: dedupe.Signature) -> int | None:
        """The most similar other article at or above the near-duplicate threshold; the lowest id wins
        a tie (as the per-item query did: candidates in id order, a later one only when strictly closer).
        `sig` must be among `signatures`."""
        if not self._loaded:
            self._load(conn, sql)
        keys = frozenset(sig.bands())
        # Set operations in C: at 10,000 bench articles a Python loop over these lists was a fifth of storing.
        candidates = set().union(*(self.stored_bands.get(key, ()) for key in keys))
        candidates -= self.replaced
        candidates.update(a for a, added in self.added.items() if added.bands & keys)
        candidates.discard(article_id)
        best: tuple[float, int] | None = None
        for cand in sorted(candidates):
            added = self.added.get(cand)
            other = added.signature if added is not None else self.stored_signatures.get(cand)
            if other is None:
                continue  # bands without a signature row: the per-item query's join skipped them too
            score = sig.near_duplicate_score(other)
            if score is not None and (best is None or score > best[0]):
                best = (score, cand)
        return best[1] if best else None

    def add_outcome(self, row: dict[str, Any]) -> None:
        self.outcomes.append(row)
        self.outcome_of[(row["capture_id"], row["extractor_version"])] = row["outcome"]

    def flush(self, conn: Connection) -> None:
        """One statement per table (storage/bulk.py)."""
        bulk.insert_many(conn, StoreOutcomeRow, self.outcomes)
        bulk.insert_many(conn, MinhashSignature, [
            {"article_id": a, "version_no": x.version_no, "shingling": x.signature.shingling,
             "signature": x.signature.to_bytes(), "updated_at": x.updated_at} for a, x in self.added.items()])
        bulk.insert_many(conn, MinhashBand, [
            {"band": b, "bucket_hash": h, "article_id": a} for a, x in self.added.items() for b, h in sorted(x.bands)],
            skip_conflicts=True)
        self.search_rows.flush(conn)

