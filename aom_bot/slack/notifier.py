"""Everything the bot says in Slack goes through :class:`SlackNotifier`.

It paces calls below Slack's limits (token buckets per method and per channel, on the injected
clock), honours ``429 Retry-After`` by pausing the bucket that was hit, joins public channels
when it is not a member, and turns every Slack failure into one of the
:class:`~aom_bot.errors.SlackDeliveryError` subclasses with Slack's code in ``.error``.
Callers therefore never see a 429 unless the retries are exhausted. Message bodies are never
logged.

::

    notifier = SlackNotifier(AsyncWebClient(token=...), clock=SystemClock())
    ts = await notifier.post("C123", message)
    await notifier.update("C123", ts, lambda: render_latest())  # rendered when the slot comes
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.clock import Clock
from aom_bot.errors import (
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackNotInChannel,
)
from aom_bot.render.kit import MessageLike, MessageSource
from aom_bot.slack.delivery import NO_ERROR_CODE, delivery_error, error_code, retry_after
from aom_bot.slack.pacing import Paces, Rate, SlackLimits

# Rate, SlackLimits and delivery_error are re-exported: callers import them from here.
__all__ = [
    "MessageLike",
    "NotifierStats",
    "Rate",
    "SlackLimits",
    "SlackNotifier",
    "delivery_error",
]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NotifierStats:
    """Counters for metrics; never contains message content."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    ratelimited: int = 0
    retries: int = 0
    joins: int = 0
    #: simulated/real seconds spent waiting for a pacing slot, all calls together
    waited: float = 0.0


#: how many message permalinks the notifier remembers (they never change)
_PERMALINKS_KEPT = 1000


class SlackNotifier:
    """Paced, error-mapping access to the few Slack Web API methods the bot uses."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        limits: SlackLimits | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._limits = limits or SlackLimits()
        self._paces = Paces(self._limits, clock)
        self._permalinks: dict[tuple[str, str], asyncio.Future[str]] = {}
        self.stats = NotifierStats()

    # -- public API ------------------------------------------------------------------------

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
        """Post (or reply in a thread) and return the new message's ``ts``.

        On ``not_in_channel`` the bot joins the (public) channel and tries once more.
        """
        extra: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False}
        if thread_ts:
            extra["thread_ts"] = thread_ts
            if reply_broadcast:
                extra["reply_broadcast"] = True
        if metadata is not None:
            extra["metadata"] = dict(metadata)

        async def send() -> Any:
            payload = _resolve(message).to_dict()
            return await self._client.chat_postMessage(channel=channel, **payload, **extra)

        try:
            response = await self._call("chat.postMessage", channel, send)
        except SlackNotInChannel:
            if not join:
                raise
            await self.join(channel)
            response = await self._call("chat.postMessage", channel, send)
        ts = response.get("ts")
        if not isinstance(ts, str) or not ts:
            raise SlackDeliveryError(
                "Slack accepted chat.postMessage but returned no ts.",
                error="no_ts",
                method="chat.postMessage",
            )
        return ts

    async def update(self, channel: str, ts: str, message: MessageSource) -> None:
        """Edit a posted message in place.

        ``message`` may be a function: it is called when the pacing slot arrives, so a card
        that changed several times while waiting is sent once, in its latest state.
        """

        async def send() -> Any:
            payload = _resolve(message).to_dict()
            return await self._client.chat_update(channel=channel, ts=ts, **payload)

        await self._call("chat.update", None, send)

    async def post_ephemeral(self, channel: str, user: str, message: MessageSource) -> None:
        """Show a message to one user only (it cannot be edited later)."""

        async def send() -> Any:
            payload = _resolve(message).to_dict()
            return await self._client.chat_postEphemeral(channel=channel, user=user, **payload)

        await self._call("chat.postEphemeral", None, send)

    async def permalink(self, channel: str, ts: str) -> str:
        """The link that opens the message ``ts`` in Slack (chat.getPermalink).

        Asked once per message and remembered: fifty people asking for the same card at once
        must not queue fifty calls behind Slack's pace.
        """
        key = (channel, ts)
        known = self._permalinks.get(key)
        if known is None:
            known = self._permalinks[key] = asyncio.ensure_future(self._permalink(channel, ts))
            while len(self._permalinks) > _PERMALINKS_KEPT:
                del self._permalinks[next(iter(self._permalinks))]
        try:
            return await asyncio.shield(known)
        except SlackDeliveryError:
            if self._permalinks.get(key) is known:
                del self._permalinks[key]  # asked again next time
            raise

    async def _permalink(self, channel: str, ts: str) -> str:
        async def send() -> Any:
            return await self._client.chat_getPermalink(channel=channel, message_ts=ts)

        response = await self._call("chat.getPermalink", None, send)
        link = response.get("permalink")
        if not isinstance(link, str) or not link.startswith("https://"):
            raise SlackDeliveryError(
                "Slack answered chat.getPermalink without a link.",
                error="no_permalink",
                method="chat.getPermalink",
            )
        return link

    async def join(self, channel: str) -> None:
        """Join a public channel; private ones answer ``channel_not_found`` or similar."""

        async def send() -> Any:
            return await self._client.conversations_join(channel=channel)

        try:
            await self._call("conversations.join", None, send)
        except SlackDeliveryError as error:
            if isinstance(error, SlackChannelUnreachable | SlackChannelGone):
                raise
            raise SlackNotInChannel(
                f"The bot is not in channel and could not join it ({error.error}).",
                error="not_in_channel",
                method="conversations.join",
            ) from error
        self.stats.joins += 1

    async def upload_report(
        self,
        channel: str,
        *,
        thread_ts: str | None,
        filename: str,
        content: str | bytes,
        title: str,
        initial_comment: str | None = None,
    ) -> None:
        """Share a file (a CSV or text report) in the channel, optionally in a thread."""

        async def send() -> Any:
            kwargs: dict[str, Any] = {
                "channel": channel,
                "filename": filename,
                "content": content,
                "title": title,
            }
            if thread_ts:
                kwargs["thread_ts"] = thread_ts
            if initial_comment:
                kwargs["initial_comment"] = initial_comment
            return await self._client.files_upload_v2(**kwargs)

        await self._call("files.upload_v2", None, send)

    async def thread_replies(
        self, channel: str, ts: str, *, max_pages: int = 10
    ) -> list[dict[str, Any]]:
        """The thread under ``ts`` (parent first) with message metadata, for reconciliation."""
        fetch = self._client.conversations_replies
        return await self._pages("conversations.replies", fetch, max_pages, channel=channel, ts=ts)

    async def message_exists(self, channel: str, ts: str) -> bool:
        """True while the top-level message ``ts`` is in the channel (not deleted): checked
        before anything is posted into its thread."""

        async def send() -> Any:
            return await self._client.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )

        response = await self._call("conversations.history", None, send)
        return any(
            isinstance(m, dict) and m.get("ts") == ts and m.get("subtype") != "tombstone"
            for m in response.get("messages") or []
        )

    async def history(self, channel: str, *, max_pages: int = 5) -> list[dict[str, Any]]:
        """The channel's recent messages (newest first) with their metadata: to find a card
        posted before a crash, before posting it again."""
        fetch = self._client.conversations_history
        return await self._pages("conversations.history", fetch, max_pages, channel=channel)

    async def _pages(
        self,
        method: str,
        fetch: Callable[..., Awaitable[Any]],
        max_pages: int,
        **arguments: Any,
    ) -> list[dict[str, Any]]:
        """Every message of a cursor-paginated listing (at most ``max_pages`` pages of 200),
        each page paced and error-mapped like any other call."""
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            page_arguments = {**arguments, "include_all_metadata": True, "limit": 200}
            if cursor:
                page_arguments["cursor"] = cursor

            async def send(page_arguments: dict[str, Any] = page_arguments) -> Any:
                return await fetch(**page_arguments)

            response = await self._call(method, None, send)
            page = response.get("messages") or []
            messages.extend(m for m in page if isinstance(m, dict))
            meta = response.get("response_metadata") or {}
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not cursor or not response.get("has_more", True):
                break
        return messages

    # -- pacing and error mapping ----------------------------------------------------------

    async def _call(
        self, method: str, channel: str | None, send: Callable[[], Awaitable[Any]]
    ) -> Any:
        buckets = self._paces.buckets(method, channel)
        attempt = 0
        while True:
            self.stats.waited += await self._paces.wait_for_slot(buckets)
            self.stats.calls[method] += 1
            try:
                return await send()
            except SlackApiError as error:
                status = getattr(error.response, "status_code", 200)
                if status == 429:
                    self.stats.ratelimited += 1
                    pause = retry_after(error, self._limits.default_retry_after)
                    self._paces.pause(buckets, pause)
                    log.warning("slack.ratelimited method=%s retry_after=%.1f", method, pause)
                    code = "ratelimited"
                elif isinstance(status, int) and status >= 500:
                    code = f"http_{status}"
                else:
                    code = error_code(error)
                    if code == NO_ERROR_CODE:  # not Slack's JSON: a proxy page, a cut body
                        code = "bad_response"
                    else:
                        self.stats.errors[code] += 1
                        raise delivery_error(method, code) from None
            except SlackClientError as error:
                code = "client_error"
                log.warning("slack.client_error method=%s kind=%s", method, type(error).__name__)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                # ValueError: a body that is not JSON
                code = "transport_error"
                log.warning("slack.transport_error method=%s kind=%s", method, type(error).__name__)
            self.stats.errors[code] += 1
            attempt += 1
            if attempt > self._limits.retries:
                raise SlackDeliveryError(
                    f"Slack did not accept {method} after {attempt} attempts ({code}).",
                    error=code,
                    method=method,
                )
            self.stats.retries += 1
            if code != "ratelimited":
                await self._clock.sleep(min(2.0**attempt, 30.0))


def _resolve(message: MessageSource) -> MessageLike:
    return message() if callable(message) else message
