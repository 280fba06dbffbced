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
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from aom_bot.errors import ConfigError, StoreError
from aom_bot.store._common import (
    FOLLOW_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    dsn_secrets,
    follow_from_row,
    newer_schema_error,
    redact_dsn,
    scrub,
    stale_cutoff,
    subscription_from_row,
    unique_keys,
    utc,
)
from aom_bot.store.base import EndReason, Follow, NewFollow, NewSubscription, Subscription
from aom_bot.store.migrations import load_migrations

__all__ = ["PostgresStore"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_SELECT_FOLLOW = f"""
SELECT {FOLLOW_COLUMNS},
       ARRAY(SELECT signature FROM follow_announcements a WHERE a.follow_id = follows.id)
         AS announced
FROM follows
"""  # noqa: S608 - constant column list, no input

_SUBSCRIPTION_CREATED = f"{SUBSCRIPTION_COLUMNS}, (xmax = 0) AS created"

_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _time(raw: Any) -> datetime | None:
    """asyncpg returns aware datetimes for timestamptz; normalise to UTC."""
    return None if raw is None else utc(raw)


def _follow(row: asyncpg.Record) -> Follow:
    return follow_from_row(row, row["announced"] or (), _time)


def _subscription(row: asyncpg.Record) -> Subscription:
    return subscription_from_row(row, _time)


class PostgresStore:
    """``Store`` on PostgreSQL via an asyncpg pool; tables live in ``schema`` if given."""

    def __init__(self, pool: asyncpg.Pool, *, dsn: str, schema: str | None) -> None:
        """Wrap an open pool; prefer ``PostgresStore.open``."""
        self._pool = pool
        self._shown = redact_dsn(dsn)
        self._secrets = dsn_secrets(dsn)
        self._schema = schema

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
            await self._rows("SELECT 1")
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

    async def _rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._conn() as conn:
            return list(await conn.fetch(sql, *args))

    async def _one(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._conn() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
            return row

    async def _changed(self, sql: str, *args: Any) -> bool:
        """Run one ``… RETURNING`` statement; True if it touched a row (who won a claim)."""
        return await self._one(sql, *args) is not None

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self) -> None:
        """Apply pending migrations, each in its own locked transaction; refuse a newer schema."""
        steps = load_migrations("postgres")
        lock_name = f"aom_bot.store.migrate:{self._schema or ''}"
        for step in [*steps, None]:  # a last round only re-checks the version
            async with self._conn(transaction=True) as conn:
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", lock_name)
                if self._schema:
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                )
                current = await self._version(conn)
                if current > len(steps):
                    raise newer_schema_error(current, len(steps))
                if step is None or step.version <= current:
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

    # -- follows -----------------------------------------------------------------------------

    async def start_follow(self, new: NewFollow) -> tuple[Follow, bool]:
        """Create a follow, or return the active one for the same channel and execution."""
        key = (new.channel_id, new.workflow_id, new.execution_id)
        async with self._conn() as conn:
            # the partial unique index decides between racing replicas; if the winner's
            # follow ends before we read it, insert again
            for _ in range(5):
                follow_id = await conn.fetchval(
                    "INSERT INTO follows (channel_id, workflow_id, execution_id, message_ts,"
                    " started_by, started_at, deadline, subscription_id, mention)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT (channel_id, workflow_id, execution_id)"
                    " WHERE state = 'active' DO NOTHING RETURNING id",
                    *key,
                    new.message_ts,
                    new.started_by,
                    utc(new.started_at),
                    utc(new.deadline),
                    new.subscription_id,
                    new.mention,
                )
                if follow_id is not None:
                    row = await conn.fetchrow(_SELECT_FOLLOW + " WHERE id = $1", follow_id)
                    if row is not None:
                        return _follow(row), True
                row = await conn.fetchrow(
                    _SELECT_FOLLOW + " WHERE channel_id = $1 AND workflow_id = $2"
                    " AND execution_id = $3 AND state = 'active'",
                    *key,
                )
                if row is not None:
                    return _follow(row), False
        raise StoreError("Could not start the follow: it kept changing under us; try again.")

    async def get_follow(self, follow_id: int) -> Follow | None:
        """The follow with this id, active or ended, or ``None``."""
        row = await self._one(_SELECT_FOLLOW + " WHERE id = $1", follow_id)
        return None if row is None else _follow(row)

    async def find_active_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The active follow of this execution in this channel, if any."""
        row = await self._one(
            _SELECT_FOLLOW + " WHERE channel_id = $1 AND workflow_id = $2 AND execution_id = $3"
            " AND state = 'active'",
            channel_id,
            workflow_id,
            execution_id,
        )
        return None if row is None else _follow(row)

    async def latest_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The newest follow of this execution in this channel, a posted card first."""
        row = await self._one(
            _SELECT_FOLLOW + " WHERE channel_id = $1 AND workflow_id = $2 AND execution_id = $3"
            " ORDER BY message_ts IS NULL, id DESC LIMIT 1",
            channel_id,
            workflow_id,
            execution_id,
        )
        return None if row is None else _follow(row)

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
                "SELECT COUNT(*) FROM follows WHERE state = 'active' AND started_by = $1"
                " AND subscription_id IS NULL",
                started_by,
            )
        return int(rows[0][0])

    async def follows_for_home(self, user_id: str, channel_ids: Iterable[str] = ()) -> list[Follow]:
        """Active follows a user started or that live in one of the channels."""
        rows = await self._rows(
            _SELECT_FOLLOW + " WHERE state = 'active'"
            " AND (started_by = $1 OR channel_id = ANY($2::text[])) ORDER BY started_at, id",
            user_id,
            unique_keys(channel_ids),
        )
        return [_follow(row) for row in rows]

    async def set_message(self, follow_id: int, message_ts: str) -> None:
        """Record the ``ts`` of the card posted for this follow."""
        await self._changed(
            "UPDATE follows SET message_ts = $2 WHERE id = $1 RETURNING id", follow_id, message_ts
        )

    async def record_render(self, follow_id: int, fingerprint: str, rendered_at: datetime) -> None:
        """Remember what the card now shows and when it was updated."""
        await self._changed(
            "UPDATE follows SET fingerprint = $2, rendered_at = $3 WHERE id = $1 RETURNING id",
            follow_id,
            fingerprint,
            utc(rendered_at),
        )

    async def set_unreachable(self, follow_id: int, since: datetime | None) -> None:
        """Set (or clear with ``None``) when AOM became unreachable for this follow."""
        await self._changed(
            "UPDATE follows SET unreachable_since = $2 WHERE id = $1 RETURNING id",
            follow_id,
            None if since is None else utc(since),
        )

    async def claim_announcement(self, follow_id: int, signature: str) -> bool:
        """True exactly once per (follow, error-group signature)."""
        return await self._changed(
            "INSERT INTO follow_announcements (follow_id, signature)"
            " SELECT id, $2 FROM follows WHERE id = $1"
            " ON CONFLICT (follow_id, signature) DO NOTHING RETURNING follow_id",
            follow_id,
            signature,
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
            "UPDATE follows SET completion_state = 'claimed', completion_owner = $2,"
            " completion_claimed_at = $3 WHERE id = $1 AND state = 'active'"
            " AND (completion_state = 'none' OR (completion_state = 'claimed'"
            "      AND completion_claimed_at <= $4::timestamptz)) RETURNING id",
            follow_id,
            owner,
            utc(now),
            stale_cutoff(now, stale_after),  # NULL: "<=" is never true, no takeover
        )

    async def claim_card_post(
        self, follow_id: int, owner: str, now: datetime, *, stale_after: timedelta
    ) -> bool:
        """True for exactly one caller: it may post the card of a follow that has none yet."""
        return await self._changed(
            "UPDATE follows SET card_owner = $2, card_claimed_at = $3"
            " WHERE id = $1 AND state = 'active' AND message_ts IS NULL"
            " AND (card_owner IS NULL OR card_claimed_at <= $4) RETURNING id",
            follow_id,
            owner,
            utc(now),
            utc(now) - stale_after,
        )

    async def release_card_post(self, follow_id: int, owner: str) -> None:
        """Give back an unposted card claim."""
        await self._changed(
            "UPDATE follows SET card_owner = NULL, card_claimed_at = NULL"
            " WHERE id = $1 AND card_owner = $2 AND message_ts IS NULL RETURNING id",
            follow_id,
            owner,
        )

    async def expire_claims(self, owner: str) -> int:
        """Make ``owner``'s card and completion claims stale at once; returns how many."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        async with self._conn(transaction=True) as conn:
            cards = await conn.fetch(
                "UPDATE follows SET card_claimed_at = $2 WHERE state = 'active'"
                " AND card_owner = $1 AND message_ts IS NULL RETURNING id",
                owner,
                epoch,
            )
            completions = await conn.fetch(
                "UPDATE follows SET completion_claimed_at = $2 WHERE state = 'active'"
                " AND completion_state = 'claimed' AND completion_owner = $1 RETURNING id",
                owner,
                epoch,
            )
        return len(cards) + len(completions)

    async def release_completion(self, follow_id: int, owner: str) -> None:
        """Give back an unposted claim so a later attempt can claim it."""
        await self._changed(
            "UPDATE follows SET completion_state = 'none', completion_owner = NULL,"
            " completion_claimed_at = NULL"
            " WHERE id = $1 AND completion_state = 'claimed' AND completion_owner = $2"
            " RETURNING id",
            follow_id,
            owner,
        )

    async def finish_completion(
        self, follow_id: int, reply_ts: str | None, reason: EndReason, now: datetime
    ) -> None:
        """Mark the completion reply posted and end the follow, in one transaction."""
        await self._changed(
            "UPDATE follows SET completion_state = 'posted', completion_ts = $2,"
            " end_reason = CASE WHEN state = 'active' THEN $3 ELSE end_reason END,"
            " ended_at = CASE WHEN state = 'active' THEN $4 ELSE ended_at END,"
            " state = 'ended' WHERE id = $1 RETURNING id",
            follow_id,
            reply_ts,
            reason.value,
            utc(now),
        )

    async def end_follow(self, follow_id: int, reason: EndReason, now: datetime) -> bool:
        """End an active follow; ``True`` if this call ended it."""
        return await self._changed(
            "UPDATE follows SET state = 'ended', end_reason = $2, ended_at = $3"
            " WHERE id = $1 AND state = 'active' RETURNING id",
            follow_id,
            reason.value,
            utc(now),
        )

    # -- leases ------------------------------------------------------------------------------

    async def acquire_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Take free or expired leases and renew our own; returns the keys now held."""
        rows = await self._rows(
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

    async def renew_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Extend leases the owner still holds; keys missing from the result were lost."""
        rows = await self._rows(
            "UPDATE leases SET expires_at = $3 WHERE owner = $1 AND key = ANY($2::text[])"
            " RETURNING key",
            owner,
            unique_keys(keys),
            utc(now) + ttl,
        )
        return {row["key"] for row in rows}

    async def release_leases(self, owner: str, keys: Iterable[str]) -> None:
        """Drop the owner's leases on these keys."""
        async with self._conn() as conn:
            await conn.execute(
                "DELETE FROM leases WHERE owner = $1 AND key = ANY($2::text[])",
                owner,
                unique_keys(keys),
            )

    async def lease_holders(self, prefix: str, now: datetime) -> dict[str, str]:
        """Key → owner of the leases on keys starting with ``prefix`` still valid at ``now``."""
        rows = await self._rows(
            "SELECT key, owner FROM leases WHERE starts_with(key, $1) AND expires_at > $2",
            prefix,
            utc(now),
        )
        return {row["key"]: row["owner"] for row in rows}

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, new: NewSubscription) -> tuple[Subscription, bool]:
        """Create or update the (channel, workflow) subscription; flag is ``True`` if created."""
        # xmax = 0 only for a freshly inserted row: tells "created" from "updated" atomically
        row = await self._one(
            "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name, failures_only,"  # noqa: S608
            " mention, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (channel_id, workflow_id) DO UPDATE SET"
            " workflow_name = EXCLUDED.workflow_name, failures_only = EXCLUDED.failures_only,"
            " mention = EXCLUDED.mention"
            " RETURNING " + _SUBSCRIPTION_CREATED,
            new.channel_id,
            new.workflow_id,
            new.workflow_name,
            new.failures_only,
            new.mention,
            new.created_by,
            utc(new.created_at),
        )
        assert row is not None  # an upsert always returns its row
        return _subscription(row), bool(row["created"])

    async def unsubscribe(self, channel_id: str, workflow_id: str) -> bool:
        """Remove a subscription; ``False`` if there was none."""
        return await self._changed(
            "DELETE FROM subscriptions WHERE channel_id = $1 AND workflow_id = $2 RETURNING id",
            channel_id,
            workflow_id,
        )

    async def _subscriptions(self, where: str, *args: Any) -> list[Subscription]:
        # ``where`` is always a literal from this class; values travel as parameters
        sql = f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where}"  # noqa: S608
        rows = await self._rows(sql, *args)
        return [_subscription(row) for row in rows]

    async def get_subscription(self, channel_id: str, workflow_id: str) -> Subscription | None:
        """The channel's subscription to this workflow, or ``None``."""
        found = await self._subscriptions(
            "WHERE channel_id = $1 AND workflow_id = $2", channel_id, workflow_id
        )
        return found[0] if found else None

    async def subscriptions_for_channel(self, channel_id: str) -> list[Subscription]:
        """A channel's subscriptions, ordered by workflow name."""
        return await self._subscriptions(
            "WHERE channel_id = $1 ORDER BY workflow_name, workflow_id", channel_id
        )

    async def subscriptions_for_workflow(self, workflow_id: str) -> list[Subscription]:
        """Every channel subscribed to this workflow, oldest first."""
        return await self._subscriptions(
            "WHERE workflow_id = $1 ORDER BY created_at, id", workflow_id
        )

    async def subscriptions_for_home(
        self, user_id: str, channel_ids: Iterable[str] = ()
    ) -> list[Subscription]:
        """Subscriptions a user created or that live in one of the channels."""
        return await self._subscriptions(
            "WHERE created_by = $1 OR channel_id = ANY($2::text[]) ORDER BY created_at, id",
            user_id,
            unique_keys(channel_ids),
        )

    async def subscribed_workflow_ids(self) -> list[str]:
        """Distinct workflow ids with at least one subscription, sorted."""
        rows = await self._rows("SELECT DISTINCT workflow_id FROM subscriptions ORDER BY 1")
        return [row["workflow_id"] for row in rows]

    # -- discovery memory --------------------------------------------------------------------

    async def mark_seen(
        self, workflow_id: str, execution_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember these executions of the workflow as seen (idempotent)."""
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO seen_executions (workflow_id, execution_id, seen_at)"
                " SELECT $1, e, $3 FROM unnest($2::text[]) AS e"
                " ON CONFLICT (workflow_id, execution_id) DO NOTHING",
                workflow_id,
                unique_keys(execution_ids),
                utc(now),
            )

    async def seen_executions(self, workflow_id: str) -> set[str]:
        """Execution ids of this workflow already seen."""
        rows = await self._rows(
            "SELECT execution_id FROM seen_executions WHERE workflow_id = $1", workflow_id
        )
        return {row["execution_id"] for row in rows}

    async def get_watermark(self, workflow_id: str) -> datetime | None:
        """Begin time of the newest execution seen for this workflow, or ``None``."""
        row = await self._one("SELECT at FROM watermarks WHERE workflow_id = $1", workflow_id)
        return None if row is None else _time(row["at"])

    async def set_watermark(self, workflow_id: str, at: datetime) -> None:
        """Move the watermark forward to ``at``; an older value never moves it back."""
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO watermarks (workflow_id, at) VALUES ($1, $2)"
                " ON CONFLICT (workflow_id) DO UPDATE SET at = EXCLUDED.at"
                " WHERE EXCLUDED.at > watermarks.at",
                workflow_id,
                utc(at),
            )

    async def claim_post(
        self, channel_id: str, workflow_id: str, execution_id: str, now: datetime
    ) -> bool:
        """True exactly once per (channel, workflow, execution)."""
        return await self._changed(
            "INSERT INTO post_claims (channel_id, workflow_id, execution_id, claimed_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING execution_id",
            channel_id,
            workflow_id,
            execution_id,
            utc(now),
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
        async with self._conn(transaction=True) as conn:
            won = await conn.fetchval(
                "INSERT INTO channel_cards (channel_id, workflow_id, execution_id, claimed_at)"
                " VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (channel_id, workflow_id, execution_id) DO UPDATE SET"
                " message_ts = NULL, claimed_at = EXCLUDED.claimed_at, refreshed_at = NULL"
                " WHERE channel_cards.claimed_at <= $5"
                " OR (channel_cards.message_ts IS NULL AND channel_cards.claimed_at <= $6)"
                " RETURNING true",
                *key,
                utc(now),
                utc(now) - fresh_for,
                utc(now) - posting_for,
            )
            if won:
                return True, None
            ts = await conn.fetchval(
                "SELECT message_ts FROM channel_cards"
                " WHERE channel_id = $1 AND workflow_id = $2 AND execution_id = $3",
                *key,
            )
        return False, ts

    async def set_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str
    ) -> None:
        """Record the ``ts`` of the card the claim's winner posted."""
        await self._changed(
            "UPDATE channel_cards SET message_ts = $4"
            " WHERE channel_id = $1 AND workflow_id = $2 AND execution_id = $3 RETURNING true",
            channel_id,
            workflow_id,
            execution_id,
            message_ts,
        )

    async def release_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str | None
    ) -> None:
        """Forget the channel's card if it still is ``message_ts``."""
        await self._changed(
            "DELETE FROM channel_cards WHERE channel_id = $1 AND workflow_id = $2"
            " AND execution_id = $3 AND message_ts IS NOT DISTINCT FROM $4 RETURNING true",
            channel_id,
            workflow_id,
            execution_id,
            message_ts,
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
            "UPDATE channel_cards SET refreshed_at = $4"
            " WHERE channel_id = $1 AND workflow_id = $2 AND execution_id = $3"
            " AND message_ts IS NOT NULL AND COALESCE(refreshed_at, claimed_at) <= $5"
            " RETURNING true",
            channel_id,
            workflow_id,
            execution_id,
            utc(now),
            utc(now) - every,
        )

    async def prune(self, before: datetime) -> None:
        """Forget ended follows, seen executions, post claims and leases older than ``before``."""
        cutoff = utc(before)
        async with self._conn(transaction=True) as conn:
            await conn.execute(
                "DELETE FROM follows WHERE state = 'ended' AND ended_at < $1", cutoff
            )
            await conn.execute("DELETE FROM seen_executions WHERE seen_at < $1", cutoff)
            await conn.execute("DELETE FROM post_claims WHERE claimed_at < $1", cutoff)
            await conn.execute("DELETE FROM channel_cards WHERE claimed_at < $1", cutoff)
            await conn.execute("DELETE FROM leases WHERE expires_at < $1", cutoff)
