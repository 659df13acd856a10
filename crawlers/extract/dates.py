"""Dates as pages write them, to `datetime.date` or None.

Every parser here returns None for anything it cannot read with certainty (Feb 30, year 10000,
a +25:00 offset, two-digit years): a missing date is better than a wrong one in an archive
(RELIABILITY.md B7). The date kept is the calendar date as written on the page; offsets are
validated, not applied, because a ministry's "2024-11-20T23:30+08:00" was published on the 20th.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

MIN_YEAR = 1900

_MONTHS = {
    # English
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
    # German
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "maerz": 3,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "okt": 10,
    "dezember": 12,
    "dez": 12,
    # French
    "janvier": 1,
    "janv": 1,
    "février": 2,
    "fevrier": 2,
    "févr": 2,
    "fevr": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
    "déc": 12,
}
_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))

_TZ = r"(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_ISO = re.compile(
    r"(?<!\d)(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)"
    r"(?:[T\s_-]*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?\s*" + _TZ + r")?"
)
_COMPACT = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")
_CJK = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
_DMY_NAME = re.compile(
    r"(?<![\w])(?P<d>\d{1,2})(?:\.|er|st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>"
    + _MONTH_NAMES
    + r")\.?,?\s+(?P<y>\d{4})(?!\d)",
    re.IGNORECASE,
)
_MDY_NAME = re.compile(
    r"(?<![\w])(?P<mon>" + _MONTH_NAMES + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})(?!\d)",
    re.IGNORECASE,
)
_DMY_DOTS = re.compile(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?!\d)")


# One date, any of the formats above, with no groups: rules files write `{DATE}` for it.
DATE_PATTERN = (
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s+)?"
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T\s]+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号](?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|\d{1,2}(?:\.|er|st|nd|rd|th)?\s+(?:" + _MONTH_NAMES + r")\.?,?\s+\d{4}"
    r"|(?:" + _MONTH_NAMES + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{1,2}\.\d{1,2}\.\d{4})"
)


def _today() -> date:
    return datetime.now(UTC).date()


def make_date(year: int, month: int, day: int) -> date | None:
    """A real calendar date in the archive's plausible range (1900 .. next year), else None."""
    if not MIN_YEAR <= year <= _today().year + 1:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _valid_time(m: re.Match[str]) -> bool:
    hour, minute, second = m.group("H"), m.group("M"), m.group("S")
    if hour is not None and (int(hour) > 23 or int(minute or 0) > 59 or int(second or 0) > 60):
        return False
    tz = m.group("tz") if "tz" in m.re.groupindex else None
    if tz and tz[0] in "+-":
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            return False
    return True


def _from_match(m: re.Match[str]) -> date | None:
    groups = m.groupdict()
    if groups.get("mon") is not None:
        month = _MONTHS.get(groups["mon"].lower().rstrip("."))
        if month is None:
            return None
    else:
        month = int(groups["m"])
    if "H" in groups and not _valid_time(m):
        return None
    return make_date(int(groups["y"]), month, int(groups["d"]))


def parse_date(value: str | None) -> date | None:
    """Parse a date given on its own (meta content, JSON-LD, `<time datetime>`). None if unsure."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > 80:
        return None
    for pattern in (_ISO, _CJK, _DMY_NAME, _MDY_NAME, _DMY_DOTS):
        m = pattern.search(text)
        if m:
            return _from_match(m)
    m = _COMPACT.fullmatch(text) or _COMPACT.match(text)
    if m:
        return _from_match(m)
    return None


def find_date(text: str) -> date | None:
    """The first complete date written inside a line of prose or an information bar, or None."""
    if not text:
        return None
    best: tuple[int, date | None] | None = None
    for pattern in (_ISO, _CJK, _DMY_NAME, _MDY_NAME, _DMY_DOTS):
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), _from_match(m))
    return best[1] if best else None
