"""Duplicates: exact ones share a normalised-text hash (see `versions.text_hash`); near ones share
MinHash LSH buckets and then agree on most of their signature.

Shingles are character 5-grams for Chinese/Japanese/Korean text (no spaces to split words on) and
word 3-grams otherwise, so a changed deadline or a new headline keeps a re-posted notice close to its
original while two different notices on the same topic stay apart.

The signature is a one-permutation MinHash filled in rounds (fast similarity sketching, Dahlgaard,
Knudsen & Thorup 2017): each shingle is hashed once with BLAKE2b-512, which gives eight 64-bit words.
In round r every shingle's word r falls into the bin named by its top 6 bits, and an empty bin takes
the smallest such word; a bin still empty after eight rounds takes the smallest of a per-bin hash of
every shingle. A bin's value records its round above the word's low 58 bits, so an earlier round
always wins, and each position is the minimum over the whole shingle set of one fixed function:
two texts agree on it with probability equal to the Jaccard similarity of their shingle sets, so
the share of equal positions is unbiased, as with 64 independent permutations. Long texts need one
round; short ones get several samples per shingle, which keeps their error below classic MinHash
(densification, which copies values between bins instead, measured a larger error than classic
MinHash on 12-word texts and put a 40-word notice with a moved deadline below the threshold). One
C-level hash per shingle and a sort replace the 64 values per shingle and the Python column-wise
minimum of classic MinHash (~9 ms per article on the benchmark corpus, now ~1.3 ms). Every process
computes the same signature for the same text (no `hash()`, no random seeds).

Migration 0003 recomputed the signatures stored before this scheme: a change to how a signature is
computed needs such a migration, or old and new values would be compared and near duplicates missed.
"""

from __future__ import annotations

import hashlib
import re
import struct
from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property
from operator import eq

from storage.versions import normalise_text

NUM_PERM = 64
BANDS = 16
ROWS = NUM_PERM // BANDS
# Estimated Jaccard similarity at or above which two articles share a cluster. With 16 bands of 4
# rows a pair becomes a candidate with p ~ 0.89 at 0.6, ~ 0.999 at 0.8, ~ 0.03 at 0.2. A changed
# deadline in a 40-word English notice has an exact similarity of ~ 0.7; one changed character in a
# 150-character Chinese notice ~ 0.93; two templated notices that differ in four numbers ~ 0.5 (not
# clustered). The estimate is within ~ 0.04 of it on average (tests/storage/test_storage_dedupe.py).
NEAR_DUPLICATE_THRESHOLD = 0.6
# The fewest agreeing positions whose similarity reaches the threshold (the same float comparison).
_NEAR_DUPLICATE_POSITIONS = next(k for k in range(NUM_PERM + 1) if k / NUM_PERM >= NEAR_DUPLICATE_THRESHOLD)
MIN_SHINGLES = 8
"""Texts with fewer shingles are too short to tell a near duplicate from a common phrase."""

_ROW = struct.Struct(f">{NUM_PERM}Q")
_BAND = struct.Struct(f">{ROWS}Q")
_CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# What is left once every run of other characters is removed: the CJK characters. Removing runs, not
# the CJK characters one by one, is one substitution per run (97 -> ~15 us on an 1,800-character
# Chinese text, where nearly every character is CJK).
_NON_CJK_RUN = re.compile(f"[^{_CJK_RANGES}]+")
_WORD = re.compile(r"\w+")

_BIN_BITS = NUM_PERM.bit_length() - 1  # 64 bins: the top 6 bits of a word
_VALUE_BITS = 64 - _BIN_BITS
_VALUE_MASK = (1 << _VALUE_BITS) - 1
_VALUE_SHIFT_BYTE = 8 - _BIN_BITS
_ROUNDS = 8
"""Rounds of bin assignment, one per 64-bit word of a BLAKE2b-512 digest."""
# The smallest word that falls into each bin (a bin is the top 6 bits of a word's first byte).
_BIN_START = [bytes([b << _VALUE_SHIFT_BYTE]) for b in range(NUM_PERM)]
# Mapped over in the hot loop: an unbound C method is cheaper than a lambda or a `partial`.
_BLAKE2B_DIGEST = hashlib.blake2b.digest


@dataclass(frozen=True)
class Signature:
    shingling: str
    """`char5` or `word3`."""
    values: tuple[int, ...]

    def to_bytes(self) -> bytes:
        return self._packed

    @cached_property
    def _packed(self) -> bytes:
        return _ROW.pack(*self.values)

    @classmethod
    def from_bytes(cls, shingling: str, data: bytes) -> Signature:
        sig = cls(shingling, _ROW.unpack(data))
        # A stored signature arrives packed: keep that form, and read the near-duplicate bound's low bytes
        # straight from it. Storing an article compares it with every stored one sharing a band (~400 an
        # article at 10,000 bench articles, each loaded again per chunk): packing the values back and the
        # first `cached_property` read (a lock in Python 3.11) made a loaded candidate cost ~13 us.
        sig.__dict__["_packed"] = data
        sig.__dict__["_low_bytes"] = int.from_bytes(data[7::8], "big")
        return sig

    def similarity(self, other: Signature) -> float:
        """Estimated Jaccard similarity of the two shingle sets."""
        if self.shingling != other.shingling:
            return 0.0
        if len(self.values) != len(other.values):
            raise ValueError("signatures of different lengths")
        return sum(map(eq, self.values, other.values)) / NUM_PERM  # map(eq): ~4x a generator

    def near_duplicate_score(self, other: Signature) -> float | None:
        """`similarity(other)` when it reaches NEAR_DUPLICATE_THRESHOLD, else None.

        Most candidates a band lookup returns share one band by chance and agree on far fewer positions
        than the threshold needs (on the bench corpus, 33 candidates an article at 2,000 articles and
        five times as many at 10,000, where comparing them was a third of the storing process's CPU).
        Two values can only be equal where their low bytes are, so the positions whose low bytes agree
        bound the positions that agree: one XOR of two 64-byte integers and a count of zero bytes, in C
        (~0.3 us against ~2.5 us for the exact count). Only a candidate whose bound reaches the threshold
        is compared exactly; the answer is the exact comparison's.
        """
        if self.shingling != other.shingling:
            return None
        if len(self.values) != len(other.values):
            raise ValueError("signatures of different lengths")
        agree_at_most = (self._low_bytes ^ other._low_bytes).to_bytes(len(self.values), "big").count(0)
        if agree_at_most < _NEAR_DUPLICATE_POSITIONS:
            return None
        score = self.similarity(other)
        return score if score >= NEAR_DUPLICATE_THRESHOLD else None

    @cached_property
    def _low_bytes(self) -> int:
        """The low byte of each value, in order, as one big-endian integer."""
        # Every 8th byte of the big-endian packing, sliced in C (a generator over the values took 8 us).
        return int.from_bytes(self._packed[7::8], "big")

    def bands(self) -> list[tuple[int, int]]:
        """(band, bucket hash) pairs; the hash is a signed 64-bit integer (BIGINT)."""
        return list(self._bands)

    @cached_property
    def _bands(self) -> tuple[tuple[int, int], ...]:
        # Computed once per signature and pickled with it: an extraction worker computes them
        # (storage.precompute), and storing an item asked for them three times (~0.1 ms each).
        out = []
        for band in range(BANDS):
            chunk = _BAND.pack(*self.values[band * ROWS:(band + 1) * ROWS])
            digest = hashlib.blake2b(chunk, digest_size=8).digest()
            out.append((band, int.from_bytes(digest, "big", signed=True)))
        return tuple(out)


def shingles(text: str) -> tuple[str, set[str]]:
    return _shingles(normalise_text(text))


def _shingles(normalised: str) -> tuple[str, set[str]]:
    norm = normalised.lower()
    if not norm.isascii():  # ASCII text holds no CJK character
        compact = "".join(norm.split())
        # Counted in C, not per character in Python (that cost ~1 ms a page).
        if compact and len(_NON_CJK_RUN.sub("", compact)) / len(compact) >= 0.3:
            return "char5", {compact[i:i + 5] for i in range(len(compact) - 4)}
    words = _WORD.findall(norm)
    return "word3", set(map(" ".join, zip(words, words[1:], words[2:], strict=False)))


def signature(text: str) -> Signature | None:
    """The MinHash signature of a text, or None when it is too short to compare."""
    return signature_of_normalised(normalise_text(text))


def signature_of_normalised(normalised: str) -> Signature | None:
    """`signature(t)` given `versions.normalise_text(t)` (the version hash normalises the text too)."""
    shingling, grams = _shingles(normalised)
    if len(grams) < MIN_SHINGLES:
        return None
    encoded = list(map(str.encode, grams))
    # One 512-bit digest per shingle: eight 64-bit words, one per round. The top 6 bits of a word
    # pick the bin, the rest is the value, and sorting the words as bytes (big-endian order) puts
    # each bin's smallest value first among its bin's words.
    digests = list(map(_BLAKE2B_DIGEST, map(hashlib.blake2b, encoded)))
    values = [0] * NUM_PERM
    empty = list(range(NUM_PERM))
    for rnd in range(_ROUNDS):
        if rnd == 0:
            words = sorted(digests)  # a digest sorts as its first word does
        else:
            lo = 8 * rnd
            words = sorted([d[lo:lo + 8] for d in digests])
        n = len(words)
        still_empty = []
        for b in empty:
            i = bisect_left(words, _BIN_START[b])
            if i < n and words[i][0] >> _VALUE_SHIFT_BYTE == b:
                values[b] = (rnd << _VALUE_BITS) | (int.from_bytes(words[i][:8], "big") & _VALUE_MASK)
            else:
                still_empty.append(b)
        empty = still_empty
        if not empty:
            break
    for b in empty:
        # Every shingle competes for the bins no round filled (few, and only in short texts).
        salt = b"bin%d:" % b
        best = min(hashlib.blake2b(salt + g, digest_size=8).digest() for g in encoded)
        values[b] = (_ROUNDS << _VALUE_BITS) | (int.from_bytes(best, "big") & _VALUE_MASK)
    return Signature(shingling, tuple(values))
