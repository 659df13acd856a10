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
from types import ModuleType

from schemas import ArticleRecord, Capture
from storage import dedupe
from storage.versions import normalise_text

BODY_COMPRESSION = "zlib"

try:
    # ISA-L's deflate writes the same zlib format (any zlib reads it back) in a quarter of the time: on the
    # bench corpus (66 KB pages of HTML) its level 2 compresses 5.0:1 in 0.12 ms a page, zlib's level 3
    # 5.3:1 in 0.52 ms and level 6 6.0:1 in 1.07 ms (bench/RESULTS.md). Every stored body is compressed
    # once, in an extraction worker, so this is ~2 % of an ingest's CPU for ~6 % more stored bytes.
    from isal import isal_zlib

    _deflate: ModuleType = isal_zlib
    _LEVEL = 2
except ImportError:  # a platform without an isal wheel: the same format, slower
    _deflate = zlib
    _LEVEL = 3


def pack_body(body: bytes) -> bytes:
    """A raw body as stored in `capture_bodies.body` (`compression` = BODY_COMPRESSION: readers use
    `zlib.decompress`, whichever library wrote it)."""
    return _deflate.compress(body, _LEVEL)


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
    body_size: int | None = None
    """Bytes of the raw body (the process that stores may never have held it: `Capture.spooled_body`)."""


def precompute(capture: Capture, record: ArticleRecord | None, *, body_sha256: str | None = None) -> Precomputed:
    """`body_sha256`: the body's hash when the caller has just checked it (a body read from the spool)."""
    text = record.text if record is not None else None
    digest = signature = None
    if text:
        norm = normalise_text(text)
        digest = digest_normalised(norm)
        signature = dedupe.signature_of_normalised(norm)
        if signature is not None:
            signature.bands()  # cached on the signature, which is pickled back with its bands
    body = capture.body
    return Precomputed(
        text=text,
        text_digest=digest,
        signature=signature,
        body_sha256=(body_sha256 or hashlib.sha256(body).hexdigest()) if body is not None else None,
        packed_body=pack_body(body) if body is not None else None,
        body_size=len(body) if body is not None else None,
    )
