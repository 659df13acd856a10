"""A small archive for the read-side tests, filled through the real write API (`Archive.store`).

English and Chinese articles over two sources: one edited twice, one removed (a 404 capture), one exact
duplicate of another at a second URL, one run report and fetch errors for the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from crawlers.urls import canonicalize_url
from schemas import ArticleRecord, Capture, FetchError, RunReport, SourceConfig, SourceRunStats
from storage import Archive

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
EN, ZH = "nsf_news", "most_cn"
EXTRACTOR = "test-1"

QUANTUM_URL = "https://nsf.example/news/quantum-funding"
AI_URL = "https://nsf.example/news/ai-policy"
OLD_CALL_URL = "https://nsf.example/news/old-call"
KEJI_URL = "https://most.example/zh/notice-1.html"
KEJI_COPY_URL = "https://most.example/zh/notice-1-copy.html"
AI_ZH_URL = "https://most.example/zh/ai-plan.html"

QUANTUM_V1 = (
    "The National Science Foundation announces a new quantum computing programme. "
    "Applications are due on 30 April 2026.\nThe programme funds twenty research teams."
)
QUANTUM_V2 = (
    "The National Science Foundation announces a new quantum computing programme. "
    "Applications are due on 15 May 2026.\nThe programme funds twenty research teams."
)
QUANTUM_V3 = (
    "The National Science Foundation announces a new quantum computing programme. "
    "Applications are due on 15 May 2026.\nThe programme funds thirty research teams across the country."
)
AI_TEXT = (
    "Federal agencies publish guidance on artificial intelligence in research. "
    "The guidance covers data sharing, reproducibility and funding of compute."
)
OLD_CALL_TEXT = (
    "A call for proposals on polar research infrastructure. The call closes in January. "
    "Questions go to the programme office."
)
KEJI_TEXT = (
    "科技部发布关于开展2026年度国家重点研发计划项目申报工作的通知。\n"
    "各有关单位要加强科技创新，推动科技成果转化，申报截止日期为2026年4月30日。"
)
AI_ZH_TEXT = (
    "国务院印发新一代人工智能发展规划，提出到2030年人工智能理论、技术与应用总体达到世界领先水平。\n"
    "规划强调基础研究和人才培养。"
)


@dataclass(frozen=True)
class Ids:
    quantum: int
    ai: int
    old_call: int
    keji: int
    keji_copy: int
    ai_zh: int


def page(
    source_id: str,
    url: str,
    title: str,
    text: str,
    at: datetime,
    *,
    language: str,
    published: date | None = None,
) -> tuple[Capture, ArticleRecord]:
    body = f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>".encode()
    capture = Capture(
        source_id=source_id,
        url=url,
        final_url=url,
        status=200,
        kind="page",
        headers={"content-type": "text/html; charset=utf-8"},
        body=body,
        fetched_at=at,
    )
    record = ArticleRecord(
        source_id=source_id,
        url=url,
        canonical_url=canonicalize_url(url),
        title=title,
        text=text,
        published=published,
        language=language,
        language_confidence=0.99,
        extractor_version=EXTRACTOR,
        authors=["Press Office"],
    )
    return capture, record


def gone(source_id: str, url: str, at: datetime) -> tuple[Capture, None]:
    return Capture(
        source_id=source_id,
        url=url,
        final_url=url,
        status=404,
        kind="gone",
        headers={"content-type": "text/html"},
        body=b"not found",
        fetched_at=at,
    ), None


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def first_batch() -> list[tuple[Capture, ArticleRecord | None]]:
    return [
        page(
            EN,
            QUANTUM_URL,
            "NSF announces quantum computing funding",
            QUANTUM_V1,
            at(0),
            language="en",
            published=date(2026, 3, 1),
        ),
        page(
            EN,
            AI_URL,
            "Guidance on artificial intelligence in research",
            AI_TEXT,
            at(1),
            language="en",
            published=date(2026, 2, 20),
        ),
        page(EN, OLD_CALL_URL, "Polar research infrastructure call", OLD_CALL_TEXT, at(2), language="en"),
        page(
            ZH,
            KEJI_URL,
            "科技部关于国家重点研发计划申报的通知",
            KEJI_TEXT,
            at(3),
            language="zh",
            published=date(2026, 3, 1),
        ),
        page(
            ZH,
            KEJI_COPY_URL,
            "科技部关于国家重点研发计划申报的通知（转载）",
            KEJI_TEXT,
            at(4),
            language="zh",
            published=date(2026, 3, 1),
        ),
        page(
            ZH,
            AI_ZH_URL,
            "新一代人工智能发展规划",
            AI_ZH_TEXT,
            at(5),
            language="zh",
            published=date(2026, 1, 5),
        ),
    ]


def later_batch() -> list[tuple[Capture, ArticleRecord | None]]:
    """Two edits of the quantum article, the polar call removed (twice: one removal event)."""
    return [
        page(
            EN,
            QUANTUM_URL,
            "NSF announces quantum computing funding",
            QUANTUM_V2,
            at(24),
            language="en",
            published=date(2026, 3, 1),
        ),
        gone(EN, OLD_CALL_URL, at(25)),
        page(
            EN,
            QUANTUM_URL,
            "NSF extends quantum computing funding",
            QUANTUM_V3,
            at(48),
            language="en",
            published=date(2026, 3, 1),
        ),
        gone(EN, OLD_CALL_URL, at(49)),
    ]


def fill(url: str, *, with_later: bool = True) -> Ids:
    with Archive.open(url) as archive:
        archive.sync_sources(
            [
                SourceConfig(id=EN, name="NSF news", feeds=["https://nsf.example/rss.xml"]),
                SourceConfig(id=ZH, name="MOST notices", feeds=["https://most.example/rss.xml"]),
            ]
        )
        archive.store(first_batch(), run_id="run-1")
        if with_later:
            add_later(archive)
        record_run(archive)
        with archive.engine.connect() as conn:
            from sqlalchemy import text

            rows = conn.execute(text("SELECT canonical_url, id FROM articles")).all()
    by_url = dict(rows)
    return Ids(
        *(
            by_url[canonicalize_url(u)]
            for u in (QUANTUM_URL, AI_URL, OLD_CALL_URL, KEJI_URL, KEJI_COPY_URL, AI_ZH_URL)
        )
    )


def add_later(archive: Archive) -> None:
    archive.store(later_batch(), run_id="run-2")


def record_run(archive: Archive) -> None:
    report = RunReport(
        run_id="run-2",
        started_at=at(48),
        finished_at=at(49),
        status="completed",
        sources=[
            SourceRunStats(source_id=EN, new_versions=2, removals=1),
            SourceRunStats(source_id=ZH, status="failed", message="feed down"),
        ],
    )
    archive.start_run(report)
    archive.finish_run(report)
    archive.record_errors(
        [
            FetchError(source_id=ZH, url="https://most.example/rss.xml", reason="timeout", at=at(48)),
            FetchError(
                source_id=ZH,
                url="https://most.example/zh/x.html",
                reason="http_status",
                status=500,
                at=at(48.5),
            ),
        ],
        run_id="run-2",
    )
