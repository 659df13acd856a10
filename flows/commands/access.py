"""Options and helpers shared by the downstream access commands (search, show, diff, changes, export,
stats): opening the archive read-only, time zones, parsing dates, finding an article by id or URL.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from flows.commands.common import apply_db, db_option, fail

if TYPE_CHECKING:
    from storage.reading import Reader

__all__ = ["apply_db", "db_option", "fail"]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def tz_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--tz",
        "tz_name",
        metavar="AREA/CITY",
        default=None,
        help="Show times (and read dates without a zone) in this time zone, e.g. Asia/Shanghai "
        "(default: UTC).",
    )(func)


def zone(tz_name: str | None) -> tzinfo:
    if not tz_name or tz_name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {tz_name!r} (use an IANA name such as Europe/Berlin or Asia/Shanghai)")


def parse_when(value: str | None, tz: tzinfo, option: str) -> datetime | None:
    """A point in time from `YYYY-MM-DD` (midnight) or ISO 8601; without an offset it is read in `tz`."""
    if value is None:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
    except ValueError:
        fail(
            f"invalid date for {option}: {value!r} (expected YYYY-MM-DD or an ISO 8601 time "
            "such as 2026-03-01T08:00:00Z)"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_day(value: str | None, option: str) -> date | None:
    """A calendar day, `YYYY-MM-DD` (a full ISO time gives its date)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if _DATE_ONLY.match(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" else text).date()
    except ValueError:
        fail(f"invalid date for {option}: {value!r} (expected YYYY-MM-DD)")


def day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def show_time(value: datetime | None, tz: tzinfo) -> str:
    """`2026-03-01 16:00 CST` style, for tables."""
    if value is None:
        return "-"
    local = value.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")


def iso_time(value: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with its offset, for JSON and files."""
    return value.astimezone(tz).isoformat() if value is not None else None


def open_reader(db_url: str | None) -> Reader:
    from storage.db import database_url, safe_url
    from storage.reading import Reader

    apply_db(db_url)
    url = database_url()
    try:
        return Reader.open(url)
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported as one line
        fail(f"cannot open the archive {safe_url(url)}: {type(exc).__name__}: {exc}")


def resolve_article(reader: Reader, ref: str) -> int:
    """An article id from a number or a URL (canonicalised the crawler's way; aliases work too)."""
    from crawlers.urls import canonicalize_url

    ref = ref.strip()
    if ref.isdigit():
        found = reader.resolve(article_id=int(ref))
    else:
        urls = [ref]
        try:
            urls.insert(0, canonicalize_url(ref))
        except ValueError:
            fail(f"not an article id or http(s) URL: {ref!r}")
        found = reader.resolve(urls=urls)
    if found is None:
        fail(f"no article {ref!r} in the archive")
    return found


def use_colour(stream: IO[str] | None = None) -> bool:
    """Colour only for a terminal, and never with NO_COLOR set (https://no-color.org)."""
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()
