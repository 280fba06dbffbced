"""Store fixtures: one ``Backend`` per database engine, each test on its own fresh database.

SQLite gets a file under ``tmp_path``; PostgreSQL gets a schema ``t_<random>`` that is dropped
afterwards. ``backend.open()`` opens another store on the *same* database, which is how tests
play a second replica or a restart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from aom_bot.store import Store, open_store


def postgres_dsn() -> str:
    """The test server's DSN: ``AOM_BOT_TEST_POSTGRES_DSN`` or the CI default (trust auth)."""
    return os.environ.get("AOM_BOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def postgres_unreachable_reason(dsn: str) -> str | None:
    """Why PostgreSQL tests cannot run here, or ``None`` when the server lets us in.

    A server that answers is not enough: its database may not exist (a developer's own
    PostgreSQL without a ``test`` database) or may refuse the user; that is a skip too.
    """
    parts = urlsplit(dsn)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as exc:
        return f"PostgreSQL at {host}:{port} is unreachable ({exc}); set AOM_BOT_TEST_POSTGRES_DSN"

    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callers may be inside a loop
        try:
            pool.submit(asyncio.run, probe()).result()
        except asyncpg.InvalidCatalogNameError:
            database = parts.path.lstrip("/") or "(default)"
            return (
                f"PostgreSQL at {host}:{port} has no database {database!r}; create it "
                f"(createdb -h {host} -p {port} {database}) or set AOM_BOT_TEST_POSTGRES_DSN"
            )
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            return (
                f"PostgreSQL at {host}:{port} refused the test connection "
                f"({type(exc).__name__}); set AOM_BOT_TEST_POSTGRES_DSN"
            )
    return None


def require_postgres() -> str:
    """The DSN, or skip (fail when ``AOM_BOT_REQUIRE_POSTGRES`` is set) if the server is down."""
    dsn = postgres_dsn()
    if reason := postgres_unreachable_reason(dsn):
        if os.environ.get("AOM_BOT_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason} (AOM_BOT_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)
    return dsn


@dataclass
class Backend:
    """One engine under test, able to open several stores on the same database."""

    name: str
    url: str
    schema: str | None
    sqlite_path: Path | None = None
    opened: list[Store] = field(default_factory=list)

    async def open(self) -> Store:
        """Open another store (a second replica, or the same one after a restart)."""
        store = await open_store(self.url, schema=self.schema)
        self.opened.append(store)
        return store

    async def execute_raw(self, sql: str) -> None:
        """Run SQL directly on the database, around the store (to fake a newer schema)."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                conn.execute(sql)
            return
        conn = await asyncpg.connect(self.url, server_settings={"search_path": self.schema or ""})
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def fetch_raw(self, sql: str) -> list[tuple[object, ...]]:
        """The rows a query returns, read around the store (what a column really holds)."""
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path)
            try:
                return [tuple(row) for row in conn.execute(sql).fetchall()]
            finally:
                conn.close()
        pg = await asyncpg.connect(self.url, server_settings={"search_path": self.schema or ""})
        try:
            return [tuple(row) for row in await pg.fetch(sql)]
        finally:
            await pg.close()


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh, empty database on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        engine = Backend("sqlite", f"sqlite:///{path}", None, sqlite_path=path)
    else:
        engine = Backend("postgres", require_postgres(), f"t_{uuid.uuid4().hex[:16]}")
    yield engine
    for store in engine.opened:
        await store.aclose()
    if engine.schema:
        conn = await asyncpg.connect(engine.url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{engine.schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    """A migrated store on a fresh database."""
    opened = await backend.open()
    await opened.migrate()
    return opened


@pytest.fixture
def pg_dsn() -> str:
    """The PostgreSQL test DSN; skips (or fails, see ``require_postgres``) when unreachable."""
    return require_postgres()
