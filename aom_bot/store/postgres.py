"""PostgreSQL store: shared state for several replicas.

Every claim is one atomic statement (``UPDATE … WHERE state = …`` or ``INSERT … ON CONFLICT``),
so PostgreSQL's row locks pick exactly one winner among replicas. Leases use the caller's
``now``, never the database clock, so simulated time works and replicas agree on one timeline.
Migrations take ``pg_advisory_xact_lock``, so replicas starting together do not collide.

::

    store = await PostgresStore.open("postgresql://bot@db/aom", schema="aom_bot")
    await store.migrate()
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from aom_bot.errors import ConfigError, StoreError
from aom_bot.store import pg_handover
from aom_bot.store._common import (
    Row,
    dsn_secrets,
    newer_schema_error,
    redact_dsn,
    scrub,
    unique_keys,
    utc,
)
from aom_bot.store.dialect import POSTGRES, numbered
from aom_bot.store.migrations import load_migrations, unknown_versions
from aom_bot.store.shared import SharedQueries, Tx

__all__ = ["PostgresStore"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class _Connection:
    """``Tx`` on one asyncpg connection: ``?`` placeholders numbered as ``$1, $2, …``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self._conn.fetch(numbered(sql), *params))

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        # the command tag ends in the row count: "UPDATE 2", "INSERT 0 1", "DELETE 0"
        status: str = await self._conn.execute(numbered(sql), *params)
        return int(status.rpartition(" ")[2])


class PostgresStore(SharedQueries):
    """``Store`` on PostgreSQL via an asyncpg pool; tables live in ``schema`` if given."""

    _dialect = POSTGRES

    def __init__(self, pool: asyncpg.Pool, *, dsn: str, schema: str | None) -> None:
        """Wrap an open pool; prefer ``PostgresStore.open``."""
        self._pool = pool
        self._shown = redact_dsn(dsn)
        self._secrets = dsn_secrets(dsn)
        self._schema = schema
        #: who this store is in hand-over notices (it does not wake itself)
        self._sender = uuid.uuid4().hex[:12]

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
    ) -> PostgresStore:
        """Connect a pool; ``schema`` (created by ``migrate``) becomes the search_path."""
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ConfigError(
                f"Schema name {schema[:70]!r} is not allowed.",
                hint="Use lower-case letters, digits and '_', starting with a letter or '_'.",
            )
        settings = {"search_path": schema} if schema else {}
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=max_connections,
                server_settings=settings,
                timeout=connect_timeout,
            )
        except TimeoutError:
            raise StoreError(
                f"PostgreSQL at {redact_dsn(dsn)} did not answer within {connect_timeout:g} s "
                "(connect timeout).",
                hint="Check AOM_BOT_DATABASE_URL: the host and port must be a PostgreSQL server.",
            ) from None
        except (*_DRIVER_ERRORS, ValueError) as exc:  # ValueError: malformed DSN
            raise StoreError(
                f"Could not connect to PostgreSQL at {redact_dsn(dsn)}: "
                f"{type(exc).__name__}: {scrub(str(exc), dsn_secrets(dsn))}",
                hint="Check AOM_BOT_DATABASE_URL and that the server is reachable.",
            ) from None  # the driver's exception may carry the DSN itself
        return cls(pool, dsn=dsn, schema=schema)

    def __repr__(self) -> str:
        return f"PostgresStore({self._shown!r}, schema={self._schema!r})"

    async def health_problem(self) -> str | None:
        """Why the store cannot keep state now (the server does not answer), or None."""
        try:
            await self._fetch("SELECT 1")
        except StoreError as exc:
            return exc.message
        return None

    @asynccontextmanager
    async def _conn(self, *, transaction: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; driver errors become ``StoreError`` without the password."""
        try:
            async with self._pool.acquire() as conn:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        except _DRIVER_ERRORS as exc:
            raise StoreError(
                f"The PostgreSQL store at {self._shown} failed: "
                f"{type(exc).__name__}: {scrub(str(exc), self._secrets)}"
            ) from None

    def _statement(self) -> AbstractAsyncContextManager[Tx]:
        return self._connection(transaction=False)

    def _transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self._connection(transaction=True)

    @asynccontextmanager
    async def _connection(self, *, transaction: bool) -> AsyncIterator[Tx]:
        async with self._conn(transaction=transaction) as conn:
            yield _Connection(conn)

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self, *, target: int | None = None) -> None:
        """Apply every migration the database lacks (up to ``target``, if given), each in its
        own locked transaction; refuse a database holding a version this build does not know."""
        steps = load_migrations("postgres")
        lock_name = f"aom_bot.store.migrate:{self._schema or ''}"
        wanted = [s for s in steps if target is None or s.version <= target]
        for step in [*wanted, None]:  # a last round only re-checks the versions
            async with self._conn(transaction=True) as conn:
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock_name)
                if self._schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                )
                applied = {
                    int(row[0]) for row in await conn.fetch("SELECT version FROM schema_migrations")
                }
                if newer := unknown_versions(steps, applied):
                    raise newer_schema_error(newer[-1], steps[-1].version)
                if step is None or step.version in applied:
                    continue
                await conn.execute(step.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    step.version,
                    step.name,
                    datetime.now(UTC),
                )

    async def schema_version(self) -> int:
        """The highest applied migration, 0 on an empty database."""
        async with self._conn() as conn:
            return await self._version(conn)

    @staticmethod
    async def _version(conn: asyncpg.Connection) -> int:
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            return 0
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    async def aclose(self) -> None:
        """Close the pool."""
        await self._pool.close()

    # -- leases ------------------------------------------------------------------------------

    async def acquire_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Take free or expired leases and renew our own; returns the keys now held."""
        rows = await self._fetch(
            "INSERT INTO leases (key, owner, expires_at)"
            " SELECT k, $1, $3 FROM unnest($2::text[]) AS k"
            " ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner,"
            " expires_at = EXCLUDED.expires_at"
            " WHERE leases.owner = EXCLUDED.owner OR leases.expires_at <= $4"
            " RETURNING key",
            owner,
            unique_keys(keys),
            utc(now) + ttl,
            utc(now),
        )
        return {row["key"] for row in rows}

    async def announce_handover(self, prefix: str) -> None:
        """``NOTIFY`` the other replicas (:meth:`handovers`) that leases were given back."""
        notice = pg_handover.payload(self._schema, self._sender, prefix)
        await self._fetch("SELECT pg_notify(?, ?)", pg_handover.CHANNEL, notice)

    def handovers(self) -> AsyncIterator[str]:
        """The prefixes other replicas hand over (``LISTEN`` on one pooled connection)."""
        return pg_handover.listen(self._conn, self._schema, self._sender)

    async def renew_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Extend leases the owner still holds; keys missing from the result were lost."""
        rows = await self._fetch(
            "UPDATE leases SET expires_at = $3 WHERE owner = $1 AND key = ANY($2::text[])"
            " RETURNING key",
            owner,
            unique_keys(keys),
            utc(now) + ttl,
        )
        return {row["key"] for row in rows}
