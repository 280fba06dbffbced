"""Following an execution end to end: simulated AOM, FakeSlack, real notifier and SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.records import FollowRequest
from aom_bot.render.actions import ACTION_UNFOLLOW
from aom_bot.render.analysis import error_groups
from aom_bot.store import EndReason, NewSubscription
from tests.follow.harness import Rig, action_ids, card_text, make_rig

C = "C0GENERAL"
ALICE = "U0ALICE"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


def completion_replies(rig: Rig, ts: str) -> list[dict[str, object]]:
    return [
        m
        for m in rig.replies(C, ts)
        if isinstance(m.get("metadata"), dict)
        and m["metadata"].get("event_type") == "aom_bot_completion"  # type: ignore[union-attr]
    ]


async def test_follow_to_success_posts_final_card_and_one_mention(rig: Rig) -> None:
    """A run that succeeds ends with the final card and one thread reply mentioning the user."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    assert result.created
    assert result.message_ts
    assert not result.finished
    ts = result.message_ts
    assert ACTION_UNFOLLOW in action_ids(rig.card(C, ts))

    await rig.advance(600)

    card = rig.card(C, ts)
    assert "success" in card_text(card)
    assert ACTION_UNFOLLOW not in action_ids(card)
    (reply,) = rig.replies(C, ts)
    assert reply["text"].startswith(f"<@{ALICE}> ")
    assert "finished: success" in reply["text"]
    assert reply.get("subtype") != "thread_broadcast"
    assert not await engine.is_following(C, wf, ex)
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.COMPLETED

    await rig.advance(600)
    assert len(rig.replies(C, ts)) == 1


async def test_follow_to_failure_broadcasts_once(rig: Rig) -> None:
    """A failed run's completion reply is broadcast to the channel, exactly once."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts
    assert ts is not None

    await rig.advance(900)

    (completion,) = completion_replies(rig, ts)
    assert completion["subtype"] == "thread_broadcast"
    assert "finished: fail" in completion["text"]
    assert "hosts failed" in completion["text"]
    assert "fail" in card_text(rig.card(C, ts))


async def test_two_channels_share_one_aom_request_per_interval(rig: Rig) -> None:
    """Two channels following the same run cost one AOM status request per poll, not two."""
    rig.slack.add_channel("ops", id="C0OPS", members=[ALICE])
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    first = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    second = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C0OPS", user_id=ALICE)
    )
    assert first.created
    assert second.created
    before = rig.status_requests(ex)

    await rig.advance(120)

    polls = rig.status_requests(ex) - before
    # poll_min is 5 s and intervals only grow: at most 120 / 5 polls, however many channels
    assert 0 < polls <= 120 / 5
    assert engine.stats.watched_executions == 1
    assert rig.updates_of(first.message_ts or "") == rig.updates_of(second.message_ts or "")


async def test_duplicate_follow_returns_the_existing_one(rig: Rig) -> None:
    """Following twice in one channel keeps one card and one follow."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    first = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    again = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id="U0BOB")
    )
    assert not again.created
    assert again.follow_id == first.follow_id
    assert again.message_ts == first.message_ts
    assert len(rig.slack.calls_to("chat.postMessage")) == 1


async def test_unchanged_state_sends_no_update_until_the_heartbeat(rig: Rig) -> None:
    """A run waiting for approval is not re-sent each poll; only the slow heartbeat refreshes it."""
    engine = rig.engine(heartbeat=timedelta(minutes=5))
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(60)  # reaches waitApproval and stays there
    settled = rig.updates_of(ts)
    polls = rig.status_requests(ex)

    await rig.advance(200)

    assert rig.status_requests(ex) > polls  # still polling...
    assert rig.updates_of(ts) == settled  # ...but nothing visible changed
    await rig.advance(120)  # past 5 minutes since the last edit
    assert rig.updates_of(ts) == settled + 1
    assert engine.stats.heartbeats_sent == 1


async def test_new_error_group_gets_exactly_one_thread_reply(rig: Rig) -> None:
    """Each failure mode that appears mid-run is announced once in the thread, never repeated."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""

    await rig.advance(900)

    news = [m["text"] for m in rig.replies(C, ts) if m["text"].startswith("new failure:")]
    assert news, "the few-failures scenario fails hosts mid-run"
    assert len(news) == len(set(news))
    assert len(news) == engine.stats.new_group_replies
    assert all("host" in text and "`" in text for text in news)


async def test_groups_present_at_the_first_poll_are_not_new(rig: Rig) -> None:
    """Following a run that already has failures announces none of them as new."""
    wf, ex = rig.execution("few-failures")
    engine = rig.engine()
    await rig.start(engine)
    await rig.advance(150)  # let failures appear before anyone follows
    snapshot = await rig.aom.get_execution(wf, ex)
    assert not snapshot.is_terminal
    assert any(n.buckets.get("fail") for n in snapshot.nodes)
    before = len(error_groups(snapshot))

    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await rig.advance(900)

    news = [m for m in rig.replies(C, result.message_ts or "") if m["text"].startswith("new")]
    assert engine.stats.new_group_replies == len(news)
    final_groups = len(error_groups(await rig.aom.get_execution(wf, ex)))
    assert len(news) == final_groups - before


async def test_unfollow_stops_and_drops_the_following_state(rig: Rig) -> None:
    """Stop following: the card loses its Stop button and no completion is posted later."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(30)

    assert await engine.unfollow(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    assert not await engine.unfollow(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)

    assert ACTION_UNFOLLOW not in action_ids(rig.card(C, ts))
    assert not await engine.is_following(C, wf, ex)
    polls = rig.status_requests(ex)
    await rig.advance(300)
    assert rig.status_requests(ex) == polls
    assert rig.replies(C, ts) == []
    stored = await rig.store.get_follow(result.follow_id)
    assert stored is not None
    assert stored.end_reason is EndReason.STOPPED_BY_USER


async def test_already_finished_execution_gets_the_final_card_and_no_completion(rig: Rig) -> None:
    """Following a finished run answers with its final card once: no completion reply (there is
    nothing left to wait for), no polling, and asking again posts nothing new."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    await rig.advance(600)

    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await rig.advance(5)

    assert result.finished
    assert result.created
    ts = result.message_ts or ""
    assert ACTION_UNFOLLOW not in action_ids(rig.card(C, ts))
    assert "success" in card_text(rig.card(C, ts))
    polls = rig.status_requests(ex)
    await rig.advance(300)
    assert rig.status_requests(ex) == polls
    assert rig.replies(C, ts) == []

    again = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id="U0BOB")
    )
    await rig.advance(300)

    assert not again.created
    assert again.finished
    assert again.message_ts == ts
    assert [m["ts"] for m in rig.slack.messages(C)] == [ts]
    assert rig.replies(C, ts) == []
    assert not await engine.is_following(C, wf, ex)


async def test_finished_run_followed_until_it_ended_is_not_posted_again(rig: Rig) -> None:
    """A follow that saw the run end keeps its card: following it again links, posts nothing."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    first = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await rig.advance(600)
    assert len(completion_replies(rig, first.message_ts or "")) == 1
    posts = len(rig.slack.calls_to("chat.postMessage"))

    again = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    await rig.advance(300)

    assert (again.created, again.finished, again.message_ts) == (False, True, first.message_ts)
    assert len(rig.slack.calls_to("chat.postMessage")) == posts
    assert len(completion_replies(rig, first.message_ts or "")) == 1


async def test_subscription_still_tells_its_channel_about_a_run_that_ended_unseen(
    rig: Rig,
) -> None:
    """A subscribed run that ended while the bot was down: its card, and the one completion
    reply with the subscription's mention (nobody asked, so the channel is told)."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    subscription, _ = await rig.store.subscribe(
        NewSubscription(channel_id=C, workflow_id=wf, workflow_name="wf", failures_only=False,
                        mention="<!subteam^S1>", created_by=ALICE, created_at=rig.clock.now())
    )  # fmt: skip
    await rig.advance(600)

    result = await engine.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id="",
                                 mention="<!subteam^S1>", subscription_id=subscription.id))  # fmt: skip
    await rig.advance(30)

    (reply,) = completion_replies(rig, result.message_ts or "")
    assert reply["text"].startswith("<!subteam^S1> ")


async def test_follow_button_adopts_the_existing_message(rig: Rig) -> None:
    """The Follow button turns the card it sits on into the live card (no second message)."""
    engine = rig.engine()
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    client = AsyncWebClient(token=rig.slack.bot_token, base_url=rig.slack.base_url)
    existing = await client.chat_postMessage(channel=C, text="card")
    ts = existing["ts"]

    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE, message_ts=ts)
    )
    assert result.message_ts == ts
    assert ACTION_UNFOLLOW in action_ids(rig.card(C, ts))
    await rig.advance(600)
    assert [m["ts"] for m in rig.slack.workspace.top_level(rig.slack.channel(C))] == [ts]
    assert len(completion_replies(rig, ts)) == 1
