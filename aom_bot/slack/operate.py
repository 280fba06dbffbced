"""Doing an action on an execution: permitted, exactly once, audited, and told to the channel.

Every path (a card's button, a command's Confirm, a second person's Approve) ends in
:func:`attempt`. The order is the guarantee:

1. the policy is checked against the execution's profile, for the person who clicked (a click
   can come from anyone who can see the message); a refusal is audited and nothing reaches AOM;
2. with the two-person rule, a request is opened instead (:mod:`aom_bot.slack.approvals`);
3. the store's ledger is claimed under the action's key: only the first claim of the same action
   on the same state sends a request (double clicks, two people at once, replicas, retries);
4. one AOM request, never retried blindly; a timeout or 5xx leaves the outcome ``unknown``;
5. the outcome is recorded, audited, logged, and replied in the card's thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from aom_bot.action_records import ActionKind, ActionOutcome, ActionRecord, NewAuditEntry
from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.models import NodeAction
from aom_bot.audit_log import audit_log_line
from aom_bot.errors import (
    ActionsOff,
    ActionTaken,
    AomApiError,
    AomBotError,
    AomError,
    AomServerError,
    AomThrottledError,
    PermissionDenied,
    SlackDeliveryError,
)
from aom_bot.operations import ActionTarget, outcome_line, verb_of
from aom_bot.records import FollowRequest
from aom_bot.render.kit import SlackMessage, section
from aom_bot.render.scrub import Scrubber
from aom_bot.slack.cards import card
from aom_bot.slack.deps import SlackDeps
from aom_bot.store.action_base import ActionStore

__all__ = ["UNKNOWN_AFTER", "Actor", "Where", "attempt", "audit", "perform", "who_asked"]

log = logging.getLogger(__name__)

#: a failed action may be tried again (it did nothing); this many times per state
MAX_ATTEMPTS = 5
_NODE_ACTIONS = {
    ActionKind.RETRY: NodeAction.RESTART,
    ActionKind.SKIP: NodeAction.SKIP,
    ActionKind.CONTINUE: NodeAction.CONTINUE,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the Slack user (ID and display name, for the audit log)."""

    user_id: str
    user_name: str = ""


@dataclass(frozen=True, slots=True)
class Where:
    """Where the action was asked: the channel, and the card whose thread hears about it."""

    channel_id: str
    card_ts: str | None = None


def _ledger(deps: SlackDeps) -> ActionStore:
    if deps.ledger is None or not deps.access.actions_enabled:
        raise ActionsOff()
    return deps.ledger


async def audit(
    deps: SlackDeps,
    target: ActionTarget,
    actor: Actor,
    where: Where,
    outcome: ActionOutcome,
    *,
    aom_request_id: str | None = None,
    new_execution_id: str | None = None,
    detail: str = "",
) -> None:
    """One audit row (append-only) and one structured log line; a store failure is logged,
    never hidden: the log line is written first."""
    entry = NewAuditEntry(
        at=deps.clock.now(),
        user_id=actor.user_id,
        user_name=actor.user_name[:80],
        channel_id=where.channel_id,
        profile=target.profile,
        action=target.kind,
        workflow_id=target.workflow_id,
        execution_id=target.execution_id or None,
        node_id=target.node_id,
        outcome=outcome,
        aom_request_id=aom_request_id,
        detail=detail[:500],
        result_execution_id=new_execution_id,
    )
    log.info(audit_log_line(entry), extra={"event": "action.audit"})
    if deps.ledger is not None:
        try:
            await deps.ledger.append_audit(entry)
        except AomBotError as error:
            log.error("action.audit_not_stored error=%s", error)


async def attempt(deps: SlackDeps, target: ActionTarget, actor: Actor, where: Where) -> None:
    """Check, then perform (or ask a second person); see the module docstring."""
    _ledger(deps)
    account = deps.access.accounts.get(target.profile)
    if not await deps.access.allows(
        target.permission,
        profile=target.profile,
        channel_id=where.channel_id,
        user_id=actor.user_id,
    ):
        await audit(
            deps,
            target,
            actor,
            where,
            ActionOutcome.DENIED,
            detail=f"missing permission {target.permission.value}",
        )
        raise PermissionDenied(
            target.permission.value, profile=target.profile, channel_id=where.channel_id
        )
    if deps.access.needs_second_person(target.permission, profile=target.profile):
        from aom_bot.slack.approvals import request_approval

        await request_approval(deps, account, target, actor, where)
        return
    await perform(deps, account, target, actor, where)


async def _claim(deps: SlackDeps, target: ActionTarget, actor: Actor, where: Where) -> str:
    """The ledger key this call won; ActionTaken when the action is taken (done, in flight,
    or of unknown outcome). A failed attempt did nothing: the next key in line may be tried."""
    ledger = _ledger(deps)
    for number in range(1, MAX_ATTEMPTS + 1):
        key = target.key if number == 1 else f"{target.key}#{number}"
        claim = await ledger.claim_action(
            key,
            kind=target.kind,
            profile=target.profile,
            workflow_id=target.workflow_id,
            execution_id=target.execution_id or None,
            node_id=target.node_id,
            requested_by=actor.user_id,
            user_name=actor.user_name[:80],
            channel_id=where.channel_id,
            now=deps.clock.now(),
        )
        if claim.won:
            return key
        if claim.action.outcome is not ActionOutcome.FAILED:
            raise _taken(target, claim.action, actor)
    raise _taken(target, None, actor)


def who_asked(user_id: str, user_name: str, actor: Actor) -> str:
    """Who asked, for an error reply: "you", or their name. Never a ``<@U…>`` mention: error
    replies are escaped, and a mention would show as literal text."""
    if user_id == actor.user_id:
        return "you"
    return user_name or user_id or "someone"


def _taken(target: ActionTarget, record: ActionRecord | None, actor: Actor) -> ActionTaken:
    verb = verb_of(target.kind)
    if record is None:
        return ActionTaken(f"This {verb} failed {MAX_ATTEMPTS} times; nothing more was sent.")
    who = who_asked(record.requested_by, record.user_name, actor)
    if record.outcome is None:
        return ActionTaken(
            f"This {verb} was asked a moment ago (by {who}) and is being done; "
            "nothing was sent again."
        )
    if record.outcome is ActionOutcome.UNKNOWN:
        return ActionTaken(
            f"This {verb} (asked by {who}) has an unknown outcome: nothing is sent again blindly.",
            hint=f"Check `/aom-exec list {target.workflow_id}` and the card first.",
        )
    return ActionTaken(f"This {verb} was already done (asked by {who}); nothing was sent again.")


async def _call_aom(account: AomAccount, target: ActionTarget) -> tuple[str | None, str | None]:
    """(AOM request ID, new execution ID for ``run``): one request."""
    actor = account.actor
    if actor is None:  # pragma: no cover - composition always gives the client
        raise ActionsOff()
    if target.kind is ActionKind.TERMINATE:
        return await actor.terminate_execution(target.workflow_id, target.execution_id), None
    if target.kind is ActionKind.RUN:
        new_id, rid = await actor.execute_workflow_with_id(target.workflow_id)
        return rid, new_id
    assert target.node_id is not None  # node actions always name their node
    _, rid = await actor.operate_node_with_id(
        target.workflow_id, target.execution_id, target.node_id, _NODE_ACTIONS[target.kind]
    )
    return rid, None


def _judge(error: AomError) -> tuple[ActionOutcome, str]:
    """A refusal (4xx, throttled) did nothing: failed. No answer, a 5xx or a garbled 2xx may
    have acted: unknown, never retried."""
    if isinstance(error, AomApiError) and not isinstance(error, AomServerError):
        return ActionOutcome.FAILED, error.user_message()[:300]
    if isinstance(error, AomThrottledError):  # pragma: no cover - an AomApiError above
        return ActionOutcome.FAILED, "AOM throttled the request"
    return ActionOutcome.UNKNOWN, type(error).__name__


async def perform(
    deps: SlackDeps, account: AomAccount, target: ActionTarget, actor: Actor, where: Where
) -> ActionOutcome:
    """Claim, send once, record, tell; the outcome (ActionTaken when another claim has it)."""
    key = await _claim(deps, target, actor, where)
    asked_at = deps.clock.now()
    rid = new_id = None
    why = ""
    try:
        rid, new_id = await _call_aom(account, target)
        outcome = ActionOutcome.DONE
    except AomError as error:
        outcome, why = _judge(error)
        why = (deps.scrubber or Scrubber()).scrub(why)  # AOM's words may quote a secret
        rid = error.request_id
    await _ledger(deps).finish_action(
        key, outcome, aom_request_id=rid, result_execution_id=new_id, now=deps.clock.now()
    )
    await audit(
        deps, target, actor, where, outcome, aom_request_id=rid, new_execution_id=new_id, detail=why
    )
    line = outcome_line(
        target,
        outcome,
        user_id=actor.user_id,
        at=asked_at,
        now=deps.clock.now(),
        new_execution_id=new_id,
        why=why,
    )
    await _tell(deps, account, target, where, line, outcome)
    if new_id is not None:
        await _follow_new_run(deps, account, target, actor, where, new_id)
    return outcome


async def _tell(
    deps: SlackDeps,
    account: AomAccount,
    target: ActionTarget,
    where: Where,
    line: str,
    outcome: ActionOutcome,
) -> None:
    """The thread reply that records it, then the card as it is now (best effort: the
    action is done and audited whatever Slack says)."""
    message = SlackMessage(text=line, blocks=[section(line)])
    try:
        await deps.notifier.post(where.channel_id, message, thread_ts=where.card_ts)
    except SlackDeliveryError as error:
        log.warning("action.reply_failed channel=%s slack_error=%s", where.channel_id, error.error)
    if where.card_ts is None or not target.execution_id:
        return
    notice = None if outcome is ActionOutcome.DONE else line
    try:
        execution = await account.commands.get_execution(target.workflow_id, target.execution_id)
        following = await deps.follow.is_following(
            where.channel_id, target.workflow_id, target.execution_id
        )
        fresh = await card(
            deps,
            account,
            execution,
            following=following,
            notice=notice,
            channel_id=where.channel_id,
        )
        await deps.notifier.update(where.channel_id, where.card_ts, fresh)
    except (AomError, SlackDeliveryError) as error:
        log.info("action.card_not_refreshed kind=%s", type(error).__name__)


async def _follow_new_run(
    deps: SlackDeps,
    account: AomAccount,
    target: ActionTarget,
    actor: Actor,
    where: Where,
    new_id: str,
) -> None:
    """Run again: the new run's card goes to the channel, followed until it ends."""
    try:
        await deps.follow.follow(
            FollowRequest(
                workflow_id=target.workflow_id,
                execution_id=new_id,
                channel_id=where.channel_id,
                user_id=actor.user_id,
                profile=account.name,
            )
        )
    except (AomError, SlackDeliveryError) as error:
        log.warning(
            "action.new_run_not_followed execution=%s kind=%s", new_id, type(error).__name__
        )


#: how long an unfinished ledger row may wait for AOM before a sweep calls it unknown
UNKNOWN_AFTER = timedelta(minutes=3)
