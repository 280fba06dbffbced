"""The ``/aom-exec`` slash command: acknowledge at once, then fetch from AOM and answer.

Everything that needs no I/O (usage errors, help, disabled features) is answered inside the
acknowledgement itself. Everything else acks empty first, well inside Slack's 3 seconds, and
answers afterwards: the card in the channel, errors to the caller alone.

::

    register_commands(app, deps)   # app.command("/aom-exec")
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.models import Workflow
from aom_bot.errors import (
    SlackChannelUnreachable,
    SlackNotInChannel,
)
from aom_bot.profiles import Permission
from aom_bot.records import FollowRequest
from aom_bot.render.escape import inline_code
from aom_bot.render.kit import SlackMessage, notice_message
from aom_bot.render.lists import executions_message, workflows_message
from aom_bot.slack.cards import card, card_link
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.grammar import (
    ActCommand,
    Command,
    CommandSyntaxError,
    FollowCommand,
    HelpCommand,
    ListCommand,
    ShowCommand,
    SubscriptionCommand,
    UnfollowCommand,
    WorkflowsCommand,
    parse_command,
)
from aom_bot.slack.help import help_message, usage_error_message
from aom_bot.slack.once import show_in_channel
from aom_bot.slack.replies import Conversation, Replier, outcome_of, with_invite

__all__ = [
    "COMMAND",
    "SUBSCRIPTIONS_DISABLED",
    "check_follow_limits",
    "handle_command",
    "notice_message",
    "register_commands",
]

COMMAND = "/aom-exec"
SUBSCRIPTIONS_DISABLED = "Subscriptions are not enabled on this bot."
#: how many workflows one ``workflows`` answer reads from AOM at most
WORKFLOWS_READ_LIMIT = 100


def register_commands(app: AsyncApp, deps: SlackDeps, *, command: str = COMMAND) -> None:
    """Attach the slash command listener to ``app``."""

    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await handle_command(deps, ack, body)

    app.command(command)(on_command)


def _name(command: Command) -> str:
    if isinstance(command, SubscriptionCommand | ActCommand):
        return command.verb
    return {
        ShowCommand: "show",
        FollowCommand: "follow",
        UnfollowCommand: "unfollow",
        ListCommand: "list",
        WorkflowsCommand: "workflows",
        HelpCommand: "help",
    }[type(command)]


async def _ack_ephemeral(ack: AsyncAck, message: SlackMessage) -> None:
    await ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


async def handle_command(deps: SlackDeps, ack: AsyncAck, body: dict[str, Any]) -> None:
    """Parse, acknowledge, then run one slash command (never raises into Bolt)."""
    try:
        command = parse_command(str(body.get("text") or ""))
    except CommandSyntaxError as exc:
        deps.metrics.command("invalid", "usage_error")
        await _ack_ephemeral(ack, usage_error_message(exc.user_message()))
        return
    name = _name(command)
    if isinstance(command, HelpCommand):
        deps.metrics.command(name, "ok")
        await _ack_ephemeral(ack, help_message())
        return
    if isinstance(command, SubscriptionCommand) and deps.subscriptions is None:
        deps.metrics.command(name, "disabled")
        await _ack_ephemeral(ack, notice_message(SUBSCRIPTIONS_DISABLED))
        return
    if isinstance(command, FollowCommand) and command.private:
        deps.metrics.command(name, "usage_error")
        await _ack_ephemeral(
            ack,
            usage_error_message(
                "`follow` keeps a card in the channel current, so it cannot be `--private`."
            ),
        )
        return
    await ack()
    await deps.ack_gate.quiet()  # other commands' acks go first
    replier = Replier(
        deps,
        Conversation(
            channel_id=str(body.get("channel_id") or ""),
            user_id=str(body.get("user_id") or ""),
            response_url=body.get("response_url") or None,
        ),
    )
    try:
        await _run(deps, command, replier)
    except Exception as exc:
        # Counted before the reply, so the reply is the last thing that happens.
        deps.metrics.command(name, outcome_of(exc))
        await replier.error(exc)
    else:
        deps.metrics.command(name, "ok")


def _permission(command: Command) -> Permission:
    """What the policy must allow for ``command`` in its profile and channel (an action's
    own permission is checked by its summary, so the refusal is audited)."""
    if isinstance(command, FollowCommand | UnfollowCommand):
        return Permission.FOLLOW
    if isinstance(command, SubscriptionCommand) and command.verb != "subscriptions":
        return Permission.SUBSCRIBE
    return Permission.READ


async def _run(deps: SlackDeps, command: Command, replier: Replier) -> None:
    conv = replier.conversation
    if isinstance(command, ActCommand):
        from aom_bot.slack.operate_listeners import act_summary

        await act_summary(deps, command, replier)
        return
    account = await deps.access.account(
        _permission(command),
        channel_id=conv.channel_id,
        user_id=conv.user_id,
        explicit=command.profile,
    )
    if isinstance(command, ShowCommand):
        await _show(deps, account, command, replier)
    elif isinstance(command, FollowCommand):
        await _follow(deps, account, command, replier)
    elif isinstance(command, UnfollowCommand):
        await _unfollow(deps, command, replier)
    elif isinstance(command, ListCommand):
        executions = await account.commands.list_executions(command.workflow_id)
        message = executions_message(
            command.workflow_id,
            executions,
            limit=command.limit,
            now=deps.clock.now(),
            scrubber=deps.scrubber,
        )
        await _answer(replier, message, private=command.private)
    elif isinstance(command, WorkflowsCommand):
        workflows = await _find_workflows(account, command.filter_text)
        message = workflows_message(
            workflows,
            filter_text=command.filter_text or "",
            now=deps.clock.now(),
            scrubber=deps.scrubber,
        )
        await _answer(replier, message, private=command.private)
    elif isinstance(command, SubscriptionCommand):
        assert deps.subscriptions is not None  # answered in the ack otherwise
        message = await deps.subscriptions.handle_command(
            command, account, channel_id=conv.channel_id, user_id=conv.user_id
        )
        # the list is a control panel (Stop buttons, mentions): for the caller's eyes only
        private = command.private or command.verb == "subscriptions"
        await _answer(replier, message, private=private)


async def _find_workflows(account: AomAccount, filter_text: str | None) -> list[Workflow]:
    """AOM searches names and descriptions; a filter that is a workflow ID finds nothing
    there, so the recent workflows are read and the ID matched locally."""
    workflows = await account.commands.list_workflows(filter_text, limit=WORKFLOWS_READ_LIMIT)
    if filter_text and not workflows:
        workflows = await account.commands.list_workflows(None, limit=WORKFLOWS_READ_LIMIT)
    return workflows


async def _answer(replier: Replier, message: SlackMessage, *, private: bool) -> None:
    if private:
        await replier.privately(message)
    else:
        await replier.to_channel(message)


async def _show(
    deps: SlackDeps, account: AomAccount, command: ShowCommand, replier: Replier
) -> None:
    ref = command.ref
    if not command.private:
        await show_in_channel(deps, account, ref, replier)  # one card per execution per channel
        return
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    following = await deps.follow.is_following(
        replier.conversation.channel_id, ref.workflow_id, ref.execution_id
    )
    await replier.privately(
        await card(
            deps,
            account,
            execution,
            following=following,
            channel_id=replier.conversation.channel_id,
        )
    )


async def _follow(
    deps: SlackDeps, account: AomAccount, command: FollowCommand, replier: Replier
) -> None:
    """The follow engine posts the card and keeps it current; where it cannot post, the card
    goes through response_url once, with the invite line."""
    ref = command.ref
    conv = replier.conversation
    await check_follow_limits(
        deps, conv.channel_id, conv.user_id, ref.workflow_id, ref.execution_id
    )
    try:
        result = await deps.follow.follow(
            FollowRequest(
                workflow_id=ref.workflow_id,
                execution_id=ref.execution_id,
                channel_id=conv.channel_id,
                user_id=conv.user_id,
                profile=account.name,
            )
        )
    except (SlackNotInChannel, SlackChannelUnreachable):
        execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
        notice = "I can't keep this card current: I'm not in this conversation."
        message = await card(
            deps,
            account,
            execution,
            following=False,
            notice=notice,
            channel_id=replier.conversation.channel_id,
        )
        await replier.respond(
            with_invite(deps, message),
            response_type="in_channel",
        )
        return
    if not result.created:
        shown = f"{inline_code(ref.workflow_id)} / {inline_code(ref.execution_id)}"
        link = await card_link(deps, conv.channel_id, result.message_ts)
        state = "has already finished" if result.finished else "is already followed in this channel"
        await replier.privately(notice_message(f"Execution {shown} {state}: here is {link}."))


async def check_follow_limits(
    deps: SlackDeps, channel_id: str, user_id: str, workflow_id: str, execution_id: str
) -> None:
    """Refuse a follow over the limits (FollowLimitReached); asking again for one already
    followed here starts nothing, so it is never refused."""
    if deps.follow_limits is None:
        return
    if await deps.follow.is_following(channel_id, workflow_id, execution_id):
        return
    await deps.follow_limits.check(user_id)


async def _unfollow(deps: SlackDeps, command: UnfollowCommand, replier: Replier) -> None:
    ref = command.ref
    conv = replier.conversation
    stopped = await deps.follow.unfollow(
        workflow_id=ref.workflow_id,
        execution_id=ref.execution_id,
        channel_id=conv.channel_id,
        user_id=conv.user_id,
    )
    shown = f"{inline_code(ref.workflow_id)} / {inline_code(ref.execution_id)}"
    text = (
        f"Stopped following execution {shown} in this channel."
        if stopped
        else f"Execution {shown} is not followed in this channel."
    )
    await replier.privately(notice_message(text))
