"""SlackNotifier against FakeSlack: pacing, 429s, joining, and Slack errors as our exceptions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.errors import (
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackMessageGone,
    SlackNotInChannel,
    SlackRejected,
)
from aom_bot.render.kit import SlackMessage, section
from aom_bot.slack.notifier import Rate, SlackLimits, SlackNotifier
from tests.fakes.slack_api import Breakage, FakeSlack
from tests.follow.harness import TrackingClock

T = TypeVar("T")
C = "C0GENERAL"


def msg(text: str) -> SlackMessage:
    return SlackMessage(text=text, blocks=[section(text)])


@pytest.fixture
def clock() -> TrackingClock:
    return TrackingClock()


@pytest.fixture
async def slack(clock: TrackingClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(clock=clock.monotonic) as fake:
        yield fake


@pytest.fixture
def notifier(slack: FakeSlack, clock: TrackingClock) -> SlackNotifier:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    return SlackNotifier(client, clock=clock)


async def drive(clock: TrackingClock, *works: Awaitable[T]) -> list[T]:
    """Run ``works`` concurrently; move simulated time only while all of them sleep on it.

    Requests in flight to FakeSlack are real I/O: time never jumps while one is under way.
    """
    tasks = [asyncio.ensure_future(w) for w in works]
    loop = asyncio.get_running_loop()
    give_up = loop.time() + 20
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.001)
        pending = [t for t in tasks if not t.done()]
        if pending and all(clock.asleep(t) for t in pending):
            due = clock.next_deadline()
            if due is not None:
                clock.advance(due)
        if loop.time() > give_up:
            for task in tasks:
                task.cancel()
            raise AssertionError("work never finished")
    return [t.result() for t in tasks]


async def until_asleep(clock: TrackingClock, task: asyncio.Task[T], within: float = 20) -> None:
    """Wait (real time, at most ``within`` s) until ``task`` sleeps on the simulated clock."""
    give_up = asyncio.get_running_loop().time() + within
    while not clock.asleep(task):
        if task.done() or asyncio.get_running_loop().time() > give_up:
            task.cancel()
            raise AssertionError("the update never queued for a slot")
        await asyncio.sleep(0.001)


async def drive_one(clock: TrackingClock, work: Awaitable[T]) -> T:
    """``drive`` for a single awaitable."""
    (result,) = await drive(clock, work)
    return result


async def test_post_returns_ts_and_carries_metadata(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """A post lands in the channel, in a thread when asked, with its metadata."""
    parent = await notifier.post(C, msg("card"))
    reply = await drive_one(
        clock,
        notifier.post(
            C,
            msg("done"),
            thread_ts=parent,
            reply_broadcast=True,
            metadata={"event_type": "aom_bot_completion", "event_payload": {"follow_id": 7}},
        ),
    )
    (message,) = [m for m in slack.thread(C, parent) if m["ts"] == reply]
    assert message["metadata"]["event_payload"] == {"follow_id": 7}
    assert message["subtype"] == "thread_broadcast"

    thread = await notifier.thread_replies(C, parent)
    assert [m["ts"] for m in thread] == [parent, reply]
    assert thread[1]["metadata"]["event_type"] == "aom_bot_completion"


async def test_not_in_public_channel_joins_and_retries(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """Not a member of a public channel: the bot joins it and the post goes through."""
    slack.add_channel("random", id="C0RANDOM", bot_member=False)
    ts = await drive_one(clock, notifier.post("C0RANDOM", msg("hello")))
    assert slack.message("C0RANDOM", ts)["text"] == "hello"
    assert notifier.stats.joins == 1
    slack.add_channel("quiet", id="C0QUIET", bot_member=False)
    with pytest.raises(SlackNotInChannel):
        await drive_one(clock, notifier.post("C0QUIET", msg("hi"), join=False))


async def test_private_channel_is_unreachable(notifier: SlackNotifier, slack: FakeSlack) -> None:
    """A private channel the bot is not in cannot be reached: a clear error, with Slack's code."""
    slack.add_channel("secret", id="G0SECRET", is_private=True, bot_member=False)
    with pytest.raises(SlackChannelUnreachable) as caught:
        await notifier.post("G0SECRET", msg("hi"))
    assert caught.value.error == "channel_not_found"
    assert caught.value.method == "chat.postMessage"


async def test_deleted_message_and_archived_channel_map_to_gone(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """Editing a deleted card or posting to an archived channel raise the 'gone' errors."""
    ts = await notifier.post(C, msg("card"))
    slack.delete_message(C, ts)
    with pytest.raises(SlackMessageGone) as gone:
        await notifier.update(C, ts, msg("again"))
    assert gone.value.error == "message_not_found"
    slack.add_channel("old", id="C0OLD")
    kept = await drive_one(clock, notifier.post("C0OLD", msg("card")))
    slack.archive("C0OLD")
    with pytest.raises(SlackChannelGone):
        await drive_one(clock, notifier.update("C0OLD", kept, msg("edit")))


async def test_oversized_message_is_rejected(notifier: SlackNotifier) -> None:
    """A payload Slack refuses (too many blocks) is a SlackRejected, not a retry loop."""
    too_many = SlackMessage(text="x", blocks=[section(str(i)) for i in range(60)])
    with pytest.raises(SlackRejected):
        await notifier.post(C, too_many)
    assert notifier.stats.calls["chat.postMessage"] == 1


async def test_429_pauses_for_retry_after(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """After a 429 the call is repeated only once Retry-After has passed, and then succeeds."""
    ts = await notifier.post(C, msg("card"))
    slack.rate_limit_next("chat.update", retry_after=7, times=2)
    await drive_one(clock, notifier.update(C, ts, msg("edited")))
    calls = slack.calls_to("chat.update")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[1].time - calls[0].time >= 7
    assert calls[2].time - calls[1].time >= 7
    assert notifier.stats.ratelimited == 2
    assert slack.message(C, ts)["text"] == "edited"


async def test_retries_are_bounded(slack: FakeSlack, clock: TrackingClock) -> None:
    """Endless 429s end in a SlackDeliveryError ('ratelimited') after the configured retries."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    notifier = SlackNotifier(client, clock=clock, limits=SlackLimits(retries=2))
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=10)
    with pytest.raises(SlackDeliveryError) as caught:
        await drive_one(clock, notifier.post(C, msg("x")))
    assert caught.value.error == "ratelimited"
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_server_errors_and_garbage_bodies_are_retried(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """A 500 or a non-JSON body is retried with backoff instead of failing the post."""
    slack.break_method("chat.postMessage", Breakage.SERVER_ERROR, times=1)
    slack.break_method("chat.postMessage", Breakage.MALFORMED, times=1)
    ts = await drive_one(clock, notifier.post(C, msg("through")))
    assert slack.message(C, ts)["text"] == "through"
    assert notifier.stats.retries == 2


async def test_pacing_keeps_below_slack_limits(slack: FakeSlack, clock: TrackingClock) -> None:
    """Many edits and posts at once are spread out so Slack never answers 429."""
    slack.set_rate_limit("chat.update", per_minute=50, burst=3)
    slack.set_channel_rate_limit("chat.postMessage", per_minute=60, burst=1)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    notifier = SlackNotifier(client, clock=clock)
    ts = await notifier.post(C, msg("card"))

    await drive(
        clock,
        *(notifier.update(C, ts, msg(f"v{i}")) for i in range(20)),
        *(notifier.post(C, msg(f"p{i}"), thread_ts=ts) for i in range(8)),
    )
    assert slack.rate_limited_count == 0
    updates = slack.calls_to("chat.update")
    assert len(updates) == 20
    assert updates[-1].time - updates[0].time >= (20 - 3) * 60 / 45 - 1e-6


async def test_latest_state_is_rendered_when_the_slot_comes(
    notifier: SlackNotifier, slack: FakeSlack, clock: TrackingClock
) -> None:
    """An update given as a function renders the card's latest state, not the queued one."""
    ts = await notifier.post(C, msg("card"))
    state = {"text": "old"}
    await drive(clock, *(notifier.update(C, ts, msg("filler")) for _ in range(3)))
    pending = asyncio.create_task(notifier.update(C, ts, lambda: msg(state["text"])))
    # queued behind the burst, waiting for its slot (the clock's bookkeeping has no event)
    await until_asleep(clock, pending)
    state["text"] = "newest"
    await drive_one(clock, pending)
    assert slack.message(C, ts)["text"] == "newest"


async def test_ephemeral_and_report_upload(notifier: SlackNotifier, slack: FakeSlack) -> None:
    """Ephemeral notices and report files reach the channel."""
    ts = await notifier.post(C, msg("card"))
    await notifier.post_ephemeral(C, slack.alice, msg("only you"))
    assert slack.ephemerals(C)[-1]["text"] == "only you"
    await notifier.upload_report(
        C, thread_ts=ts, filename="failed.csv", content="host,error\n", title="Failed hosts"
    )
    (stored,) = slack.files.values()
    assert stored.content == b"host,error\n"


async def test_message_bodies_never_reach_the_logs(
    notifier: SlackNotifier,
    slack: FakeSlack,
    clock: TrackingClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Failures are logged by method and error code only, never with the message text."""
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=1)
    slack.break_method("chat.postMessage", Breakage.MALFORMED, times=1)
    with caplog.at_level(logging.DEBUG, logger="aom_bot"):
        await drive_one(clock, notifier.post(C, msg("top-secret-body")))
    assert caplog.records
    assert "top-secret-body" not in caplog.text


def test_custom_rates_are_accepted() -> None:
    """Limits are plain data an operator (or the runtime) can tune."""
    limits = SlackLimits(update=Rate(20, 2))
    assert limits.update.per_minute == 20
    assert limits.post_per_channel.burst == 1
