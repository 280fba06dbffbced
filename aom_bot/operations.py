"""Acting on executions, as pure decisions: which actions an execution offers, what a button
or a Confirm carries, the key that makes an action happen once, and how each reads to people.

The Slack side (:mod:`aom_bot.slack.operate`) checks the policy, asks the store for the
exactly-once claim, calls AOM and posts what happened; everything it says comes from here.

>>> target = ActionTarget(ActionKind.TERMINATE, "prod", "wf-1", "ex-1", None, "v1")
>>> ActionTarget.decode(target.encode()) == target
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aom_bot.action_records import ActionKind, ActionOutcome
from aom_bot.aom.ids import validate_id
from aom_bot.aom.models import ExecutionDetail, ExecutionStatus, HostBucket, NodeResult, Phase
from aom_bot.errors import InvalidIdError
from aom_bot.profiles import Permission
from aom_bot.render.action_buttons import ActionButton
from aom_bot.render.actions import (
    ACTION_CONTINUE,
    ACTION_RETRY,
    ACTION_RUN,
    ACTION_SKIP,
    ACTION_TERMINATE,
)
from aom_bot.render.analysis import bucket_counts
from aom_bot.render.escape import Mrkdwn, escape_mrkdwn, inline_code
from aom_bot.render.limits import BUTTON_VALUE_MAX, clip_rendered
from aom_bot.render.wording import slack_time

__all__ = [
    "ACTION_IDS",
    "MAX_REQUESTS",
    "PERMISSION_OF",
    "ActionTarget",
    "available_actions",
    "card_buttons",
    "confirm_text",
    "failed_node",
    "outcome_line",
    "paused_node",
    "short_id",
    "target_version",
    "verb_of",
]

#: the permission each action needs (restart, skip and continue are all ``retry``)
PERMISSION_OF: dict[ActionKind, Permission] = {
    ActionKind.TERMINATE: Permission.TERMINATE,
    ActionKind.RETRY: Permission.RETRY,
    ActionKind.SKIP: Permission.RETRY,
    ActionKind.CONTINUE: Permission.RETRY,
    ActionKind.RUN: Permission.RUN,
}

#: the button (and overflow) action_id of each action
ACTION_IDS: dict[ActionKind, str] = {
    ActionKind.TERMINATE: ACTION_TERMINATE,
    ActionKind.RETRY: ACTION_RETRY,
    ActionKind.SKIP: ACTION_SKIP,
    ActionKind.CONTINUE: ACTION_CONTINUE,
    ActionKind.RUN: ACTION_RUN,
}
_LABELS = {
    ActionKind.TERMINATE: ("Terminate", "Terminate this run?", "Terminate"),
    ActionKind.RETRY: ("Retry node", "Restart the node?", "Retry"),
    ActionKind.SKIP: ("Skip node", "Skip the node?", "Skip"),
    ActionKind.CONTINUE: ("Continue", "Continue the run?", "Continue"),
    ActionKind.RUN: ("Run again", "Start a new run?", "Run again"),
}

_VERBS = {
    ActionKind.TERMINATE: "terminate",
    ActionKind.RETRY: "retry",
    ActionKind.SKIP: "skip",
    ActionKind.CONTINUE: "continue",
    ActionKind.RUN: "run again",
}
_DONE = {
    ActionKind.TERMINATE: "🛑 Terminated",
    ActionKind.RETRY: "🔁 Node {node} restarted",
    ActionKind.SKIP: "⏭️ Node {node} skipped",
    ActionKind.CONTINUE: "▶️ Node {node} continued",
    ActionKind.RUN: "🚀 Started again",
}
#: a workflow's name in a confirm dialog, as rendered (the dialog holds 300)
_NAME_MAX = 80
#: how many two-person requests one action may have (each expired or was cancelled)
MAX_REQUESTS = 20
_NODE_FAILED = frozenset({ExecutionStatus.FAIL, ExecutionStatus.APPROVAL_FAILED})
_NODE_PAUSED = frozenset({ExecutionStatus.PAUSED, ExecutionStatus.PAUSING})


def verb_of(kind: ActionKind) -> str:
    """ "terminate", "retry", "skip", "continue", "run again"."""
    return _VERBS[kind]


def short_id(value: str) -> str:
    """An ID as people glance at it: ``e3f0a1b2…``."""
    return value if len(value) <= 10 else value[:8] + "…"


@dataclass(frozen=True, slots=True)
class ActionTarget:
    """One action on one execution, as a button or a Confirm carries it.

    ``version`` ties the action to what the person saw: the card's state (two people pressing
    the same button, a double click, a retried delivery all give the same key, so one AOM
    request), or a command's own nonce (each typed command is its own intent).
    """

    kind: ActionKind
    profile: str
    workflow_id: str
    #: the execution acted on; for ``run``, the one "Run again" was pressed on ("" from a command)
    execution_id: str
    node_id: str | None
    version: str
    #: which two-person request about this action it is (a new one may be opened once the
    #: last expired or was cancelled); not part of ``key``: the action itself is done once
    request: int = 1

    @property
    def approval_key(self) -> str:
        """The key of its two-person request: ``key``, then ``key#2``, ``key#3``…"""
        return self.key if self.request == 1 else f"{self.key}#{self.request}"

    @property
    def key(self) -> str:
        """The ledger key: the same action on the same state is done once."""
        raw = "\x1f".join(
            (
                self.kind.value,
                self.profile,
                self.workflow_id,
                self.execution_id,
                self.node_id or "",
                self.version,
            )
        )
        return "act:" + hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def permission(self) -> Permission:
        return PERMISSION_OF[self.kind]

    def encode(self) -> str:
        """Compact JSON for a button value (Slack allows 2,000 characters)."""
        data = {
            "k": self.kind.value,
            "p": self.profile,
            "w": self.workflow_id,
            "e": self.execution_id,
            "n": self.node_id or "",
            "v": self.version,
        }
        if self.request != 1:
            data["r"] = str(self.request)
        value = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(value) > BUTTON_VALUE_MAX:
            raise ValueError("the action's ids are too long for a button value")
        return value

    @classmethod
    def decode(cls, value: str) -> ActionTarget:
        """The target of a button value, every ID validated; InvalidIdError for anything else
        (a click is as untrusted as a typed command)."""
        try:
            data = json.loads(value)
            kind = ActionKind(data["k"])
            profile, workflow_id, execution_id = str(data["p"]), str(data["w"]), str(data["e"])
            node_id, version = str(data.get("n") or ""), str(data["v"])
            request = int(str(data.get("r") or "1"))
        except (TypeError, ValueError, KeyError, RecursionError, AttributeError):
            raise InvalidIdError("button value", value[:80]) from None
        if not profile or len(profile) > 64 or not version or len(version) > 64:
            raise InvalidIdError("button value", value[:80])
        if not 1 <= request <= MAX_REQUESTS:
            raise InvalidIdError("button value", value[:80])
        return cls(
            kind=kind,
            profile=profile,
            workflow_id=validate_id("workflow ID", workflow_id),
            execution_id=validate_id("execution ID", execution_id) if execution_id else "",
            node_id=validate_id("node ID", node_id) if node_id else None,
            version=version,
            request=request,
        )


def failed_node(execution: ExecutionDetail) -> str | None:
    """The node to retry: the last node that failed or holds failed hosts (AOM may call a
    node ``success`` while its hosts sit in ``fail``); None when nothing failed."""
    failed = [
        n
        for n in execution.nodes
        if n.node_id and (n.status in _NODE_FAILED or n.buckets.get(HostBucket.FAIL.value))
    ]
    return failed[-1].node_id if failed else None


def paused_node(execution: ExecutionDetail) -> str | None:
    """The node waiting to be continued (None when nothing is paused)."""
    paused = [n for n in execution.nodes if n.status in _NODE_PAUSED and n.node_id]
    return paused[-1].node_id if paused else None


def available_actions(execution: ExecutionDetail) -> list[tuple[ActionKind, str | None]]:
    """What the card offers now: Terminate while it is active or waiting, Retry (and Skip)
    for a failed or paused node, Continue while paused, Run again once it ended."""
    offered: list[tuple[ActionKind, str | None]] = []
    phase = execution.status.phase
    if execution.status is not ExecutionStatus.CANCELING and phase in (
        Phase.ACTIVE,
        Phase.NEEDS_HUMAN,
    ):
        offered.append((ActionKind.TERMINATE, None))
    node = failed_node(execution) or paused_node(execution)
    if (node is not None and not execution.is_terminal) or (node and phase is Phase.FAILED):
        offered.append((ActionKind.RETRY, node))
        offered.append((ActionKind.SKIP, node))
    paused = paused_node(execution)
    if paused is not None and not execution.is_terminal:
        offered.append((ActionKind.CONTINUE, paused))
    if execution.is_terminal:
        offered.append((ActionKind.RUN, None))
    return offered


def _node(execution: ExecutionDetail, node_id: str | None) -> NodeResult | None:
    return next((n for n in execution.nodes if n.node_id == node_id), None)


def confirm_text(
    target: ActionTarget, execution: ExecutionDetail | None, workflow_name: str | None
) -> str:
    """What the confirm dialog (and a command's summary) says will happen, in mrkdwn:
    "Terminate *deploy-nginx* run `e3f0…`? 412 hosts are still running."."""
    name = (
        # cut before escaping, to 80 as rendered: the dialog's 300 never cuts an entity
        f"*{clip_rendered(workflow_name, _NAME_MAX, escape_mrkdwn)}*"
        if workflow_name
        else inline_code(short_id(target.workflow_id))
    )
    run = inline_code(short_id(target.execution_id)) if target.execution_id else ""
    node = inline_code(short_id(target.node_id)) if target.node_id else "the node"
    counts = bucket_counts(execution) if execution is not None else None
    running = counts.running if counts is not None else 0
    if target.kind is ActionKind.TERMINATE:
        tail = f" {running} hosts are still running." if running else ""
        return f"Terminate {name} run {run}?{tail}"
    if target.kind is ActionKind.RETRY:
        return f"Restart node {node} of {name} run {run}? Its hosts run the step again."
    if target.kind is ActionKind.SKIP:
        return f"Skip node {node} of {name} run {run}? The run goes on without it."
    if target.kind is ActionKind.CONTINUE:
        return f"Continue {name} run {run} past node {node}?"
    return f"Start a new run of {name} with its stored input?"


def outcome_line(
    target: ActionTarget,
    outcome: ActionOutcome,
    *,
    user_id: str,
    at: datetime,
    now: datetime,
    new_execution_id: str | None = None,
    why: str = "",
) -> Mrkdwn:
    """The thread reply that records what happened: "🛑 Terminated by <@U> at 14:03 UTC".

    mrkdwn the bot wrote (a mention, a Slack date, IDs in code spans, AOM's words escaped):
    a card may show it as its notice as is."""
    return Mrkdwn(_outcome_line(target, outcome, user_id, at, now, new_execution_id, why))


def _outcome_line(
    target: ActionTarget,
    outcome: ActionOutcome,
    user_id: str,
    at: datetime,
    now: datetime,
    new_execution_id: str | None,
    why: str,
) -> str:
    when = slack_time(at, now)
    node = inline_code(short_id(target.node_id or "?"))
    if outcome is ActionOutcome.DONE:
        head = _DONE[target.kind].format(node=node)
        more = f": new run {inline_code(new_execution_id)}" if new_execution_id else ""
        return f"{head} by <@{user_id}> at {when}{more}."
    verb = verb_of(target.kind)
    if outcome is ActionOutcome.UNKNOWN:
        return (
            f"❓ <@{user_id}>'s {verb} at {when}: the outcome is unknown (AOM did not answer "
            "in time) — check `/aom-exec list " + target.workflow_id + "` before trying again."
        )
    if outcome is ActionOutcome.EXPIRED:
        return f"⌛ The request to {verb} expired at {when}: nothing was done."
    if outcome is ActionOutcome.CANCELLED:
        return f"✖️ The request to {verb} was cancelled by <@{user_id}> at {when}: nothing was done."
    # ``why`` quotes AOM, which may say anything: escaped, so it cannot mention or link
    reason = f": {escape_mrkdwn(why)}" if why else ""
    return f"⚠️ <@{user_id}>'s {verb} failed at {when}{reason}."


def target_version(execution: ExecutionDetail, kind: ActionKind, node_id: str | None) -> str:
    """What ties a card's button to the state it acts on: terminate once per run; a node
    action once per state of that node (a node that failed again may be retried again);
    run again once per card's run."""
    if kind is ActionKind.TERMINATE:
        return "t"
    if kind is ActionKind.RUN:
        return "r:" + (execution.execution_id or "")[:40]
    node = _node(execution, node_id)
    if node is None:
        return "n"
    raw = f"{node.raw_status}|{node.begin_time}|{node.end_time}"
    return "n:" + hashlib.sha256(raw.encode()).hexdigest()[:12]


def card_buttons(
    execution: ExecutionDetail,
    *,
    profile: str,
    permitted: frozenset[Permission],
    workflow_name: str | None,
) -> list[ActionButton]:
    """The action buttons of a card: what the execution offers now and the channel's policy
    could allow someone (``permitted``); each carries its confirm dialog."""
    if not permitted or not execution.workflow_id or not execution.execution_id:
        return []
    buttons: list[ActionButton] = []
    for kind, node_id in available_actions(execution):
        if PERMISSION_OF[kind] not in permitted:
            continue
        target = ActionTarget(
            kind,
            profile,
            execution.workflow_id,
            execution.execution_id,
            node_id,
            target_version(execution, kind, node_id),
        )
        try:
            value = target.encode()
        except ValueError:
            continue
        label, title, confirm = _LABELS[kind]
        buttons.append(
            ActionButton(
                label=label,
                action_id=ACTION_IDS[kind],
                value=value,
                confirm_title=title,
                confirm_text=confirm_text(target, execution, workflow_name),
                confirm_label=confirm,
                style="danger" if kind is ActionKind.TERMINATE else None,
                overflow=kind is ActionKind.SKIP,
            )
        )
    return buttons


def describe_targets(targets: Sequence[ActionTarget]) -> str:
    """For logs: ``terminate,retry`` (kinds only)."""
    return ",".join(t.kind.value for t in targets)
