"""Source configuration: what to crawl, where, and how to clean it.

Sources are data (a YAML file), validated here when loaded. Errors name the file, the source and the
field, so an operator can fix a bad line without reading Python.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.errors import SourceConfigError

SOURCE_ID_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
_CONTROL_CHARS = re.compile(r"[\x00-\x20\x7f]")


def check_http_url(value: str) -> str:
    """Accept only absolute http(s) URLs with a host, no credentials and no whitespace/control chars."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty URL string")
    if _CONTROL_CHARS.search(value):
        raise ValueError(f"URL contains whitespace or control characters: {value!r}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs are allowed, got {parts.scheme or 'no'} scheme in {value!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"credentials in URLs are not allowed: {parts.scheme}://***@{parts.hostname}")
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
    return value


HttpUrl = Annotated[str, Field(min_length=8, max_length=2048)]
Regex = Annotated[str, Field(min_length=1, max_length=500)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CleaningRules(_Frozen):
    """Boilerplate rules. The defaults live with the extractor; a source adds to them here.

    Every pattern is a Python regex matched against one whole stripped line of extracted text.
    """

    drop_line_patterns: list[Regex] = Field(default_factory=list)
    """A matching line is removed (editor lines, credits, share prompts)."""
    end_markers: list[Regex] = Field(default_factory=list)
    """A matching line near the end, and everything after it, is cut."""
    teaser_headings: list[Regex] = Field(default_factory=list)
    """A matching heading starts a trailing related-articles block: it and the rest are cut."""
    drop_selectors: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(default_factory=list)
    """CSS selectors whose elements are removed from the HTML before extraction."""

    @field_validator("drop_line_patterns", "end_markers", "teaser_headings")
    @classmethod
    def _valid_regexes(cls, values: list[str]) -> list[str]:
        return [_check_regex(v) for v in values]


class ListingPage(_Frozen):
    """A listing page whose links lead to articles, with bounded pagination."""

    url: HttpUrl
    link_selector: str | None = None
    """CSS selector of the article links (`a` elements, or elements containing them)."""
    link_xpath: str | None = None
    """XPath alternative to `link_selector`."""
    next_selector: str | None = None
    """CSS selector of the link to the next listing page."""
    max_pages: int = Field(default=3, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)


class SourceConfig(_Frozen):
    """One monitored site."""

    id: Annotated[str, Field(pattern=SOURCE_ID_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    enabled: bool = True
    feeds: list[HttpUrl] = Field(default_factory=list)
    sitemaps: list[HttpUrl] = Field(default_factory=list)
    listing_pages: list[ListingPage] = Field(default_factory=list)
    allowed_domains: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(default_factory=list)
    """Hosts the crawl may fetch from (a domain also allows its subdomains). Empty: the hosts of the
    configured feed, sitemap and listing URLs."""
    allow_patterns: list[Regex] = Field(default_factory=list)
    """Article URLs must match one of these (when any are given)."""
    deny_patterns: list[Regex] = Field(default_factory=list)
    """Article URLs matching any of these are skipped."""
    default_language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")] | None = None
    cleaning: CleaningRules = Field(default_factory=CleaningRules)
    allow_private_addresses: bool = False
    """Allow loopback/private addresses (tests and the demo only)."""
    download_delay: float = Field(default=2.0, ge=0, le=600)
    """Seconds between requests to one domain (AutoThrottle starts here)."""
    concurrency: int = Field(default=1, ge=1, le=4)
    """Concurrent requests per domain."""
    page_budget: int = Field(default=500, ge=1, le=100_000)
    """At most this many requests per crawl of this source (crawler-trap guard)."""
    max_depth: int = Field(default=3, ge=0, le=20)
    lookback_days: int = Field(default=30, ge=1, le=36_500)
    """Sitemap entries older than this are not fetched (unless backfilling)."""
    revisit_hours: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [1.0, 6.0, 24.0, 72.0, 168.0, 720.0]
    )
    """Re-check an article this many hours after it was first seen; after the last, stop."""
    recheck_known: Literal["changed", "all"] = "changed"
    """What an ingest does with an article URL the archive already holds when discovery lists it
    again. `changed`: request it (conditionally) only when its feed or sitemap entry dates it after
    the copy we hold; the revisit flow re-checks the rest on `revisit_hours`. `all`: request every one
    conditionally on every run (a 304 each; for sites whose feeds carry no dates but edit often)."""

    @field_validator("feeds", "sitemaps")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        return [check_http_url(v) for v in values]

    @field_validator("allow_patterns", "deny_patterns")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        return [_check_regex(v) for v in values]

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        out = []
        for v in values:
            host = v.strip().lower().rstrip(".")
            if not re.fullmatch(r"[a-z0-9.\-\[\]:]+", host):
                raise ValueError(f"not a host name: {v!r}")
            out.append(host)
        return out

    @model_validator(mode="after")
    def _has_entry_points(self) -> SourceConfig:
        if not (self.feeds or self.sitemaps or self.listing_pages):
            raise ValueError("a source needs at least one of feeds, sitemaps or listing_pages")
        return self

    def effective_domains(self) -> list[str]:
        """Allowed hosts: the configured ones, or the hosts of the entry-point URLs."""
        if self.allowed_domains:
            return list(self.allowed_domains)
        urls = [*self.feeds, *self.sitemaps, *(p.url for p in self.listing_pages)]
        hosts = {(urlsplit(u).hostname or "").lower() for u in urls}
        return sorted(h for h in hosts if h)


class SourcesFile(_Frozen):
    sources: list[SourceConfig]


def _describe(exc: ValidationError, raw_sources: list[Any], path: str) -> SourceConfigError:
    first = exc.errors()[0]
    loc = list(first.get("loc", ()))
    source_label = None
    field = None
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        index = loc[1]
        raw = raw_sources[index] if index < len(raw_sources) else None
        sid = raw.get("id") if isinstance(raw, dict) else None
        source_label = str(sid) if sid else f"#{index + 1}"
        field = ".".join(str(p) for p in loc[2:]) or None
    elif loc:
        field = ".".join(str(p) for p in loc)
    msg = first.get("msg", "invalid")
    where = f"{path}: source {source_label!r}" if source_label else path
    if field:
        where += f", field {field!r}"
    extra = f" ({len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return SourceConfigError(f"{where}: {msg}{extra}", path=path, source=source_label, field=field)


def parse_sources(data: Any, *, path: str = "<sources>") -> list[SourceConfig]:
    """Validate already-parsed YAML/JSON data (a mapping with a `sources` list)."""
    if not isinstance(data, dict) or "sources" not in data:
        raise SourceConfigError(f"{path}: expected a mapping with a 'sources' list", path=path)
    raw_sources = data.get("sources") or []
    if not isinstance(raw_sources, list):
        raise SourceConfigError(f"{path}: 'sources' must be a list", path=path, field="sources")
    try:
        parsed = SourcesFile.model_validate(data)
    except ValidationError as exc:
        raise _describe(exc, raw_sources, path) from None
    seen: set[str] = set()
    for src in parsed.sources:
        if src.id in seen:
            raise SourceConfigError(f"{path}: source {src.id!r}, field 'id': duplicate source id",
                                    path=path, source=src.id, field="id")
        seen.add(src.id)
    return list(parsed.sources)


def load_sources(path: str | os.PathLike[str]) -> list[SourceConfig]:
    """Read and validate a sources YAML file (safe_load: no Python tags)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceConfigError(f"{p}: cannot read sources file: {exc.strerror or exc}", path=str(p)) from None
    except UnicodeDecodeError as exc:
        raise SourceConfigError(f"{p}: sources file is not UTF-8: {exc}", path=str(p)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise SourceConfigError(f"{p}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}", path=str(p)) from None
    return parse_sources(data, path=str(p))
