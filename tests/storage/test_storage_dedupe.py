"""Near-duplicate signatures: the estimate tracks the exact Jaccard similarity of the shingle sets,
and every process computes the same values (they are stored and compared across runs)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

from storage import dedupe

ROOT = Path(__file__).resolve().parents[2]

# Texts whose signatures are pinned below: one per shingling, one short enough to need every round.
PINNED = {
    "word3": ("The national science foundation opens its 2027 call for joint research on coastal "
              "ecosystems; proposals are due on 12 March and budgets may not exceed two million."),
    "char5": "关于开展2027年度重点研发计划项目申报工作的通知，申报截止时间为2027年3月12日。",
    "short": "one two three four five six seven eight nine ten eleven",
}


def _exact_jaccard(a: str, b: str) -> float:
    (kind_a, sa), (kind_b, sb) = dedupe.shingles(a), dedupe.shingles(b)
    assert kind_a == kind_b
    return len(sa & sb) / len(sa | sb)


def _pairs(count: int, seed: int = 2026) -> list[tuple[str, str]]:
    """Text pairs of 12 to 400 words (or 20 to 600 Chinese characters) where a random share of the
    tokens of the first is replaced, so the exact similarity spans 0 to 1."""
    rng = random.Random(seed)
    pairs = []
    for n in range(count):
        chinese = n % 3 == 0
        length = rng.choice([12, 20, 40, 80, 150, 400]) * (3 if chinese else 1) // (2 if chinese else 1)
        if chinese:
            tokens = [chr(0x4E00 + rng.randrange(3000)) for _ in range(length)]
        else:
            tokens = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                      for _ in range(length)]
        changed = list(tokens)
        for _ in range(int(length * rng.uniform(0.0, 0.25)) + 1):
            changed[rng.randrange(length)] = (chr(0x4E00 + rng.randrange(3000)) if chinese else
                                              "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5)))
        sep = "" if chinese else " "
        pairs.append((sep.join(tokens), sep.join(changed)))
    return pairs


def test_the_estimate_tracks_the_exact_jaccard_similarity() -> None:
    """Measured over these 50 pairs (10 to 600 shingles, exact similarity 0.04 to 0.89): mean absolute
    error 0.038; over 20 generator seeds 0.035 +- 0.002 (at most 0.040), mean signed error within
    0.01, largest single error 0.15. Classic MinHash with 64 independent permutations (standard
    deviation sqrt(J(1-J)/64), up to 0.0625) measured 0.045 +- 0.004 on the same pairs; it was the
    previous signature. The bound of 0.045 is the new mean plus 4.5 standard deviations: a regression
    to classic accuracy fails about half the time, a biased or broken estimator always."""
    errors = []
    for a, b in _pairs(50):
        sig_a, sig_b = dedupe.signature(a), dedupe.signature(b)
        assert sig_a is not None and sig_b is not None
        errors.append(sig_a.similarity(sig_b) - _exact_jaccard(a, b))
    exact = [_exact_jaccard(a, b) for a, b in _pairs(50)]
    assert min(exact) < 0.3 and max(exact) > 0.8  # the pairs span the range
    assert statistics.mean(abs(e) for e in errors) < 0.045
    assert abs(statistics.mean(errors)) < 0.02  # no bias toward merging or splitting
    assert max(abs(e) for e in errors) < 0.2


def test_identical_texts_agree_everywhere_and_unrelated_ones_almost_nowhere() -> None:
    a, b = _pairs(2, seed=7)[1]
    sig = dedupe.signature(a)
    assert sig is not None and sig.similarity(dedupe.signature(a)) == 1.0  # type: ignore[arg-type]
    unrelated = dedupe.signature(_pairs(2, seed=8)[1][0])
    assert unrelated is not None and sig.similarity(unrelated) <= 0.05
    assert not set(sig.bands()) & set(unrelated.bands())
    # The same text under another shingling is never compared.
    assert dedupe.Signature("char5", sig.values).similarity(sig) == 0.0


def test_signatures_survive_storage_as_bytes() -> None:
    for text in PINNED.values():
        sig = dedupe.signature(text)
        assert sig is not None and len(sig.values) == dedupe.NUM_PERM
        data = sig.to_bytes()
        assert len(data) == 8 * dedupe.NUM_PERM
        loaded = dedupe.Signature.from_bytes(sig.shingling, data)
        assert loaded == sig and loaded.to_bytes() == data and loaded.bands() == sig.bands()
        assert [b for b, _ in sig.bands()] == list(range(dedupe.BANDS))


def _digests() -> dict[str, str]:
    out = {}
    for name, text in PINNED.items():
        sig = dedupe.signature(text)
        assert sig is not None
        out[name] = f"{sig.shingling}:{hashlib.sha256(sig.to_bytes()).hexdigest()[:16]}"
    return out


def test_every_process_computes_the_same_signature() -> None:
    """Another interpreter with another string-hash seed gives the same values, and the values are
    pinned: a change to them needs a migration that recomputes the stored signatures (see
    storage/migrations/versions/2026_11_25_0003_*), then new pins here."""
    script = ("import json\nfrom tests.storage.test_storage_dedupe import _digests\n"
              "print(json.dumps(_digests()))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "4242"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout) == _digests()
    assert _digests() == {
        "word3": "word3:3b55cbc1a77637cd",
        "char5": "char5:b604c23490dc9d57",
        "short": "word3:d326bc7a3d31206e",
    }


def test_bands_computed_in_a_worker_travel_with_the_signature() -> None:
    import pickle

    text = " ".join(f"word{i} filler{i % 7}" for i in range(80))
    sig = dedupe.signature(text)
    assert sig is not None
    fresh = dedupe.Signature(sig.shingling, sig.values)
    shipped = pickle.loads(pickle.dumps(sig))  # as an extraction worker returns it
    assert shipped.bands() == fresh.bands() and len(fresh.bands()) == dedupe.BANDS
    other = dedupe.signature(text + " and a different tail of several words here")
    assert other is not None and other.bands() != fresh.bands()  # cached per signature, not shared


def _with_changes(base: tuple[int, ...], positions: list[int], rng: random.Random, *, same_low_byte: bool
                  ) -> tuple[int, ...]:
    """`base` with the values at `positions` replaced; with `same_low_byte` each new value keeps the old
    one's low byte (so only the exact comparison can tell them apart)."""
    values = list(base)
    for i in positions:
        new = rng.getrandbits(64)
        if same_low_byte:
            new = (new & ~0xFF) | (values[i] & 0xFF)
        if new == values[i]:
            new ^= 1 << 63
        values[i] = new
    return tuple(values)


def test_near_duplicate_score_is_the_similarity_where_it_reaches_the_threshold_and_none_elsewhere() -> None:
    rng = random.Random(7)
    need = next(k for k in range(dedupe.NUM_PERM + 1) if k / dedupe.NUM_PERM >= dedupe.NEAR_DUPLICATE_THRESHOLD)
    checked = {"above": 0, "below": 0, "below_past_the_bound": 0}
    for _ in range(300):
        base = tuple(rng.getrandbits(64) for _ in range(dedupe.NUM_PERM))
        changed = rng.choice([0, 1, dedupe.NUM_PERM - need, dedupe.NUM_PERM - need + 1, rng.randrange(65)])
        positions = rng.sample(range(dedupe.NUM_PERM), changed)
        same_low = rng.random() < 0.5
        a = dedupe.Signature("word3", base)
        b = dedupe.Signature("word3", _with_changes(base, positions, rng, same_low_byte=same_low))
        exact = a.similarity(b)
        score = a.near_duplicate_score(b)
        assert exact == (dedupe.NUM_PERM - changed) / dedupe.NUM_PERM
        if exact >= dedupe.NEAR_DUPLICATE_THRESHOLD:
            assert score == exact
            checked["above"] += 1
        else:
            assert score is None
            checked["below"] += 1
            checked["below_past_the_bound"] += same_low  # the low bytes agree everywhere: exact check needed
        assert b.near_duplicate_score(a) == score
        # Loaded from the database (the bound's low bytes read from the stored bytes): the same answers.
        stored_a, stored_b = (dedupe.Signature.from_bytes("word3", x.to_bytes()) for x in (a, b))
        assert a.near_duplicate_score(stored_b) == stored_a.near_duplicate_score(stored_b) == score
        assert stored_b.near_duplicate_score(a) == score
    assert min(checked.values()) >= 20, checked
    assert dedupe.Signature("char5", base).near_duplicate_score(dedupe.Signature("word3", base)) is None


def test_near_duplicate_score_of_an_edited_notice() -> None:
    text = ("The national science foundation opens its 2026 call for research infrastructure proposals. "
            "Universities and public institutes may apply until 30 April 2026 through the online portal. "
            "Each proposal is reviewed by two independent panels and funded for up to five years.")
    edited = text.replace("30 April 2026", "15 May 2026")
    a, b = dedupe.signature(text), dedupe.signature(edited)
    other = dedupe.signature("A different notice about fisheries quotas in the northern sea for the coming "
                             "season, published by the ministry of agriculture after consultation.")
    assert a is not None and b is not None and other is not None
    assert a.near_duplicate_score(b) == a.similarity(b) >= dedupe.NEAR_DUPLICATE_THRESHOLD
    assert a.near_duplicate_score(other) is None


def test_a_chunk_never_matches_a_signature_it_replaced() -> None:
    """An article given a new version in this chunk lost its stored signature: a later item of the chunk
    that is a near duplicate of the old text only must not be clustered with it through the stale one."""
    from datetime import UTC, datetime

    from storage.chunk_writes import ChunkWrites

    old = dedupe.signature(" ".join(f"word{i} notice funding call" for i in range(40)))
    new = dedupe.signature(" ".join(f"other{i} ministry quota season" for i in range(40)))
    assert old is not None and new is not None
    writes = ChunkWrites(_loaded=True)  # as if read from the database at the chunk's start:
    writes.stored_signatures[1] = old
    for key in old.bands():
        writes.stored_bands.setdefault(key, []).append(1)
    assert writes.closest(None, None, 2, old) == 1  # type: ignore[arg-type]  # (no database read)
    writes.drop_signature(1)
    assert writes.closest(None, None, 2, old) is None  # type: ignore[arg-type]
    writes.add_signature(1, 2, new, datetime(2026, 1, 1, tzinfo=UTC))
    assert writes.closest(None, None, 2, old) is None  # type: ignore[arg-type]
    assert writes.closest(None, None, 2, new) == 1  # type: ignore[arg-type]


def _cjk_share_by_character(compact: str) -> float:
    """The CJK share the shingling threshold reads, counted one character at a time (the reference)."""
    ranges = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))
    return sum(any(lo <= ord(ch) <= hi for lo, hi in ranges) for ch in compact) / len(compact)


def test_chinese_shingling_is_chosen_exactly_when_three_tenths_of_the_text_is_cjk() -> None:
    # Each range's first and last characters and their neighbours outside it, with ASCII, Latin,
    # Cyrillic and full-width characters, mixed in random shares around the 0.3 threshold.
    edges = "\u303f\u3040\u30ff\u3100\u33ff\u3400\u4dbf\u4dc0\u4dff\u4e00\u9fff\ua000\uabff\uac00\ud7af\ud7b0" \
            "\uf8ff\uf900\ufaff\ufb00"
    others = "abcXYZ019éßжЯ\uff21\uff41,.;-"
    rng = random.Random(9)
    chosen = {"char5": 0, "word3": 0}
    for _ in range(3000):
        length = rng.randint(1, 60)
        share = rng.random()
        compact = "".join(rng.choice(edges) if rng.random() < share else rng.choice(others) for _ in range(length))
        words = [compact[i:i + 7] for i in range(0, len(compact), 7)]
        kind, _ = dedupe._shingles(" ".join(words))
        assert (kind == "char5") == (_cjk_share_by_character(compact) >= 0.3), compact
        chosen[kind] += 1
    assert min(chosen.values()) > 500  # both sides of the threshold were exercised
