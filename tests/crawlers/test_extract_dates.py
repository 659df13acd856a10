"""Dates as pages write them; anything doubtful is None, never an exception."""

from __future__ import annotations

from datetime import date

import pytest

from crawlers.extract.dates import find_date, parse_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-11-20", date(2024, 11, 20)),
        ("2024-11-20T10:00:00+08:00", date(2024, 11, 20)),
        ("2024-11-20T23:30:00-05:00", date(2024, 11, 20)),
        ("2024-11-20T10:00:00.123Z", date(2024, 11, 20)),
        ("2024-11-20 10:00", date(2024, 11, 20)),
        ("2024-11-20-10:00:00", date(2024, 11, 20)),
        ("2022.07.12", date(2022, 7, 12)),
        ("2024/1/5", date(2024, 1, 5)),
        ("20241120", date(2024, 11, 20)),
        ("2024年11月20日", date(2024, 11, 20)),
        ("2024年1月5日 09:30", date(2024, 1, 5)),
        ("20. November 2024", date(2024, 11, 20)),
        ("20.11.2024", date(2024, 11, 20)),
        ("20 novembre 2024", date(2024, 11, 20)),
        ("1er décembre 2024", date(2024, 12, 1)),
        ("November 20, 2024", date(2024, 11, 20)),
        ("Nov. 20, 2024", date(2024, 11, 20)),
        ("20 Nov 2024", date(2024, 11, 20)),
        ("Wed, 20 Nov 2024 10:00:00 GMT", date(2024, 11, 20)),
    ],
)
def test_parse_date_reads_common_formats(value: str, expected: date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",
        "10000-01-01",
        "2024-11-20T10:00:00+25:00",
        "2024-13-01",
        "2024-11-20T25:00",
        "20/11/24",
        "24-11-20",
        "",
        "not a date",
        "0000-00-00",
        "1850-01-01",
        "9999-12-31",
        "31 Febuary 2024",
        "2024年2月30日",
        "30. Februar 2024",
        "x" * 500,
    ],
)
def test_malformed_or_doubtful_dates_are_none(value: str) -> None:
    assert parse_date(value) is None


def test_parse_date_ignores_non_strings() -> None:
    assert parse_date(None) is None
    assert parse_date(12345) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Author:China High -tech Industrial He Time:2022.07.12", date(2022, 7, 12)),
        ("来源：科技部 发布时间：2024-11-20 10:00 【字体：大 中 小】", date(2024, 11, 20)),
        ("Veröffentlicht am 20. November 2024 von der Redaktion", date(2024, 11, 20)),
        ("Publié le 20 novembre 2024", date(2024, 11, 20)),
        ("no date here", None),
    ],
)
def test_find_date_in_an_information_line(line: str, expected: date | None) -> None:
    assert find_date(line) == expected
