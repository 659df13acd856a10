"""Recompute every stored MinHash signature and its LSH bands with the one-hash-per-shingle scheme.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

`storage.dedupe.signature` changed from 64 SHAKE-128 values per shingle to one BLAKE2b-512 digest per
shingle (same 64 big-endian uint64 values, same 16 bands of 4 rows, different numbers). Old and new
values never match, so a new article would miss every near duplicate stored before: each signature
is recomputed from the version text it names (`article_id`, `version_no`), in batches, so an
archive of any size is upgraded without holding its texts in memory. A signature whose version text
is gone is deleted with its bands (the next version of the article writes a fresh one).

The upgrade uses the live `storage.dedupe` (as 0002 uses the live bigram function): a later change
of the values comes with its own recomputing migration. The downgrade recomputes the SHAKE-128
values of revision 0002, kept below, from the same shingles (the shingling itself did not change).
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from storage.dedupe import MIN_SHINGLES, NUM_PERM, Signature, shingles, signature

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger(__name__)

_BATCH = 500

_SELECT = sa.text(
    "SELECT s.article_id, v.text FROM minhash_signatures s "
    "LEFT JOIN article_versions v ON v.article_id = s.article_id AND v.version_no = s.version_no "
    "WHERE s.article_id > :last ORDER BY s.article_id LIMIT :n")
_UPDATE = sa.text(
    "UPDATE minhash_signatures SET shingling = :shingling, signature = :signature, updated_at = :now "
    "WHERE article_id = :article_id"
).bindparams(sa.bindparam("signature", type_=sa.LargeBinary()), sa.bindparam("now", type_=sa.DateTime(timezone=True)))
_DELETE_SIGNATURE = sa.text("DELETE FROM minhash_signatures WHERE article_id = :article_id")
_DELETE_BANDS = sa.text("DELETE FROM minhash_bands WHERE article_id = :article_id")
_INSERT_BAND = sa.text("INSERT INTO minhash_bands (band, bucket_hash, article_id) VALUES (:band, :bucket_hash, :article_id)")
# Bands are only read together with a signature; any left without one would be dead rows.
_DELETE_ORPHAN_BANDS = sa.text(
    "DELETE FROM minhash_bands WHERE NOT EXISTS "
    "(SELECT 1 FROM minhash_signatures s WHERE s.article_id = minhash_bands.article_id)")

_SHAKE_ROW = struct.Struct(f">{NUM_PERM}Q")


def _shake_signature(text: str) -> Signature | None:
    """The signature of revisions 0001-0002: 64 SHAKE-128 values per shingle, column-wise minimum."""
    shingling, grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    rows = [_SHAKE_ROW.unpack(hashlib.shake_128(g.encode("utf-8")).digest(8 * NUM_PERM)) for g in grams]
    return Signature(shingling, tuple(map(min, zip(*rows, strict=True))))


def _recompute(bind: Connection, compute: Callable[[str], Signature | None]) -> None:
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC text, as storage.models.UTCDateTime does
    last, done, dropped = 0, 0, 0
    while True:
        rows = bind.execute(_SELECT, {"last": last, "n": _BATCH}).all()
        if not rows:
            break
        updates: list[dict[str, object]] = []
        gone: list[dict[str, object]] = []
        bands: list[dict[str, object]] = []
        for article_id, body in rows:
            sig = compute(body) if body is not None else None
            if sig is None:
                gone.append({"article_id": article_id})
                continue
            updates.append({"article_id": article_id, "shingling": sig.shingling, "signature": sig.to_bytes(),
                            "now": now})
            bands.extend({"band": b, "bucket_hash": h, "article_id": article_id} for b, h in sig.bands())
        bind.execute(_DELETE_BANDS, [{"article_id": article_id} for article_id, _ in rows])
        if updates:
            bind.execute(_UPDATE, updates)
            bind.execute(_INSERT_BAND, bands)
        if gone:
            bind.execute(_DELETE_SIGNATURE, gone)
        done, dropped = done + len(updates), dropped + len(gone)
        last = rows[-1][0]
    bind.execute(_DELETE_ORPHAN_BANDS)
    logger.info("recomputed %s MinHash signatures (%s without their version text deleted)", done, dropped)


def upgrade() -> None:
    _recompute(op.get_bind(), signature)


def downgrade() -> None:
    _recompute(op.get_bind(), _shake_signature)
