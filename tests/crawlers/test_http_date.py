"""Last-Modified values: the IMF-fixdate fast path reads every value as email.utils does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from crawlers.spiders.source import _http_date


def _reference(value: str | None) -> datetime | None:
    """What `_http_date` answered before its fast path: email.utils alone."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _random_dates(n: int) -> list[str]:
    rng = random.Random(11)
    start = datetime(1990, 1, 1, tzinfo=UTC)
    return [format_datetime(start + timedelta(seconds=rng.randrange(60 * 365 * 86400)), usegmt=True)
            for _ in range(n)]


@pytest.mark.parametrize("value", [
    "Mon, 06 Jan 2025 10:00:00 GMT",
    "Thu, 29 Feb 2024 23:59:59 GMT",  # a leap day
    "Thu, 29 Feb 2023 12:00:00 GMT",  # no such day: not a date either way
    "Sun, 31 Apr 2025 12:00:00 GMT",
    "Mon, 06 Jan 2025 24:00:00 GMT",
    "Mon, 06 Jan 2025 23:59:60 GMT",  # a leap second
    "Mon, 06 Jan 2025 10:00:00 +0200",  # not GMT: the general path keeps the offset
    "Mon, 06 Jan 2025 10:00:00 UTC",
    "Fri, 06 Jan 2025 10:00:00 GMT",  # wrong weekday: email.utils ignores it
    "Mon, 06 jan 2025 10:00:00 GMT",  # lower-case month
    "Mon, 06 Foo 2025 10:00:00 GMT",
    "Mon, ٠٦ Jan 2025 10:00:00 GMT",  # Arabic-Indic digits
    "Monday, 06-Jan-25 10:00:00 GMT",  # RFC 850
    "Mon Jan  6 10:00:00 2025",  # asctime
    "Mon, 6 Jan 2025 10:00:00 GMT",  # one-digit day
    "Mon, 06 Jan 0099 10:00:00 GMT",
    "Mon, 06 Jan 2025 10:00 GMT",
    " Mon, 06 Jan 2025 10:00:00 GMT",
    "Mon, 06 Jan 2025 10:00:00 GMT ",
    "yesterday",
    "",
    None,
])
def test_edge_values_read_as_before(value: str | None) -> None:
    assert _http_date(value) == _reference(value)


def test_random_dates_read_as_before() -> None:
    for value in _random_dates(2000):
        got = _http_date(value)
        assert got == _reference(value) and got is not None and got.utcoffset() == timedelta(0), value
