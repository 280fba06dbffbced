"""What the follow engine needs from the world, as protocols it owns.

``AomClient`` satisfies :class:`ExecutionSource` and ``slack.notifier.SlackNotifier`` satisfies
:class:`CardNotifier`; tests pass small fakes instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aom_bot.aom.models import ExecutionDetail
from aom_bot.render.kit import MessageLike, MessageSource

__all__ = ["CardNotifier", "ExecutionSource", "MessageLike", "MessageSource"]


class ExecutionSource(Protocol):
    """Reads an execution's current state (raises ``aom_bot.errors.AomError`` subclasses)."""

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The execution as AOM reports it now."""
        ...

    async def get_execution_if_changed(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> tuple[bytes, ExecutionDetail | None]:
        """The body's digest, and the execution unless the body is the one of
        ``previous_digest`` (then ``None``: not decoded). What a poll asks, so an unchanged
        body costs a request and a hash, not a parse."""
        ...


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
