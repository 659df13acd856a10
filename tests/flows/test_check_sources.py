"""Source health (`scipol check-sources`, the `canary` flow) against local sites that break the way real
ones do: a healthy site, a dead port, an empty feed, a page without text, a redesign that left the
source's cleaning rules matching nothing, robots.txt answering 503, a feed whose articles are gone.
Every site is a FaultServer on 127.0.0.1; the checks run the real crawler in its subprocess."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from crawlers.runner import CrawlOptions
from flows.commands.check_sources import check_sources_command
from flows.health import HealthReport, SourceHealth, check_sources, format_health, health_rows, sample_source
from schemas import SourceConfig
from tests.support.httpserver import FaultServer, Reply, html
from tests.support.prefect_server import PrefectServer

FAST = CrawlOptions(
    user_agent="scipol-test/0.1 (+tests; test@example.org)",
    timeout_s=60,
    download_timeout_s=2.0,
    retry_backoff_s=0.1,
)
ROBOTS_OK = Reply(body=b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
PARAGRAPHS = (
    "The research council opened a call for quantum computing projects on Monday, with 40 million "
    "euros for consortia of at least three universities.",
    "Applications close in March. Projects may run for up to five years and must include an "
    "industrial partner from a member state.",
    "The council said it expects to fund between eight and twelve projects after an international "
    "peer review in the summer.",
)


def article_page(title: str, *, share_bar: bool = True, editor_line: bool = True) -> Reply:
    share = '<div class="share-tools"><a href="/share">Share on social media</a></div>' if share_bar else ""
    editor = "<p>Editor: Jane Roe</p>" if editor_line else ""
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return html(f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{share}"
                f"{body}{editor}</article></body></html>")


def feed(srv: FaultServer, paths: list[str]) -> Reply:
    items = "".join(
        f"<item><title>Story {i}</title><link>{srv.url(p)}</link>"
        f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        for i, p in enumerate(paths)
    )
    body = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            f"<link>{srv.base}/</link><description>d</description>{items}</channel></rss>")
    return Reply(body=body.encode(), headers={"Content-Type": "application/rss+xml"})


RULES = {"drop_selectors": [".share-tools"], "drop_line_patterns": [r"Editor:\s*.+"]}


def make_source(sid: str, feed_url: str, **fields: Any) -> SourceConfig:
    data: dict[str, Any] = {"id": sid, "name": sid.replace("_", " "), "feeds": [feed_url],
                            "allow_private_addresses": True, "download_delay": 0, **fields}
    return SourceConfig(**data)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed on exit: nothing listens there


@dataclass
class Sites:
    servers: dict[str, FaultServer]
    sources: dict[str, SourceConfig]


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    servers = {name: FaultServer().start() for name in
               ("healthy", "empty_feed", "no_text", "redesigned", "robots_503", "articles_gone")}
    try:
        s = servers["healthy"]
        s.route("/robots.txt", ROBOTS_OK)
        s.route("/feed.xml", feed(s, [f"/news/{i}.html" for i in range(1, 11)]))
        for i in range(1, 11):
            s.route(f"/news/{i}.html", article_page(f"Quantum call {i}"))

        s = servers["empty_feed"]
        s.route("/feed.xml", feed(s, []))  # robots.txt: 404, which allows all

        s = servers["no_text"]
        s.route("/feed.xml", feed(s, ["/news/1.html"]))
        s.route("/news/1.html", html("<html><head><title>Loading</title></head><body><div id='app'></div>"
                                     "<script>render()</script></body></html>"))

        s = servers["redesigned"]
        s.route("/feed.xml", feed(s, ["/news/1.html"]))
        s.route("/news/1.html", article_page("Quantum call", share_bar=False, editor_line=False))

        s = servers["robots_503"]
        s.route("/robots.txt", Reply(status=503, body=b"busy"))
        s.route("/feed.xml", feed(s, ["/news/1.html"]))

        s = servers["articles_gone"]
        s.route("/feed.xml", feed(s, ["/news/1.html", "/news/2.html"]))  # both 404 (the default reply)

        sources = {name: make_source(name, srv.url("/feed.xml"), cleaning=RULES)
                   for name, srv in servers.items()}
        sources["dead"] = make_source("dead", f"http://127.0.0.1:{dead_port()}/feed.xml")
        yield Sites(servers, sources)
    finally:
        for srv in servers.values():
            srv.stop()


@pytest.fixture(scope="module")
def report(sites: Sites) -> HealthReport:
    # All at once: each check is a crawl subprocess that mostly waits on its start-up.
    return check_sources(list(sites.sources.values()), articles=2, parallel=len(sites.sources), options=FAST)


def health(report: HealthReport, sid: str) -> SourceHealth:
    return next(s for s in report.sources if s.source_id == sid)


def test_a_healthy_source_is_ok_with_its_rules_matching_and_a_small_page_budget(sites: Sites,
                                                                                report: HealthReport) -> None:
    h = health(report, "healthy")
    assert h.status == "ok" and h.severity == "ok" and h.findings == []
    assert [e.ok for e in h.entry_points] == [True]
    extracted = [a for a in h.articles if a.extracted]
    assert len(extracted) >= 2 and all(a.http_status == 200 and a.chars > 100 for a in extracted)
    assert h.rules_total == 2 and len(h.rules_matched) == 2 and h.rules_unmatched == []
    # Ten articles listed, a handful fetched: the check is cheap for the site.
    srv = sites.servers["healthy"]
    budget = sample_source(sites.sources["healthy"], 2).page_budget
    assert len(srv.requests) <= budget < 10
    assert srv.hits("/feed.xml") == 1 and srv.hits("/robots.txt") == 1
    assert h.more_links > 0
    assert h.requests_sent == len(srv.requests)


def test_a_dead_port_is_unreachable_naming_the_feed(sites: Sites, report: HealthReport) -> None:
    h = health(report, "dead")
    assert h.status == "unreachable" and h.severity == "broken"
    assert h.findings[0].url == sites.sources["dead"].feeds[0]
    assert "connection" in h.findings[0].detail
    assert h.articles == []


def test_an_empty_feed_is_no_articles(sites: Sites, report: HealthReport) -> None:
    h = health(report, "empty_feed")
    assert h.status == "no_articles" and h.severity == "broken"
    assert [e.ok for e in h.entry_points] == [True]
    assert sites.servers["empty_feed"].hits("/feed.xml") == 1


def test_a_page_without_text_is_extraction_empty(sites: Sites, report: HealthReport) -> None:
    h = health(report, "no_text")
    assert h.status == "extraction_empty" and h.severity == "broken"
    assert h.findings[0].url == sites.servers["no_text"].url("/news/1.html")
    assert h.findings[0].http_status == 200
    assert [(a.outcome, a.extracted) for a in h.articles] == [("page", False)]


def test_a_redesign_that_leaves_the_source_rules_matching_nothing_is_a_warning(report: HealthReport) -> None:
    h = health(report, "redesigned")
    assert h.status == "rules_not_matching" and h.severity == "warning"
    assert [a.extracted for a in h.articles] == [True]
    assert h.rules_total == 2 and h.rules_matched == []
    assert ".share-tools" in h.findings[0].detail and "Editor" in h.findings[0].detail


def test_robots_txt_answering_503_blocks_the_source_and_nothing_else_is_fetched(sites: Sites,
                                                                              report: HealthReport) -> None:
    h = health(report, "robots_503")
    assert h.status == "blocked_by_robots" and h.severity == "broken"
    assert "503" in h.findings[0].detail
    srv = sites.servers["robots_503"]
    assert srv.hits("/feed.xml") == 0 and srv.hits("/robots.txt") >= 1


def test_a_feed_whose_articles_are_gone_is_article_fetch_failed(report: HealthReport) -> None:
    h = health(report, "articles_gone")
    assert h.status == "article_fetch_failed" and h.severity == "broken"
    assert {a.http_status for a in h.articles} == {404}
    assert "HTTP 404" in h.findings[0].detail


def test_the_report_lists_broken_and_warning_sources_in_text_and_table_form(report: HealthReport) -> None:
    assert sorted(report.broken) == ["articles_gone", "dead", "empty_feed", "no_text", "robots_503"]
    assert report.warnings == ["redesigned"]
    text = format_health(report)
    lines = text.splitlines()
    assert any(ln.startswith("ok") and "healthy" in ln for ln in lines)
    assert any(ln.startswith("unreachable") and "dead" in ln for ln in lines)
    assert lines[-1].startswith("7 source(s): 1 ok, 1 warning(s), 5 broken")
    rows = {r["source"]: r for r in health_rows(report)}
    assert rows["healthy"]["details"] == "-" and rows["no_text"]["status"] == "extraction_empty"


# --- the command ---------------------------------------------------------------------------------


def write_sources(path: Path, sources: list[SourceConfig], *, private: bool) -> Path:
    data = [s.model_dump(mode="json", exclude_defaults=True) | {"allow_private_addresses": private}
            for s in sources]
    path.write_text(yaml.safe_dump({"sources": data}), encoding="utf-8")
    return path


def test_check_sources_command_exits_0_when_the_only_finding_is_a_warning(sites: Sites,
                                                                         tmp_path: Path) -> None:
    file = write_sources(tmp_path / "sources.yaml",
                         [sites.sources["healthy"], sites.sources["redesigned"]], private=False)
    result = CliRunner().invoke(check_sources_command,
                                ["--sources", str(file), "--source", "redesigned", "--allow-private"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("rules_not_matching   redesigned")
    assert "1 source(s): 0 ok, 1 warning(s), 0 broken" in result.output


def test_a_warning_fails_the_check_only_when_strict(report: HealthReport) -> None:
    warned = HealthReport(checked_at=report.checked_at, sources=[health(report, "redesigned")])
    healthy = HealthReport(checked_at=report.checked_at, sources=[health(report, "healthy")])
    assert (warned.failed(), warned.failed(strict=True)) == (False, True)
    assert (healthy.failed(), healthy.failed(strict=True)) == (False, False)
    assert report.failed()


def test_check_sources_command_reports_broken_sources_as_json_with_exit_1(sites: Sites,
                                                                         tmp_path: Path) -> None:
    file = write_sources(tmp_path / "sources.yaml",
                         [sites.sources["healthy"], sites.sources["empty_feed"]], private=False)
    before = {n: sites.servers[n].hits("/feed.xml") for n in ("healthy", "empty_feed")}
    # Without --allow-private a loopback site is refused like any private address: unreachable.
    result = CliRunner().invoke(check_sources_command, ["--sources", str(file), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert {s["source_id"]: s["status"] for s in data["sources"]} == {"healthy": "unreachable",
                                                                     "empty_feed": "unreachable"}
    assert data["broken"] == ["healthy", "empty_feed"]
    assert "private_address" in data["sources"][0]["findings"][0]["detail"]
    assert {n: sites.servers[n].hits("/feed.xml") for n in ("healthy", "empty_feed")} == before


def test_check_sources_command_refuses_an_unknown_source_id(tmp_path: Path, sites: Sites) -> None:
    file = write_sources(tmp_path / "sources.yaml", [sites.sources["healthy"]], private=True)
    result = CliRunner().invoke(check_sources_command, ["--sources", str(file), "--source", "nope"])
    assert result.exit_code == 2
    assert "unknown source id(s): nope" in result.output


# --- the canary flow -----------------------------------------------------------------------------


def _api(server: PrefectServer, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{server.api_url}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def drain_prefect_clients() -> None:
    """Send this process' buffered run logs and events now. Left for interpreter exit, they retry against
    a server the session has already stopped (over a minute of "Error logging to API")."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        APILogWorker.instance().drain()
    except RuntimeError:  # never started
        pass
    EventsWorker.drain_all()


def test_the_canary_flow_publishes_its_table_and_fails_when_a_source_is_broken(
    sites: Sites, tmp_path: Path, prefect_server: PrefectServer
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.canary import canary

    file = write_sources(tmp_path / "sources.yaml",
                         [sites.sources["healthy"], sites.sources["empty_feed"]], private=True)
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        state = canary(sources_file=str(file), return_state=True)
        drain_prefect_clients()
    assert state.is_failed()
    assert "empty_feed" in str(state.message) and "healthy" not in str(state.message)

    run_id = str(state.state_details.flow_run_id)
    runs = _api(prefect_server, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    assert [r["state_type"] for r in runs] == ["FAILED"]
    artifacts = _api(prefect_server, "/artifacts/filter",
                     {"artifacts": {"key": {"any_": ["canary-report"]}, "flow_run_id": {"any_": [run_id]}}})
    assert len(artifacts) == 1
    table = artifacts[0]["data"]
    rows = json.loads(table) if isinstance(table, str) else table
    assert {r["source"]: r["status"] for r in rows} == {"healthy": "ok", "empty_feed": "no_articles"}
