"""Where a record becomes a version: normalisation, decision, diff size, near-duplicate signatures."""

from __future__ import annotations

import random
import re
import unicodedata

from storage import dedupe
from storage.versions import LatestVersion, decide, diff_size, normalise_text, text_hash


def latest(text: str, title: str = "T", extractor: str = "1", sha: str | None = "s1") -> LatestVersion:
    return LatestVersion(1, title, text, text_hash(text), extractor, sha)


def test_normalisation_ignores_whitespace_width_tags_and_invisible_characters() -> None:
    assert normalise_text("  A  b\n\n c\u200b ") == "A b c"
    assert normalise_text("Deadline\u00a0\uff13\uff10 April") == "Deadline 30 April"
    assert normalise_text("a <b>bold</b> word") == "a bold word"
    assert normalise_text("科学 技术\n部") == "科学技术部"
    assert text_hash("One  two") == text_hash("One\ntwo")
    assert text_hash("deadline 30 April") != text_hash("deadline 31 April")
    assert text_hash("科学技术部") != text_hash("科学技木部")


def _reference_normalise(text: str) -> str:
    """normalise_text as first written (migration 0001's hashes were made with it); stored text hashes
    depend on every detail of it, so a faster form must give the same string for every input."""
    cjk = (r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
           r"\uf900-\ufaff\uff00-\uffef")
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", " ", text)
    text = re.sub("[\u00ad\u200b\u200c\u200d\u2060\ufeff]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(rf"(?<=[{cjk}]) | (?=[{cjk}])", "", text)


def test_normalisation_gives_the_reference_form_for_random_mixed_text() -> None:
    # Every Unicode whitespace character, CJK and full-width forms, tags, invisible characters, Latin.
    whitespace = [chr(c) for c in range(0x3001) if chr(c).isspace()] + ["\u3000", "\u2028", "\x1c", "\x85"]
    pool = whitespace + list("科学技术部　，。「」ｱｲ가나") + ["<b>", "</p>", "<br/>", "\u200b", "\u00ad", "\ufeff"] \
        + list("ab Z09-.") + ["\uff13", "\ufb01", "\u2460"]
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
        assert normalise_text(text) == _reference_normalise(text), repr(text)


def test_decide_names_the_reason_for_a_version() -> None:
    base = {"removed": False, "title": "T", "extractor_version": "1", "capture_sha256": "s2"}
    assert decide(None, body="x", **base) == "new"  # type: ignore[arg-type]
    assert decide(latest("a b"), body="a  b", **base) == "unchanged"  # type: ignore[arg-type]
    assert decide(latest("a b"), body="a c", **base) == "edited"  # type: ignore[arg-type]
    assert decide(latest("a b"), body="a b", **{**base, "title": "U"}) == "edited"  # type: ignore[arg-type]
    assert decide(latest("a b"), body="a b", **{**base, "removed": True}) == "reappeared"  # type: ignore[arg-type]
    reread = {**base, "capture_sha256": "s1", "extractor_version": "2"}
    assert decide(latest("a b"), body="a", **reread) == "reextracted"  # type: ignore[arg-type]


def test_diff_size_counts_characters() -> None:
    assert diff_size("", "abc") == (3, 0)
    assert diff_size("one\ntwo", "one\ntwo") == (0, 0)
    assert diff_size("deadline 30 April", "deadline 14 May") == (5, 7)


def test_diff_size_of_a_first_or_emptied_text_is_what_the_line_matcher_says() -> None:
    """A first version skips the matcher (all inserted); it must count what the matcher would count, line
    endings and blank lines included."""
    import difflib
    import random

    def by_matcher(old: str, new: str) -> tuple[int, int]:
        a, b = old.splitlines(), new.splitlines()
        ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        return (sum(len("\n".join(b[j1:j2])) for op, _i1, _i2, j1, j2 in ops if op != "equal"),
                sum(len("\n".join(a[i1:i2])) for op, i1, i2, _j1, _j2 in ops if op != "equal"))

    rng = random.Random(7)
    pieces = ["", "\n", "\r\n", "\r", "\n\n", " ", "a", "研究", "line two", "\u2028", "\x0c", "\t"]
    texts = ["", "\n", "one\r\ntwo\n", "\n\nthree\n\n", "科技部\n发布\r"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(12))) for _ in range(300)]
    for text in texts:
        assert diff_size("", text) == by_matcher("", text), repr(text)
        assert diff_size(text, "") == by_matcher(text, ""), repr(text)
    assert diff_size("", "one\r\ntwo\n") == (7, 0) and diff_size("a\n\nb", "") == (0, 4)


def test_signatures_are_deterministic_and_separate_near_from_distinct_texts() -> None:
    notice = ("The programme invites proposals from universities and institutes for joint research on "
              "climate adaptation. The deadline for applications is 30 April 2026 at noon.")
    moved = notice.replace("30 April", "14 May")
    other = ("A new telescope has been inaugurated at the national observatory, with first light "
             "expected next spring and time allocated by an international panel.")
    a, b, c = dedupe.signature(notice), dedupe.signature(moved), dedupe.signature(other)
    assert a is not None and b is not None and c is not None
    assert a == dedupe.signature(notice)
    assert a.similarity(b) >= dedupe.NEAR_DUPLICATE_THRESHOLD > a.similarity(c)
    assert set(a.bands()) & set(b.bands()) and not set(a.bands()) & set(c.bands())
    assert dedupe.shingles("关于组织申报项目的通知")[0] == "char5"
    assert dedupe.signature("too short") is None
