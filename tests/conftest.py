"""Shared test setup. Fixtures for PostgreSQL live in tests/support/postgres.py (a plugin)."""

from __future__ import annotations

import os
import tempfile

import pytest

pytest_plugins = ["tests.support.postgres", "tests.support.prefect_server"]

# `import prefect` writes to ~/.prefect; keep every test run's Prefect state in a throwaway folder.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="scipol-prefect-home-"))
os.environ.setdefault("SCIPOL_SPOOL_DIR", tempfile.mkdtemp(prefix="scipol-spool-"))


@pytest.fixture()
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/archive.db"
