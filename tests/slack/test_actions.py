"""The buttons end to end: a click on a posted card, then the Slack calls it causes."""

from __future__ import annotations

import pytest

from aom_bot.render.actions import (
    ACTION_CONSOLE,
    ACTION_FOLLOW,
    ACTION_REFRESH,
    ACTION_REPORT,
    ACTION_SHOW,
    ACTION_STOP_FOLLOW,
    ACTION_UNFOLLOW,
    ACTION_UNSUBSCRIBE,
    encode_ref,
)
from tests.slack.harness import Harness, action_values, text_of


async def _card(bot: Harness, wf: str, ex: str) -> str:
    """Show an execution in #general and return the card's ts."""
    before = len([c for c in bot.slack.calls_to("chat.postMessage") if c.ok])
    await bot.command(f"show {wf} {ex}")
    call = await bot.wait_posted(count=before + 1)
    return str(call.response["ts"])


def _update_of(ts: str):  # type: ignore[no-untyped-def]
    return lambda call: call.method == "chat.update" and call.args.get("ts") == ts


async def test_refresh_updates_the_card_in_place(bot: Harness) -> None:
    """Refresh re-reads AOM and edits the same message with chat.update."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await _card(bot, wf, ex)
    before = text_of(bot.slack.message(bot.slack.general, ts))
    bot.clock.advance(3600)  # the run has finished by now
    response = await bot.click_ref(ACTION_REFRESH, wf, ex, message_ts=ts)
    assert response.status_code == 200
    await bot.slack.wait_for(_update_of(ts))
    after = bot.slack.message(bot.slack.general, ts)
    assert text_of(after) != before
    assert ACTION_FOLLOW not in action_values(after)  # finished: no Follow any more
    assert len(bot.slack.messages(bot.slack.general)) == 1


async def test_refresh_of_a_private_card_replaces_it(bot: Harness) -> None:
    """An ephemeral card cannot be chat.update'd: it is replaced through response_url."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.click_ref(ACTION_REFRESH, wf, ex, message_ts="1700000000.000001", is_ephemeral=True)
    posted = await bot.hook_post()
    assert posted["replace_original"] is True
    assert ex in text_of(posted)
    assert not bot.slack.calls_to("chat.update")


async def test_follow_button_adopts_the_card(bot: Harness) -> None:
    """Follow on a card: the engine follows it and the card shows Stop following."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await _card(bot, wf, ex)
    await bot.click_ref(ACTION_FOLLOW, wf, ex, message_ts=ts)
    await bot.slack.wait_for(_update_of(ts))
    assert ACTION_UNFOLLOW in action_values(bot.slack.message(bot.slack.general, ts))
    await bot.follows.wait("follow")
    follow = await bot.store.find_active_follow(bot.slack.general, wf, ex)
    assert follow is not None
    assert follow.message_ts == ts


async def test_follow_button_on_a_private_card_explains(bot: Harness) -> None:
    """Follow on an ephemeral card says to run the command in the channel."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.click_ref(ACTION_FOLLOW, wf, ex, message_ts="1700000000.000001", is_ephemeral=True)
    posted = await bot.hook_post()
    assert f"/aom-exec follow {wf} {ex}" in posted["text"]
    assert await bot.store.find_active_follow(bot.slack.general, wf, ex) is None


async def test_follow_button_when_another_card_is_followed(bot: Harness) -> None:
    """Follow on a second card of an already-followed execution points at the first."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    other = await _card(bot, wf, ex)  # shown before anyone followed it
    await bot.command(f"follow {wf} {ex}")
    await bot.follows.wait("follow")
    await bot.click_ref(ACTION_FOLLOW, wf, ex, message_ts=other)
    posted = await bot.hook_post()
    assert "already followed in this channel, on another card" in posted["text"]


async def test_stop_following_button(bot: Harness) -> None:
    """Stop following ends the follow and the card offers Follow again."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    ts = str((await bot.wait_posted()).response["ts"])
    await bot.follows.wait("follow")
    await bot.click_ref(ACTION_UNFOLLOW, wf, ex, message_ts=ts)
    await bot.slack.wait_for(_update_of(ts))
    assert ACTION_FOLLOW in action_values(bot.slack.message(bot.slack.general, ts))
    assert await bot.store.find_active_follow(bot.slack.general, wf, ex) is None


async def test_stop_following_a_card_nobody_follows(bot: Harness) -> None:
    """Stop following on a stale card refreshes it with a note instead of failing."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    ts = await _card(bot, wf, ex)
    await bot.click_ref(ACTION_UNFOLLOW, wf, ex, message_ts=ts)
    await bot.slack.wait_for(_update_of(ts))
    card = bot.slack.message(bot.slack.general, ts)
    assert "was not being followed" in text_of(card)


async def test_stop_follow_from_a_list_confirms_privately(bot: Harness) -> None:
    """The list's Stop following button ends the follow and confirms to the clicker alone."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    ts = str((await bot.wait_posted()).response["ts"])
    await bot.follows.wait("follow")
    await bot.click_ref(ACTION_STOP_FOLLOW, wf, ex, message_ts=ts)
    posted = await bot.hook_post()
    assert posted["response_type"] == "ephemeral"
    assert "Stopped following" in posted["text"]


async def test_all_failed_hosts_uploads_the_report_in_the_thread(bot: Harness) -> None:
    """All failed hosts uploads the full report (files upload v2) into the card's thread."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await _card(bot, wf, ex)
    assert ACTION_REPORT in action_values(bot.slack.message(bot.slack.general, ts))
    await bot.click_ref(ACTION_REPORT, wf, ex, message_ts=ts)
    (complete,) = await bot.slack.wait_for("files.completeUploadExternal")
    assert complete.args["channel_id"] == bot.slack.general
    assert complete.args["thread_ts"] == ts
    assert bot.slack.calls_to("files.getUploadURLExternal")
    (upload,) = bot.slack.calls_to("files.upload_bytes")
    report = upload.args["content"].decode()
    nodes = bot.world.execution_json(wf, ex)["execution_result_list"]
    failed = {host["name"] for node in nodes for host in node["output"].get("fail", [])}
    assert failed, "the scenario has failed hosts"
    assert all(name in report for name in failed)


async def test_show_button_from_a_list(bot: Harness) -> None:
    """Show on a list row posts that execution's card in the channel."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.command(f"list {wf}")
    listing = await bot.wait_posted()
    await bot.click_ref(ACTION_SHOW, wf, ex, message_ts=str(listing.response["ts"]))
    card = await bot.wait_posted(count=2)
    assert ex in text_of(card.args)
    assert ACTION_REFRESH in action_values(card.args)


async def test_show_button_on_a_private_list_stays_private(bot: Harness) -> None:
    """Show from an ephemeral list answers ephemerally too."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.click_ref(ACTION_SHOW, wf, ex, message_ts="1700000000.000001", is_ephemeral=True)
    posted = await bot.hook_post()
    assert posted["response_type"] == "ephemeral"
    assert ex in text_of(posted)
    assert not bot.slack.calls_to("chat.postMessage")


async def test_console_button_is_only_acked(bot: Harness) -> None:
    """The Console link button is acknowledged and does nothing else."""
    wf = bot.workflow("rotate-logs")
    response = await bot.click_ref(
        ACTION_CONSOLE, wf, bot.failed_yesterday(wf), message_ts="1700000000.000001",
        is_ephemeral=True,
    )  # fmt: skip
    assert response.status_code == 200
    assert [c.method for c in bot.slack.calls if c.method != "auth.test"] == []
    assert bot.requests.total == 0


async def test_unsubscribe_button_without_subscriptions(bot: Harness) -> None:
    """Unsubscribe says the feature is not enabled when it is not."""
    await bot.click(ACTION_UNSUBSCRIBE, "1", message_ts="1.2", is_ephemeral=True)
    assert "not enabled on this bot" in (await bot.hook_post())["text"]


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '{"w": "../admin", "e": "x"}',
        '{"w": "wf"}',
        encode_ref("wf", "ex/../../x"),
    ],
)
async def test_forged_button_values_are_refused(bot: Harness, value: str) -> None:
    """A broken or forged value is refused with a clear message and never reaches AOM."""
    await bot.click(ACTION_REFRESH, value, message_ts="1.2", is_ephemeral=True)
    posted = await bot.hook_post()
    assert "is not a valid ID" in posted["text"]
    assert bot.requests.total == 0


async def test_aom_failure_on_refresh_is_private(bot: Harness) -> None:
    """When AOM fails during Refresh the card stays and the clicker is told why."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await _card(bot, wf, ex)
    bot.faults.upcoming.append(429)
    await bot.click_ref(ACTION_REFRESH, wf, ex, message_ts=ts)
    posted = await bot.hook_post()
    assert posted["response_type"] == "ephemeral"
    assert "throttling" in posted["text"]
    assert not bot.slack.calls_to("chat.update")


async def test_refresh_of_a_deleted_card(bot: Harness) -> None:
    """Refresh on a card someone deleted meanwhile tells the clicker instead of crashing."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    ts = await _card(bot, wf, ex)
    bot.slack.delete_message(bot.slack.general, ts)
    await bot.click_ref(ACTION_REFRESH, wf, ex, message_ts=ts)
    posted = await bot.hook_post()
    assert "message_not_found" in posted["text"]
