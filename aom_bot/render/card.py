"""The execution card with its console button: the one builder behind every card the bot shows.

Slash commands and buttons (``slack.cards``), the follow engine's edits (``follow.cards``),
subscription posts (``follow.discovery``) and ``show --blocks`` (``console``) all call
:func:`execution_card`; they differ only in where ``now``, the workflow name and the console
links come from.

>>> from datetime import UTC, datetime
>>> from aom_bot.aom.models import ExecutionDetail
>>> from aom_bot.render.links import ConsoleLinks
>>> detail = ExecutionDetail.model_validate(
...     {"execution_id": "e1", "workflow_id": "w1", "status": "success"})
>>> links = ConsoleLinks("https://c.example/{workflow_id}/{execution_id}")
>>> card = execution_card(detail, now=datetime(2024, 3, 15, tzinfo=UTC), console=links)
>>> card.blocks[-1]["elements"][-1]["url"]
'https://c.example/w1/e1'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aom_bot.aom.models import ExecutionDetail
from aom_bot.render.action_buttons import ActionButton
from aom_bot.render.kit import SlackMessage
from aom_bot.render.links import ConsoleUrl
from aom_bot.render.message import execution_message
from aom_bot.render.scrub import Scrubber

__all__ = ["card_console_url", "execution_card"]


def card_console_url(
    console: ConsoleUrl | None, execution: ExecutionDetail, *, workflow_id: str | None = None
) -> str | None:
    """The card's console URL: None without links, or without both IDs (a link with an empty
    path segment leads nowhere). ``workflow_id`` replaces the execution's own, for listings
    whose executions do not carry it."""
    workflow = workflow_id or execution.workflow_id
    if console is None or not workflow or not execution.execution_id:
        return None
    return console(workflow, execution.execution_id)


def execution_card(
    execution: ExecutionDetail,
    *,
    now: datetime,
    console: ConsoleUrl | None,
    workflow_name: str | None = None,
    workflow_id: str | None = None,
    following: bool = False,
    notice: str | None = None,
    scrubber: Scrubber | None = None,
    profile: str | None = None,
    profile_label: str | None = None,
    actions: Sequence[ActionButton] = (),
) -> SlackMessage:
    """The card of ``execution`` as of ``now``. Pure, like :func:`execution_message`
    (``profile`` goes into the buttons' values; ``profile_label`` is shown on the card)."""
    return execution_message(
        execution,
        now=now,
        workflow_name=workflow_name,
        following=following,
        console_url=card_console_url(console, execution, workflow_id=workflow_id),
        notice=notice,
        scrubber=scrubber,
        profile=profile,
        profile_label=profile_label,
        actions=actions,
    )
