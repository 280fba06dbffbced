"""The store methods whose SQL is the same on SQLite and PostgreSQL, written once.

A backend subclasses ``SharedQueries``, names its ``Dialect`` and supplies two ways to run SQL:
``_statement()`` (one statement, in whatever transaction the engine needs) and
``_transaction()`` (several statements that commit together). Both yield a ``Tx`` that takes
``?`` placeholders. What only one engine can do well (starting follows, upserting
subscriptions, leases, migrations, connections) stays in ``sqlite.py`` / ``postgres.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from aom_bot.store._common import SUBSCRIPTION_COLUMNS, Row, stale_cutoff, unique_keys, utc
from aom_bot.store.base import EndReason, Follow, Subscription
from aom_bot.store.dialect import Dialect

__all__ = ["SharedQueries", "Tx"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_CARD_KEY = "channel_id = ? AND workflow_id = ? AND execution_id = ?"


class Tx(Protocol):
    """Run SQL with ``?`` placeholders on one connection."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows a query returns."""
        ...

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; how many rows it inserted, updated or deleted."""
        ...


class SharedQueries(ABC):
    """The ``Store`` methods both engines run with the same SQL."""

    _dialect: ClassVar[Dialect]

    @abstractmethod
    def _statement(self) -> AbstractAsyncContextManager[Tx]:
        """A connection for one statement."""

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A connection whose statements commit together, or not at all."""

    async def _fetch(self, sql: str, *params: Any) -> list[Row]:
        async with self._statement() as tx:
            return await tx.fetch(sql, params)

    async def _changed(self, sql: str, *params: Any) -> bool:
        """Run one statement; True if it changed a row (how claims report who won)."""
        async with self._statement() as tx:
            return await tx.count(sql, params) > 0

    async def _follows(self, where: str, *params: Any) -> list[Follow]:
        # ``where`` is always a literal from this module; values travel as parameters
        rows = await self._fetch(f"{self._dialect.select_follow} {where}", *params)
        return [self._dialect.follow(row) for row in rows]

    # -- follows -----------------------------------------------------------------------------

    async def get_follow(self, follow_id: int) -> Follow | None:
        """The follow with this id, active or ended, or ``None``."""
        found = await self._follows("WHERE id = ?", follow_id)
        return found[0] if found else None

    async def find_active_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The active follow of this execution in this channel, if any."""
        found = await self._follows(
            f"WHERE {_CARD_KEY} AND state = 'active'", channel_id, workflow_id, execution_id
        )
        return found[0] if found else None

    async def latest_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The newest follow of this execution in this channel, a posted card first."""
        found = await self._follows(
            f"WHERE {_CARD_KEY} ORDER BY message_ts IS NULL, id DESC LIMIT 1",
            channel_id,
            workflow_id,
            execution_id,
        )
        return found[0] if found else None

    async def active_follows(self) -> list[Follow]:
        """Every active follow, oldest first."""
        return await self._follows("WHERE state = 'active' ORDER BY started_at, id")

    async def count_active_follows(self, *, started_by: str | None = None) -> int:
        """Active follows, all or those a user started by hand (not via a subscription)."""
        if started_by is None:
            rows = await self._fetch("SELECT COUNT(*) FROM follows WHERE state = 'active'")
        else:
            rows = await self._fetch(
                "SELECT COUNT(*) FROM follows WHERE state = 'active' AND started_by = ?"
                " AND subscription_id IS NULL",
                started_by,
            )
        return int(rows[0][0])

    async def follows_for_home(self, user_id: str, channel_ids: Iterable[str] = ()) -> list[Follow]:
        """Active follows a user started or that live in one of the channels."""
        return await self._follows(
            f"WHERE state = 'active' AND (started_by = ?"  # noqa: S608 - constant fragments
            f" OR channel_id IN (SELECT value FROM {self._dialect.each}))"
            " ORDER BY started_at, id",
            user_id,
            self._dialect.keys(unique_keys(channel_ids)),
        )

    async def set_message(self, follow_id: int, message_ts: str) -> None:
        """Record the ``ts`` of the card posted for this follow."""
        await self._changed("UPDATE follows SET message_ts = ? WHERE id = ?", message_ts, follow_id)

    async def record_render(self, follow_id: int, fingerprint: str, rendered_at: datetime) -> None:
        """Remember what the card now shows and when it was updated."""
        await self._changed(
            "UPDATE follows SET fingerprint = ?, rendered_at = ? WHERE id = ?",
            fingerprint,
            self._dialect.time(rendered_at),
            follow_id,
        )

    async def set_unreachable(self, follow_id: int, since: datetime | None) -> None:
        """Set (or clear with ``None``) when AOM became unreachable for this follow."""
        await self._changed(
            "UPDATE follows SET unreachable_since = ? WHERE id = ?",
            self._dialect.time_or_none(since),
            follow_id,
        )

    async def claim_announcement(self, follow_id: int, signature: str) -> bool:
        """True exactly once per (follow, error-group signature)."""
        return await self._changed(
            "INSERT INTO follow_announcements (follow_id, signature)"
            " SELECT id, ? FROM follows WHERE id = ?"
            " ON CONFLICT (follow_id, signature) DO NOTHING",
            signature,
            follow_id,
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
            "      AND completion_claimed_at <= ?))",
            owner,
            self._dialect.time(now),
            follow_id,
            # NULL (no stale_after): "<=" is never true, no takeover
            self._dialect.time_or_none(stale_cutoff(now, stale_after)),
        )

    async def claim_card_post(
        self, follow_id: int, owner: str, now: datetime, *, stale_after: timedelta
    ) -> bool:
        """True for exactly one caller: it may post the card of a follow that has none yet."""
        return await self._changed(
            "UPDATE follows SET card_owner = ?, card_claimed_at = ?"
            " WHERE id = ? AND state = 'active' AND message_ts IS NULL"
            " AND (card_owner IS NULL OR card_claimed_at <= ?)",
            owner,
            self._dialect.time(now),
            follow_id,
            self._dialect.time(utc(now) - stale_after),
        )

    async def release_card_post(self, follow_id: int, owner: str) -> None:
        """Give back an unposted card claim."""
        await self._changed(
            "UPDATE follows SET card_owner = NULL, card_claimed_at = NULL"
            " WHERE id = ? AND card_owner = ? AND message_ts IS NULL",
            follow_id,
            owner,
        )

    async def expire_claims(self, owner: str) -> int:
        """Make ``owner``'s card and completion claims stale at once; returns how many."""
        epoch = self._dialect.time(_EPOCH)
        async with self._transaction() as tx:
            cards = await tx.count(
                "UPDATE follows SET card_claimed_at = ? WHERE state = 'active'"
                " AND card_owner = ? AND message_ts IS NULL",
                (epoch, owner),
            )
            completions = await tx.count(
                "UPDATE follows SET completion_claimed_at = ? WHERE state = 'active'"
                " AND completion_state = 'claimed' AND completion_owner = ?",
                (epoch, owner),
            )
        return cards + completions

    async def release_completion(self, follow_id: int, owner: str) -> None:
        """Give back an unposted claim so a later attempt can claim it."""
        await self._changed(
            "UPDATE follows SET completion_state = 'none', completion_owner = NULL,"
            " completion_claimed_at = NULL"
            " WHERE id = ? AND completion_state = 'claimed' AND completion_owner = ?",
            follow_id,
            owner,
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
            reply_ts,
            reason.value,
            self._dialect.time(now),
            follow_id,
        )

    async def end_follow(self, follow_id: int, reason: EndReason, now: datetime) -> bool:
        """End an active follow; ``True`` if this call ended it."""
        return await self._changed(
            "UPDATE follows SET state = 'ended', end_reason = ?, ended_at = ?"
            " WHERE id = ? AND state = 'active'",
            reason.value,
            self._dialect.time(now),
            follow_id,
        )

    # -- leases ------------------------------------------------------------------------------

    async def release_leases(self, owner: str, keys: Iterable[str]) -> None:
        """Drop the owner's leases on these keys."""
        await self._changed(
            f"DELETE FROM leases WHERE owner = ? AND key IN (SELECT value FROM {self._dialect.each})",  # noqa: S608 - constant fragments
            owner,
            self._dialect.keys(unique_keys(keys)),
        )

    # -- subscriptions -----------------------------------------------------------------------

    async def unsubscribe(self, channel_id: str, workflow_id: str) -> bool:
        """Remove a subscription; ``False`` if there was none."""
        return await self._changed(
            "DELETE FROM subscriptions WHERE channel_id = ? AND workflow_id = ?",
            channel_id,
            workflow_id,
        )

    async def _subscriptions(self, where: str, *params: Any) -> list[Subscription]:
        # ``where`` is always a literal from this module; values travel as parameters
        sql = f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions {where}"  # noqa: S608
        return [self._dialect.subscription(row) for row in await self._fetch(sql, *params)]

    async def get_subscription(self, channel_id: str, workflow_id: str) -> Subscription | None:
        """The channel's subscription to this workflow, or ``None``."""
        found = await self._subscriptions(
            "WHERE channel_id = ? AND workflow_id = ?", channel_id, workflow_id
        )
        return found[0] if found else None

    async def subscriptions_for_channel(self, channel_id: str) -> list[Subscription]:
        """A channel's subscriptions, ordered by workflow name."""
        return await self._subscriptions(
            "WHERE channel_id = ? ORDER BY workflow_name, workflow_id", channel_id
        )

    async def subscriptions_for_workflow(self, workflow_id: str) -> list[Subscription]:
        """Every channel subscribed to this workflow, oldest first."""
        return await self._subscriptions(
            "WHERE workflow_id = ? ORDER BY created_at, id", workflow_id
        )

    async def subscriptions_for_home(
        self, user_id: str, channel_ids: Iterable[str] = ()
    ) -> list[Subscription]:
        """Subscriptions a user created or that live in one of the channels."""
        return await self._subscriptions(
            f"WHERE created_by = ? OR channel_id IN (SELECT value FROM {self._dialect.each})"  # noqa: S608 - constant fragments
            " ORDER BY created_at, id",
            user_id,
            self._dialect.keys(unique_keys(channel_ids)),
        )

    async def subscribed_workflow_ids(self) -> list[str]:
        """Distinct workflow ids with at least one subscription, sorted."""
        rows = await self._fetch("SELECT DISTINCT workflow_id FROM subscriptions ORDER BY 1")
        return [row[0] for row in rows]

    # -- discovery memory --------------------------------------------------------------------

    async def mark_seen(
        self, workflow_id: str, execution_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember these executions of the workflow as seen (idempotent)."""
        # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT
        await self._changed(
            "INSERT INTO seen_executions (workflow_id, execution_id, seen_at)"  # noqa: S608
            f" SELECT ?, value, ? FROM {self._dialect.each} WHERE true"
            " ON CONFLICT (workflow_id, execution_id) DO NOTHING",
            workflow_id,
            self._dialect.time(now),
            self._dialect.keys(unique_keys(execution_ids)),
        )

    async def seen_executions(self, workflow_id: str) -> set[str]:
        """Execution ids of this workflow already seen."""
        rows = await self._fetch(
            "SELECT execution_id FROM seen_executions WHERE workflow_id = ?", workflow_id
        )
        return {row[0] for row in rows}

    async def get_watermark(self, workflow_id: str) -> datetime | None:
        """Begin time of the newest execution seen for this workflow, or ``None``."""
        rows = await self._fetch("SELECT at FROM watermarks WHERE workflow_id = ?", workflow_id)
        return self._dialect.read_time(rows[0][0]) if rows else None

    async def set_watermark(self, workflow_id: str, at: datetime) -> None:
        """Move the watermark forward to ``at``; an older value never moves it back."""
        await self._changed(
            "INSERT INTO watermarks (workflow_id, at) VALUES (?, ?)"
            " ON CONFLICT (workflow_id) DO UPDATE SET at = excluded.at"
            " WHERE excluded.at > watermarks.at",
            workflow_id,
            self._dialect.time(at),
        )

    async def claim_post(
        self, channel_id: str, workflow_id: str, execution_id: str, now: datetime
    ) -> bool:
        """True exactly once per (channel, workflow, execution)."""
        return await self._changed(
            "INSERT INTO post_claims (channel_id, workflow_id, execution_id, claimed_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            channel_id,
            workflow_id,
            execution_id,
            self._dialect.time(now),
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
        time = self._dialect.time
        async with self._transaction() as tx:
            won = await tx.count(
                "INSERT INTO channel_cards (channel_id, workflow_id, execution_id, claimed_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel_id, workflow_id, execution_id) DO UPDATE SET"
                " message_ts = NULL, claimed_at = excluded.claimed_at, refreshed_at = NULL"
                " WHERE channel_cards.claimed_at <= ?"
                " OR (channel_cards.message_ts IS NULL AND channel_cards.claimed_at <= ?)",
                (*key, time(now), time(utc(now) - fresh_for), time(utc(now) - posting_for)),
            )
            if won:
                return True, None
            rows = await tx.fetch(f"SELECT message_ts FROM channel_cards WHERE {_CARD_KEY}", key)  # noqa: S608 - constant fragments
        return False, rows[0][0] if rows else None

    async def set_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str
    ) -> None:
        """Record the ``ts`` of the card the claim's winner posted."""
        await self._changed(
            f"UPDATE channel_cards SET message_ts = ? WHERE {_CARD_KEY}",  # noqa: S608 - constant fragments
            message_ts,
            channel_id,
            workflow_id,
            execution_id,
        )

    async def release_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str | None
    ) -> None:
        """Forget the channel's card if it still is ``message_ts``."""
        await self._changed(
            f"DELETE FROM channel_cards WHERE {_CARD_KEY} AND message_ts {self._dialect.same} ?",  # noqa: S608 - constant fragments
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
            f"UPDATE channel_cards SET refreshed_at = ? WHERE {_CARD_KEY}"  # noqa: S608 - constant fragments
            " AND message_ts IS NOT NULL AND COALESCE(refreshed_at, claimed_at) <= ?",
            self._dialect.time(now),
            channel_id,
            workflow_id,
            execution_id,
            self._dialect.time(utc(now) - every),
        )

    async def prune(self, before: datetime) -> None:
        """Forget ended follows, seen executions, post claims and leases older than ``before``."""
        cutoff = (self._dialect.time(before),)
        async with self._transaction() as tx:
            await tx.count("DELETE FROM follows WHERE state = 'ended' AND ended_at < ?", cutoff)
            await tx.count("DELETE FROM seen_executions WHERE seen_at < ?", cutoff)
            await tx.count("DELETE FROM post_claims WHERE claimed_at < ?", cutoff)
            await tx.count("DELETE FROM channel_cards WHERE claimed_at < ?", cutoff)
            await tx.count("DELETE FROM leases WHERE expires_at < ?", cutoff)
