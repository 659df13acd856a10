"""Options and helpers shared by several commands."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    from schemas import SourceConfig


def fail(message: str, code: int = 2) -> NoReturn:
    """One clear line on stderr and a non-zero exit."""
    click.echo(f"scipol: error: {message}", err=True)
    sys.exit(code)


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db", "db_url", metavar="URL", default=None,
        help="Archive database URL (default: $SCIPOL_DATABASE_URL, else sqlite:///./scipol.db).",
    )(func)


def apply_db(db_url: str | None) -> None:
    # The flows and storage read the URL at call time from the environment; one place sets it.
    if db_url:
        os.environ["SCIPOL_DATABASE_URL"] = db_url


def load_sources_or_fail(path: str | os.PathLike[str]) -> list[SourceConfig]:
    # Imported here: the pydantic records take ~0.3 s to import, and `scipol ingest` starts its crawl
    # process before paying for them (every command module imports this one).
    from schemas import SourceConfigError, load_sources

    try:
        return load_sources(path)
    except SourceConfigError as exc:
        fail(str(exc))


def selected_sources_or_fail(sources_file: str | os.PathLike[str] | None, ids: Sequence[str],
                             what: str) -> list[SourceConfig]:
    """The sources a command works on: the named ids, else every enabled source; errors are one line."""
    from flows import config
    from flows.runs import select_sources

    all_sources = load_sources_or_fail(sources_file or config.sources_file())
    try:
        sources = select_sources(all_sources, ids)
    except KeyError as exc:
        fail(exc.args[0])
    if not sources:
        fail(f"no enabled sources to {what}")
    return sources


def source_id_for_host(host: str) -> str:
    sid = re.sub(r"[^a-z0-9]+", "_", host.lower()).strip("_") or "adhoc"
    return sid if sid[0].isalpha() else f"site_{sid}"


def adhoc_source(feeds: list[str], sitemaps: list[str], *, source_id: str | None, delay: float,
                 allow_private: bool) -> SourceConfig:
    urls = [*feeds, *sitemaps]
    host = (urlsplit(urls[0]).hostname or "adhoc") if urls else "adhoc"
    data = {
        "id": source_id or source_id_for_host(host),
        "name": f"ad-hoc {host}",
        "feeds": feeds,
        "sitemaps": sitemaps,
        "download_delay": delay,
        "allow_private_addresses": allow_private,
    }
    from schemas import SourceConfigError
    from schemas.sources import parse_sources

    try:
        return parse_sources({"sources": [data]}, path="command line")[0]
    except SourceConfigError as exc:
        fail(str(exc))
