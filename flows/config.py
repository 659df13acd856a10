"""Settings read from the environment at call time (never import-time constants)."""

from __future__ import annotations

import os
from pathlib import Path

from flows.version import __version__

DEFAULT_SOURCES_FILE = "sources.yaml"


def sources_file() -> Path:
    """The sources file: SCIPOL_SOURCES, else ./sources.yaml (the production list in the repository)."""
    return Path(os.environ.get("SCIPOL_SOURCES") or DEFAULT_SOURCES_FILE)


def contact() -> str:
    """The operator's contact, sent in the User-Agent so site owners can reach a person."""
    return os.environ.get("SCIPOL_CONTACT", "").strip()


def user_agent() -> str:
    who = contact()
    suffix = f"; {who}" if who else ""
    return f"scipol/{__version__} (science-policy news archiver{suffix})"


def spool_root() -> Path:
    """Where crawl spools are written (deleted after each source is stored)."""
    env = os.environ.get("SCIPOL_SPOOL_DIR")
    return Path(env) if env else Path(os.environ.get("TMPDIR", "/tmp")) / "scipol-spool"


def extract_workers() -> int:
    env = os.environ.get("SCIPOL_EXTRACT_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, os.cpu_count() or 1)


def batch_size() -> int:
    return max(1, int(os.environ.get("SCIPOL_BATCH_SIZE", "50")))
