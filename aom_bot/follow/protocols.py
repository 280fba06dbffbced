"""What the follow engine needs from the world, as protocols it owns.

``slack.notifier.SlackNotifier`` satisfies :class:`CardNotifier` (what reads AOM is
:class:`aom_bot.aom.reader.AomReader`); tests pass small fakes instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aom_bot.records import FollowRequest
from aom_bot.render.kit import MessageLike, MessageSource

__all__ = ["CardNotifier", "FollowControl", "FollowOutcome", "MessageLike", "MessageSource"]


class CardNotifier(Protocol):
    """Posts and edits the execution card and its thread (raises ``SlackDeliveryError``)."""

    async def post(
        self,
        channel: str,
        message: MessageSource,
        *,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: Mapping[str, Any] | None = None,
        join: bool = True,
    ) -> str:
        """Post a message (or a thread reply); returns its ``ts``."""
        ...

    async def update(self, channel: str, ts: str, message: MessageSource) -> None:
        """Edit a posted message in place."""
        ...

    async def thread_replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread under ``ts`` with message metadata (to find an earlier completion)."""
        ...

    async def message_exists(self, channel: str, ts: str) -> bool:
        """True while the message ``ts`` is in the channel (not deleted)."""
        ...

    async def history(self, channel: str) -> list[dict[str, Any]]:
        """The channel's recent messages, newest first, with metadata (to find a card)."""
        ...


class FollowOutcome(Protocol):
    """What ``FollowControl.follow`` returns (``aom_bot.follow.engine.FollowResult``)."""

    @property
    def created(self) -> bool:
        """False when the execution was already followed in the channel."""
        ...

    @property
    def message_ts(self) -> str | None:
        """The followed card (the existing one for a duplicate request)."""
        ...

    @property
    def finished(self) -> bool:
        """The execution had already ended: final card and completion, no live following."""
        ...


class FollowControl(Protocol):
    """The follow engine (``aom_bot.follow.engine.FollowEngine``) as commands, buttons and
    subscription discovery use it.

    ``follow`` posts the card itself (or adopts ``message_ts`` and updates it) and raises
    ``SlackDeliveryError`` when it cannot, leaving no follow behind; ``unfollow`` updates the
    card to drop its "following" state.
    """

    async def follow(self, request: FollowRequest) -> FollowOutcome: ...

    async def unfollow(
        self, *, workflow_id: str, execution_id: str, channel_id: str, user_id: str
    ) -> bool: ...

    async def is_following(self, channel_id: str, workflow_id: str, execution_id: str) -> bool: ...
