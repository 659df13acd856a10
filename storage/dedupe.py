"""Duplicates: exact ones share a normalised-text hash (see `versions.text_hash`); near ones share
MinHash LSH buckets and then agree on most of their signature.

Shingles are character 5-grams for Chinese/Japanese/Korean text (no spaces to split words on) and
word 3-grams otherwise, so a changed deadline or a new headline keeps a re-posted notice close to its
original while two different notices on the same topic stay apart. Each shingle is hashed once with
SHAKE-128 into 64 independent 64-bit values (one per MinHash function) and the signature is their
column-wise minimum: the same estimator as 64 universal-hash permutations, at half the CPU, since the
work is one C-level hash per shingle instead of 64 Python multiplications. Every process computes the
same signature for the same text.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

from storage.versions import normalise_text

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
# Estimated Jaccard similarity at or above which two articles share a cluster. With 16 bands of 4
# rows a pair becomes a candidate with p ~ 0.89 at 0.6, ~ 0.999 at 0.8, ~ 0.03 at 0.2. A changed
# deadline in a 40-word English notice scores ~ 0.75; one changed character in a 150-character
# Chinese notice ~ 0.94; two templated notices that differ in four numbers ~ 0.45 (not clustered).
NEAR_DUPLICATE_THRESHOLD = 0.6
MIN_SHINGLES = 8
"""Texts with fewer shingles are too short to tell a near duplicate from a common phrase."""

_ROW = struct.Struct(f">{NUM_PERM}Q")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Signature:
    shingling: str
    """`char5` or `word3`."""
    values: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return struct.pack(f">{NUM_PERM}Q", *self.values)

    @classmethod
    def from_bytes(cls, shingling: str, data: bytes) -> Signature:
        return cls(shingling, struct.unpack(f">{NUM_PERM}Q", data))

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        if self.shingling != other.shingling:
            return 0.0
        return sum(a == b for a, b in zip(self.values, other.values, strict=True)) / NUM_PERM

    def bands(self) -> list[tuple[int, int]]:
        """(band, bucket hash) pairs; the hash is a signed 64-bit integer (BIGINT)."""
        out = []
        for band in range(BANDS):
            chunk = struct.pack(f">{ROWS}Q", *self.values[band * ROWS:(band + 1) * ROWS])
            digest = hashlib.blake2b(chunk, digest_size=8).digest()
            out.append((band, int.from_bytes(digest, "big", signed=True)))
        return out


def shingles(text: str) -> tuple[str, set[str]]:
    norm = normalise_text(text).lower()
    letters = [ch for ch in norm if not ch.isspace()]
    cjk = sum(1 for ch in letters if _CJK_CHAR.match(ch))
    if letters and cjk / len(letters) >= 0.3:
        compact = "".join(letters)
        return "char5", {compact[i:i + 5] for i in range(max(len(compact) - 4, 0))}
    words = _WORD.findall(norm)
    return "word3", {" ".join(words[i:i + 3]) for i in range(max(len(words) - 2, 0))}


def signature(text: str) -> Signature | None:
    """The MinHash signature of a text, or None when it is too short to compare."""
    shingling, grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    rows = [_ROW.unpack(hashlib.shake_128(g.encode("utf-8")).digest(8 * NUM_PERM)) for g in grams]
    return Signature(shingling, tuple(map(min, zip(*rows, strict=True))))
