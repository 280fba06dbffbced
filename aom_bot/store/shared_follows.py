"""The follow queries both engines run with the same SQL (see ``shared_base``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from aom_bot.errors import StoreError
from aom_bot.store._common import stale_cutoff, unique_keys, utc
from aom_bot.store.base import EndReason, Follow, NewFollow
from aom_bot.store.shared_base import CARD_KEY, SqlBase

__all__ = ["FollowQueries"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FollowQueries(SqlBase):
    """The shared ``Store`` methods on follows, their claims and announcements."""

    async def _follows(self, where: str, *params: Any) -> list[Follow]:
        # ``where`` is always a literal from this module; values travel as parameters
        rows = await self._fetch(f"{self._dialect.select_follow} {where}", *params)
        return [self._dialect.follow(row) for row in rows]

    # -- follows -----------------------------------------------------------------------------

    async def start_follow(self, new: NewFollow) -> tuple[Follow, bool]:
        """Create a follow, or return the active one for the same channel and execution.

        The duplicate is found by IDs alone (execution IDs are unique across projects), so
        it keeps the profile it was started in.
        """
        key = (new.channel_id, new.workflow_id, new.execution_id)
        time = self._dialect.time
        values = (*key, new.message_ts, new.started_by, time(new.started_at), time(new.deadline))
        # the partial unique index decides between racing replicas; if the winner's follow
        # ends before we read it, insert again
        for _ in range(5):
            async with self._transaction() as tx:
                created = await tx.count(
                    "INSERT INTO follows (channel_id, workflow_id, execution_id, message_ts,"
                    " started_by, started_at, deadline, subscription_id, mention, profile)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (channel_id, workflow_id, execution_id)"
                    " WHERE state = 'active' DO NOTHING",
                    (*values, new.subscription_id, new.mention, new.profile),
                )
                rows = await tx.fetch(
                    f"{self._dialect.select_follow} WHERE {CARD_KEY} AND state = 'active'", key
                )
            if rows:
                return self._dialect.follow(rows[0]), created > 0
        raise StoreError("Could not start the follow: it kept changing under us; try again.")

    async def get_follow(self, follow_id: int) -> Follow | None:
        """The follow with this id, active or ended, or ``None``."""
        found = await self._follows("WHERE id = ?", follow_id)
        return found[0] if found else None

    async def find_active_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The active follow of this execution in this channel, if any."""
        found = await self._follows(
            f"WHERE {CARD_KEY} AND state = 'active'", channel_id, workflow_id, execution_id
        )
        return found[0] if found else None

    async def latest_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The newest follow of this execution in this channel, a posted card first."""
        found = await self._follows(
            f"WHERE {CARD_KEY} ORDER BY message_ts IS NULL, id DESC LIMIT 1",
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
