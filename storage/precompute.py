"""What `Archive.store` derives from a capture and its record, computed before storing.

The pipeline computes these in its extraction workers, on every core, so the process that stores
(one thread holding the write transaction) only writes: normalising and hashing the text, hashing
and compressing the raw body and the MinHash signature were ~40 % of its CPU (bench/RESULTS.md).
The text is normalised once for both the version hash and the signature.

Imported by extraction workers: no SQLAlchemy here.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from schemas import ArticleRecord, Capture
from storage import dedupe
from storage.versions import normalise_text

BODY_COMPRESSION = "zlib"
_ZLIB_LEVEL = 6


def pack_body(body: bytes) -> bytes:
    """A raw body as stored in `capture_bodies.body` (`compression` = BODY_COMPRESSION)."""
    return zlib.compress(body, _ZLIB_LEVEL)


def digest_normalised(norm: str) -> str:
    """`versions.text_hash` of a text whose normalised form is `norm`."""
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Precomputed:
    """Derived values of one (capture, record) pair; `Archive.store` checks they belong to it."""

    text: str | None
    """The record's text these were computed from (None: no record)."""
    text_digest: str | None
    signature: dedupe.Signature | None
    body_sha256: str | None
    packed_body: bytes | None


def precompute(capture: Capture, record: ArticleRecord | None) -> Precomputed:
    text = record.text if record is not None else None
    digest = signature = None
    if text:
        norm = normalise_text(text)
        digest = digest_normalised(norm)
        signature = dedupe.signature_of_normalised(norm)
    body = capture.body
    return Precomputed(
        text=text,
        text_digest=digest,
        signature=signature,
        body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
        packed_body=pack_body(body) if body is not None else None,
    )
