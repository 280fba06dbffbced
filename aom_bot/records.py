"""What the bot remembers, as plain records: follows, subscriptions and why a follow ended.

Core types with no I/O: the store persists them, the follow engine acts on them and ``render/``
shows them, without any of those importing the others. ``aom_bot.store.base`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "DEFAULT_MAX_FOLLOW",
    "DEFAULT_PROFILE_NAME",
    "CompletionState",
    "EndReason",
    "Follow",
    "FollowRequest",
    "FollowState",
    "NewFollow",
    "NewSubscription",
    "Subscription",
]

#: how long a follow lasts unless the caller chooses otherwise (issue 5: "max follow time")
DEFAULT_MAX_FOLLOW = timedelta(hours=24)

#: the AOM profile of a record made without one: the environment's project (issue 12), and
#: what rows written before profiles existed became
DEFAULT_PROFILE_NAME = "default"


class FollowState(StrEnum):
    """Whether the bot still keeps a follow's card current."""

    ACTIVE = "active"
    ENDED = "ended"


class EndReason(StrEnum):
    """Why a follow stopped; decides what, if anything, the channel is told."""

    COMPLETED = "completed"  # the execution reached a terminal status
    STOPPED_BY_USER = "stopped_by_user"
    MAX_TIME = "max_time"  # the deadline passed before the execution ended
    MESSAGE_DELETED = "message_deleted"  # someone deleted the card
    CHANNEL_GONE = "channel_gone"  # archived, deleted, or the bot was removed
    EXECUTION_NOT_FOUND = "execution_not_found"
    AUTH_LOST = "auth_lost"  # Slack token revoked or AOM credentials refused for good


class CompletionState(StrEnum):
    """Progress of the one "it finished" thread reply: none → claimed → posted."""

    NONE = "none"
    CLAIMED = "claimed"
    POSTED = "posted"


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowRequest:
    """Someone (or a subscription) asks to keep an execution's card current in a channel."""

    workflow_id: str
    execution_id: str
    channel_id: str
    #: Slack user id of whoever asked ("" when a subscription asks)
    user_id: str
    #: the AOM profile the execution belongs to
    profile: str = DEFAULT_PROFILE_NAME
    #: adopt this card (a Follow button) instead of posting a new one
    message_ts: str | None = None
    #: post the card as a reply in this thread
    thread_ts: str | None = None
    #: who to mention on completion (default: the user who asked)
    mention: str | None = None
    subscription_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewFollow:
    """What is needed to start following an execution in a channel."""

    workflow_id: str
    execution_id: str
    channel_id: str
    #: Slack user id of whoever asked; ``None`` when a subscription started the follow
    started_by: str | None
    started_at: datetime
    #: when to give up (``started_at + DEFAULT_MAX_FOLLOW`` unless configured otherwise)
    deadline: datetime
    #: the card's ``ts`` if it is already posted; else set later with ``set_message``
    message_ts: str | None = None
    #: the subscription that started this follow, if any
    subscription_id: int | None = None
    #: Slack user/group reference to mention on completion (``<@U1>``, ``<!subteam^S1>``)
    mention: str | None = None
    #: the AOM profile (project and region) this follow belongs to
    profile: str = DEFAULT_PROFILE_NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class Follow:
    """A followed execution: where its card is, what it last showed, and how it ended."""

    id: int
    workflow_id: str
    execution_id: str
    channel_id: str
    message_ts: str | None
    started_by: str | None
    started_at: datetime
    deadline: datetime
    subscription_id: int | None
    mention: str | None
    state: FollowState
    end_reason: EndReason | None
    ended_at: datetime | None
    #: fingerprint of what the card visibly shows; skip ``chat.update`` when unchanged
    fingerprint: str | None
    #: when the card was last rendered/updated
    rendered_at: datetime | None
    #: since when AOM has been unreachable for this follow (``None``: it answers)
    unreachable_since: datetime | None
    #: error-group signatures already announced in the thread
    announced: frozenset[str]
    completion_state: CompletionState
    completion_owner: str | None
    completion_claimed_at: datetime | None
    #: ``ts`` of the completion thread reply once posted
    completion_ts: str | None
    #: who claimed posting the card (``claim_card_post``) while ``message_ts`` is unknown
    card_owner: str | None = None
    card_claimed_at: datetime | None = None
    #: the AOM profile (project and region) this follow; it is polled there belongs to
    profile: str = DEFAULT_PROFILE_NAME

    @property
    def is_active(self) -> bool:
        """True while the bot should keep the card current."""
        return self.state is FollowState.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSubscription:
    """A channel's wish to get a card for each new execution of a workflow."""

    channel_id: str
    workflow_id: str
    workflow_name: str
    failures_only: bool
    #: Slack user/group reference to mention, or ``None``
    mention: str | None
    created_by: str
    created_at: datetime
    #: the AOM profile (project and region) this subscription belongs to
    profile: str = DEFAULT_PROFILE_NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A stored subscription; unique per (channel, workflow)."""

    id: int
    channel_id: str
    workflow_id: str
    workflow_name: str
    failures_only: bool
    mention: str | None
    created_by: str
    created_at: datetime
    #: the AOM profile (project and region) this subscription; its workflow is watched there belongs to
    profile: str = DEFAULT_PROFILE_NAME
