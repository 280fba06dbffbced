"""The two-person rule end to end: ``two_person = ["terminate", "run"]`` on the profile.

The first click only asks; the requester cannot approve their own request; a second
permitted person's Approve performs it, once even when two approve at the same moment; a
request nobody approves expires after 10 minutes (the simulated clock) and may be asked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aom_bot.render.actions import (
    ACTION_APPROVE,
    ACTION_CANCEL,
    ACTION_CONFIRM,
    ACTION_RETRY,
    ACTION_TERMINATE,
)
from aom_bot.slack.approvals import APPROVAL_TTL, sweep
from tests.fakes.slack_api import RecordedCall
from tests.slack.harness import Harness, text_of
from tests.slack.operate_helpers import (
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    RULES,
    acting_bot,
    audit,
    card,
    elements,
    name_of,
    outcomes,
    press,
    private_answer,
    replies,
    show,
    shown_ts,
    value_of,
    wait_card_update,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def bot() -> AsyncIterator[Harness]:
    async with acting_bot(two_person=frozenset({"terminate", "run"})) as harness:
        yield harness


async def _asked(bot: Harness, ts: str, count: int = 1) -> dict[str, Any]:
    """The ``count``-th request for a second person in the card's thread."""

    def asking(call: RecordedCall) -> bool:
        return (
            call.method == "chat.postMessage"
            and call.ok
            and call.args.get("thread_ts") == ts
            and "needs a second person" in call.args.get("text", "")
        )

    [*_, call] = await bot.slack.wait_for(asking, count=count)
    return bot.slack.message(bot.slack.general, str(call.response["ts"]))


async def _decide(bot: Harness, request: dict[str, Any], action_id: str, user: str) -> None:
    """Press Approve or Cancel on the request message as ``user``."""
    value = value_of(elements(request)[action_id])
    response = await bot.click(
        action_id, value, message_ts=request["ts"], user_id=user, user_name=name_of(user)
    )
    assert response.status_code == 200


async def _terminate_asked(bot: Harness) -> tuple[str, str, dict[str, Any]]:
    """alice presses Terminate on deploy-nginx's card: (card ts, execution, the request)."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    await press(bot, ts, ACTION_TERMINATE)
    return ts, ex, await _asked(bot, ts)


async def test_the_requester_cannot_approve_a_second_person_can(bot: Harness) -> None:
    """alice's click posts the request and sends nothing; her own Approve is refused,
    mallory's (not permitted) too; bob's Approve sends one terminate, said in the thread."""
    ts, ex, request = await _terminate_asked(bot)
    assert request["text"].startswith(f"✋ <@{ALICE}> asks to terminate: Terminate *deploy-nginx*")
    assert bot.requests.count("terminate") == 0

    await _decide(bot, request, ACTION_APPROVE, ALICE)
    own = text_of(await private_answer(bot))
    assert "You asked for this yourself" in own
    await _decide(bot, request, ACTION_APPROVE, MALLORY)
    assert "`terminate` permission" in text_of(await private_answer(bot))
    assert bot.requests.count("terminate") == 0

    await _decide(bot, request, ACTION_APPROVE, BOB)
    await wait_card_update(bot, ts)
    assert bot.requests.count("terminate", ex) == 1
    closed = bot.slack.message(bot.slack.general, request["ts"])
    assert closed["text"].startswith(f"✅ <@{BOB}> approved <@{ALICE}>'s request to terminate")
    assert ACTION_APPROVE not in elements(closed)
    assert replies(bot, ts)[-1]["text"].startswith(f"🛑 Terminated by <@{BOB}> at ")
    assert outcomes(await audit(bot)) == [
        (ALICE, "terminate", "requested"),
        (ALICE, "terminate", "denied"),
        (MALLORY, "terminate", "denied"),
        (BOB, "terminate", "done"),
    ]


async def test_two_approvers_at_once_act_once(bot: Harness) -> None:
    """bob and carol approve at the same moment: one terminate request; the other is told
    it was already approved."""
    ts, ex, request = await _terminate_asked(bot)
    bot.faults.latency_seconds = 0.1
    await asyncio.gather(
        _decide(bot, request, ACTION_APPROVE, BOB), _decide(bot, request, ACTION_APPROVE, CAROL)
    )
    await wait_card_update(bot, ts)
    [told] = await bot.slack.wait_for("response_url")
    assert "already approved" in text_of(told.args)
    assert bot.requests.count("terminate", ex) == 1
    assert len([o for o in outcomes(await audit(bot)) if o[2] == "done"]) == 1


async def test_a_request_expires_after_ten_minutes_and_may_be_asked_again(bot: Harness) -> None:
    """Nobody approves for 10 minutes: the sweep expires the request (audited ``expired``, its
    message says so); a late Approve does nothing. Asking again opens a new request."""
    ts, ex, request = await _terminate_asked(bot)
    bot.clock.advance(APPROVAL_TTL.total_seconds() - 1)
    await sweep(bot.deps)
    assert [o[2] for o in outcomes(await audit(bot))] == ["requested"]
    bot.clock.advance(1)
    await sweep(bot.deps)
    expired = bot.slack.message(bot.slack.general, request["ts"])
    assert "expired: nothing was done" in expired["text"]
    assert outcomes(await audit(bot))[-1] == (ALICE, "terminate", "expired")

    await _decide(bot, request, ACTION_APPROVE, BOB)  # the stale button
    assert "expired" in text_of(await private_answer(bot))
    assert bot.requests.count("terminate") == 0

    wf = bot.workflow("db-schema-migration")  # waits for approval 10 minutes later
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    await press(bot, ts, ACTION_TERMINATE)
    first = await _asked(bot, ts)
    await _decide(bot, first, ACTION_CANCEL, ALICE)
    await bot.slack.wait_for(
        lambda c: c.method == "chat.update" and c.args.get("ts") == first["ts"]
    )
    assert "cancelled" in bot.slack.message(bot.slack.general, first["ts"])["text"]
    await press(bot, ts, ACTION_TERMINATE)  # asked again after a cancel: a new request
    again = await _asked(bot, ts, count=2)
    await _decide(bot, again, ACTION_APPROVE, BOB)
    await wait_card_update(bot, ts)
    assert bot.requests.count("terminate", ex) == 1
    assert [o[2] for o in outcomes(await audit(bot))][-4:] == [
        "requested",
        "cancelled",
        "requested",
        "done",
    ]


async def test_a_second_click_does_not_ask_twice(bot: Harness) -> None:
    """alice (or bob) pressing Terminate again while a request waits: no second request."""
    ts, _, _ = await _terminate_asked(bot)
    await press(bot, ts, ACTION_TERMINATE, user=BOB)
    assert "waits for a second person" in text_of(await private_answer(bot))
    assert len([r for r in replies(bot, ts) if "needs a second person" in r["text"]]) == 1


async def test_actions_not_listed_need_no_second_person(bot: Harness) -> None:
    """``retry`` is not in ``two_person``: it is done at once."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await show(bot, wf, ex)
    await press(bot, ts, ACTION_RETRY)
    await wait_card_update(bot, ts)
    assert bot.requests.count("operation", ex) == 1


async def test_run_from_a_command_waits_for_a_second_person(bot: Harness) -> None:
    """``/aom-exec run WF`` → Confirm → a request in the channel; bob approves it: one
    execute request, and the new run's card is followed in the channel."""
    wf = bot.workflow("deploy-nginx")
    await bot.command(f"run {wf}")
    summary = await private_answer(bot)
    assert "Start a new run of *deploy-nginx*" in summary["text"]
    confirm = value_of(elements(summary)[ACTION_CONFIRM])
    await bot.click(ACTION_CONFIRM, confirm, message_ts=shown_ts(bot), is_ephemeral=True)
    posted = await bot.wait_posted()
    assert "asks to run again" in posted.args["text"]
    assert bot.requests.count("execute") == 0
    request = bot.slack.message(bot.slack.general, str(posted.response["ts"]))
    await _decide(bot, request, ACTION_APPROVE, BOB)
    await bot.follows.wait("follow")
    assert bot.requests.count("execute") == 1
    new = bot.newest(wf)
    follow = await bot.store.find_active_follow(bot.slack.general, wf, new)
    assert follow is not None
    assert follow.message_ts is not None
    assert new in text_of(card(bot, follow.message_ts))
    [done] = [e for e in await audit(bot) if e.outcome.value == "done"]
    assert (done.user_id, done.result_execution_id, done.execution_id) == (BOB, new, None)
    started = await bot.slack.wait_for(
        lambda c: c.method == "chat.postMessage" and "Started again" in c.args.get("text", "")
    )
    assert started[0].args["text"].startswith(f"🚀 Started again by <@{BOB}> at ")


async def test_a_reload_that_adds_two_person_applies_to_the_next_click() -> None:
    """``two_person`` comes from the file in force: after a SIGHUP that adds ``terminate``,
    the next Terminate asks for a second person instead of acting."""
    async with acting_bot() as bot:
        assert bot.config is not None
        bot.config.replace(RULES, frozenset({"terminate"}))
        _, _, request = await _terminate_asked(bot)
        assert "needs a second person" in request["text"]
        assert bot.requests.count("terminate") == 0
        bot.config.replace(RULES, frozenset())  # and back: the next action is done at once
        wf = bot.workflow("rotate-logs")
        ex = bot.newest(wf)
        ts = await show(bot, wf, ex)
        await press(bot, ts, ACTION_TERMINATE)
        await wait_card_update(bot, ts)
        assert bot.requests.count("terminate", ex) == 1
