"""Building the execution card and the report from a fresh AOM read, for commands and buttons."""

from __future__ import annotations

import logging

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.models import ExecutionDetail
from aom_bot.errors import SlackDeliveryError
from aom_bot.operations import card_buttons
from aom_bot.profiles import Permission
from aom_bot.profiles.model import ACTIONS as ACTION_PERMISSIONS
from aom_bot.render.card import execution_card
from aom_bot.render.kit import SlackMessage
from aom_bot.render.report import report_text
from aom_bot.slack.deps import SlackDeps

__all__ = ["Report", "card", "card_link", "report"]

log = logging.getLogger(__name__)


async def card(
    deps: SlackDeps,
    account: AomAccount,
    execution: ExecutionDetail,
    *,
    following: bool,
    notice: str | None = None,
    channel_id: str | None = None,
) -> SlackMessage:
    """The execution card (of ``account``'s profile) as it should look now; posted in
    ``channel_id``, it offers the actions the channel's policy could allow someone."""
    name = await account.workflow_name(execution.workflow_id)
    return execution_card(
        execution,
        now=deps.clock.now(),
        console=account.console_url,
        workflow_name=name,
        following=following,
        notice=notice,
        scrubber=deps.scrubber,
        profile=account.name,
        profile_label=account.label,
        actions=card_buttons(
            execution,
            profile=account.name,
            workflow_name=name,
            permitted=actions_here(deps, account.name, channel_id),
        ),
    )


def actions_here(deps: SlackDeps, profile: str, channel_id: str | None) -> frozenset[Permission]:
    """The action permissions some rule could grant in this channel (a button is shown for
    those; the click is checked again). None outside a channel, or with actions off."""
    if channel_id is None or deps.ledger is None or not deps.access.actions_enabled:
        return frozenset()
    return frozenset(
        p
        for p in ACTION_PERMISSIONS
        if deps.access.anyone_may(p, profile=profile, channel_id=channel_id)
    )


async def card_link(deps: SlackDeps, channel_id: str, ts: str | None) -> str:
    """A link to the card ``ts`` for a reply (plain words when Slack gives no link)."""
    if ts is None:
        return "the card (it is being posted)"
    try:
        link = await deps.notifier.permalink(channel_id, ts)
    except SlackDeliveryError as exc:
        log.info("slack.permalink.failed channel=%s slack_error=%s", channel_id, exc.error)
        return "the card above"
    return f"<{link}|the card>"


class Report:
    """The full failed-hosts report of one execution, as an uploadable text file."""

    __slots__ = ("content", "filename", "title")

    def __init__(self, filename: str, title: str, content: str) -> None:
        self.filename = filename
        self.title = title
        self.content = content


async def report(deps: SlackDeps, account: AomAccount, execution: ExecutionDetail) -> Report:
    """Every host with its log, for the "All failed hosts" button."""
    content = report_text(
        execution,
        now=deps.clock.now(),
        workflow_name=await account.workflow_name(execution.workflow_id),
        scrubber=deps.scrubber,
    )
    return Report(
        filename=f"aom-execution-{execution.execution_id}.txt",
        title=f"AOM execution {execution.execution_id}: all hosts",
        content=content,
    )
