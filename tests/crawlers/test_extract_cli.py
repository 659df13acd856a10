"""`scipol extract`: files, gzip files, a URL on a local server, both output formats, clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner

from flows.commands.extract import extract_command
from tests.support.httpserver import FaultServer, Reply

PARA = (
    "The agency said the new programme would support about 200 research groups over five years, with a "
    "first call for proposals expected in the spring."
)
PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Agency launches programme</title>"
    "<meta property='article:published_time' content='2024-11-20T09:00:00Z'>"
    "<meta property='og:site_name' content='Agency News'></head>"
    "<body><article><h1>Agency launches programme</h1>"
    "<p>By Jane Doe and John Smith</p>"
    + "".join(f"<p>{PARA} ({i})</p>" for i in range(4))
    + "<p>- END -</p><p>Other story headline</p></article></body></html>"
).encode("utf-8")
SOURCES = """
sources:
  - id: agency_news
    name: Agency News
    feeds: ["https://agency.example/rss"]
    cleaning:
      drop_line_patterns: ['.*\\(3\\)']
"""


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(extract_command, list(args))


def test_extracts_a_local_html_file_as_json(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(PAGE)
    result = run(str(path), "--url", "https://agency.example/news/1?utm_source=x")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "title",
        "text",
        "authors",
        "published",
        "updated",
        "language",
        "language_confidence",
        "site_name",
        "canonical_url",
    ):
        assert key in data
    assert data["title"] == "Agency launches programme"
    assert data["authors"] == ["Jane Doe", "John Smith"]
    assert data["published"] == "2024-11-20"
    assert data["language"] == "en"
    assert data["site_name"] == "Agency News"
    assert data["canonical_url"] == "https://agency.example/news/1"
    assert "END" not in data["text"] and "Other story" not in data["text"]


def test_extracts_a_gzipped_file_as_text(tmp_path: Path) -> None:
    path = tmp_path / "raw.html.gz"
    path.write_bytes(gzip.compress(PAGE))
    result = run(str(path), "--format", "text")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Agency launches programme\n\n")
    assert f"{PARA} (0)" in result.stdout


def test_fetches_an_http_url() -> None:
    with FaultServer() as srv:
        srv.route("/news/1", Reply(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8"}))
        result = run(srv.url("/news/1"))
        assert srv.hits("/news/1") == 1
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["url"].endswith("/news/1")
    assert data["authors"] == ["Jane Doe", "John Smith"]


def test_applies_a_sources_cleaning_rules(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_bytes(PAGE)
    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    result = run(
        str(tmp_path / "page.html"), "--source", "agency_news", "--sources", str(tmp_path / "sources.yaml")
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source_id"] == "agency_news"
    assert "(3)" not in data["text"] and "(2)" in data["text"]


def test_missing_file_is_one_line_on_stderr_with_exit_code_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.html"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "file not found" in result.stderr


def test_unknown_source_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_bytes(PAGE)
    (tmp_path / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    result = run(str(tmp_path / "page.html"), "--source", "nope", "--sources", str(tmp_path / "sources.yaml"))
    assert result.exit_code == 2
    assert "unknown source 'nope'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_non_http_scheme_is_refused() -> None:
    result = run("file:///etc/passwd")
    assert result.exit_code == 2
    assert "only http(s)" in result.stderr


def test_unreachable_url_is_an_error() -> None:
    with FaultServer() as srv:
        url = srv.url("/gone")
        srv.route("/gone", Reply(status=404))
        result = run(url)
    assert result.exit_code == 2
    assert "cannot fetch" in result.stderr


def test_help_shows_an_example() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "scipol extract" in result.stdout
    assert "--format" in result.stdout
