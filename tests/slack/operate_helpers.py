"""Helpers for the action tests: a bot whose configuration grants actions, and ways to press
its buttons and read what came of it (the card, its thread, the audit log, AOM's requests).

alice, bob and carol may terminate, retry and run everywhere; mallory may only read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from aom_bot.profiles import ANY, AllowRule, Permission
from aom_bot.profiles.model import ACTIONS, OPEN_PERMISSIONS
from aom_bot.store.base import AuditEntry
from tests.fakes.slack_api import RecordedCall
from tests.slack.harness import Harness, running_bot

ALICE = "U0ALICE"
BOB = "U0BOB"
CAROL = "U0CAROL"
MALLORY = "U0MALLORY"
#: everyone reads, follows and subscribes; alice, bob and carol also act
RULES = (
    AllowRule(frozenset({ANY}), OPEN_PERMISSIONS),
    AllowRule(frozenset({ANY}), ACTIONS, users=frozenset({ALICE, BOB, CAROL})),
)


@asynccontextmanager
async def acting_bot(
    *, two_person: frozenset[str] = frozenset(), **kwargs: Any
) -> AsyncIterator[Harness]:
    """The harness's bot with a configuration that grants actions (``RULES``)."""
    async with running_bot(rules=RULES, two_person=two_person, **kwargs) as bot:
        for user, name in ((BOB, "bob"), (CAROL, "carol"), (MALLORY, "mallory")):
            bot.slack.add_user(user, name)
        yield bot


def name_of(user: str) -> str:
    return user.removeprefix("U0").lower()


async def show(bot: Harness, wf: str, ex: str) -> str:
    """``/aom-exec show`` in #general; the card's ts (posted, or the earlier card updated)."""
    before = len(bot.slack.calls)
    await bot.command(f"show {wf} {ex}")

    def card_call(call: RecordedCall) -> bool:
        return (
            call.method in ("chat.postMessage", "chat.update")
            and call.ok
            and ex in str(call.args.get("blocks"))
            and "thread_ts" not in call.args
        )

    await bot.slack.wait_for(lambda c: c in bot.slack.calls[before:] and card_call(c))
    found = [c for c in bot.slack.calls[before:] if card_call(c)][-1]
    return str(found.response["ts"])


def card(bot: Harness, ts: str) -> dict[str, Any]:
    return bot.slack.message(bot.slack.general, ts)


def elements(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``action_id`` → element (button or overflow menu) of every actions block."""
    return {
        element["action_id"]: element
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
        if "action_id" in element
    }


def value_of(element: dict[str, Any]) -> str:
    """What a click on ``element`` sends: a button's value, an overflow's (only) option."""
    if element["type"] == "overflow":
        [option] = element["options"]
        return str(option["value"])
    return str(element["value"])


async def press(
    bot: Harness, ts: str, action_id: str, *, user: str = ALICE, **kwargs: Any
) -> httpx.Response:
    """Click ``action_id`` on the card ``ts`` as it is now (its confirm dialog accepted)."""
    element = elements(card(bot, ts))[action_id]
    response = await bot.click(
        action_id,
        value_of(element),
        message_ts=ts,
        user_id=user,
        user_name=name_of(user),
        overflow=element["type"] == "overflow",
        **kwargs,
    )
    assert response.status_code == 200, response.text
    return response


def replies(bot: Harness, ts: str) -> list[dict[str, Any]]:
    """The bot's replies in the card's thread, oldest first."""
    return bot.slack.thread(bot.slack.general, ts)[1:]


async def wait_replies(bot: Harness, ts: str, count: int = 1) -> list[dict[str, Any]]:
    def reply(call: RecordedCall) -> bool:
        return call.method == "chat.postMessage" and call.ok and call.args.get("thread_ts") == ts

    await bot.slack.wait_for(reply, count=count)
    return replies(bot, ts)


async def wait_card_update(bot: Harness, ts: str, count: int = 1) -> dict[str, Any]:
    """After the ``count``-th chat.update of the card: the card."""
    await bot.slack.wait_for(
        lambda c: c.method == "chat.update" and c.ok and c.args.get("ts") == ts, count=count
    )
    return card(bot, ts)


async def private_answer(bot: Harness, index: int = 0) -> dict[str, Any]:
    """The ``index``-th ephemeral answer to the latest click or command."""
    return await bot.hook_post(index)


def shown_ts(bot: Harness) -> str:
    """The ts of the ephemeral message the latest command or click showed (to click on it)."""
    return str(bot.slack.hook(bot.last_hook).ephemerals[-1]["ts"])


async def audit(bot: Harness) -> list[AuditEntry]:
    """The audit log, newest first."""
    return await bot.store.audit_entries()


def outcomes(entries: list[AuditEntry]) -> list[tuple[str, str, str]]:
    """(user, action, outcome) of each entry, oldest first."""
    return [(e.user_id, e.action.value, e.outcome.value) for e in reversed(entries)]


def permission(name: str) -> Permission:
    return Permission(name)
