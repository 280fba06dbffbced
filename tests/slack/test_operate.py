"""Acting on executions end to end: signed clicks and commands from the fake Slack, the bot
as it runs, the AOM simulator counting what reaches it, the audit log in the store.

Each test says what a person on the incident call sees and what AOM was asked: a refusal
sends nothing; a permitted click sends exactly one request however often it arrives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from aom_bot.render.actions import (
    ACTION_CANCEL,
    ACTION_CONFIRM,
    ACTION_CONTINUE,
    ACTION_RETRY,
    ACTION_RUN,
    ACTION_SKIP,
    ACTION_TERMINATE,
)
from tests.slack.harness import Harness, running_bot, text_of
from tests.slack.operate_helpers import (
    ALICE,
    BOB,
    MALLORY,
    acting_bot,
    audit,
    card,
    elements,
    outcomes,
    press,
    private_answer,
    replies,
    show,
    shown_ts,
    value_of,
    wait_card_update,
    wait_replies,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def bot() -> AsyncIterator[Harness]:
    async with acting_bot() as harness:
        yield harness


async def test_unpermitted_click_is_refused_and_nothing_reaches_aom(bot: Harness) -> None:
    """mallory may read but not terminate: an ephemeral refusal naming the permission, no
    request to AOM, an audit row ``denied``; the card stays as it was."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    before = card(bot, ts)
    await press(bot, ts, ACTION_TERMINATE, user=MALLORY)
    refusal = await private_answer(bot)
    assert refusal["response_type"] == "ephemeral"
    assert "`terminate` permission" in text_of(refusal)
    assert bot.requests.count("terminate") == 0
    [entry] = await audit(bot)
    assert (entry.user_id, entry.action.value, entry.outcome.value) == (
        MALLORY,
        "terminate",
        "denied",
    )
    assert (entry.workflow_id, entry.execution_id, entry.channel_id) == (wf, ex, bot.slack.general)
    assert entry.user_name == "mallory"
    assert entry.aom_request_id is None
    assert card(bot, ts) == before
    assert replies(bot, ts) == []


async def test_permitted_terminate_is_one_request_a_card_update_and_one_reply(
    bot: Harness,
) -> None:
    """alice's Terminate: one terminate request, the card shows the run stopping (and no
    Terminate any more), one thread reply naming her; audited ``done`` with AOM's request ID."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    assert ACTION_TERMINATE in elements(card(bot, ts))
    await press(bot, ts, ACTION_TERMINATE)
    updated = await wait_card_update(bot, ts)
    assert bot.requests.count("terminate", ex) == 1
    [reply] = replies(bot, ts)
    assert reply["text"].startswith(f"🛑 Terminated by <@{ALICE}> ")
    assert ACTION_TERMINATE not in elements(updated)
    header = updated["blocks"][0]["text"]["text"]
    assert "Cancel" in header or "Terminat" in header, header
    [entry] = await audit(bot)
    assert (entry.outcome.value, entry.user_id) == ("done", ALICE)
    assert entry.aom_request_id  # the simulator's X-Request-Id


async def test_two_clicks_50ms_apart_send_one_request(bot: Harness) -> None:
    """A double click, and a stale card pressed again later (as Slack retrying the delivery
    would): one terminate request, one reply; the later clicks are told why nothing was sent."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    stale = value_of(elements(card(bot, ts))[ACTION_TERMINATE])
    bot.faults.latency_seconds = 0.2  # AOM is slow: the second click comes mid-request
    await press(bot, ts, ACTION_TERMINATE)
    await asyncio.sleep(0.05)  # the double click; any interleaving must give one request
    await press(bot, ts, ACTION_TERMINATE)
    clicks = {url.rsplit("/", 1)[-1] for url in bot.hooks[-2:]}
    [told] = await bot.slack.wait_for(  # whichever click lost the claim is told
        lambda c: c.method == "response_url" and c.args.get("hook_id") in clicks
    )
    second = text_of(told.args)
    await wait_card_update(bot, ts)
    bot.faults.latency_seconds = 0.0
    await bot.click(ACTION_TERMINATE, stale, message_ts=ts, user_id=BOB, user_name="bob")
    third = text_of(await private_answer(bot))
    assert bot.requests.count("terminate", ex) == 1
    assert "nothing was sent again" in second
    assert "(by you)" in second or "(asked by you)" in second
    assert "already done (asked by alice)" in third
    assert "&lt;@" not in second + third  # an escaped mention would show as literal text
    assert len(replies(bot, ts)) == 1
    assert [o for o in outcomes(await audit(bot)) if o[2] == "done"] == [
        (ALICE, "terminate", "done")
    ]


async def test_two_people_at_once_send_one_request(bot: Harness) -> None:
    """alice and bob press Terminate at the same moment: one request, one reply; whoever
    lost is told privately."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    bot.faults.latency_seconds = 0.1
    await asyncio.gather(
        press(bot, ts, ACTION_TERMINATE), press(bot, ts, ACTION_TERMINATE, user=BOB)
    )
    await wait_card_update(bot, ts)
    told = await bot.slack.wait_for("response_url")
    assert "nothing was sent again" in text_of(told[0].args)
    assert bot.requests.count("terminate", ex) == 1
    assert len(replies(bot, ts)) == 1
    assert len([o for o in outcomes(await audit(bot)) if o[2] == "done"]) == 1


async def test_command_answers_with_a_summary_and_acts_only_on_confirm(bot: Harness) -> None:
    """``/aom-exec terminate WF EX``: a private summary with Confirm; nothing reaches AOM until
    Confirm, then one request. A second summary's Cancel sends nothing."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"terminate {wf} {ex}")
    summary = await private_answer(bot)
    assert summary["response_type"] == "ephemeral"
    assert "Terminate *deploy-nginx*" in summary["text"]
    assert "Nothing happens until you confirm" in text_of(summary)
    assert bot.requests.count("terminate") == 0
    confirm = elements(summary)[ACTION_CONFIRM]
    await bot.click(ACTION_CONFIRM, value_of(confirm), message_ts=shown_ts(bot), is_ephemeral=True)
    confirmed = await private_answer(bot)
    assert confirmed["replace_original"] is True
    reply = await bot.wait_posted()
    assert reply.args["text"].startswith(f"🛑 Terminated by <@{ALICE}>")
    assert bot.requests.count("terminate", ex) == 1

    wf2 = bot.workflow("rotate-logs")
    ex2 = bot.newest(wf2)
    await bot.command(f"terminate {wf2} {ex2}")
    summary2 = await private_answer(bot)
    cancel = elements(summary2)[ACTION_CANCEL]
    await bot.click(ACTION_CANCEL, value_of(cancel), message_ts=shown_ts(bot), is_ephemeral=True)
    cancelled = await private_answer(bot)
    assert "nothing was done" in cancelled["text"]
    assert bot.requests.count("terminate", ex2) == 0


async def test_a_command_to_terminate_an_ended_run_says_so(bot: Harness) -> None:
    """``/aom-exec terminate`` on a run that has ended: told why, no summary, no request."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.command(f"terminate {wf} {ex}")
    answer = await private_answer(bot)
    assert "cannot be terminated now (status: fail)" in answer["text"]
    assert ACTION_CONFIRM not in elements(answer)
    assert bot.requests.count("terminate") == 0


async def test_retry_of_the_failed_node_sends_restart_with_its_node_id(bot: Harness) -> None:
    """Retry on a failed run's card: one operation request, action=restart, node_id of the
    failed node; the thread says the node restarted."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await show(bot, wf, ex)
    retry = json.loads(value_of(elements(card(bot, ts))[ACTION_RETRY]))
    await press(bot, ts, ACTION_RETRY)
    await wait_card_update(bot, ts)
    [call] = [r for r in bot.requests.records if r.endpoint == "operation"]
    assert call.execution_id == ex
    [reply] = replies(bot, ts)
    assert reply["text"].startswith(f"🔁 Node `{retry['n']}` restarted by <@{ALICE}>")
    assert bot.world.interventions(wf, ex) == [("restart", retry["n"])]


async def test_skip_comes_from_the_overflow_menu(bot: Harness) -> None:
    """Skip is an overflow menu beside Retry: its selected option sends action=skip."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await show(bot, wf, ex)
    menu = elements(card(bot, ts))[ACTION_SKIP]
    assert menu["type"] == "overflow"
    assert menu["confirm"]["title"]["text"] == "Skip the node?"
    await press(bot, ts, ACTION_SKIP)
    await wait_card_update(bot, ts)
    node = json.loads(value_of(menu))["n"]
    assert bot.world.interventions(wf, ex) == [("skip", node)]
    assert replies(bot, ts)[0]["text"].startswith(f"⏭️ Node `{node}` skipped by <@{ALICE}>")


async def test_continue_on_a_paused_run(bot: Harness) -> None:
    """The canary run pauses after its first wave: Continue sends action=continue for the
    pause node."""
    wf = bot.workflow("canary-release")
    ex = bot.newest(wf)
    bot.clock.advance(600)
    ts = await show(bot, wf, ex)
    assert ACTION_CONTINUE in elements(card(bot, ts)), text_of(card(bot, ts))
    await press(bot, ts, ACTION_CONTINUE)
    await wait_card_update(bot, ts)
    assert bot.world.interventions(wf, ex) == [("continue", "check-canary")]
    assert bot.requests.count("operation", ex) == 1


async def test_run_again_starts_one_run_and_follows_it(bot: Harness) -> None:
    """Run again on a finished card: one execute request; the new run's card is posted in
    the channel and followed; the thread says which run started."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await show(bot, wf, ex)
    before = set(bot.world.execution_ids(wf))
    await press(bot, ts, ACTION_RUN)
    await bot.follows.wait("follow")
    [new] = set(bot.world.execution_ids(wf)) - before
    assert bot.requests.count("execute") == 1
    [reply] = await wait_replies(bot, ts)
    assert reply["text"].startswith(f"🚀 Started again by <@{ALICE}>")
    assert new in reply["text"]
    follow = await bot.store.find_active_follow(bot.slack.general, wf, new)
    assert follow is not None
    assert follow.message_ts is not None
    assert new in text_of(card(bot, follow.message_ts))
    [entry] = await audit(bot)
    assert (entry.outcome.value, entry.result_execution_id) == ("done", new)
    await press(bot, ts, ACTION_RUN)  # the same card's Run again, pressed again
    await private_answer(bot)
    assert bot.requests.count("execute") == 1


async def test_an_aom_error_is_failed_and_a_5xx_is_unknown(bot: Harness) -> None:
    """AOM refusing (400) did nothing: ``failed``, said in the thread. A 5xx may have acted:
    ``unknown``, the card says so, and pressing again sends nothing."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await show(bot, wf, ex)
    bot.faults.path_contains = "/terminate"
    bot.faults.upcoming.append(400)
    await press(bot, ts, ACTION_TERMINATE)
    await wait_card_update(bot, ts)
    assert replies(bot, ts)[0]["text"].startswith(f"⚠️ <@{ALICE}>'s terminate failed")
    bot.faults.upcoming.append(503)
    await press(bot, ts, ACTION_TERMINATE)  # a failed attempt may be tried again
    updated = await wait_card_update(bot, ts, count=2)
    assert "outcome is unknown" in replies(bot, ts)[1]["text"]
    assert "outcome is unknown" in text_of(updated)
    await press(bot, ts, ACTION_TERMINATE)
    assert "unknown outcome" in text_of(await private_answer(bot))
    assert bot.requests.count("terminate", ex) == 2
    assert [o[2] for o in outcomes(await audit(bot))] == ["failed", "unknown"]


async def test_without_a_configuration_file_actions_are_off() -> None:
    """No file: the card has no action buttons and ``/aom-exec terminate`` says actions are
    off; nothing reaches AOM."""
    async with running_bot() as bot:
        wf = bot.workflow("rotate-logs")
        ex = bot.failed_yesterday(wf)
        ts = await show(bot, wf, ex)
        shown = set(elements(card(bot, ts)))
        assert not shown & {ACTION_TERMINATE, ACTION_RETRY, ACTION_SKIP, ACTION_RUN}
        await bot.command(f"terminate {wf} {ex}")
        answer = await private_answer(bot)
        assert "Actions on executions are off" in answer["text"]
        assert bot.requests.count("terminate") == 0


HOSTILE = "<!channel> *deploy* <@U0EVIL> <https://evil.example|click> & `x`"


async def test_a_hostile_workflow_name_is_escaped_in_dialogs_summaries_and_requests() -> None:
    """AOM's workflow name is untrusted: the confirm dialog, the command's summary and the
    two-person request show it escaped (no @channel, no mention, no link)."""
    async with acting_bot(two_person=frozenset({"terminate"})) as bot:
        wf = bot.world.add_workflow(HOSTILE, scenario="all-success")
        ex = bot.world.add_execution(wf)
        ts = await show(bot, wf, ex)
        dialog = elements(card(bot, ts))[ACTION_TERMINATE]["confirm"]["text"]["text"]
        await bot.command(f"terminate {wf} {ex}")
        summary = text_of(await private_answer(bot))
        await press(bot, ts, ACTION_TERMINATE)
        [request] = await wait_replies(bot, ts)
        for shown in (dialog, summary, text_of(request)):
            assert "&lt;!channel&gt;" in shown
            for raw in ("<!channel>", "<@U0EVIL>", "<https://evil"):
                assert raw not in shown
        assert bot.requests.count("terminate") == 0
