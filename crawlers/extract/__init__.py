"""Extraction and cleaning: one captured page in, one `ArticleRecord` (or None) out.

The flow calls `extract_capture` in a process pool, so the public functions are module-level and
every cache (rules, language profiles, public-suffix list) is built lazily once per process.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

RULES_VERSION = "2026.2"
"""Bump when a rule, decoder or metadata change alters output: records carry it and old ones re-extract."""


def _trafilatura_version() -> str:
    try:
        return version("trafilatura")
    except PackageNotFoundError:  # running from a source checkout without metadata
        import trafilatura

        return str(getattr(trafilatura, "__version__", "unknown"))


EXTRACTOR_VERSION: str = f"{RULES_VERSION}+traf{_trafilatura_version()}"

from crawlers.extract.article import extract_capture, extract_html  # noqa: E402  (needs EXTRACTOR_VERSION)

__all__ = ["EXTRACTOR_VERSION", "RULES_VERSION", "extract_capture", "extract_html"]
