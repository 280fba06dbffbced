"""The store's contract: the ``Store`` protocol every backend implements (records: ``records``).

The store remembers what must survive a restart or be shared between replicas: followed
executions and their Slack cards, channel subscriptions, which executions were already seen,
and per-key leases. Every state change is one transaction, so a SIGKILL never leaves a
half-written follow behind. There is no clock in here: callers pass times in, as aware
datetimes (converted to UTC), so tests can run on simulated time.

Exactly-once steps are *claims*: ``claim_completion``, ``claim_announcement`` and
``claim_post`` return ``True`` for exactly one caller, however many replicas or retries race;
``claim_action`` does the same for an action on an execution (terminate, retry…), and
``decide_approval`` for the second person of a two-person request.

The audit log is append-only: the store has no method to change or delete an entry, the
database refuses it (triggers), and ``prune`` leaves it alone.

::

    store = await open_store("sqlite:///aom-bot.db")
    await store.migrate()
    follow, created = await store.start_follow(NewFollow(...))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from aom_bot.action_records import (
    ActionClaim,
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ApprovalDecision,
    ApprovalReason,
    ApprovalRequest,
    ApprovalState,
    AuditEntry,
    NewAuditEntry,
)

# The records are core types (render/ shows them without importing the store); re-exported here
# so ``from aom_bot.store.base import Follow`` keeps working.
from aom_bot.records import (
    DEFAULT_MAX_FOLLOW,
    DEFAULT_PROFILE_NAME,
    CompletionState,
    EndReason,
    Follow,
    FollowState,
    NewFollow,
    NewSubscription,
    Subscription,
)
from aom_bot.store.action_base import ActionStore

__all__ = [
    "DEFAULT_MAX_FOLLOW",
    "DEFAULT_PROFILE_NAME",
    "ActionClaim",
    "ActionKind",
    "ActionOutcome",
    "ActionRecord",
    "ActionStore",
    "ApprovalDecision",
    "ApprovalReason",
    "ApprovalRequest",
    "ApprovalState",
    "AuditEntry",
    "CompletionState",
    "EndReason",
    "Follow",
    "FollowState",
    "NewAuditEntry",
    "NewFollow",
    "NewSubscription",
    "Store",
    "Subscription",
]


class Store(ActionStore, Protocol):
    """Persistence for follows, subscriptions, discovery memory and leases (and, from
    ``ActionStore``, the audit log, the action ledger and two-person requests).

    All times are aware datetimes supplied by the caller; the store never reads a clock.
    Errors from the database arrive as ``aom_bot.errors.StoreError``.
    """

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self, *, target: int | None = None) -> None:
        """Apply pending schema migrations; refuse a schema newer than this version knows.

        ``target`` stops at that version (tests build a database as an older release left it).
        """
        ...

    async def schema_version(self) -> int:
        """The highest migration applied to the database (0 when none)."""
        ...

    async def aclose(self) -> None:
        """Close connections; the store is unusable afterwards."""
        ...

    async def health_problem(self) -> str | None:
        """Why the store cannot keep state right now (SQLite: its file deleted, replaced or
        unwritable; PostgreSQL: no answer), in words for the operator; None when healthy."""
        ...

    # -- follows -----------------------------------------------------------------------------

    async def start_follow(self, new: NewFollow) -> tuple[Follow, bool]:
        """Create a follow, or return the active one for the same channel and execution.

        The flag is ``True`` when a follow was created, ``False`` for a duplicate request.
        """
        ...

    async def get_follow(self, follow_id: int) -> Follow | None:
        """The follow with this id, active or ended, or ``None``."""
        ...

    async def find_active_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The active follow of this execution in this channel, if any."""
        ...

    async def latest_follow(
        self, channel_id: str, workflow_id: str, execution_id: str
    ) -> Follow | None:
        """The newest follow of this execution in this channel, active or ended, preferring
        one whose card was posted: how a finished run's card is found again."""
        ...

    async def active_follows(self) -> list[Follow]:
        """Every active follow, oldest first: what a (re)started poller resumes."""
        ...

    async def follows_for_home(self, user_id: str, channel_ids: Iterable[str] = ()) -> list[Follow]:
        """Active follows a user started or that live in one of the channels (App Home)."""
        ...

    async def count_active_follows(self, *, started_by: str | None = None) -> int:
        """How many follows are active: all of them, or those ``started_by`` started by hand
        (follows a subscription started do not count as anyone's)."""
        ...

    async def set_message(self, follow_id: int, message_ts: str) -> None:
        """Record the ``ts`` of the card posted for this follow."""
        ...

    async def record_render(self, follow_id: int, fingerprint: str, rendered_at: datetime) -> None:
        """Remember what the card now shows and when it was updated."""
        ...

    async def set_unreachable(self, follow_id: int, since: datetime | None) -> None:
        """Set (or clear with ``None``) when AOM became unreachable for this follow."""
        ...

    async def claim_announcement(self, follow_id: int, signature: str) -> bool:
        """True exactly once per (follow, error-group signature): announce the new group."""
        ...

    async def claim_completion(
        self,
        follow_id: int,
        owner: str,
        now: datetime,
        *,
        stale_after: timedelta | None = None,
    ) -> bool:
        """True for exactly one caller: it may post the completion reply.

        With ``stale_after``, a claim older than that (its owner presumably crashed before
        posting) can be taken over; without it a claim is never taken over.
        """
        ...

    async def claim_card_post(
        self, follow_id: int, owner: str, now: datetime, *, stale_after: timedelta
    ) -> bool:
        """True for exactly one caller: it may post the card of a follow that has none yet.

        A claim older than ``stale_after`` (its owner presumably died around the post) can be
        taken over; the taker should first look for a card already posted.
        """
        ...

    async def release_card_post(self, follow_id: int, owner: str) -> None:
        """Give back an unposted card claim (Slack certainly did not post)."""
        ...

    async def expire_claims(self, owner: str) -> int:
        """Make ``owner``'s card and completion claims stale at once; returns how many.

        A process calls this as it starts: claims under its name are from its previous life,
        and must not wait out ``stale_after`` (the claims stay, so whoever takes one over
        still looks in Slack for what was posted before).
        """
        ...

    async def release_completion(self, follow_id: int, owner: str) -> None:
        """Give back an unposted claim (posting failed), so a later attempt can claim it."""
        ...

    async def finish_completion(
        self, follow_id: int, reply_ts: str | None, reason: EndReason, now: datetime
    ) -> None:
        """Mark the completion reply posted and end the follow, in one transaction."""
        ...

    async def end_follow(self, follow_id: int, reason: EndReason, now: datetime) -> bool:
        """End an active follow; ``True`` if this call ended it, ``False`` if already ended."""
        ...

    # -- leases (several replicas) -----------------------------------------------------------

    async def acquire_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Take free or expired leases and renew our own; returns the keys now held by owner."""
        ...

    async def renew_leases(
        self, owner: str, keys: Iterable[str], ttl: timedelta, now: datetime
    ) -> set[str]:
        """Extend leases the owner still holds; keys missing from the result were lost."""
        ...

    async def release_leases(self, owner: str, keys: Iterable[str]) -> None:
        """Drop the owner's leases on these keys so another replica can take them at once."""
        ...

    async def announce_handover(self, prefix: str) -> None:
        """Tell the other replicas that leases on keys starting with ``prefix`` were just given
        back (a clean stop, a surplus shed for a newcomer), so they take them now instead of at
        their next resync. A hint: whoever misses it takes them at that resync anyway."""
        ...

    def handovers(self) -> AsyncIterator[str]:
        """The prefixes other replicas announce (:meth:`announce_handover`), as they come.

        Runs until cancelled, riding out the store's outages (PostgreSQL: ``LISTEN``); on
        SQLite, which has no notices, it never yields.
        """
        ...

    async def lease_holders(self, prefix: str, now: datetime) -> dict[str, str]:
        """Key → owner of every lease not expired at ``now`` whose key starts with ``prefix``.

        Why: a replica takes only its fair share of the free work, and counts live replicas
        by their heartbeat leases.
        """
        ...

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, new: NewSubscription) -> tuple[Subscription, bool]:
        """Create or update the (channel, workflow) subscription; flag is ``True`` if created.

        Subscribing again updates name, ``failures_only``, mention and profile (the name was
        just read from that profile's AOM); creator and creation time stay those of the first.
        """
        ...

    async def unsubscribe(self, channel_id: str, workflow_id: str) -> bool:
        """Remove a subscription; ``False`` if there was none."""
        ...

    async def get_subscription(self, channel_id: str, workflow_id: str) -> Subscription | None:
        """The channel's subscription to this workflow, or ``None``."""
        ...

    async def subscriptions_for_channel(self, channel_id: str) -> list[Subscription]:
        """A channel's subscriptions, ordered by workflow name."""
        ...

    async def subscriptions_for_workflow(self, workflow_id: str) -> list[Subscription]:
        """Every channel subscribed to this workflow, oldest first."""
        ...

    async def subscriptions_for_home(
        self, user_id: str, channel_ids: Iterable[str] = ()
    ) -> list[Subscription]:
        """Subscriptions a user created or that live in one of the channels (App Home)."""
        ...

    async def subscribed_workflow_ids(self) -> list[str]:
        """Distinct workflow ids with at least one subscription, sorted: what to poll."""
        ...

    async def subscribed_workflows(self) -> list[tuple[str, str]]:
        """Distinct (profile, workflow id) pairs with at least one subscription, sorted: what
        to poll, in which profile's AOM."""
        ...

    # -- discovery memory --------------------------------------------------------------------

    async def mark_seen(
        self, workflow_id: str, execution_ids: Sequence[str], now: datetime
    ) -> None:
        """Remember these executions of the workflow as seen (idempotent)."""
        ...

    async def seen_executions(self, workflow_id: str) -> set[str]:
        """Execution ids of this workflow already seen."""
        ...

    async def get_watermark(self, workflow_id: str) -> datetime | None:
        """Begin time of the newest execution seen for this workflow, or ``None``."""
        ...

    async def set_watermark(self, workflow_id: str, at: datetime) -> None:
        """Move the watermark forward to ``at``; an older value never moves it back."""
        ...

    async def claim_post(
        self, channel_id: str, workflow_id: str, execution_id: str, now: datetime
    ) -> bool:
        """True exactly once per (channel, workflow, execution): post that execution's card."""
        ...

    # -- channel cards (one card per execution per channel) ---------------------------------

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
        """Who posts the channel's card of an execution: ``(True, None)`` for exactly one caller.

        Everyone else gets ``(False, ts)``: the card posted less than ``fresh_for`` ago, or
        ``None`` while its poster is still at it. A card older than ``fresh_for``, or a claim
        unposted for ``posting_for`` (its poster died), is claimed afresh. The winner's
        ``profile`` is stored with the card; the claim itself is keyed by IDs alone.
        """
        ...

    async def set_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str
    ) -> None:
        """Record the ``ts`` of the card the claim's winner posted."""
        ...

    async def release_card(
        self, channel_id: str, workflow_id: str, execution_id: str, message_ts: str | None
    ) -> None:
        """Forget the channel's card if it still is ``message_ts`` (``None``: the unposted
        claim): posting failed, or the card was deleted. The next claim wins at once."""
        ...

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
        ...

    async def prune(self, before: datetime) -> None:
        """Forget ended follows, seen executions and post claims and channel cards older than
        ``before``. The audit log, the action ledger and approvals are never pruned."""
        ...
