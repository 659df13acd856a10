"""Pytest plugin: a throwaway PostgreSQL 15 server for the test session, and fresh databases per test.

Fixtures:
- `postgres_server` (session): an object with `.url(dbname)` and `.create_database() -> url`.
- `pg_url`: a fresh, empty PostgreSQL database URL (`postgresql+psycopg://...`).
- `db_url`: parametrised `sqlite` / `postgresql`: a fresh, empty database URL of each kind.
- `migrated_pg_url` (module): one migrated archive database for a module's tests, which empty it with
  `empty_archive(conn)` before each (TRUNCATE is ~20x faster than creating and migrating a database).

The server runs from the Debian binaries (`/usr/lib/postgresql/15/bin` or `pg_config --bindir`),
listens on 127.0.0.1 on a free port with trust authentication and fsync off, and is stopped and
deleted at session end. `initdb` refuses to run as root, so as root the data directory belongs to
`postgres` and the binaries run through `runuser -u postgres --`. With `SCIPOL_TEST_POSTGRES_URL`
set (any database on a server where that role may CREATE DATABASE), that server is used instead.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_VERSION = "15"
_counter = itertools.count(1)


def _find_bindir() -> Path | None:
    candidates = [Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server reachable at `base_url` (a URL without the database name)."""

    def __init__(self, host: str, port: int, user: str, password: str | None = None,
                 admin_db: str = "postgres") -> None:
        self.host, self.port, self.user, self.password, self.admin_db = host, port, user, password, admin_db
        self.created: list[str] = []

    def url(self, dbname: str) -> str:
        auth = self.user if self.password is None else f"{self.user}:{self.password}"
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{dbname}"

    def _admin(self) -> object:
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=self.admin_db, autocommit=True, connect_timeout=10)

    def create_database(self) -> str:
        """Create an empty database with a unique name and return its URL."""
        from psycopg import sql

        name = f"scipol_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        with self._admin() as conn:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        from psycopg import sql

        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class _LocalPostgres:
    """Start/stop a private server in a temp directory."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="scipol-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.root.chmod(0o700)

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=120 "
                   "-c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("SCIPOL_TEST_POSTGRES_URL")
    if external:
        from sqlalchemy.engine import make_url

        parsed = make_url(external)
        server = PostgresServer(parsed.host or "127.0.0.1", parsed.port or 5432, parsed.username or "postgres",
                                parsed.password, parsed.database or "postgres")
        yield server
        for name in server.created:
            try:
                server.drop_database(server.url(name))
            except Exception:  # noqa: BLE001 - cleanup of a server we do not own is best effort
                pass
        return
    bindir = _find_bindir()
    if bindir is None:
        pytest.fail(f"PostgreSQL {PG_VERSION} server binaries not found (looked in /usr/lib/postgresql/"
                    f"{PG_VERSION}/bin and `pg_config --bindir`). Install them with `make deps` or "
                    f"`apt-get install postgresql-{PG_VERSION}`, or set SCIPOL_TEST_POSTGRES_URL.",
                    pytrace=False)
    local = _LocalPostgres(bindir)
    local.start()
    try:
        yield PostgresServer("127.0.0.1", local.port, "postgres")
    finally:
        local.stop()


@pytest.fixture()
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database()


@pytest.fixture(scope="module")
def migrated_pg_url(postgres_server: PostgresServer) -> str:
    from storage.db import upgrade

    url = postgres_server.create_database()
    upgrade(url)
    return url


def empty_archive(conn: Any) -> None:
    """Delete every row of a migrated archive database (a SQLAlchemy connection to it)."""
    from sqlalchemy import text

    from storage.models import Base
    from storage.search import SEARCH_TABLE

    tables = [t.name for t in Base.metadata.sorted_tables] + [SEARCH_TABLE]
    conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/archive.db"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()
