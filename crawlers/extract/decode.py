"""Bytes to text: the one place a page's character encoding is decided.

trafilatura given bytes guesses the encoding and ignores `<meta charset>` (STACK_NOTES.md), so every
page is decoded here first. Precedence: HTTP header charset > BOM > `<meta charset>` / http-equiv >
detection. A declaration is only believed when the body agrees with it: it must decode strictly, and a
body that is valid UTF-8 with real multi-byte content, or plainly CJK under a single-byte Western label,
wins over the label (mislabelled charsets, RELIABILITY.md C1).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# Declared names that mean a superset in practice (WHATWG Encoding Standard): a page labelled gb2312
# routinely contains GBK-only characters, big5 pages use HKSCS additions, latin-1 pages use cp1252 quotes.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "euc_cn": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "iso_8859-1": "cp1252",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "ks_c_5601-1987": "euc_kr",
    "x-euc-kr": "euc_kr",
    # A meta tag cannot really declare UTF-16 (the parser already read it as ASCII): WHATWG says utf-8.
    "utf-16": "utf-8",
    "utf-16le": "utf-8",
    "utf-16be": "utf-8",
}
_WESTERN_SINGLE_BYTE = frozenset({"cp1252", "iso8859-15", "iso8859-2", "cp1250"})

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:\-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:\-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([\w.:\-]+)", re.IGNORECASE)
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    """The Python codec used."""
    method: str
    """How it was chosen: header, bom, meta, utf8, cjk, detected, fallback."""


def normalize_encoding(name: str | None) -> str | None:
    """Map a declared charset label to the Python codec we decode with, or None if unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    return _ALIASES.get(codec, codec)


def header_charset(headers: dict[str, str] | None) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "content-type" and value:
            m = _HEADER_CHARSET.search(value)
            if m:
                return m.group(1)
    return None


def meta_charset(body: bytes) -> str | None:
    head = body[:_SNIFF_BYTES]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return m.group(1).decode("ascii", "ignore") if m else None


def bom_encoding(body: bytes) -> tuple[str, int] | None:
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return enc, len(bom)
    return None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    # NUL-riddled text means a UTF-16/32 body read with an 8-bit codec.
    if text.count("\x00") > max(8, len(text) // 100):
        return None
    return text


def _has_multibyte_utf8(body: bytes) -> bool:
    return re.search(rb"[\xc2-\xf4][\x80-\xbf]", body) is not None


# Which characters count as "common" for each CJK codec: those in its high-frequency block. A body decoded
# with the right codec is nearly all common characters; with a wrong one (Big5 read as GBK, GBK read as
# Big5) it lands in kana, symbol rows, private-use and rare-character blocks.
def _common_gb(ch: str) -> bool:
    try:
        b = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and (0xB0 <= b[0] <= 0xD7 or 0xA1 <= b[0] <= 0xA3)


def _common_big5(ch: str) -> bool:
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and 0xA1 <= b[0] <= 0xC6


def _common_sjis(ch: str) -> bool:
    try:
        b = ch.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return len(b) == 1 or (len(b) == 2 and (0x81 <= b[0] <= 0x83 or 0x88 <= b[0] <= 0x98))


def _common_euckr(ch: str) -> bool:
    try:
        b = ch.encode("euc_kr")
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and (0xA1 <= b[0] <= 0xA3 or 0xB0 <= b[0] <= 0xC8)


_CJK_CANDIDATES = (
    ("gb18030", _common_gb),
    ("big5hkscs", _common_big5),
    ("shift_jis", _common_sjis),
    ("euc_kr", _common_euckr),
)
_CJK_MIN_CHARS = 8
_CJK_MIN_SCORE = 0.8
_CJK_SAMPLE = 3000


def _cjk_score(text: str, common: Callable[[str], bool]) -> tuple[float, int]:
    chars = [c for c in text if ord(c) > 0x7F][:_CJK_SAMPLE]
    if not chars:
        return 0.0, 0
    hits = sum(1 for c in chars if common(c))
    return hits / len(chars), len(chars)


def _best_cjk(body: bytes) -> tuple[str, str, float] | None:
    """The CJK codec under which the body reads as common characters, if one clearly does."""
    best: tuple[str, str, float] | None = None
    for enc, common in _CJK_CANDIDATES:
        text = _strict(body, enc)
        if text is None:
            continue
        score, n = _cjk_score(text, common)
        if n >= _CJK_MIN_CHARS and score >= _CJK_MIN_SCORE and (best is None or score > best[2]):
            best = (enc, text, score)
    return best


def _acceptable(body: bytes, encoding: str) -> str | None:
    """Decode with a declared encoding unless the body contradicts the declaration."""
    if encoding in ("utf-8", "utf-8-sig"):
        return _strict(body, "utf-8")
    if _has_multibyte_utf8(body) and _strict(body, "utf-8") is not None:
        return None  # valid UTF-8 with real multi-byte content: the label is wrong
    if encoding in _WESTERN_SINGLE_BYTE and _best_cjk(body) is not None:
        return None  # Big5/GBK served as latin-1
    return _strict(body, encoding)


def _detect(body: bytes) -> Decoded:
    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii", "detected")
    text = _strict(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf8")
    cjk = _best_cjk(body)
    if cjk is not None:
        return Decoded(cjk[1], cjk[0], "cjk")
    # A UTF-8 page with a stray bad byte (a truncated CMS field) stays UTF-8 rather than being
    # re-guessed as a single-byte codec that garbles every other character.
    text = body.decode("utf-8", errors="replace")
    if _has_multibyte_utf8(body) and text.count("\ufffd") <= max(3, len(text) // 2000):
        return Decoded(text, "utf-8", "utf8")
    try:
        from charset_normalizer import from_bytes

        match = from_bytes(body).best()
    except Exception:  # detection is a best effort; a decode below always succeeds
        logger.debug("charset detection failed", exc_info=True)
        match = None
    if match is not None and match.encoding:
        enc = normalize_encoding(match.encoding) or match.encoding
        text = _strict(body, enc)
        if text is not None:
            return Decoded(text, enc, "detected")
    return Decoded(body.decode("cp1252", errors="replace"), "cp1252", "fallback")


def decode_html(body: bytes, headers: dict[str, str] | None = None) -> Decoded:
    """Decode an HTML body. Never raises; the worst case is cp1252 with replacement characters."""
    bom = bom_encoding(body)
    declared = normalize_encoding(header_charset(headers))
    if declared:
        payload = body[bom[1] :] if bom and bom[0].startswith("utf-8") and declared == "utf-8" else body
        text = _acceptable(payload, declared)
        if text is not None:
            return Decoded(text.lstrip("\ufeff"), declared, "header")
    if bom:
        text = _strict(body[bom[1] :], bom[0])
        if text is not None:
            return Decoded(text, bom[0], "bom")
    declared = normalize_encoding(meta_charset(body))
    if declared:
        text = _acceptable(body, declared)
        if text is not None:
            return Decoded(text.lstrip("\ufeff"), declared, "meta")
    decoded = _detect(body)
    return Decoded(decoded.text.lstrip("\ufeff"), decoded.encoding, decoded.method)
