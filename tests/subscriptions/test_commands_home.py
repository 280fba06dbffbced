"""Subscribing from Slack: wrong IDs and hostile mentions refused; the Home tab and its Stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aom_bot.render.actions import ACTION_STOP_FOLLOW, ACTION_UNSUBSCRIBE
from aom_bot.render.subscriptions import encode_follow_ref
from aom_bot.slack.help import USAGE
from tests.subscriptions.harness import BOB, INTERVAL, OPS, buttons, running, text_of

UNKNOWN_WF = "0" * 32


async def test_unknown_workflow_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    """A workflow AOM does not know gets a clear private error; nothing is subscribed."""
    async with running(tmp_path) as bot:
        answer = await bot.answer(await bot.command(f"subscribe {UNKNOWN_WF}"))
        assert answer["response_type"] == "ephemeral"
        assert "AOM has no workflow" in answer["text"]
        assert "/aom-exec workflows" in answer["text"]
        assert await bot.rig.store.subscriptions_for_channel(bot.slack.general) == []
        assert await bot.rig.store.subscribed_workflow_ids() == []


async def test_malformed_workflow_id_is_a_usage_error(tmp_path: Path) -> None:
    """An ID that cannot be a workflow never reaches AOM."""
    async with running(tmp_path) as bot:
        bot.rig.requests.reset()
        answer = await bot.answer(await bot.command("subscribe ../../admin"))
        assert "is not a valid ID" in answer["text"]
        assert bot.rig.requests.total == 0
        assert await bot.rig.store.subscribed_workflow_ids() == []


@pytest.mark.parametrize(
    ("mention", "says"),
    [
        ("<!channel>", "@channel, @here and @everyone are not allowed"),
        ("<!here|here>", "@channel, @here and @everyone are not allowed"),
        ("@everyone", "@channel, @here and @everyone are not allowed"),
        ("@bob", "I can't tell who"),
        ("<@U0BOB|bob><!channel>", "is not a Slack user or user group"),
        ("<https://evil.example|click>", "is not a Slack user or user group"),
    ],
)
async def test_hostile_mentions_are_refused(tmp_path: Path, mention: str, says: str) -> None:
    """Only one user or one user group may be mentioned; the rest is refused, nothing stored."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        answer = await bot.answer(await bot.command(f"subscribe {wf} --mention {mention}"))
        assert says in answer["text"].replace("\u2060", "")  # escaping defuses @words
        assert "<!channel>" not in json.dumps(answer)
        assert "<!here" not in json.dumps(answer)
        assert await bot.rig.store.subscribed_workflow_ids() == []


async def test_group_mention_is_stored_in_its_safe_form(tmp_path: Path) -> None:
    """``<!subteam^S…|@sre>`` is kept as ``<!subteam^S…>``, shown in the confirmation."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        said = await bot.subscribe(f"{wf} --failures-only --mention <!subteam^S0SRE42|@sre>")
        assert "<!subteam^S0SRE42>" in said["text"]
        sub = await bot.rig.store.get_subscription(bot.slack.general, wf)
        assert sub is not None
        assert sub.mention == "<!subteam^S0SRE42>"
        assert sub.failures_only


async def test_home_tab_lists_and_stops_follows_and_subscriptions(tmp_path: Path) -> None:
    """Home shows what the user started and what lives in their channels; Stop works there."""
    async with running(tmp_path) as bot:
        wf = bot.rig.world.add_workflow("deploy-web", scenario="all-success")
        await bot.subscribe(wf, channel=OPS)  # alice subscribes #ops
        manual_wf = bot.rig.world.add_workflow("rotate-logs", scenario="few-failures")
        manual_run = bot.rig.world.add_execution(manual_wf)
        await bot.command(f"follow {manual_wf} {manual_run}")  # alice follows in #general
        await bot.said_in(bot.slack.general, 1)
        run = bot.rig.world.add_execution(wf)
        await bot.advance(INTERVAL + 1)  # discovery posts the run in #ops

        bob_home = await bot.open_home(BOB)  # bob is in #ops only
        bob_rows = buttons(bob_home)
        assert [r[0] for r in bob_rows].count(ACTION_UNSUBSCRIBE) == 1
        assert any(run in r[2] for r in bob_rows if r[0] == ACTION_STOP_FOLLOW)
        assert not any(manual_run in r[2] for r in bob_rows)
        assert USAGE in json.dumps(bob_home, ensure_ascii=False).replace("\\n", "\n")

        alice_home = await bot.open_home(bot.slack.alice)
        rows = buttons(alice_home)
        (manual,) = [r for r in rows if r[0] == ACTION_STOP_FOLLOW and manual_run in r[2]]
        assert "started by <@U0ALICE>" in manual[2]

        # bob cannot stop alice's follow in #general (he is not there) with a forged value
        refused = await bot.click_in_home(ACTION_STOP_FOLLOW, manual[1], user=BOB)
        assert "only stop follows and subscriptions of channels you are in" in text_of(refused)
        assert await bot.rig.store.find_active_follow(bot.slack.general, manual_wf, manual_run)

        # alice stops it from Home: the tab is re-published without it
        after = await bot.click_in_home(ACTION_STOP_FOLLOW, manual[1], user=bot.slack.alice)
        assert "Stopped following" in text_of(after)
        assert not any(manual_run in r[2] for r in buttons(after))
        assert (
            await bot.rig.store.find_active_follow(bot.slack.general, manual_wf, manual_run) is None
        )

        # bob unsubscribes #ops from Home (he is a member of #ops)
        (unsubscribe,) = [r for r in buttons(bob_home) if r[0] == ACTION_UNSUBSCRIBE]
        after = await bot.click_in_home(ACTION_UNSUBSCRIBE, unsubscribe[1], user=BOB)
        assert "Unsubscribed" in text_of(after)
        assert not any(r[0] == ACTION_UNSUBSCRIBE for r in buttons(after))
        assert await bot.rig.store.subscriptions_for_channel(OPS) == []


async def test_home_click_with_a_forged_value_is_refused(tmp_path: Path) -> None:
    """A value that names no valid channel or IDs is refused on the tab, nothing changes."""
    async with running(tmp_path) as bot:
        forged = encode_follow_ref("not-a-channel", "wf", "ex")
        view = await bot.click_in_home(ACTION_STOP_FOLLOW, forged, user=BOB)
        assert "is not a valid ID" in text_of(view)
        view = await bot.click_in_home(ACTION_UNSUBSCRIBE, "garbage", user=BOB)
        assert "is not a valid ID" in text_of(view)
