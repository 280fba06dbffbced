"""The store methods whose SQL is the same on SQLite and PostgreSQL, written once.

``SharedQueries`` gathers them (follows in ``shared_follows``, actions in ``shared_actions``,
the engine's part in ``shared_base``). What only one engine does well (leases in one statement with ``RETURNING``
on PostgreSQL, migrations, connections) stays in ``sqlite.py`` / ``postgres.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from aom_bot.errors import StoreError
from aom_bot.store._common import SUBSCRIPTION_COLUMNS, unique_keys, utc
from aom_bot.store.base import DEFAULT_PROFILE_NAME, NewSubscription, Subscription
from aom_bot.store.shared_actions import ActionQueries
from aom_bot.store.shared_base import CARD_KEY, Tx
from aom_bot.store.shared_follows import FollowQueries

__all__ = ["SharedQueries", "Tx"]


class SharedQueries(FollowQueries, ActionQueries):
    """The ``Store`` methods both engines run with the same SQL."""

    # -- leases ------------------------------------------------------------------------------

    async def release_leases(self, owner: str, keys: Iterable[str]) -> None:
        """Drop the owner's leases on these keys."""
        await self._changed(
            f"DELETE FROM leases WHERE owner = ? AND key IN (SELECT value FROM {self._dialect.each})",  # noqa: S608 - constant fragments
            owner,
            self._dialect.keys(unique_keys(keys)),
        )

    async def lease_holders(self, prefix: str, now: datetime) -> dict[str, str]:
        """Key → owner of the leases on keys starting with ``prefix`` still valid at ``now``."""
        rows = await self._fetch(
            "SELECT key, owner FROM leases WHERE substr(key, 1, ?) = ? AND expires_at > ?",
            len(prefix),
            prefix,
            self._dialect.time(now),
        )
        return {row[0]: row[1] for row in rows}

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, new: NewSubscription) -> tuple[Subscription, bool]:
        """Create or update the (channel, workflow) subscription; flag is ``True`` if created."""
        key = (new.channel_id, new.workflow_id)
        options = (new.workflow_name, new.failures_only, new.mention, new.profile)
        insert = (*options, new.created_by)
        update = (*options, *key)
        # a racing subscriber waits on the unique key, then updates the winner's row; a row
        # we inserted or updated is locked until we commit, so the SELECT finds it. Only an
        # unsubscribe between our INSERT and UPDATE leaves nothing: then try again.
        for _ in range(5):
            async with self._transaction() as tx:
                created = await tx.count(
                    "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name,"
                    " failures_only, mention, profile, created_by, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel_id, workflow_id) DO NOTHING",
                    (*key, *insert, self._dialect.time(new.created_at)),
                )
                if created or await tx.count(
                    "UPDATE subscriptions SET workflow_name = ?, failures_only = ?, mention = ?,"
                    " profile = ? WHERE channel_id = ? AND workflow_id = ?",
                    update,
                ):
                    rows = await tx.fetch(
                        f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions"  # noqa: S608
                        " WHERE channel_id = ? AND workflow_id = ?",
                        key,
                    )
                    return self._dialect.subscription(rows[0]), created > 0
        raise StoreError("Could not subscribe: the subscription kept changing; try again.")

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

    async def subscribed_workflows(self) -> list[tuple[str, str]]:
        """Distinct (profile, workflow id) pairs with a subscription, sorted: what to poll where."""
        rows = await self._fetch("SELECT DISTINCT profile, workflow_id FROM subscriptions")
        # sorted here: the two engines' text collations may order differently
        return sorted((row[0], row[1]) for row in rows)

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
        profile: str = DEFAULT_PROFILE_NAME,
    ) -> tuple[bool, str | None]:
        """Who posts the channel's card of an execution: ``(True, None)`` for exactly one.

        The winner's ``profile`` is stored with the card; the claim is keyed by IDs alone.
        """
        key = (channel_id, workflow_id, execution_id)
        time = self._dialect.time
        async with self._transaction() as tx:
            won = await tx.count(
                "INSERT INTO channel_cards (channel_id, workflow_id, execution_id, claimed_at,"
                " profile) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id, workflow_id, execution_id) DO UPDATE SET"
                " message_ts = NULL, claimed_at = excluded.claimed_at, refreshed_at = NULL,"
                " profile = excluded.profile"
                " WHERE channel_cards.claimed_at <= ?"
                " OR (channel_cards.message_ts IS NULL AND channel_cards.claimed_at <= ?)",
                (
                    *key,
                    time(now),
                    profile,
                    time(utc(now) - fresh_for),
                    time(utc(now) - posting_for),
                ),
            )
            if won:
                return True, None
            rows = await tx.fetch(f"SELECT message_ts FROM channel_cards WHERE {CARD_KEY}", key)  # noqa: S608 - constant fragments
        return False, rows[0][0] if rows else None

    async def set_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str
    ) -> None:
        """Record the ``ts`` of the card the claim's winner posted."""
        await self._changed(
            f"UPDATE channel_cards SET message_ts = ? WHERE {CARD_KEY}",  # noqa: S608 - constant fragments
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
            f"DELETE FROM channel_cards WHERE {CARD_KEY} AND message_ts {self._dialect.same} ?",  # noqa: S608 - constant fragments
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
            f"UPDATE channel_cards SET refreshed_at = ? WHERE {CARD_KEY}"  # noqa: S608 - constant fragments
            " AND message_ts IS NOT NULL AND COALESCE(refreshed_at, claimed_at) <= ?",
            self._dialect.time(now),
            channel_id,
            workflow_id,
            execution_id,
            self._dialect.time(utc(now) - every),
        )

    async def prune(self, before: datetime) -> None:
        """Forget ended follows, seen executions, post claims and leases older than ``before``
        (never the audit log, the action ledger or approvals)."""
        cutoff = (self._dialect.time(before),)
        async with self._transaction() as tx:
            await tx.count("DELETE FROM follows WHERE state = 'ended' AND ended_at < ?", cutoff)
            await tx.count("DELETE FROM seen_executions WHERE seen_at < ?", cutoff)
            await tx.count("DELETE FROM post_claims WHERE claimed_at < ?", cutoff)
            await tx.count("DELETE FROM channel_cards WHERE claimed_at < ?", cutoff)
            await tx.count("DELETE FROM leases WHERE expires_at < ?", cutoff)
