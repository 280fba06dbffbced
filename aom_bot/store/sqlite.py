"""SQLite store: the embedded default for a single replica.

One connection with a rollback journal (``TRUNCATE``); an ``asyncio.Lock`` serialises every
transaction on it, and each transaction starts with ``BEGIN IMMEDIATE`` so claims are decided under SQLite's write lock (also
against another process, e.g. ``aom-bot migrate``, sharing the file). Times are stored as UTC
text in one fixed-width format, so ``<``/``>`` on the text compare instants.

Not WAL: WAL maps its ``-shm`` file into memory, and when that file turns unwritable (a
read-only remount after disk errors) the process dies of SIGBUS without a word. A rollback
journal maps nothing, so the same fault is an error the bot reports (see ``sqlite_files``).
Measured on this project's CI disk: about 1,000 commits/s (WAL: tens of thousands), far above
what the bot writes.

::

    store = await SqliteStore.open("aom-bot.db")
    await store.migrate()
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from aom_bot.errors import StoreError
from aom_bot.store._common import (
    Row,
    newer_schema_error,
    unique_keys,
    utc,
)
from aom_bot.store.dialect import SQLITE, sqlite_time
from aom_bot.store.migrations import load_migrations, unknown_versions
from aom_bot.store.shared import SharedQueries, Tx
from aom_bot.store.sqlite_files import StoreFileWatch, file_identity, unwritable_reason

__all__ = ["SqliteStore"]

_log = logging.getLogger(__name__)

_text = sqlite_time


class _Connection:
    """``Tx`` on the aiosqlite connection (inside ``SqliteStore._tx``)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._db.execute(sql, params) as cur:
            return max(cur.rowcount, 0)


async def _use_rollback_journal(db: aiosqlite.Connection, label: str) -> None:
    """Leave WAL (older versions used it) for a rollback journal, and never mmap anything."""
    async with db.execute("PRAGMA journal_mode = TRUNCATE") as cursor:
        row = await cursor.fetchone()
    mode = str(row[0]).lower() if row else ""
    if mode != "truncate":
        # Another process holds the file open in WAL mode; keep working, but say so.
        _log.warning("store.sqlite.journal_mode mode=%s path=%s (expected truncate)", mode, label)
    await db.execute("PRAGMA synchronous = FULL")  # the rollback journal's safe setting
    await db.execute("PRAGMA mmap_size = 0")


class SqliteStore(SharedQueries):
    """``Store`` on one SQLite file (or ``:memory:``)."""

    _dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection, *, label: str) -> None:
        """Wrap an open connection; prefer ``SqliteStore.open``."""
        self._db = db
        self._label = label
        self._lock = asyncio.Lock()
        self._closed = False
        self._files = None if label == ":memory:" else StoreFileWatch(Path(label))
        self._reported: str | None = None

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
        """Open (creating if needed) the database file: rollback journal, foreign keys,
        timeouts. An unwritable file or directory is a ``StoreError`` before SQLite opens it."""
        label = str(path)
        if label != ":memory:":
            problem = unwritable_reason(Path(label))
            if problem is not None:
                raise StoreError(
                    f"The SQLite store {label!r} cannot be written: {problem}.",
                    hint="Fix the disk or the permissions, or set AOM_BOT_STATE_DIR / "
                    "AOM_BOT_DATABASE_URL to a writable place.",
                )
        created = label != ":memory:" and file_identity(Path(label)) is None
        pending = aiosqlite.connect(label, isolation_level=None)
        try:
            db = await pending
        except (sqlite3.Error, OSError) as exc:
            # aiosqlite stops its worker thread without waiting; let it finish while our
            # event loop is still alive, or it reports "Event loop is closed" from the thread
            await asyncio.to_thread(pending._thread.join, 5)
            raise StoreError(
                f"Could not open the SQLite store {label!r}: {exc}",
                hint="Check that the directory exists and this user may write to it.",
            ) from exc
        try:
            db.row_factory = sqlite3.Row
            if label != ":memory:":
                await _use_rollback_journal(db, label)
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            await db.close()
            raise StoreError(f"Could not open the SQLite store {label!r}: {exc}") from exc
        if created:
            _log.warning(
                "store.sqlite.created path=%s: a new, empty store. If this bot ran before, its "
                "follows and subscriptions are not in it (was the state directory removed?)",
                label,
            )
        return cls(db, label=label)

    def __repr__(self) -> str:
        return f"SqliteStore({self._label!r})"

    async def health_problem(self) -> str | None:
        """What makes the store unfit to keep state now (its file deleted, replaced or
        unwritable), or None. Logged once, as an error, when it first appears."""
        problem = self._files.problem() if self._files is not None else None
        if problem != self._reported:
            if problem is not None:
                _log.error("store.unhealthy %s", problem)
            else:
                _log.info("store.healthy again path=%s", self._label)
            self._reported = problem
        return problem

    def _failed(self, exc: BaseException) -> StoreError:
        """The StoreError for a driver error, saying why when the file itself is the cause."""
        problem = self._files.problem() if self._files is not None else None
        detail = f" {problem}" if problem else ""
        return StoreError(f"The SQLite store {self._label!r} failed: {exc}.{detail}")

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One serialised write transaction; driver errors become ``StoreError``."""
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except (sqlite3.Error, ValueError) as exc:  # ValueError: connection closed
                raise self._failed(exc) from exc
            try:
                yield self._db
            except BaseException as exc:
                with suppress(sqlite3.Error):  # the original error is what matters
                    await self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc) from exc
                raise
            try:
                await self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._failed(exc) from exc

    def _statement(self) -> AbstractAsyncContextManager[Tx]:
        return self._transaction()  # every statement takes the write lock: BEGIN IMMEDIATE

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        async with self._tx() as db:
            yield _Connection(db)

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self, *, target: int | None = None) -> None:
        """Apply every migration the database lacks (up to ``target``, if given), each in its
        own transaction; refuse a database holding a version this build does not know."""
        steps = load_migrations("sqlite")
        wanted = [s for s in steps if target is None or s.version <= target]
        for step in [*wanted, None]:  # a last round only re-checks the versions
            async with self._tx() as db:
                await db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                applied = await self._applied(db)
                if newer := unknown_versions(steps, applied):
                    raise newer_schema_error(newer[-1], steps[-1].version)
                if step is None or step.version in applied:
                    continue
                # executescript would COMMIT our transaction first; run statements one by one
                for statement in _statements(step.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, _text(datetime.now(UTC))),
                )

    async def schema_version(self) -> int:
        """The highest applied migration, 0 on an empty database."""
        async with self._tx() as db:
            return await self._version(db)

    @staticmethod
    async def _version(db: aiosqlite.Connection) -> int:
        async with db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ) as cur:
            if await cur.fetchone() is None:
                return 0
        async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    async def _applied(db: aiosqlite.Connection) -> set[int]:
        async with db.execute("SELECT version FROM schema_migrations") as cur:
            return {int(row[0]) for row in await cur.fetchall()}

    async def aclose(self) -> None:
        """Close the connection (and its worker thread); closing twice is harmless."""
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._db.close()

    # -- leases ------------------------------------------------------------------------------

    async def acquire_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Take free or expired leases and renew our own; returns the keys now held."""
        wanted = json.dumps(unique_keys(keys))
        async with self._tx() as db:
            # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT
            await db.execute(
                "INSERT INTO leases (key, owner, expires_at)"
                " SELECT value, ?, ? FROM json_each(?) WHERE true"
                " ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
                " expires_at = excluded.expires_at"
                " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
                (owner, _text(utc(now) + ttl), wanted, _text(now)),
            )
            async with db.execute(
                "SELECT key FROM leases WHERE owner = ? AND key IN (SELECT value FROM json_each(?))",
                (owner, wanted),
            ) as cur:
                return {row[0] for row in await cur.fetchall()}

    async def announce_handover(self, prefix: str) -> None:
        """No notices on SQLite: processes sharing a file take handed-over work at their next
        resync (SQLite is meant for one process)."""

    async def handovers(self) -> AsyncIterator[str]:
        """No notices on SQLite (see ``announce_handover``): waits until cancelled."""
        await asyncio.Event().wait()
        yield ""  # pragma: no cover - never reached: this only makes it an async iterator

    async def renew_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Extend leases the owner still holds; keys missing from the result were lost."""
        wanted = json.dumps(unique_keys(keys))
        async with self._tx() as db:
            await db.execute(
                "UPDATE leases SET expires_at = ?"
                " WHERE owner = ? AND key IN (SELECT value FROM json_each(?))",
                (_text(utc(now) + ttl), owner, wanted),
            )
            async with db.execute(
                "SELECT key FROM leases WHERE owner = ? AND key IN (SELECT value FROM json_each(?))",
                (owner, wanted),
            ) as cur:
                return {row[0] for row in await cur.fetchall()}


def _statements(script: str) -> list[str]:
    """Split a migration script into statements: a ``;`` ends one only where SQLite agrees
    the statement is complete (a trigger's body holds several). Our SQL files have no ``;``
    in literals or comments."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    found: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            found.append(pending.strip().removesuffix(";").strip())
            pending = ""
    if pending.strip(" \n;"):
        found.append(pending.strip().removesuffix(";").strip())
    return [statement for statement in found if statement]
