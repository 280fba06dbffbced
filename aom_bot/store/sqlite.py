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
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from aom_bot.errors import StoreError
from aom_bot.store._common import (
    FOLLOW_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    follow_from_row,
    newer_schema_error,
    stale_cutoff,
    subscription_from_row,
    unique_keys,
    utc,
)
from aom_bot.store.base import EndReason, Follow, NewFollow, NewSubscription, Subscription
from aom_bot.store.migrations import load_migrations
from aom_bot.store.sqlite_files import StoreFileWatch, file_identity, unwritable_reason

__all__ = ["SqliteStore"]

_log = logging.getLogger(__name__)

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# one follow plus its announced signatures as a JSON array (JSON1 is built into SQLite)
_SELECT_FOLLOW = f"""
SELECT {FOLLOW_COLUMNS},
       (SELECT json_group_array(signature) FROM follow_announcements a
         WHERE a.follow_id = follows.id) AS announced
FROM follows
"""  # noqa: S608 - constant column list, no input


def _text(moment: datetime) -> str:
    return utc(moment).strftime(_TIME_FORMAT)


def _text_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else _text(moment)


def _time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, _TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise StoreError(f"The SQLite store holds a malformed time {raw!r}.") from None


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


def _follow(row: sqlite3.Row) -> Follow:
    return follow_from_row(row, json.loads(row["announced"] or "[]"), _time)


def _subscription(row: sqlite3.Row) -> Subscription:
    return subscription_from_row(row, _time)


class SqliteStore:
    """``Store`` on one SQLite file (or ``:memory:``)."""

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

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._tx() as db, db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _changed(self, sql: str, params: Sequence[Any]) -> bool:
        """Run one statement; True if it changed a row (how claims report who won)."""
        async with self._tx() as db, db.execute(sql, params) as cur:
            return cur.rowcount > 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self) -> None:
        """Apply pending migrations, each in its own transaction; refuse a newer schema."""
        steps = load_migrations("sqlite")
        for step in steps:
            async with self._tx() as db:
                await db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                current = await self._version(db)
                if current > len(steps):
                    raise newer_schema_error(current, len(steps))
                if step.version <= current:
                    continue
                # executescript would COMMIT our transaction first; run statements one by one
                for statement in _statements(step.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.name, _text(datetime.now(UTC))),
                )
        # also refuse when there was nothing left to apply
        if (found := await self.schema_version()) > len(steps):
            raise newer_schema_error(found, len(steps))

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

    async def aclose(self) -> None:
        """Close the connection (and its worker thread); closing twice is harmless."""
        async with self._lock:
            if not self._closed:
                self._closed = True
                await self._db.close()

    # -- follows -----------------------------------------------------------------------------

    async def start_follow(self, new: NewFollow) -> tuple[Follow, bool]:
        """Create a follow, or return the active one for the same channel and execution."""
        async with self._tx() as db:
            key = (new.channel_id, new.workflow_id, new.execution_id)
            async with db.execute(
                _SELECT_FOLLOW + " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?"
                " AND state = 'active'",
                key,
            ) as cur:
                existing = await cur.fetchone()
            if existing is not None:
                return _follow(existing), False
            async with db.execute(
                "INSERT INTO follows (channel_id, workflow_id, execution_id, message_ts,"
                " started_by, started_at, deadline, subscription_id, mention)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    new.message_ts,
                    new.started_by,
                    _text(new.started_at),
                    _text(new.deadline),
                    new.subscription_id,
                    new.mention,
                ),
            ) as cur:
                follow_id = cur.lastrowid
            async with db.execute(_SELECT_FOLLOW + " WHERE id = ?", (follow_id,)) as cur:
                created = await cur.fetchone()
        assert created is not None  # inserted in this very transaction
        return _follow(created), True

    async def get_follow(self, follow_id: int) -> Follow | None:
        """The follow with this id, active or ended, or ``None``."""
        rows = await self._rows(_SELECT_FOLLOW + " WHERE id = ?", (follow_id,))
        return _follow(rows[0]) if rows else None

    async def find_active_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The active follow of this execution in this channel, if any."""
        rows = await self._rows(
            _SELECT_FOLLOW + " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?"
            " AND state = 'active'",
            (channel_id, workflow_id, execution_id),
        )
        return _follow(rows[0]) if rows else None

    async def latest_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The newest follow of this execution in this channel, a posted card first."""
        rows = await self._rows(
            _SELECT_FOLLOW + " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?"
            " ORDER BY message_ts IS NULL, id DESC LIMIT 1",
            (channel_id, workflow_id, execution_id),
        )
        return _follow(rows[0]) if rows else None

    async def active_follows(self) -> list[Follow]:
        """Every active follow, oldest first."""
        rows = await self._rows(_SELECT_FOLLOW + " WHERE state = 'active' ORDER BY started_at, id")
        return [_follow(row) for row in rows]

    async def count_active_follows(self, *, started_by: str | None = None) -> int:
        """Active follows, all or those a user started by hand (not via a subscription)."""
        if started_by is None:
            rows = await self._rows("SELECT COUNT(*) FROM follows WHERE state = 'active'")
        else:
            rows = await self._rows(
                "SELECT COUNT(*) FROM follows WHERE state = 'active' AND started_by = ?"
                " AND subscription_id IS NULL",
                (started_by,),
            )
        return int(rows[0][0])

    async def follows_for_home(self, user_id: str, channel_ids: Iterable[str] = ()) -> list[Follow]:
        """Active follows a user started or that live in one of the channels."""
        rows = await self._rows(
            _SELECT_FOLLOW + " WHERE state = 'active' AND (started_by = ?"  # noqa: S608
            " OR channel_id IN (SELECT value FROM json_each(?))) ORDER BY started_at, id",
            (user_id, json.dumps(unique_keys(channel_ids))),
        )
        return [_follow(row) for row in rows]

    async def set_message(self, follow_id: int, message_ts: str) -> None:
        """Record the ``ts`` of the card posted for this follow."""
        await self._changed(
            "UPDATE follows SET message_ts = ? WHERE id = ?", (message_ts, follow_id)
        )

    async def record_render(self, follow_id: int, fingerprint: str, rendered_at: datetime) -> None:
        """Remember what the card now shows and when it was updated."""
        await self._changed(
            "UPDATE follows SET fingerprint = ?, rendered_at = ? WHERE id = ?",
            (fingerprint, _text(rendered_at), follow_id),
        )

    async def set_unreachable(self, follow_id: int, since: datetime | None) -> None:
        """Set (or clear with ``None``) when AOM became unreachable for this follow."""
        await self._changed(
            "UPDATE follows SET unreachable_since = ? WHERE id = ?",
            (_text_or_none(since), follow_id),
        )

    async def claim_announcement(self, follow_id: int, signature: str) -> bool:
        """True exactly once per (follow, error-group signature)."""
        return await self._changed(
            "INSERT INTO follow_announcements (follow_id, signature)"
            " SELECT id, ? FROM follows WHERE id = ?"
            " ON CONFLICT (follow_id, signature) DO NOTHING",
            (signature, follow_id),
        )

    async def claim_completion(
        self,
        follow_id: int,
        owner: str,
        now: datetime,
        *,
        stale_after: timedelta | None = None,
    ) -> bool:
        """True for exactly one caller: it may post the completion reply."""
        return await self._changed(
            "UPDATE follows SET completion_state = 'claimed', completion_owner = ?,"
            " completion_claimed_at = ? WHERE id = ? AND state = 'active'"
            " AND (completion_state = 'none' OR (completion_state = 'claimed'"
            "      AND ? IS NOT NULL AND completion_claimed_at <= ?))",
            (owner, _text(now), follow_id, *[_text_or_none(stale_cutoff(now, stale_after))] * 2),
        )

    async def claim_card_post(
        self, follow_id: int, owner: str, now: datetime, *, stale_after: timedelta
    ) -> bool:
        """True for exactly one caller: it may post the card of a follow that has none yet."""
        return await self._changed(
            "UPDATE follows SET card_owner = ?, card_claimed_at = ?"
            " WHERE id = ? AND state = 'active' AND message_ts IS NULL"
            " AND (card_owner IS NULL OR card_claimed_at <= ?)",
            (owner, _text(now), follow_id, _text(utc(now) - stale_after)),
        )

    async def release_card_post(self, follow_id: int, owner: str) -> None:
        """Give back an unposted card claim."""
        await self._changed(
            "UPDATE follows SET card_owner = NULL, card_claimed_at = NULL"
            " WHERE id = ? AND card_owner = ? AND message_ts IS NULL",
            (follow_id, owner),
        )

    async def expire_claims(self, owner: str) -> int:
        """Make ``owner``'s card and completion claims stale at once; returns how many."""
        epoch = _text(datetime(1970, 1, 1, tzinfo=UTC))
        async with self._tx() as db:
            async with db.execute(
                "UPDATE follows SET card_claimed_at = ? WHERE state = 'active'"
                " AND card_owner = ? AND message_ts IS NULL",
                (epoch, owner),
            ) as cur:
                cards = cur.rowcount
            async with db.execute(
                "UPDATE follows SET completion_claimed_at = ? WHERE state = 'active'"
                " AND completion_state = 'claimed' AND completion_owner = ?",
                (epoch, owner),
            ) as cur:
                completions = cur.rowcount
        return max(cards, 0) + max(completions, 0)

    async def release_completion(self, follow_id: int, owner: str) -> None:
        """Give back an unposted claim so a later attempt can claim it."""
        await self._changed(
            "UPDATE follows SET completion_state = 'none', completion_owner = NULL,"
            " completion_claimed_at = NULL"
            " WHERE id = ? AND completion_state = 'claimed' AND completion_owner = ?",
            (follow_id, owner),
        )

    async def finish_completion(
        self, follow_id: int, reply_ts: str | None, reason: EndReason, now: datetime
    ) -> None:
        """Mark the completion reply posted and end the follow, in one transaction."""
        await self._changed(
            "UPDATE follows SET completion_state = 'posted', completion_ts = ?,"
            " end_reason = CASE WHEN state = 'active' THEN ? ELSE end_reason END,"
            " ended_at = CASE WHEN state = 'active' THEN ? ELSE ended_at END,"
            " state = 'ended' WHERE id = ?",
            (reply_ts, reason.value, _text(now), follow_id),
        )

    async def end_follow(self, follow_id: int, reason: EndReason, now: datetime) -> bool:
        """End an active follow; ``True`` if this call ended it."""
        return await self._changed(
            "UPDATE follows SET state = 'ended', end_reason = ?, ended_at = ?"
            " WHERE id = ? AND state = 'active'",
            (reason.value, _text(now), follow_id),
        )

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

    async def release_leases(self, owner: str, keys: Iterable[str]) -> None:
        """Drop the owner's leases on these keys."""
        await self._changed(
            "DELETE FROM leases WHERE owner = ? AND key IN (SELECT value FROM json_each(?))",
            (owner, json.dumps(unique_keys(keys))),
        )

    async def lease_holders(self, prefix: str, now: datetime) -> dict[str, str]:
        """Key → owner of the leases on keys starting with ``prefix`` still valid at ``now``."""
        rows = await self._rows(
            "SELECT key, owner FROM leases WHERE substr(key, 1, ?) = ? AND expires_at > ?",
            (len(prefix), prefix, _text(now)),
        )
        return {row[0]: row[1] for row in rows}

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, new: NewSubscription) -> tuple[Subscription, bool]:
        """Create or update the (channel, workflow) subscription; flag is ``True`` if created."""
        async with self._tx() as db:
            created = await self._changed_in(
                db,
                "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name, failures_only,"
                " mention, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id, workflow_id) DO NOTHING",
                (
                    new.channel_id,
                    new.workflow_id,
                    new.workflow_name,
                    int(new.failures_only),
                    new.mention,
                    new.created_by,
                    _text(new.created_at),
                ),
            )
            if not created:
                await db.execute(
                    "UPDATE subscriptions SET workflow_name = ?, failures_only = ?, mention = ?"
                    " WHERE channel_id = ? AND workflow_id = ?",
                    (
                        new.workflow_name,
                        int(new.failures_only),
                        new.mention,
                        new.channel_id,
                        new.workflow_id,
                    ),
                )
            async with db.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions"  # noqa: S608 - constant
                " WHERE channel_id = ? AND workflow_id = ?",
                (new.channel_id, new.workflow_id),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None  # written in this very transaction
        return _subscription(row), created

    @staticmethod
    async def _changed_in(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> bool:
        async with db.execute(sql, params) as cur:
            return cur.rowcount > 0

    async def unsubscribe(self, channel_id: str, workflow_id: str) -> bool:
        """Remove a subscription; ``False`` if there was none."""
        return await self._changed(
            "DELETE FROM subscriptions WHERE channel_id = ? AND workflow_id = ?",
            (channel_id, workflow_id),
        )

    async def _subscriptions(self, where: str, params: Sequence[Any]) -> list[Subscription]:
        # ``where`` is always a literal from this class; values travel as parameters
        sql = f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where}"  # noqa: S608
        rows = await self._rows(sql, params)
        return [_subscription(row) for row in rows]

    async def get_subscription(self, channel_id: str, workflow_id: str) -> Subscription | None:
        """The channel's subscription to this workflow, or ``None``."""
        found = await self._subscriptions(
            "WHERE channel_id = ? AND workflow_id = ?", (channel_id, workflow_id)
        )
        return found[0] if found else None

    async def subscriptions_for_channel(self, channel_id: str) -> list[Subscription]:
        """A channel's subscriptions, ordered by workflow name."""
        return await self._subscriptions(
            "WHERE channel_id = ? ORDER BY workflow_name, workflow_id", (channel_id,)
        )

    async def subscriptions_for_workflow(self, workflow_id: str) -> list[Subscription]:
        """Every channel subscribed to this workflow, oldest first."""
        return await self._subscriptions(
            "WHERE workflow_id = ? ORDER BY created_at, id", (workflow_id,)
        )

    async def subscriptions_for_home(
        self, user_id: str, channel_ids: Iterable[str] = ()
    ) -> list[Subscription]:
        """Subscriptions a user created or that live in one of the channels."""
        return await self._subscriptions(
            "WHERE created_by = ? OR channel_id IN (SELECT value FROM json_each(?))"
            " ORDER BY created_at, id",
            (user_id, json.dumps(unique_keys(channel_ids))),
        )

    async def subscribed_workflow_ids(self) -> list[str]:
        """Distinct workflow ids with at least one subscription, sorted."""
        rows = await self._rows("SELECT DISTINCT workflow_id FROM subscriptions ORDER BY 1")
        return [row[0] for row in rows]

    # -- discovery memory --------------------------------------------------------------------

    async def mark_seen(
        self, workflow_id: str, execution_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember these executions of the workflow as seen (idempotent)."""
        await self._changed(
            "INSERT INTO seen_executions (workflow_id, execution_id, seen_at)"
            " SELECT ?, value, ? FROM json_each(?) WHERE true"
            " ON CONFLICT (workflow_id, execution_id) DO NOTHING",
            (workflow_id, _text(now), json.dumps(unique_keys(execution_ids))),
        )

    async def seen_executions(self, workflow_id: str) -> set[str]:
        """Execution ids of this workflow already seen."""
        rows = await self._rows(
            "SELECT execution_id FROM seen_executions WHERE workflow_id = ?", (workflow_id,)
        )
        return {row[0] for row in rows}

    async def get_watermark(self, workflow_id: str) -> datetime | None:
        """Begin time of the newest execution seen for this workflow, or ``None``."""
        rows = await self._rows("SELECT at FROM watermarks WHERE workflow_id = ?", (workflow_id,))
        return _time(rows[0][0]) if rows else None

    async def set_watermark(self, workflow_id: str, at: datetime) -> None:
        """Move the watermark forward to ``at``; an older value never moves it back."""
        await self._changed(
            "INSERT INTO watermarks (workflow_id, at) VALUES (?, ?)"
            " ON CONFLICT (workflow_id) DO UPDATE SET at = excluded.at"
            " WHERE excluded.at > watermarks.at",
            (workflow_id, _text(at)),
        )

    async def claim_post(
        self, channel_id: str, workflow_id: str, execution_id: str, now: datetime
    ) -> bool:
        """True exactly once per (channel, workflow, execution)."""
        return await self._changed(
            "INSERT INTO post_claims (channel_id, workflow_id, execution_id, claimed_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (channel_id, workflow_id, execution_id, _text(now)),
        )

    # -- channel cards -----------------------------------------------------------------------

    async def claim_card(
        self,
        channel_id: str,
        workflow_id: str,
        execution_id: str,
        now: datetime,
        *,
        fresh_for: timedelta,
        posting_for: timedelta,
    ) -> tuple[bool, str | None]:
        """Who posts the channel's card of an execution: ``(True, None)`` for exactly one."""
        key = (channel_id, workflow_id, execution_id)
        async with self._tx() as db:
            won = await self._changed_in(
                db,
                "INSERT INTO channel_cards (channel_id, workflow_id, execution_id, claimed_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel_id, workflow_id, execution_id) DO UPDATE SET"
                " message_ts = NULL, claimed_at = excluded.claimed_at, refreshed_at = NULL"
                " WHERE channel_cards.claimed_at <= ?"
                " OR (channel_cards.message_ts IS NULL AND channel_cards.claimed_at <= ?)",
                (*key, _text(now), _text(utc(now) - fresh_for), _text(utc(now) - posting_for)),
            )
            if won:
                return True, None
            async with db.execute(
                "SELECT message_ts FROM channel_cards"
                " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?",
                key,
            ) as cur:
                row = await cur.fetchone()
        return False, None if row is None else row[0]

    async def set_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str
    ) -> None:
        """Record the ``ts`` of the card the claim's winner posted."""
        await self._changed(
            "UPDATE channel_cards SET message_ts = ?"
            " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?",
            (message_ts, channel_id, workflow_id, execution_id),
        )

    async def release_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str | None
    ) -> None:
        """Forget the channel's card if it still is ``message_ts``."""
        await self._changed(
            "DELETE FROM channel_cards WHERE channel_id = ? AND workflow_id = ?"
            " AND execution_id = ? AND message_ts IS ?",
            (channel_id, workflow_id, execution_id, message_ts),
        )

    async def claim_card_refresh(
        self,
        channel_id: str,
        workflow_id: str,
        execution_id: str,
        now: datetime,
        *,
        every: timedelta,
    ) -> bool:
        """True for one caller per ``every``: it refreshes the posted card."""
        return await self._changed(
            "UPDATE channel_cards SET refreshed_at = ?"
            " WHERE channel_id = ? AND workflow_id = ? AND execution_id = ?"
            " AND message_ts IS NOT NULL AND COALESCE(refreshed_at, claimed_at) <= ?",
            (_text(now), channel_id, workflow_id, execution_id, _text(utc(now) - every)),
        )

    async def prune(self, before: datetime) -> None:
        """Forget ended follows, seen executions, post claims and leases older than ``before``."""
        cutoff = _text(before)
        async with self._tx() as db:
            await db.execute(
                "DELETE FROM follows WHERE state = 'ended' AND ended_at < ?", (cutoff,)
            )
            await db.execute("DELETE FROM seen_executions WHERE seen_at < ?", (cutoff,))
            await db.execute("DELETE FROM post_claims WHERE claimed_at < ?", (cutoff,))
            await db.execute("DELETE FROM channel_cards WHERE claimed_at < ?", (cutoff,))
            await db.execute("DELETE FROM leases WHERE expires_at < ?", (cutoff,))


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (our SQL files have no ';' in literals)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
