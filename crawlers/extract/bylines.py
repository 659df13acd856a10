"""Names out of byline text: "By A and B", "本报记者 张三 李四", "Our reporter Yu Dayong".

A byline rule only fires when its names group reads as names (see `parse_names`), so prose that
starts like a byline ("By 2030, the ministry...", "By contrast") is left alone.
"""

from __future__ import annotations

import re

_MAX_NAMES = 8
# Roles and filler that sit between names in Chinese bylines.
_ZH_ROLE = re.compile(r"(?:本报|本刊|本台|本网)?(?:特约|实习)?(?:记者|通讯员|摄影|编辑|报道|采写|摄)")
_LATIN_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\bwith\b)\s*", re.IGNORECASE)
# Not 和/及/与: they occur inside given names (李和平).
_CJK_SPLIT = re.compile(r"[\s、，,;；/|丨]+")
_TRAILING_JUNK = re.compile(r"[\s,;:：|·•]+$|^[\s,;:：|·•]+")
_PARTICLES = frozenset(
    {
        "de",
        "del",
        "della",
        "der",
        "den",
        "van",
        "von",
        "da",
        "di",
        "du",
        "le",
        "la",
        "bin",
        "ibn",
        "al",
        "el",
        "y",
        "zu",
        "ter",
        "dos",
        "das",
    }
)
_LATIN_TOKEN = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'’.\-]*|[A-Z]\.")
_CJK_NAME = re.compile(r"[\u4e00-\u9fff·•]{2,6}")
_SUFFIXES = re.compile(r",?\s+(?:Jr\.?|Sr\.?|PhD|Ph\.D\.|MD|II|III)$")
_ORG_WORDS = re.compile(
    r"\b(?:staff|news|agency|press|team|office|ministry|department|university|reporter|correspondent|"
    r"editor|daily|times|herald|online|desk|service|bureau|center|centre|council|institute|institut|"
    r"foundation|commission|committee|association|society|academy|agency|authority|government|"
    r"laboratory|directorate|secretariat|ministerium|universität|hochschule|stiftung|gesellschaft|"
    r"ministère|conseil|université|agence|académie|fondation)\b",
    re.IGNORECASE,
)


def _is_latin_name(candidate: str) -> bool:
    tokens = candidate.split()
    if not 1 <= len(tokens) <= 5 or any(ch.isdigit() for ch in candidate):
        return False
    if _ORG_WORDS.search(candidate):
        return False
    capitalised = 0
    for tok in tokens:
        if tok.lower() in _PARTICLES:
            continue
        if not _LATIN_TOKEN.fullmatch(tok):
            return False
        capitalised += 1
    return capitalised >= 1


def _clean(candidate: str) -> str:
    candidate = _SUFFIXES.sub("", candidate.strip())
    return _TRAILING_JUNK.sub("", candidate).strip()


def parse_names(text: str | None) -> list[str]:
    """Split a byline's names part into names; [] when any part does not look like a personal name."""
    if not text:
        return []
    text = text.strip().strip("()（）[]【】")
    if not text or len(text) > 120:
        return []
    if re.search(r"[\u4e00-\u9fff]", text):
        parts = [p for p in _CJK_SPLIT.split(_ZH_ROLE.sub(" ", text)) if p]
        names = [p for p in parts if _CJK_NAME.fullmatch(p) or _is_latin_name(p)]
        if not names or len(names) != len(parts):
            return []
    else:
        parts = [_clean(p) for p in _LATIN_SPLIT.split(text)]
        parts = [p for p in parts if p]
        if not parts or not all(_is_latin_name(p) for p in parts):
            return []
        names = parts
    unique = list(dict.fromkeys(names))
    return unique if len(unique) <= _MAX_NAMES else []


def parse_field_names(text: str | None) -> list[str]:
    """An "Author:" field: split on commas and "and", kept as written (it may name an outlet)."""
    if not text:
        return []
    text = text.strip()
    if not text or len(text) > 100:
        return []
    if re.search(r"[\u4e00-\u9fff]", text):
        parts = _CJK_SPLIT.split(text)
    else:
        parts = _LATIN_SPLIT.split(text)
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))
