"""The listeners of actions: card buttons, a command's summary and Confirm, Approve / Cancel.

Stable action_ids (documented in the README): ``aom_exec.terminate``, ``aom_exec.retry``,
``aom_exec.skip`` (an overflow menu), ``aom_exec.continue``, ``aom_exec.run``,
``aom_exec.confirm``, ``aom_exec.approve``, ``aom_exec.cancel``. Every click is acknowledged
at once; what it does is decided in :mod:`aom_bot.slack.operate`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from aom_bot.action_records import ActionKind, ActionOutcome
from aom_bot.aom.models import ExecutionDetail
from aom_bot.errors import (
    ActionError,
    ActionsOff,
    ActionTaken,
    PermissionDenied,
    SlackDeliveryError,
)
from aom_bot.operations import (
    ActionTarget,
    available_actions,
    confirm_text,
    failed_node,
    paused_node,
    target_version,
    verb_of,
)
from aom_bot.profiles import Permission
from aom_bot.render import kit
from aom_bot.render.actions import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_CONFIRM,
    ACTION_CONTINUE,
    ACTION_RETRY,
    ACTION_RUN,
    ACTION_SKIP,
    ACTION_TERMINATE,
)
from aom_bot.render.kit import SlackMessage, notice_message, section
from aom_bot.render.wording import status_label
from aom_bot.slack.actions import Click, parse_click
from aom_bot.slack.approvals import decide
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.grammar import ActCommand
from aom_bot.slack.operate import Actor, Where, attempt, audit
from aom_bot.slack.replies import Replier, outcome_of

__all__ = ["ACTION_BUTTONS", "act_summary", "register_operations"]

log = logging.getLogger(__name__)

#: the buttons (and the overflow menu) that act, from a card or a summary's Confirm
ACTION_BUTTONS = (ACTION_TERMINATE, ACTION_RETRY, ACTION_SKIP, ACTION_CONTINUE, ACTION_RUN)
#: the Cancel value of a command's summary (a request's Cancel carries its target)
SUMMARY_CANCEL = "summary"

_KINDS: dict[str, ActionKind] = {
    "terminate": ActionKind.TERMINATE,
    "retry": ActionKind.RETRY,
    "skip": ActionKind.SKIP,
    "continue": ActionKind.CONTINUE,
    "run": ActionKind.RUN,
}


ClickHandler = Callable[[SlackDeps, Click, Replier], Awaitable[None]]


def register_operations(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the action listeners to ``app``."""
    handlers: dict[str, ClickHandler] = dict.fromkeys(ACTION_BUTTONS, _on_action)
    handlers[ACTION_CONFIRM] = _on_confirm
    handlers[ACTION_APPROVE] = _on_approve
    handlers[ACTION_CANCEL] = _on_cancel
    for action_id, handler in handlers.items():
        app.action(action_id)(_listener(deps, action_id, handler))


def _listener(
    deps: SlackDeps, action_id: str, handler: ClickHandler
) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await deps.ack_gate.quiet()
        click = parse_click(body)
        replier = Replier(deps, click.conversation)
        try:
            await handler(deps, click, replier)
        except Exception as exc:
            deps.metrics.action(action_id, outcome_of(exc))
            await replier.error(exc)
        else:
            deps.metrics.action(action_id, "ok")

    return listener


def _actor(click: Click) -> Actor:
    return Actor(click.user_id, click.user_name)


async def _on_action(deps: SlackDeps, click: Click, replier: Replier) -> None:
    """A card's action button (its confirm dialog was accepted in Slack)."""
    target = ActionTarget.decode(click.value)
    card_ts = None if click.is_ephemeral else click.message_ts
    await attempt(deps, target, _actor(click), Where(click.channel_id, card_ts))


async def _on_confirm(deps: SlackDeps, click: Click, replier: Replier) -> None:
    """The Confirm under a command's summary: the summary is replaced, then it is done."""
    target = ActionTarget.decode(click.value)
    try:  # best effort: the person confirmed, so the action goes ahead whatever Slack says
        await replier.privately(
            notice_message(f"Confirmed: {verb_of(target.kind)}. The channel hears how it went."),
            replace_original=True,
        )
    except SlackDeliveryError as error:
        log.info("action.summary_not_replaced slack_error=%s", error.error)
    await attempt(deps, target, _actor(click), Where(click.channel_id))


def _request_where(click: Click) -> Where:
    """Where a request's outcome is told: the thread it was posted in, under the card. A
    request posted at the top (from a command) has no card, even once it has replies."""
    card_ts = click.thread_ts if click.thread_ts != click.message_ts else None
    return Where(click.channel_id, card_ts)


async def _on_approve(deps: SlackDeps, click: Click, replier: Replier) -> None:
    target = ActionTarget.decode(click.value)
    await decide(deps, target, _actor(click), _request_where(click), approve=True)


async def _on_cancel(deps: SlackDeps, click: Click, replier: Replier) -> None:
    if click.value == SUMMARY_CANCEL:
        await replier.privately(
            notice_message("Cancelled: nothing was done."), replace_original=True
        )
        return
    target = ActionTarget.decode(click.value)
    await decide(deps, target, _actor(click), _request_where(click), approve=False)


async def act_summary(deps: SlackDeps, command: ActCommand, replier: Replier) -> None:
    """``/aom-exec terminate WF EX`` and friends: a private summary with Confirm / Cancel.

    The permission is checked (and a refusal audited) before AOM is even read."""
    if deps.ledger is None or not deps.access.actions_enabled:
        raise ActionsOff()
    conv = replier.conversation
    kind = _KINDS[command.verb]
    profile = deps.access.profile_name(conv.channel_id, command.profile)
    if command.profile is not None:  # naming a profile needs read there
        await deps.access.account(
            Permission.READ,
            channel_id=conv.channel_id,
            user_id=conv.user_id,
            explicit=command.profile,
        )
    draft = ActionTarget(
        kind, profile, command.workflow_id, command.execution_id, command.node_id, "pending"
    )
    if not await deps.access.allows(
        draft.permission, profile=profile, channel_id=conv.channel_id, user_id=conv.user_id
    ):
        await audit(
            deps,
            draft,
            Actor(conv.user_id),
            Where(conv.channel_id),
            ActionOutcome.DENIED,
            detail=f"missing permission {draft.permission.value}",
        )
        raise PermissionDenied(draft.permission.value, profile=profile, channel_id=conv.channel_id)
    account = deps.access.accounts.get(profile)
    execution = None
    if kind is not ActionKind.RUN:
        execution = await account.commands.get_execution(command.workflow_id, command.execution_id)
    if execution is not None and kind is ActionKind.TERMINATE and not _may_terminate(execution):
        raise ActionError(
            f"This run cannot be terminated now (status: {status_label(execution.status)}).",
            hint=f"`/aom-exec show {command.workflow_id} {command.execution_id}` shows it.",
        )
    node = _node_for(command, kind, execution)
    version = (
        target_version(execution, kind, node)
        if execution is not None
        else "c:" + secrets.token_hex(6)  # each typed `run` is its own intent
    )
    target = ActionTarget(kind, profile, command.workflow_id, command.execution_id, node, version)
    text = confirm_text(target, execution, await account.workflow_name(command.workflow_id))
    await replier.privately(_summary(target, text))


def _may_terminate(execution: ExecutionDetail) -> bool:
    """As the card decides: an active or waiting run, not already being cancelled."""
    return (ActionKind.TERMINATE, None) in available_actions(execution)


def _node_for(
    command: ActCommand, kind: ActionKind, execution: ExecutionDetail | None
) -> str | None:
    """The node named, else the failed (``retry``) or paused (``continue``) one."""
    if execution is None or command.node_id is not None:
        return command.node_id
    if kind not in (ActionKind.RETRY, ActionKind.CONTINUE):
        return None
    node = (failed_node(execution) if kind is ActionKind.RETRY else None) or paused_node(execution)
    if node is None:
        raise ActionTaken(
            f"This run has no {'failed' if kind is ActionKind.RETRY else 'paused'} node.",
            hint=f"Give the node: `/aom-exec {command.verb} WORKFLOW_ID EXECUTION_ID NODE_ID`.",
        )
    return node


def _summary(target: ActionTarget, text: str) -> SlackMessage:
    """What will happen, with Confirm / Cancel: nothing happens until Confirm is clicked."""
    buttons = kit.actions(
        kit.button(
            verb_of(target.kind).capitalize(),
            ACTION_CONFIRM,
            value=target.encode(),
            style="danger" if target.kind is ActionKind.TERMINATE else "primary",
        ),
        kit.button("Cancel", ACTION_CANCEL, value=SUMMARY_CANCEL),
    )
    return SlackMessage(
        text=text, blocks=[section(text + "\nNothing happens until you confirm."), buttons]
    )
