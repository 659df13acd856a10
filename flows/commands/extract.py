"""`scipol extract`: run the extractor on one page, a local file or a URL, and print the record."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from flows.commands.common import fail

FETCH_TIMEOUT_S = 10
MAX_FETCH_BYTES = 10 * 1024 * 1024
MAX_FILE_BYTES = 32 * 1024 * 1024
_USER_AGENT = "scipol-extract/1 (+https://github.com/scipol)"


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a redirect to ftp://; only http(s) hops are allowed (RELIABILITY.md A10).
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to a non-http(s) URL: {newurl}", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch(url: str) -> tuple[bytes, dict[str, str], str]:
    opener = urllib.request.build_opener(_HttpOnlyRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
    with opener.open(request, timeout=FETCH_TIMEOUT_S) as response:
        body = response.read(MAX_FETCH_BYTES + 1)
        if len(body) > MAX_FETCH_BYTES:
            raise ValueError(f"page is larger than {MAX_FETCH_BYTES} bytes")
        headers = {k.lower(): v for k, v in response.headers.items()}
        return body, headers, response.geturl()


def _read_file(path: Path) -> bytes:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        # Bounded inflate: a gzip bomb stops at the limit instead of filling memory.
        with gzip.open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
    return raw


@click.command("extract")
@click.argument("target", metavar="PATH_OR_URL")
@click.option(
    "--url",
    "page_url",
    metavar="URL",
    help="The page's URL, for a local file (canonical URL, link classification).",
)
@click.option(
    "--source", "source_id", metavar="ID", help="Apply this source's cleaning rules (from --sources)."
)
@click.option(
    "--sources",
    "sources_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default="sources.yaml",
    show_default=True,
    help="Sources file to read --source from.",
)
@click.option(
    "--format", "output_format", type=click.Choice(["json", "text"]), default="json", show_default=True
)
def extract_command(
    target: str, page_url: str | None, source_id: str | None, sources_path: str, output_format: str
) -> None:
    """Extract the article from one page (a .html / .html.gz file or an http(s) URL) and print it.

    \b
    Examples:
      scipol extract page.html.gz --url https://www.most.gov.cn/xxgk/abc.html
      scipol extract https://www.nsf.gov/news/some-story --format text
      scipol extract raw.html.gz --source most_cn --sources sources.yaml
    """
    from crawlers.extract import extract_html

    source = None
    if source_id:
        from flows.commands.common import load_sources_or_fail

        if not Path(sources_path).is_file():
            fail(f"sources file not found: {sources_path}")
        matches = [s for s in load_sources_or_fail(sources_path) if s.id == source_id]
        if not matches:
            fail(f"unknown source {source_id!r} in {sources_path}")
        source = matches[0]

    headers: dict[str, str] = {}
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("http", "https"):
        try:
            body, headers, final_url = _fetch(target)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            fail(f"cannot fetch {target}: {getattr(exc, 'reason', None) or exc}")
        url = page_url or final_url
    elif "://" in target:
        fail(f"only http(s) URLs or local files are supported, got {target}")
    else:
        path = Path(target)
        if not path.is_file():
            fail(f"file not found: {target}")
        try:
            body = _read_file(path)
        except (OSError, ValueError, EOFError) as exc:
            fail(f"cannot read {target}: {exc}")
        url = page_url or "http://localhost/" + path.name

    record = extract_html(
        body, url=url, headers=headers, source=source, source_id=source.id if source else "adhoc"
    )
    if record is None:
        fail(f"no article text found in {target}", code=1)
    if output_format == "text":
        click.echo(f"{record.title}\n\n{record.text}")
        return
    data = record.model_dump(mode="json")
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))
