"""The follow engine under trouble: crashes, AOM outages, Slack limits, deleted cards, replicas."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.follow import policy
from aom_bot.records import FollowRequest
from aom_bot.render.actions import ACTION_UNFOLLOW
from aom_bot.simulator.faults import FaultKind
from aom_bot.store import CompletionState, EndReason, NewFollow
from tests.follow.harness import Rig, action_ids, card_text, make_rig

C = "C0GENERAL"
ALICE = "U0ALICE"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


def completions(rig: Rig, ts: str) -> list[dict[str, object]]:
    found = []
    for message in rig.replies(C, ts):
        metadata = message.get("metadata")
        if isinstance(metadata, dict) and metadata.get("event_type") == "aom_bot_completion":
            found.append(message)
    return found


async def crash(task: asyncio.Task[None]) -> None:
    """Drop an engine as SIGKILL would: its loop is cancelled, no stop(), nothing cleaned up."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_restart_resumes_from_the_store_and_completes_once(rig: Rig) -> None:
    """An engine killed mid-follow is replaced by a new one that finishes the job exactly once."""
    first = rig.engine(owner="replica-a", lease_ttl=timedelta(seconds=60))
    run = await rig.start(first)
    wf, ex = rig.execution("few-failures")
    result = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(60, first)
    await crash(run)
    rig.engines.remove(first)

    store = await rig.second_store()
    second = rig.engine(store=store, owner="replica-b")
    await rig.start(second)
    assert second.stats.active_follows == 0  # replica-a's lease has not expired yet
    await rig.advance(900, second)

    assert len(completions(rig, ts)) == 1
    stored = await store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.COMPLETED
    assert [m for m in rig.slack.workspace.top_level(rig.slack.channel(C)) if m["ts"] != ts] == [
        m for m in completions(rig, ts) if m.get("subtype") == "thread_broadcast"
    ]


async def test_restart_with_same_owner_resumes_at_once(rig: Rig) -> None:
    """The same replica restarting (same owner) takes its own leases back without waiting."""
    first = rig.engine(owner="bot-1")
    run = await rig.start(first)
    wf, ex = rig.execution("all-success")
    result = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await crash(run)
    rig.engines.remove(first)

    second = rig.engine(store=await rig.second_store(), owner="bot-1")
    await rig.start(second)
    assert second.stats.active_follows == 1
    await rig.advance(600, second)
    assert len(completions(rig, result.message_ts or "")) == 1


async def test_claimed_completion_already_posted_is_reconciled_not_repeated(rig: Rig) -> None:
    """A crash between posting the completion and recording it never yields a second reply."""
    first = rig.engine(owner="bot-1")
    run = await rig.start(first)
    wf, ex = rig.execution("all-success")
    result = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await crash(run)
    rig.engines.remove(first)
    # what the crashed engine got done: claimed the completion and posted it, nothing more
    assert await rig.store.claim_completion(result.follow_id, "bot-1", rig.clock.now())
    client = AsyncWebClient(token=rig.slack.bot_token, base_url=rig.slack.base_url)
    await client.chat_postMessage(
        channel=C,
        text="<@U0ALICE> finished: success",
        thread_ts=ts,
        metadata={
            "event_type": "aom_bot_completion",
            "event_payload": {"follow_id": result.follow_id},
        },
    )

    second = rig.engine(store=await rig.second_store(), owner="bot-1")
    await rig.start(second)
    await rig.advance(900, second)

    assert len(completions(rig, ts)) == 1
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.completion_state is CompletionState.POSTED
    assert not stored.is_active
    assert second.stats.completions_reconciled == 1
    assert any(
        c.args.get("include_all_metadata") for c in rig.slack.calls_to("conversations.replies")
    )


async def test_claimed_completion_never_posted_is_posted_once_after_restart(rig: Rig) -> None:
    """A crash after claiming but before posting: the next engine looks, finds nothing, posts."""
    first = rig.engine(owner="bot-1")
    run = await rig.start(first)
    wf, ex = rig.execution("all-success")
    result = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await crash(run)
    rig.engines.remove(first)
    assert await rig.store.claim_completion(result.follow_id, "bot-1", rig.clock.now())

    second = rig.engine(store=await rig.second_store(), owner="bot-1")
    await rig.start(second)
    await rig.advance(900, second)

    assert len(completions(rig, ts)) == 1
    assert second.stats.completions_posted == 1


async def test_restart_takes_its_own_unposted_completion_claim_back_at_once(rig: Rig) -> None:
    """SIGKILL between claiming the completion and posting it: the restarted process (same
    owner) posts the reply within seconds, not after the two-minute stale-claim window; a
    claim under another name still waits for that window."""
    first = rig.engine(owner="bot-1")
    run = await rig.start(first)
    wf, ex = rig.execution("all-success")
    mine = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    rig.slack.add_channel("ops", id="C0OPS", members=[ALICE])
    theirs = await first.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C0OPS", user_id=ALICE)
    )
    await crash(run)
    rig.engines.remove(first)
    while not rig.world.snapshot(wf, ex).terminal:
        await rig.advance(5)
    assert await rig.store.claim_completion(mine.follow_id, "bot-1", rig.clock.now())
    assert await rig.store.claim_completion(theirs.follow_id, "bot-2", rig.clock.now())

    second = rig.engine(store=await rig.second_store(), owner="bot-1")
    await rig.start(second)
    await rig.advance(30)

    assert len(completions(rig, mine.message_ts or "")) == 1
    other = [m for m in rig.replies("C0OPS", theirs.message_ts or "") if m.get("metadata")]
    assert other == []  # bot-2 may still be posting it: its claim is not stale yet
    await rig.advance(300)
    assert len(completions(rig, mine.message_ts or "")) == 1
    assert len(rig.replies("C0OPS", theirs.message_ts or "")) == 1


async def test_aom_outage_shows_unreachable_notice_then_clears(rig: Rig) -> None:
    """503s and malformed JSON keep the follow alive; the card says so once, then recovers."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(60)
    rig.faults.path_contains = "/status"
    rig.faults.error_rates[503] = 0.5
    rig.faults.malformed_json_rate = 0.5  # every status request fails one way or the other

    await rig.advance(240)

    text = card_text(rig.card(C, ts))
    assert "AOM unreachable since" in text
    assert "retrying" in text
    assert engine.stats.aom_errors >= 3
    assert await engine.is_following(C, wf, ex)
    notice_updates = rig.updates_of(ts)

    await rig.advance(120)
    assert rig.updates_of(ts) == notice_updates  # said once, not on every failed poll

    rig.faults.clear()
    await rig.advance(120)
    assert "AOM unreachable" not in card_text(rig.card(C, ts))
    assert ACTION_UNFOLLOW in action_ids(rig.card(C, ts))
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.unreachable_since is None


async def test_dropped_connections_and_html_502_do_not_end_the_follow(rig: Rig) -> None:
    """Transport errors and gateway pages are weathered like any other AOM hiccup."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    rig.faults.upcoming.extend([FaultKind.DROP, FaultKind.HTML_502, 500, 429])

    await rig.advance(900)

    assert engine.stats.aom_errors == 4
    assert len(completions(rig, result.message_ts or "")) == 1


async def test_rate_limited_updates_are_retried_after_retry_after(rig: Rig) -> None:
    """429s on chat.update are honoured (no early retry) and no follow ends because of them."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    rig.slack.rate_limit_next("chat.update", retry_after=20, times=3)

    await rig.advance(900)

    calls = rig.slack.calls_to("chat.update")
    limited = [c for c in calls if c.status == 429]
    assert len(limited) == 3
    for earlier, later in itertools.pairwise(calls):
        if earlier.status == 429:
            assert later.time - earlier.time >= 20
    assert rig.notifier.stats.ratelimited == 3
    assert len(completions(rig, ts)) == 1
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.COMPLETED


async def test_deleted_card_ends_the_follow_quietly(rig: Rig) -> None:
    """Someone deletes the card: the follow ends, nothing more is posted."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    rig.slack.delete_message(C, result.message_ts or "")

    await rig.advance(900)

    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.MESSAGE_DELETED
    assert rig.slack.calls_to("chat.postMessage")[1:] == []
    assert engine.stats.active_follows == 0


async def test_archived_channel_ends_the_follow_quietly(rig: Rig) -> None:
    """An archived channel ends its follows as 'channel gone'."""
    rig.slack.add_channel("incident", id="C0INC", members=[ALICE])
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C0INC", user_id=ALICE)
    )
    rig.slack.archive("C0INC")

    await rig.advance(900)

    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.CHANNEL_GONE


async def test_max_follow_time_ends_with_a_note(rig: Rig) -> None:
    """A run longer than the maximum follow time stops being followed, and the card says why."""
    engine = rig.engine(max_follow=timedelta(minutes=10))
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )

    await rig.advance(15 * 60)

    card = rig.card(C, result.message_ts or "")
    assert "Stopped following after" in card_text(card)
    assert ACTION_UNFOLLOW not in action_ids(card)
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.MAX_TIME


async def test_unknown_execution_ends_with_a_note(rig: Rig) -> None:
    """AOM forgetting the execution (404) ends the follow with a clear note on the card."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    rig.faults.upcoming.append(404)

    await rig.advance(30)

    assert "no longer knows this execution" in card_text(rig.card(C, result.message_ts or ""))
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.EXECUTION_NOT_FOUND


async def test_lost_authorisation_ends_with_a_note(rig: Rig) -> None:
    """AOM refusing the credentials (401) ends the follow with a note, not an endless retry."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    rig.faults.upcoming.append(401)

    await rig.advance(30)

    assert "refused the bot's credentials" in card_text(rig.card(C, result.message_ts or ""))
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.AUTH_LOST


async def test_two_replicas_poll_each_execution_once(rig: Rig) -> None:
    """With two engines on one store, leases make exactly one of them poll an execution."""
    one = rig.engine(owner="replica-a")
    two = rig.engine(store=await rig.second_store(), owner="replica-b")
    await rig.start(one)
    await rig.start(two)
    wf, ex = rig.execution("waiting-approval")
    rig.slack.add_channel("ops", id="C0OPS", members=[ALICE])
    await one.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE))
    await two.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C0OPS", user_id=ALICE)
    )
    before = rig.status_requests(ex)

    await rig.advance(300)

    assert rig.status_requests(ex) - before <= 300 / 5
    assert {one.stats.watched_executions, two.stats.watched_executions} == {0, 1}
    assert one.stats.active_follows + two.stats.active_follows == 2


async def test_stop_returns_promptly_and_hands_over(rig: Rig) -> None:
    """stop() ends the loop at once and releases leases, so another replica takes over now."""
    one = rig.engine(owner="replica-a")
    run = await rig.start(one)
    wf, ex = rig.execution("waiting-approval")
    await one.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE))
    await rig.advance(20)

    await asyncio.wait_for(one.stop(), 2)
    assert run.done()

    two = rig.engine(store=await rig.second_store(), owner="replica-b")
    await rig.start(two)
    assert two.stats.active_follows == 1


async def test_card_deleted_before_a_new_failure_gets_no_thread_reply(rig: Rig) -> None:
    """Slack says the card is gone before anything more is posted: no reply under a deleted card.

    The card is deleted just before the run's first new error group appears, and Slack is slow
    to answer the next edit (one 429): the announcement must still wait for that edit.
    """
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(80)
    assert engine.stats.new_group_replies == 0  # the first new group appears a little later
    rig.slack.delete_message(C, ts)
    rig.slack.rate_limit_next("chat.update", retry_after=30)

    await rig.advance(900)

    assert [c for c in rig.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")] == []
    assert engine.stats.new_group_replies == 0
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.MESSAGE_DELETED


def cards_in_channel(rig: Rig, channel: str = C) -> list[str]:
    """The ts of every card in the channel (top-level bot messages that are not replies)."""
    return [
        m["ts"]
        for m in rig.slack.messages(channel)
        if m.get("subtype") != "thread_broadcast" and m.get("user") == rig.slack.workspace.bot
    ]


async def test_first_post_slowed_by_429s_still_gets_one_card(rig: Rig) -> None:
    """Slack answers the first card's post with three 429s, so it lands after the next resync:
    still one card, which is kept current and completed, never a frozen twin."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    rig.slack.rate_limit_next("chat.postMessage", retry_after=30, times=3)

    following = rig.track(
        engine.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE))
    )
    await rig.advance(900)
    result = await following

    assert rig.slack.rate_limited_count == 3
    assert cards_in_channel(rig) == [result.message_ts]
    assert len(completions(rig, result.message_ts or "")) == 1
    assert ACTION_UNFOLLOW not in action_ids(rig.card(C, result.message_ts or ""))


async def test_a_hundred_follows_in_one_channel_get_a_hundred_cards_and_polling_goes_on(
    rig: Rig,
) -> None:
    """100 follows queued in one channel wait ~2 minutes for its pace (50 posts/min): each gets
    exactly one card, and the runs already on a card are polled all along."""
    engine = rig.engine()
    await rig.start(engine)
    runs = [rig.execution("waiting-approval") for _ in range(100)]
    started = [
        rig.track(
            engine.follow(
                FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
            )
        )
        for wf, ex in runs
    ]

    polls_per_window = []
    for _ in range(18):
        before = sum(rig.status_requests(ex) for _, ex in runs)
        await rig.advance(10)
        polls_per_window.append(sum(rig.status_requests(ex) for _, ex in runs) - before)
    results = await asyncio.gather(*started)

    assert all(polls_per_window[1:]), polls_per_window  # never a window without a poll
    assert sorted(cards_in_channel(rig)) == sorted(r.message_ts or "" for r in results)
    assert len(set(cards_in_channel(rig))) == 100


async def test_card_posted_just_before_a_crash_is_found_not_posted_again(rig: Rig) -> None:
    """SIGKILL between posting the card and recording its ts: the restarted process finds the
    card by its metadata in the channel, adopts it, and posts no second one."""
    wf, ex = rig.execution("all-success")
    now = rig.clock.now()
    # what the killed process got done: the follow, its card claim, and the card in Slack
    record, _ = await rig.store.start_follow(
        NewFollow(workflow_id=wf, execution_id=ex, channel_id=C, started_by=ALICE,
                  started_at=now, deadline=now + timedelta(hours=24), mention=f"<@{ALICE}>")
    )  # fmt: skip
    assert await rig.store.claim_card_post(record.id, "bot-1", now, stale_after=timedelta(hours=1))
    client = AsyncWebClient(token=rig.slack.bot_token, base_url=rig.slack.base_url)
    posted = await client.chat_postMessage(
        channel=C, text="card", metadata=policy.card_metadata(record.id, ex)
    )

    engine = rig.engine(store=await rig.second_store(), owner="bot-1")
    await rig.start(engine)
    await rig.advance(600)

    assert cards_in_channel(rig) == [posted["ts"]]
    stored = await rig.store.get_follow(record.id)
    assert stored is not None
    assert stored.message_ts == posted["ts"]
    assert stored.end_reason is EndReason.COMPLETED
    assert len(completions(rig, posted["ts"])) == 1
    assert "success" in card_text(rig.card(C, posted["ts"]))


async def test_another_replica_never_posts_a_card_that_is_still_being_posted(rig: Rig) -> None:
    """Replica B adopts a follow whose card replica A is still posting (Slack is slow with it):
    the store's card claim keeps B from posting a second one; B then keeps A's card current."""
    one = rig.engine(owner="replica-a")
    two = rig.engine(store=await rig.second_store(), owner="replica-b")
    await rig.start(one)
    await rig.start(two)
    wf, ex = rig.execution("all-success")
    rig.slack.rate_limit_next("chat.postMessage", retry_after=30, times=3)

    following = rig.track(
        one.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE))
    )
    await rig.advance(900)
    result = await following

    assert cards_in_channel(rig) == [result.message_ts]
    assert len(completions(rig, result.message_ts or "")) == 1


@pytest.mark.parametrize(
    "error", ["invalid_blocks", "msg_too_long", "edit_window_closed", "cant_update_message"]
)
async def test_final_edit_refused_still_gets_one_completion_reply(rig: Rig, error: str) -> None:
    """The reply is its own duty: the final card edit refused for good still means one reply."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(60)
    rig.slack.fail_next("chat.update", error, times=1000)  # every edit from now on
    assert rig.world.terminate(wf, ex)

    await rig.advance(900)

    assert len(completions(rig, ts)) == 1
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.COMPLETED


async def test_final_edit_failing_with_500s_still_gets_one_completion_reply(rig: Rig) -> None:
    """Slack answering every chat.update with HTTP 500: the reply goes out once all the same."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await rig.advance(60)
    rig.slack.break_method("chat.update")
    assert rig.world.terminate(wf, ex)

    await rig.advance(1800)

    assert len(completions(rig, result.message_ts or "")) == 1


async def test_a_429_storm_on_edits_does_not_delay_the_completion_reply(rig: Rig) -> None:
    """chat.update throttled for minutes while chat.postMessage is free: the reply comes at
    once (after the short wait for the final edit), the card is finalised when Slack lets it."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(60)
    rig.slack.rate_limit_next("chat.update", retry_after=60, times=4)
    assert rig.world.terminate(wf, ex)
    while not rig.world.snapshot(wf, ex).terminal:  # "canceling" first, then "cancel"
        await rig.advance(1)
    ended = rig.clock.monotonic()

    await rig.advance(60)

    (call,) = [c for c in rig.slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]
    assert call.time - ended <= 20  # the next poll (~5 s) plus the 10 s wait for the edit
    await rig.advance(600)
    assert ACTION_UNFOLLOW not in action_ids(rig.card(C, ts))  # finalised once Slack let it
    assert len(completions(rig, ts)) == 1
