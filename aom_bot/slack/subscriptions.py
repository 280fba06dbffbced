"""``subscribe`` / ``unsubscribe`` / ``subscriptions``, their Stop buttons, and the Home tab.

Subscribing checks the workflow against AOM and records what already exists as history (a
post claim per existing execution for the channel, and *seen* when the workflow had no
subscriber yet) before the subscription itself, so discovery never posts old runs. Button values
are untrusted: they are validated, and a click that names another channel (the Home tab's) is
only honoured for someone in that channel or who started the thing.

::

    service = SubscriptionService(aom=aom, store=store, follow=engine, clock=SystemClock(),
                                  directory=SlackChannelDirectory(web_client))
    deps = SlackDeps(..., subscriptions=service, home=service)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.ids import validate_id
from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import AomNotFoundError, InvalidIdError, SubscriptionError
from aom_bot.profiles import Permission
from aom_bot.render.escape import escape_mrkdwn, inline_code
from aom_bot.render.kit import SlackMessage, notice_message
from aom_bot.render.limits import clip_rendered
from aom_bot.render.scrub import Scrubber
from aom_bot.render.subscriptions import (
    decode_follow_ref,
    decode_subscription_ref,
    home_view,
    subscriptions_message,
)
from aom_bot.slack.access import Access
from aom_bot.slack.grammar import (
    SubscriptionCommand,
    parse_subscribe_args,
    parse_workflow_arg,
)
from aom_bot.slack.help import USAGE
from aom_bot.store.base import NewSubscription, Store

__all__ = [
    "ChannelDirectory",
    "SlackChannelDirectory",
    "SubscriptionError",
    "SubscriptionService",
]

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,30}")
#: workflows read to find a name when no name lookup is given
_WORKFLOWS_LIMIT = 1000


class FollowStopper(Protocol):
    """The follow engine's ``unfollow``."""

    async def unfollow(
        self, *, workflow_id: str, execution_id: str, channel_id: str, user_id: str
    ) -> bool: ...


class ChannelDirectory(Protocol):
    """Which channels a user is in (for the Home tab and its buttons)."""

    async def channels_of(self, user_id: str) -> set[str] | None:
        """The user's channels, or ``None`` when Slack cannot say right now."""
        ...


class SlackChannelDirectory:
    """``users.conversations`` for a user (scopes ``channels:read`` and ``groups:read``)."""

    def __init__(self, client: AsyncWebClient, *, max_pages: int = 10) -> None:
        self._client = client
        self._max_pages = max_pages

    async def channels_of(self, user_id: str) -> set[str] | None:
        found: set[str] = set()
        cursor: str | None = None
        try:
            for _ in range(self._max_pages):
                response = await self._client.users_conversations(
                    user=user_id,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=200,
                    cursor=cursor,
                )
                for channel in response.get("channels") or []:
                    if isinstance(channel, dict) and isinstance(channel.get("id"), str):
                        found.add(channel["id"])
                meta = response.get("response_metadata") or {}
                cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
                if not cursor:
                    break
        except SlackApiError as error:
            log.warning("slack.channels_of.failed error=%s", error.response.get("error"))
            return None
        except (SlackClientError, OSError) as error:
            log.warning("slack.channels_of.failed kind=%s", type(error).__name__)
            return None
        return found


class SubscriptionService:
    """Answers the subscription commands and buttons, and renders the Home tab."""

    def __init__(
        self,
        *,
        access: Access,
        store: Store,
        follow: FollowStopper,
        clock: Clock,
        directory: ChannelDirectory | None = None,
        scrubber: Scrubber | None = None,
    ) -> None:
        self._access = access
        self._store = store
        self._follow = follow
        self._clock = clock
        self._directory = directory
        self._scrubber = scrubber or Scrubber()

    # -- commands ----------------------------------------------------------------------------

    async def handle_command(
        self, command: SubscriptionCommand, account: AomAccount, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        """``subscribe`` / ``unsubscribe`` / ``subscriptions`` in ``channel_id``, for the
        profile ``account`` (the caller has checked the permission there)."""
        if command.verb == "subscribe":
            return await self._subscribe(command.args, account, channel_id, user_id)
        if command.verb == "unsubscribe":
            workflow_id = parse_workflow_arg(command.args, "unsubscribe")
            existing = await self._store.get_subscription(channel_id, workflow_id)
            if existing is not None and existing.profile != account.name:
                # the subscription's own profile decides, not the channel's current binding
                await self._access.require(Permission.SUBSCRIBE, profile=existing.profile,
                                           channel_id=channel_id, user_id=user_id)  # fmt: skip
            return await self._unsubscribe(channel_id, workflow_id, user_id)
        if command.args:
            raise SubscriptionError("`subscriptions` takes no arguments.")
        return await self.channel_list(channel_id, user_id)

    async def channel_list(self, channel_id: str, user_id: str) -> SlackMessage:
        """The channel's subscriptions and active follows, each with a Stop button."""
        subs = await self._store.subscriptions_for_channel(channel_id)
        follows = [
            f
            for f in await self._store.follows_for_home(user_id, [channel_id])
            if f.channel_id == channel_id
        ]
        return subscriptions_message(subs, follows, now=self._clock.now(), scrubber=self._scrubber)

    async def _subscribe(
        self, args: tuple[str, ...], account: AomAccount, channel_id: str, user_id: str
    ) -> SlackMessage:
        options = parse_subscribe_args(args)
        workflow_id = options.workflow_id
        try:
            executions = await account.commands.list_executions(workflow_id)
        except AomNotFoundError:
            raise self._unknown(workflow_id) from None
        name = await self._name_of(account, workflow_id)
        if name is None and not executions:
            raise self._unknown(workflow_id)
        existing = await self._store.get_subscription(channel_id, workflow_id)
        if existing is None:
            await self._record_history(channel_id, workflow_id, executions)
        subscription, created = await self._store.subscribe(
            NewSubscription(
                channel_id=channel_id,
                workflow_id=workflow_id,
                workflow_name=name or "",
                failures_only=options.failures_only,
                mention=options.mention,
                created_by=user_id,
                created_at=self._clock.now(),
                profile=account.name,
            )
        )
        log.info(
            "subscriptions.subscribed channel=%s workflow=%s failures_only=%s created=%s",
            channel_id,
            workflow_id,
            options.failures_only,
            created,
        )
        label = self._label(subscription.workflow_name, workflow_id)
        head = "Subscribed" if created else "Updated the subscription"
        if options.failures_only:
            text = (
                f"{head}: this channel gets a card for each run of {label} that fails, as soon "
                "as its first host fails; runs that succeed stay silent."
            )
        else:
            text = f"{head}: this channel gets a card for each new run of {label}, kept current."
        if options.mention:
            text += (
                f" {options.mention} is mentioned when a failing run is posted and when it ends."
            )
        text += " Runs that already exist are not posted."
        return notice_message(text)

    async def _record_history(
        self, channel_id: str, workflow_id: str, executions: Iterable[ExecutionDetail]
    ) -> None:
        """What exists now is history for this channel: claimed, so discovery never posts it."""
        now = self._clock.now()
        ids = [e.execution_id for e in executions if e.execution_id]
        for execution_id in ids:
            await self._store.claim_post(channel_id, workflow_id, execution_id, now)
        if ids and not await self._store.subscriptions_for_workflow(workflow_id):
            # no one else is waiting on these runs: discovery need not look at them again
            await self._store.mark_seen(workflow_id, ids, now)

    async def _unsubscribe(self, channel_id: str, workflow_id: str, user_id: str) -> SlackMessage:
        removed = await self._store.unsubscribe(channel_id, workflow_id)
        shown = inline_code(workflow_id)
        where = f"<#{channel_id}>"
        if not removed:
            return notice_message(f"{where} is not subscribed to workflow {shown}.")
        log.info("subscriptions.unsubscribed channel=%s workflow=%s", channel_id, workflow_id)
        return notice_message(
            f"Unsubscribed {where} from workflow {shown}: no more cards for its new runs. Cards "
            "already posted stay current until their runs end (`/aom-exec subscriptions` stops "
            "them)."
        )

    # -- buttons -----------------------------------------------------------------------------

    async def handle_unsubscribe_button(
        self, value: str, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        """An Unsubscribe button, from a channel's list or the Home tab."""
        try:
            target, workflow_id = decode_subscription_ref(value)
        except ValueError:
            raise InvalidIdError("button value", value) from None
        target = _valid_channel(target, value)
        workflow_id = validate_id("workflow ID", workflow_id)
        subscription = await self._store.get_subscription(target, workflow_id)
        creator = subscription.created_by if subscription else None
        await self._authorize(user_id, target, clicked_in=channel_id, owner=creator)
        if subscription is not None:
            await self._access.require(Permission.SUBSCRIBE, profile=subscription.profile,
                                       channel_id=target, user_id=user_id)  # fmt: skip
        return await self._unsubscribe(target, workflow_id, user_id)

    async def handle_stop_follow_button(
        self, value: str, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        """A Stop button of a followed execution, from a channel's list or the Home tab."""
        try:
            target, workflow_id, execution_id = decode_follow_ref(value)
        except ValueError:
            raise InvalidIdError("button value", value) from None
        target = _valid_channel(target or channel_id, value)
        workflow_id = validate_id("workflow ID", workflow_id)
        execution_id = validate_id("execution ID", execution_id)
        follow = await self._store.find_active_follow(target, workflow_id, execution_id)
        starter = follow.started_by if follow else None
        await self._authorize(user_id, target, clicked_in=channel_id, owner=starter)
        if follow is not None:
            await self._access.require(Permission.FOLLOW, profile=follow.profile,
                                       channel_id=target, user_id=user_id)  # fmt: skip
        stopped = await self._follow.unfollow(
            workflow_id=workflow_id, execution_id=execution_id, channel_id=target, user_id=user_id
        )
        shown = f"{inline_code(workflow_id)} / {inline_code(execution_id)}"
        if stopped:
            return notice_message(f"Stopped following execution {shown}.")
        return notice_message(f"Execution {shown} was no longer being followed.")

    # -- the Home tab ------------------------------------------------------------------------

    async def home_view(self, user_id: str, *, notice: str | None = None) -> dict[str, Any]:
        """What the user started, and what lives in their channels."""
        channels = await self._channels_of(user_id)
        known = channels is not None
        subs = await self._store.subscriptions_for_home(user_id, channels or ())
        follows = await self._store.follows_for_home(user_id, channels or ())
        return home_view(
            subs,
            follows,
            now=self._clock.now(),
            usage=USAGE,
            scrubber=self._scrubber,
            notice=notice,
            channels_known=known,
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _channels_of(self, user_id: str) -> set[str] | None:
        if self._directory is None:
            return None
        return await self._directory.channels_of(user_id)

    async def _authorize(
        self, user_id: str, channel_id: str, *, clicked_in: str, owner: str | None
    ) -> None:
        """A click acts on its own channel, on what the user started, or on their channels."""
        if channel_id == clicked_in or (owner and owner == user_id):
            return
        channels = await self._channels_of(user_id)
        if channels is not None and channel_id in channels:
            return
        raise SubscriptionError(
            "You can only stop follows and subscriptions of channels you are in.",
            hint="Ask someone in that channel, or run `/aom-exec subscriptions` there.",
        )

    async def _name_of(self, account: AomAccount, workflow_id: str) -> str | None:
        if account.workflow_names is not None:
            return await account.workflow_names(workflow_id)
        for workflow in await account.commands.list_workflows(None, limit=_WORKFLOWS_LIMIT):
            if workflow.id == workflow_id:
                return workflow.name or None
        return None

    def _label(self, name: str, workflow_id: str) -> str:
        if not name:
            return f"workflow {inline_code(workflow_id)}"
        safe = clip_rendered(self._scrubber.scrub(name), 120, escape_mrkdwn)
        return f"*{safe}* ({inline_code(workflow_id)})"

    @staticmethod
    def _unknown(workflow_id: str) -> SubscriptionError:
        return SubscriptionError(
            f"AOM has no workflow {workflow_id!r} in this project, so there is nothing to "
            "subscribe to. Nothing was changed.",
            hint="`/aom-exec workflows` lists the workflows with their IDs.",
        )


def _valid_channel(channel_id: str, value: str) -> str:
    if not _CHANNEL_ID.fullmatch(channel_id):
        raise InvalidIdError("button value", value)
    return channel_id
