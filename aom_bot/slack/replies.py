"""Where an answer goes: into the channel, to the caller alone, or through ``response_url``.

Answers are shared in the channel (an incident call looks at one view) with
``chat.postMessage`` through the notifier, which joins public channels when allowed. Where the
bot cannot post (a private channel or DM it is not in), the answer goes through the command's
``response_url`` as an ``in_channel`` message with a line saying how to invite the bot.
Errors are ephemeral, escaped, and never a stack trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.webhook.async_client import AsyncWebhookClient

from aom_bot.errors import (
    AomBotError,
    AomError,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackNotInChannel,
)
from aom_bot.render.escape import escape_mrkdwn
from aom_bot.render.kit import SlackMessage, context, section
from aom_bot.render.scrub import Scrubber
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.webclient import retry_handlers

__all__ = [
    "Conversation",
    "Replier",
    "error_message",
    "invite_line",
    "outcome_of",
    "with_invite",
]

log = logging.getLogger(__name__)

_UNEXPECTED = (
    "Something went wrong inside the bot while handling this. Try again; if it keeps "
    "happening, the bot's operators will find the details in its logs."
)


@dataclass(frozen=True, slots=True)
class Conversation:
    """Who asked, where, and the ``response_url`` that reaches them there."""

    channel_id: str
    user_id: str
    response_url: str | None


def invite_line(bot_handle: str) -> str:
    """What a user types so the bot can post (and keep cards current) here."""
    return (
        f":information_source: I'm not in this conversation, so this answer won't stay current. "
        f"Invite me with `/invite @{bot_handle}` to get live updates here."
    )


def outcome_of(exc: BaseException) -> str:
    """The metrics label of a failure."""
    if isinstance(exc, AomError):
        return "aom_error"
    if isinstance(exc, SlackDeliveryError):
        return "slack_error"
    if isinstance(exc, AomBotError):
        return "error"
    return "internal_error"


def error_message(exc: BaseException, scrubber: Scrubber | None = None) -> SlackMessage:
    """A clear, escaped message for an error: what went wrong and what to do; scrubbed like
    host text (what AOM said may quote credentials)."""
    text = exc.user_message() if isinstance(exc, AomBotError) else _UNEXPECTED
    safe = escape_mrkdwn((scrubber or Scrubber()).scrub(text))
    return SlackMessage(text=safe, blocks=[section(f":warning: {safe}")])


def with_invite(deps: SlackDeps, message: SlackMessage) -> SlackMessage:
    """``message`` with the line saying how to invite the bot appended."""
    return SlackMessage(
        text=message.text, blocks=[*message.blocks, context(invite_line(deps.bot_handle))]
    )


class Replier:
    """Answers one request (a command or a click) in the right place."""

    def __init__(self, deps: SlackDeps, conversation: Conversation) -> None:
        self._deps = deps
        self.conversation = conversation

    async def to_channel(self, message: SlackMessage) -> str | None:
        """Post in the channel; the ``ts`` of the post, or None when only response_url worked."""
        conv = self.conversation
        try:
            return await self._deps.notifier.post(
                conv.channel_id, message, join=self._deps.join_channels
            )
        except (SlackChannelUnreachable, SlackNotInChannel) as exc:
            log.info(
                "slack.answer.via_response_url channel=%s reason=%s", conv.channel_id, exc.error
            )
        await self.respond(with_invite(self._deps, message), response_type="in_channel")
        return None

    async def privately(self, message: SlackMessage, *, replace_original: bool = False) -> None:
        """Show ``message`` to the caller alone (an ephemeral response_url message)."""
        await self.respond(message, response_type="ephemeral", replace_original=replace_original)

    async def error(self, exc: BaseException) -> None:
        """Tell the caller, alone, what went wrong; never raises."""
        if not isinstance(exc, AomBotError):
            log.error("slack.listener.failed kind=%s", type(exc).__name__, exc_info=exc)
        try:
            await self.privately(error_message(exc, self._deps.scrubber))
        except Exception as failure:  # the user cannot be reached; the log must say so
            log.warning("slack.error_reply.failed kind=%s", type(failure).__name__)

    async def respond(
        self,
        message: SlackMessage,
        *,
        response_type: str,
        replace_original: bool = False,
    ) -> None:
        """POST to the ``response_url`` (works where the bot is not a member)."""
        url = self.conversation.response_url
        if not url:
            raise SlackDeliveryError(
                "Slack gave no response_url for this request.", error="no_response_url"
            )
        body: dict[str, Any] = {**message.to_dict(), "response_type": response_type}
        if self._deps.scrubber is not None:  # last line of defence: never a configured secret
            body = self._deps.scrubber.secrets.data(body)
        if replace_original:
            body["replace_original"] = True
        elif response_type == "ephemeral":
            body["replace_original"] = False
        client = AsyncWebhookClient(url, retry_handlers=retry_handlers())
        response = await client.send_dict(body)
        self._deps.metrics.slack_call(
            "response_url", None if response.status_code == 200 else str(response.status_code)
        )
        if response.status_code != 200:
            raise SlackDeliveryError(
                f"Slack refused the response_url message ({response.status_code}).",
                error=str(response.body)[:100],
                method="response_url",
            )
