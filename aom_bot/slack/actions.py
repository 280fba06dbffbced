"""The buttons on the bot's messages: Refresh, Follow, Stop following, All failed hosts, Show.

Every click is acknowledged first (Slack shows a warning icon otherwise), then handled from a
fresh AOM read. Button values carry only IDs, validated again before use: a click is as
untrusted as a typed command. Cards in the channel are edited with ``chat.update``; cards
that were ephemeral are replaced through the click's ``response_url``.

::

    register_actions(app, deps)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.ids import validate_id
from aom_bot.errors import AomBotError, InvalidIdError
from aom_bot.profiles import Permission
from aom_bot.records import FollowRequest
from aom_bot.render.actions import (
    ACTION_CONSOLE,
    ACTION_FOLLOW,
    ACTION_REFRESH,
    ACTION_REPORT,
    ACTION_SHOW,
    ACTION_STOP_FOLLOW,
    ACTION_UNFOLLOW,
    ACTION_UNSUBSCRIBE,
    decode_profile,
    decode_ref,
)
from aom_bot.render.escape import inline_code
from aom_bot.render.kit import SlackMessage
from aom_bot.slack.cards import card, report
from aom_bot.slack.commands import SUBSCRIPTIONS_DISABLED, check_follow_limits, notice_message
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.grammar import ExecutionRef
from aom_bot.slack.home import home_notice, publish_home
from aom_bot.slack.once import show_in_channel
from aom_bot.slack.replies import Conversation, Replier, outcome_of

__all__ = ["Click", "parse_click", "register_actions"]

log = logging.getLogger(__name__)


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")


@dataclass(frozen=True, slots=True)
class Click:
    """One button click, reduced to what the handlers use."""

    action_id: str
    value: str
    channel_id: str
    user_id: str
    message_ts: str | None
    is_ephemeral: bool
    response_url: str | None
    #: pressed on the App Home tab: no channel, no response_url; the tab is re-published
    in_home: bool = False
    #: the thread the clicked message is a reply in (a two-person request under its card)
    thread_ts: str | None = None
    #: the clicker's Slack user name, for the audit log
    user_name: str = ""

    @property
    def conversation(self) -> Conversation:
        return Conversation(self.channel_id, self.user_id, self.response_url)

    def ref(self) -> ExecutionRef:
        """The execution the button is about; InvalidIdError for a forged or broken value."""
        try:
            workflow_id, execution_id = decode_ref(self.value)
        except ValueError:
            raise InvalidIdError("button value", self.value) from None
        return ExecutionRef(
            validate_id("workflow ID", workflow_id), validate_id("execution ID", execution_id)
        )

    def profile(self) -> str:
        """The AOM profile the button's execution belongs to (checked by the caller against
        the configuration: a forged name is an unknown profile)."""
        try:
            return decode_profile(self.value)
        except ValueError:
            raise InvalidIdError("button value", self.value) from None

    async def account(self, deps: SlackDeps, permission: Permission) -> AomAccount:
        """The execution's profile, once the clicker's ``permission`` is checked there: a click
        can come from anyone who can see the message."""
        return await deps.access.require(
            permission, profile=self.profile(), channel_id=self.channel_id, user_id=self.user_id
        )


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_click(body: dict[str, Any]) -> Click:
    """The first action of a ``block_actions`` body (Slack sends one per click)."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else {}
    action = action if isinstance(action, dict) else {}
    container = body.get("container")
    container = container if isinstance(container, dict) else {}
    channel = body.get("channel")
    channel = channel if isinstance(channel, dict) else {}
    user = body.get("user")
    user = user if isinstance(user, dict) else {}
    view = body.get("view")
    view = view if isinstance(view, dict) else {}
    in_home = container.get("type") == "view" and view.get("type") == "home"
    message = body.get("message")
    message = message if isinstance(message, dict) else {}
    option = action.get("selected_option")  # an overflow menu's choice
    option = option if isinstance(option, dict) else {}
    return Click(
        action_id=_str(action.get("action_id")),
        value=_str(action.get("value")) or _str(option.get("value")),
        channel_id=_str(container.get("channel_id")) or _str(channel.get("id")),
        user_id=_str(user.get("id")),
        message_ts=_str(container.get("message_ts")) or None,
        is_ephemeral=bool(container.get("is_ephemeral")),
        response_url=_str(body.get("response_url")) or None,
        in_home=in_home,
        thread_ts=_str(message.get("thread_ts")) or None,
        user_name=(_str(user.get("username")) or _str(user.get("name")))[:80],
    )


Handler = Callable[[SlackDeps, Click, Replier], Awaitable[None]]


def register_actions(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach every button listener to ``app``."""
    handlers: dict[str, Handler] = {
        ACTION_REFRESH: _refresh,
        ACTION_FOLLOW: _follow,
        ACTION_UNFOLLOW: _unfollow,
        ACTION_STOP_FOLLOW: _stop_follow,
        ACTION_REPORT: _report,
        ACTION_SHOW: _show,
        ACTION_UNSUBSCRIBE: _unsubscribe,
    }
    for action_id, handler in handlers.items():
        app.action(action_id)(_listener(deps, action_id, handler))

    async def on_console(ack: AsyncAck) -> None:
        # A url button opens the link in the browser; Slack still wants the click acked.
        await ack()
        deps.metrics.action(ACTION_CONSOLE, "ok")

    app.action(ACTION_CONSOLE)(on_console)


def _listener(
    deps: SlackDeps, action_id: str, handler: Handler
) -> Callable[[AsyncAck, dict[str, Any], AsyncWebClient], Awaitable[None]]:
    async def listener(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await deps.ack_gate.quiet()  # other requests' acks go first
        click = parse_click(body)
        if click.in_home:
            await _home_click(deps, client, click, action_id)
            return
        replier = Replier(deps, click.conversation)
        try:
            await handler(deps, click, replier)
        except Exception as exc:
            # Counted before the reply, so the reply is the last thing that happens.
            deps.metrics.action(action_id, outcome_of(exc))
            await replier.error(exc)
        else:
            deps.metrics.action(action_id, "ok")

    return listener


async def _home_click(
    deps: SlackDeps, client: AsyncWebClient, click: Click, action_id: str
) -> None:
    """A Stop button on the Home tab: act, then re-publish the tab with what happened on top."""
    try:
        if action_id == ACTION_STOP_FOLLOW and deps.home is not None:
            done = await deps.home.handle_stop_follow_button(
                click.value, channel_id=click.channel_id, user_id=click.user_id
            )
        elif action_id == ACTION_UNSUBSCRIBE and deps.subscriptions is not None:
            done = await deps.subscriptions.handle_unsubscribe_button(
                click.value, channel_id=click.channel_id, user_id=click.user_id
            )
        else:
            raise InvalidIdError("button", action_id)
    except Exception as exc:
        deps.metrics.action(action_id, outcome_of(exc))
        if not isinstance(exc, AomBotError):
            log.error("slack.home_click.failed kind=%s", type(exc).__name__, exc_info=exc)
        notice = home_notice(exc)
    else:
        deps.metrics.action(action_id, "ok")
        notice = done.text
    await publish_home(deps, client, click.user_id, notice=notice)


async def _show_card(deps: SlackDeps, click: Click, message: SlackMessage) -> None:
    """Put the re-rendered card where the clicked one is."""
    if click.is_ephemeral or click.message_ts is None:
        await Replier(deps, click.conversation).privately(message, replace_original=True)
    else:
        await deps.notifier.update(click.channel_id, click.message_ts, message)


def _label(ref: ExecutionRef) -> str:
    return f"{inline_code(ref.workflow_id)} / {inline_code(ref.execution_id)}"


async def _refresh(deps: SlackDeps, click: Click, replier: Replier) -> None:
    ref = click.ref()
    account = await click.account(deps, Permission.READ)
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    following = await deps.follow.is_following(click.channel_id, ref.workflow_id, ref.execution_id)
    await _show_card(
        deps,
        click,
        await card(deps, account, execution, following=following, channel_id=click.channel_id),
    )


async def _follow(deps: SlackDeps, click: Click, replier: Replier) -> None:
    """The engine adopts the clicked card and updates it to its "following" state."""
    ref = click.ref()
    account = await click.account(deps, Permission.FOLLOW)
    if click.is_ephemeral or click.message_ts is None:
        await replier.privately(
            notice_message(
                "Only a card in the channel can be kept current: run "
                f"`/aom-exec follow {ref.workflow_id} {ref.execution_id}` there."
            )
        )
        return
    await check_follow_limits(
        deps, click.channel_id, click.user_id, ref.workflow_id, ref.execution_id
    )
    result = await deps.follow.follow(
        FollowRequest(
            workflow_id=ref.workflow_id,
            execution_id=ref.execution_id,
            channel_id=click.channel_id,
            user_id=click.user_id,
            message_ts=click.message_ts,
            profile=account.name,
        )
    )
    if not result.created and result.message_ts != click.message_ts:
        await replier.privately(
            notice_message(
                f"Execution {_label(ref)} is already followed in this channel, on another card."
            )
        )


async def _unfollow(deps: SlackDeps, click: Click, replier: Replier) -> None:
    """The engine updates its card; a card that was not followed is refreshed here instead."""
    ref = click.ref()
    account = await click.account(deps, Permission.FOLLOW)
    stopped = await deps.follow.unfollow(
        workflow_id=ref.workflow_id,
        execution_id=ref.execution_id,
        channel_id=click.channel_id,
        user_id=click.user_id,
    )
    if stopped:
        return
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    notice = "This execution was not being followed here."
    message = await card(
        deps, account, execution, following=False, notice=notice, channel_id=click.channel_id
    )
    await _show_card(deps, click, message)


async def _stop_follow(deps: SlackDeps, click: Click, replier: Replier) -> None:
    """Stop following from a list (not the card itself): confirm to the user only."""
    ref = click.ref()
    await click.account(deps, Permission.FOLLOW)
    stopped = await deps.follow.unfollow(
        workflow_id=ref.workflow_id,
        execution_id=ref.execution_id,
        channel_id=click.channel_id,
        user_id=click.user_id,
    )
    text = (
        f"Stopped following execution {_label(ref)} in this channel."
        if stopped
        else f"Execution {_label(ref)} is not followed in this channel."
    )
    await replier.privately(notice_message(text))


async def _report(deps: SlackDeps, click: Click, replier: Replier) -> None:
    ref = click.ref()
    account = await click.account(deps, Permission.READ)
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    full = await report(deps, account, execution)
    thread_ts = None if click.is_ephemeral else click.message_ts
    await deps.notifier.upload_report(
        click.channel_id,
        thread_ts=thread_ts,
        filename=full.filename,
        content=full.content,
        title=full.title,
        initial_comment=f"All hosts of execution {_label(ref)}{_asked_by(click.user_id)}.",
    )


def _asked_by(user_id: str) -> str:
    return f", as asked by <@{user_id}>" if _USER_ID.fullmatch(user_id) else ""


async def _show(deps: SlackDeps, click: Click, replier: Replier) -> None:
    ref = click.ref()
    account = await click.account(deps, Permission.READ)
    if not click.is_ephemeral:
        await show_in_channel(deps, account, ref, replier)  # one card per execution per channel
        return
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    following = await deps.follow.is_following(click.channel_id, ref.workflow_id, ref.execution_id)
    await replier.privately(
        await card(deps, account, execution, following=following, channel_id=click.channel_id)
    )


async def _unsubscribe(deps: SlackDeps, click: Click, replier: Replier) -> None:
    if deps.subscriptions is None:
        await replier.privately(notice_message(SUBSCRIPTIONS_DISABLED))
        return
    message = await deps.subscriptions.handle_unsubscribe_button(
        click.value, channel_id=click.channel_id, user_id=click.user_id
    )
    await replier.privately(message)
