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
_ZLIB_LEVEL = 3
"""On the bench corpus (66 KB pages of HTML) level 3 compresses 5.3:1 in 0.5 ms a page, level 6 6.0:1 in
1.0 ms: 12 % more bytes for half the CPU of the one compression every stored body gets. Readers do not
care: any level decompresses the same way."""


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
        if signature is not None:
            signature.bands()  # cached on the signature, which is pickled back with its bands
    body = capture.body
    return Precomputed(
        text=text,
        text_digest=digest,
        signature=signature,
        body_sha256=hashlib.sha256(body).hexdigest() if body is not None else None,
        packed_body=pack_body(body) if body is not None else None,
    )
