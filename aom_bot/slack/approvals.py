"""The two-person rule: the first click asks, a different permitted person approves.

``[profiles.prod] two_person = ["terminate", "run"]`` makes those actions a request: the bot
posts "<@A> asks to terminate … — needs a second person" with Approve / Cancel. Only a
*different* user whom the policy permits the same action can approve; the store decides one
winner atomically, so two approvals (or an approval racing a cancel) act once. A request
expires after :data:`APPROVAL_TTL`; the sweep (:func:`sweep`) also calls in-flight actions
whose process died ``unknown``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from aom_bot.action_records import (
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ApprovalReason,
    ApprovalRequest,
    ApprovalState,
)
from aom_bot.aom.accounts import AomAccount
from aom_bot.errors import (
    ActionsOff,
    ActionTaken,
    AomBotError,
    PermissionDenied,
    SlackDeliveryError,
    StoreError,
)
from aom_bot.operations import MAX_REQUESTS, ActionTarget, confirm_text, verb_of
from aom_bot.render import kit
from aom_bot.render.actions import ACTION_APPROVE, ACTION_CANCEL
from aom_bot.render.kit import SlackMessage, notice_message, section
from aom_bot.render.wording import slack_time
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.operate import (
    UNKNOWN_AFTER,
    Actor,
    Where,
    audit,
    perform,
    who_asked,
)
from aom_bot.store.action_base import ActionStore

__all__ = ["APPROVAL_TTL", "decide", "request_approval", "sweep"]

log = logging.getLogger(__name__)

#: how long a two-person request waits for its second person
APPROVAL_TTL = timedelta(minutes=10)


async def request_approval(
    deps: SlackDeps, account: AomAccount, target: ActionTarget, actor: Actor, where: Where
) -> None:
    """Open the request (once) and post it with Approve / Cancel."""
    ledger = deps.ledger
    if ledger is None:
        raise ActionsOff()
    now = deps.clock.now()
    asked, request = await _open(ledger, target, actor, where, now)
    verb = verb_of(target.kind)
    name = await account.workflow_name(target.workflow_id)
    what = confirm_text(target, None, name).rstrip("?")
    text = (
        f"✋ <@{actor.user_id}> asks to {verb}: {what} — needs a second person "
        f"(expires {slack_time(request.expires_at, now)})."
    )
    value = asked.encode()
    buttons = kit.actions(
        kit.button("Approve", ACTION_APPROVE, value=value, style="primary"),
        kit.button("Cancel", ACTION_CANCEL, value=value),
    )
    message = SlackMessage(text=text, blocks=[section(text), buttons])
    try:
        ts = await deps.notifier.post(where.channel_id, message, thread_ts=where.card_ts)
    except SlackDeliveryError:
        # nobody can see an Approve button: withdraw the request, so it may be asked again
        await ledger.decide_approval(
            asked.approval_key, approver=actor.user_id, now=now, approve=False
        )
        raise
    await ledger.set_approval_message(asked.approval_key, ts)
    await audit(deps, target, actor, where, ActionOutcome.REQUESTED, detail="needs a second person")


async def _open(
    ledger: ActionStore, target: ActionTarget, actor: Actor, where: Where, now: datetime
) -> tuple[ActionTarget, ApprovalRequest]:
    """Open the first request about ``target`` not yet used: once one expired or was
    cancelled, the action may be asked for again (under the next number)."""
    verb = verb_of(target.kind)
    for number in range(1, MAX_REQUESTS + 1):
        asked = replace(target, request=number)
        request, opened = await ledger.open_approval(
            asked.approval_key,
            kind=target.kind,
            profile=target.profile,
            workflow_id=target.workflow_id,
            execution_id=target.execution_id or None,
            node_id=target.node_id,
            requested_by=actor.user_id,
            user_name=actor.user_name[:80],
            channel_id=where.channel_id,
            expires_at=now + APPROVAL_TTL,
            now=now,
        )
        if opened:
            return asked, request
        if request.state is ApprovalState.REQUESTED and request.expires_at > now:
            who = who_asked(request.requested_by, request.user_name, actor)
            raise ActionTaken(
                f"This {verb} was already asked for (by {who}); it waits for a second person."
            )
        if request.state is ApprovalState.APPROVED:
            raise ActionTaken(f"This request to {verb} was already approved.")
    raise ActionTaken(f"This {verb} was asked for {MAX_REQUESTS} times; ask in the channel.")


async def decide(
    deps: SlackDeps, target: ActionTarget, actor: Actor, where: Where, *, approve: bool
) -> None:
    """Approve or cancel a request; an approval by a different permitted person performs it."""
    ledger = deps.ledger
    if ledger is None or not deps.access.actions_enabled:
        raise ActionsOff()
    request = await ledger.get_approval(target.approval_key)
    if request is None:
        raise ActionTaken("There is no such request (it may be from another bot).")
    where = Where(request.channel_id, where.card_ts)
    await _check_decider(deps, target, actor, where, request, approve=approve)
    decision = await ledger.decide_approval(
        target.approval_key, approver=actor.user_id, now=deps.clock.now(), approve=approve
    )
    await _apply(deps, target, actor, where, decision.reason, decision.request or request)


async def _check_decider(
    deps: SlackDeps,
    target: ActionTarget,
    actor: Actor,
    where: Where,
    request: ApprovalRequest,
    *,
    approve: bool,
) -> None:
    """Approving needs the action's permission; cancelling it too, or being the requester."""
    permitted = await deps.access.allows(
        target.permission,
        profile=target.profile,
        channel_id=request.channel_id,
        user_id=actor.user_id,
    )
    may_cancel = permitted or actor.user_id == request.requested_by
    if (approve and not permitted) or (not approve and not may_cancel):
        await audit(
            deps,
            target,
            actor,
            where,
            ActionOutcome.DENIED,
            detail=f"approval needs permission {target.permission.value}",
        )
        raise PermissionDenied(
            target.permission.value, profile=target.profile, channel_id=request.channel_id
        )


async def _apply(
    deps: SlackDeps,
    target: ActionTarget,
    actor: Actor,
    where: Where,
    reason: ApprovalReason,
    request: ApprovalRequest,
) -> None:
    """What the store's decision means: refused, expired, cancelled, or approved (done now)."""
    if reason is ApprovalReason.OWN_REQUEST:
        await audit(deps, target, actor, where, ActionOutcome.DENIED, detail="own request")
        raise ActionTaken(
            "You asked for this yourself: a different person must approve it.",
            hint="You may Cancel it.",
        )
    if reason is ApprovalReason.EXPIRED:
        await sweep(deps)
        raise ActionTaken("This request has expired: nothing was done. Ask again if needed.")
    if reason in (ApprovalReason.ALREADY_DECIDED, ApprovalReason.UNKNOWN):
        who = who_asked(request.decided_by or "", "", actor) if request.decided_by else ""
        by = f" by {who}" if who else ""
        raise ActionTaken(f"This request was already {request.state.value}{by}.")
    now = deps.clock.now()
    verb = verb_of(target.kind)
    if reason is ApprovalReason.CANCELLED:
        await audit(deps, target, actor, where, ActionOutcome.CANCELLED)
        await _close(
            deps,
            request,
            f"✖️ <@{actor.user_id}> cancelled the request to {verb} "
            f"at {slack_time(now, now)}: nothing was done.",
        )
        return
    await _close(
        deps,
        request,
        f"✅ <@{actor.user_id}> approved <@{request.requested_by}>'s "
        f"request to {verb} at {slack_time(now, now)}.",
    )
    account = deps.access.accounts.get(target.profile)
    await perform(deps, account, target, actor, where)


async def _close(deps: SlackDeps, request: ApprovalRequest, text: str) -> None:
    """Replace the request's buttons with what became of it (best effort)."""
    if request.message_ts is None:
        return
    try:
        await deps.notifier.update(request.channel_id, request.message_ts, notice_message(text))
    except SlackDeliveryError as error:
        log.info("action.request_not_updated slack_error=%s", error.error)


async def sweep(deps: SlackDeps, *, unknown_after: timedelta = UNKNOWN_AFTER) -> None:
    """Expire requests past their time and call in-flight actions claimed more than
    ``unknown_after`` ago (their process died) ``unknown``; each row is handled by one caller
    (the store hands it out once)."""
    ledger = deps.ledger
    if ledger is None:
        return
    now = deps.clock.now()
    try:
        expired = await ledger.expire_approvals(now)
        lost = await ledger.mark_unknown(now - unknown_after, now=now)
    except StoreError as error:
        log.warning("action.sweep_failed error=%s", error)
        return
    for request in expired:
        await _expired(deps, request)
    for record in lost:
        await _lost(deps, record)


async def _expired(deps: SlackDeps, request: ApprovalRequest) -> None:
    """Audit an expired request and say so on its message."""
    target = _target_of(
        request.kind,
        request.profile,
        request.workflow_id,
        request.execution_id,
        request.node_id,
        request.key,
    )
    where = Where(request.channel_id)
    await audit(
        deps,
        target,
        Actor(request.requested_by, request.user_name),
        where,
        ActionOutcome.EXPIRED,
        detail="nobody approved in time",
    )
    await _close(
        deps,
        request,
        f"⌛ <@{request.requested_by}>'s request to "
        f"{verb_of(request.kind)} expired: nothing was done.",
    )


async def _lost(deps: SlackDeps, record: ActionRecord) -> None:
    """Audit an action its process never finished, and tell its channel it is unknown."""
    target = _target_of(
        record.kind,
        record.profile,
        record.workflow_id,
        record.execution_id,
        record.node_id,
        record.key,
    )
    where = Where(record.channel_id)
    await audit(
        deps,
        target,
        Actor(record.requested_by, record.user_name),
        where,
        ActionOutcome.UNKNOWN,
        detail="interrupted before AOM answered",
    )
    text = (
        f"❓ <@{record.requested_by}>'s {verb_of(record.kind)} of `{record.workflow_id}` was "
        "interrupted before AOM answered: the outcome is unknown — check "
        f"`/aom-exec list {record.workflow_id}`. It is not sent again."
    )
    try:
        await deps.notifier.post(record.channel_id, notice_message(text))
    except (SlackDeliveryError, AomBotError) as error:
        log.info("action.unknown_not_told kind=%s", type(error).__name__)


def _target_of(
    kind: ActionKind,
    profile: str,
    workflow_id: str,
    execution_id: str | None,
    node_id: str | None,
    key: str,
) -> ActionTarget:
    """An audit-ready target for a stored row (its version is not needed any more)."""
    return ActionTarget(kind, profile, workflow_id, execution_id or "", node_id, key[-12:])
