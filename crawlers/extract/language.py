"""Language of a text: ISO 639-1, `und` when unknown. Deterministic in every process (RELIABILITY.md C2).

Script decides first: Han without Kana/Hangul is Chinese (langdetect calls formal Chinese "ko" about
half the time), Kana is Japanese, Hangul Korean. Other text goes to langdetect with a fixed seed on a
bounded prefix; `<html lang>` and the source's default language settle the unsure cases.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from langdetect import DetectorFactory, detector_factory
from langdetect.lang_detect_exception import LangDetectException

logger = logging.getLogger(__name__)

# langdetect samples n-grams at random: a fixed seed makes every detect() identical across runs.
DetectorFactory.seed = 0

UND = "und"
MIN_LETTERS = 20
PREFIX_CHARS = 1000
"""langdetect reads at most this much: its cost grows with length (about 7 ms at 1000 characters) and
its answer on article text does not improve beyond it."""
UNSURE_BELOW = 0.80
"""Below this langdetect probability a page hint that is among the candidates wins."""

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
# Bounded local part: an unbounded `\S+@` rescans every run of unspaced CJK text at every position.
_URL = re.compile(r"https?://\S+|www\.\S+|[^\s@]{1,64}@\S+")
_NOT_LETTER = re.compile(r"[\W\d_]+")
_NOT_HAN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_init_lock = threading.Lock()
_WORD = re.compile(r"[^\W\d_]+")

# Function words that are frequent in one language and rare in the others (words shared by several,
# like "de", "la", "en", "des", "que", are left out). A text whose hits clearly favour one language is
# labelled without langdetect, which costs 4-13 ms per page against ~0.2 ms here; anything less clear
# goes to langdetect.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and of to that for with was are this from have has which will been were their its".split()
    ),
    "de": frozenset(
        "der die und das ist nicht mit für auf den dem ein eine sich auch wird werden im zum zur".split()
    ),
    "fr": frozenset("le les et est une dans pour qui du au aux sur pas avec sont ont été cette".split()),
    "nl": frozenset("het een van niet voor met zijn wordt ook dat aan bij naar deze worden".split()),
    "es": frozenset("el los las y por para está son como pero sus este esta".split()),
    "it": frozenset("il di che della gli non sono alla nel dei anche questo".split()),
    "pt": frozenset("os do da não em um uma com são dos das ao mais pelo pela".split()),
}
_STOPWORD_LANG = {w: code for code, words in _STOPWORDS.items() for w in words}
_STOPWORD_MIN_HITS = 12
_STOPWORD_MARGIN = 4.0
_STOPWORD_SAMPLE = 1500


@dataclass(frozen=True)
class LanguageResult:
    code: str
    confidence: float


def normalize_code(tag: str | None) -> str | None:
    """ "zh-CN", "zh_Hant", "en-GB" -> "zh", "zh", "en"; None for empty or odd tags."""
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _letters(text: str) -> int:
    # Deleting the non-letters and measuring what is left runs in C, one pass, no list of matches.
    return len(_NOT_LETTER.sub("", text))


def _by_stopwords(text: str) -> LanguageResult | None:
    counts = dict.fromkeys(_STOPWORDS, 0)
    lookup = _STOPWORD_LANG.get
    for word in _WORD.findall(text[:_STOPWORD_SAMPLE].lower()):
        code = lookup(word)
        if code is not None:
            counts[code] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    (best, hits), (_, runner_up) = ranked[0], ranked[1]
    if hits >= _STOPWORD_MIN_HITS and hits >= _STOPWORD_MARGIN * max(1, runner_up):
        return LanguageResult(best, round(hits / sum(counts.values()), 4))
    return None


def load_profiles() -> None:
    """Load langdetect's ~55 language profiles now (~0.2 CPU-s; otherwise at the first page that needs them)."""
    with _init_lock:  # the lock guards threaded callers
        detector_factory.init_factory()


def _langdetect(text: str) -> list[tuple[str, float]]:
    load_profiles()
    factory = detector_factory._factory
    detector = factory.create()
    detector.append(text)
    try:
        return [(normalize_code(r.lang) or r.lang, float(r.prob)) for r in detector.get_probabilities()]
    except LangDetectException:
        return []


def detect_language(
    text: str, *, html_lang: str | None = None, default_language: str | None = None
) -> LanguageResult:
    """The language of `text`, with a confidence in [0, 1]. Never raises."""
    head = (text or "")[: PREFIX_CHARS * 4]
    if "@" in head or "://" in head or "www." in head:
        head = _URL.sub(" ", head)
    sample = head[:_STOPWORD_SAMPLE]
    letters = _letters(sample)
    if letters < MIN_LETTERS:
        return LanguageResult(UND, 0.0)
    # Script counting first: it settles Chinese, Japanese and Korean without any word statistics.
    han = len(_NOT_HAN.sub("", sample))
    others = letters - han
    kana = len(_KANA.findall(sample)) if others else 0
    hangul = len(_HANGUL.findall(sample)) if others else 0
    cjk = han + kana + hangul
    if cjk >= letters * 0.3:
        # Script shares are a confidence of their own: 0.5 of letters Han -> 0.5.
        if kana >= max(5, cjk * 0.05):
            return LanguageResult("ja", round(min(1.0, cjk / letters), 4))
        if hangul >= max(5, cjk * 0.2):
            return LanguageResult("ko", round(min(1.0, hangul / letters), 4))
        if han:
            return LanguageResult("zh", round(min(1.0, han / letters), 4))
    quick = _by_stopwords(sample)
    if quick is not None:
        return quick
    candidates = _langdetect(sample[:PREFIX_CHARS])
    if not candidates:
        return LanguageResult(UND, 0.0)
    best_code, best_prob = candidates[0]
    if best_prob < UNSURE_BELOW:
        for hint in (normalize_code(html_lang), normalize_code(default_language)):
            if not hint:
                continue
            for code, prob in candidates:
                if code == hint:
                    return LanguageResult(code, round(prob, 4))
    return LanguageResult(best_code, round(min(1.0, best_prob), 4))
