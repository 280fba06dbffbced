"""/aom-exec end to end: signed HTTP requests in, Slack Web API calls and response_url posts out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from aom_bot.render.actions import (
    ACTION_CONSOLE,
    ACTION_FOLLOW,
    ACTION_REFRESH,
    ACTION_SHOW,
    ACTION_UNFOLLOW,
    decode_ref,
)
from aom_bot.render.kit import SlackMessage, section
from aom_bot.simulator.faults import FaultKind
from aom_bot.slack.grammar import SubscriptionCommand
from aom_bot.slack.help import USAGE
from tests.slack.harness import CONSOLE, REGION, Harness, action_values, running_bot, text_of


def _usage_in(body: dict[str, object]) -> bool:
    blocks = body.get("blocks")
    return isinstance(blocks, list) and any(
        USAGE in b.get("text", {}).get("text", "") for b in blocks
    )


async def test_help_is_answered_in_the_ack(bot: Harness) -> None:
    """`help` (and no text at all) shows the usage to the caller alone, with no Slack call."""
    for text in ("help", ""):
        response = await bot.command(text)
        assert response.status_code == 200
        body = response.json()
        assert body["response_type"] == "ephemeral"
        assert _usage_in(body)
    assert [c.method for c in bot.slack.calls if c.method != "auth.test"] == []
    assert bot.requests.total == 0


async def test_mistake_gets_ephemeral_usage_and_no_request(bot: Harness) -> None:
    """A malformed ID is refused in the ack, says what was wrong, and never reaches AOM."""
    response = await bot.command("show ../../etc/passwd x")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "is not a valid ID" in body["text"]
    assert _usage_in(body)
    assert "Traceback" not in response.text
    assert bot.requests.total == 0
    assert not bot.slack.calls_to("chat.postMessage")


async def test_show_posts_the_card_in_the_channel(bot: Harness) -> None:
    """`WF EX` acks empty at once, then the card appears in the channel with its buttons."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    response = await bot.command(f"{wf} {ex}")
    assert response.status_code == 200
    assert response.content == b""
    call = await bot.wait_posted()
    card = bot.slack.message(bot.slack.general, call.response["ts"])
    assert ex in text_of(card)
    assert "rotate-logs" in card["text"]  # the workflow's name, not only its ID
    buttons = action_values(card)
    assert decode_ref(buttons[ACTION_REFRESH]) == (wf, ex)
    assert ACTION_FOLLOW not in buttons  # it has ended: nothing to follow
    assert buttons[ACTION_CONSOLE] == CONSOLE.format(region=REGION, workflow_id=wf, execution_id=ex)


async def _answers(bot: Harness, count: int) -> list[dict[str, object]]:
    """Drive simulated time until ``count`` response_url posts arrived; return them all."""
    for _ in range(200):
        posts = bot.slack.calls_to("response_url")
        if len(posts) >= count:
            return [c.args for c in posts]
        await bot.clock.run_for(0.25)
        await asyncio.sleep(0.01)  # the bot's requests to FakeSlack and SQLite are real I/O
    raise AssertionError(f"only {len(bot.slack.calls_to('response_url'))} of {count} answers")


async def test_fifty_identical_shows_at_once_post_one_card(bot: Harness) -> None:
    """An incident call: 50 people type the same `/aom-exec WF EX` within a second. The
    channel gets one card; everyone else is told, alone, where it is (a permalink)."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await asyncio.gather(*(bot.command(f"{wf} {ex}") for _ in range(50)))
    answers = await _answers(bot, 49)
    await bot.clock.run_for(1)

    cards = [m for m in bot.slack.messages(bot.slack.general) if ex in text_of(m)]
    assert len(cards) == 1
    link = f"https://fake-team.slack.com/archives/{bot.slack.general}/p{cards[0]['ts'].replace('.', '')}"
    assert len(answers) == 49
    for answer in answers:
        assert answer["response_type"] == "ephemeral"
        assert "is here" in str(answer["text"])
        assert link in str(answer["text"])
    assert len(bot.slack.calls_to("chat.getPermalink")) == 1  # not 49 calls at Slack's pace


async def test_a_repeated_show_refreshes_the_card_and_an_old_card_is_not_reused(
    bot: Harness,
) -> None:
    """Asking again a little later refreshes the channel's card in place; after ten minutes a
    new card is posted (the old one has scrolled away); a deleted card is posted again."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"{wf} {ex}")
    ts = str((await bot.wait_posted()).response["ts"])
    await bot.clock.run_for(30)

    await bot.command(f"{wf} {ex}")
    await _answers(bot, 1)
    assert [c.args["ts"] for c in bot.slack.calls_to("chat.update") if c.ok] == [ts]

    await bot.clock.run_for(10 * 60)
    await bot.command(f"{wf} {ex}")
    newer = str((await bot.wait_posted(count=2)).response["ts"])
    assert newer != ts

    bot.slack.delete_message(bot.slack.general, newer)
    await bot.clock.run_for(30)
    await bot.command(f"{wf} {ex}")
    third = str((await bot.wait_posted(count=3)).response["ts"])
    assert third not in (ts, newer)


async def test_show_of_a_followed_execution_points_at_the_followed_card(bot: Harness) -> None:
    """The followed card is the channel's card of the execution: show links to it."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    ts = str((await bot.wait_posted()).response["ts"])
    await bot.follows.wait("follow")

    await bot.command(f"show {wf} {ex}")
    (answer,) = await _answers(bot, 1)

    assert "followed here" in str(answer["text"])
    assert f"p{ts.replace('.', '')}" in str(answer["text"])
    assert len(bot.slack.messages(bot.slack.general)) == 1


async def test_show_accepts_a_pasted_console_link(bot: Harness) -> None:
    """A Slack-wrapped console link works in place of the two IDs."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    link = f"<https://console.example.com/aom/workflow/{wf}/execution/{ex}|open run>"
    await bot.command(f"show {link}")
    call = await bot.wait_posted()
    assert ex in text_of(call.args)
    assert action_values(call.args)[ACTION_FOLLOW]  # still running: it can be followed


async def test_private_show_answers_the_caller_alone(bot: Harness) -> None:
    """--private sends the card through response_url as ephemeral; the channel sees nothing."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.command(f"show {wf} {ex} --private")
    posted = await bot.hook_post()
    assert posted["response_type"] == "ephemeral"
    assert ex in text_of(posted)
    assert not bot.slack.calls_to("chat.postMessage")
    assert bot.slack.messages(bot.slack.general) == []


async def test_list_shows_recent_executions_with_show_buttons(bot: Harness) -> None:
    """`list WF N` posts the newest N executions, newest first, each with a Show button."""
    wf = bot.workflow("rotate-logs")
    await bot.command(f"list {wf} 2")
    call = await bot.wait_posted()
    shows = [
        decode_ref(element["value"])
        for block in call.args["blocks"]
        for element in [block.get("accessory") or {}]
        if element.get("action_id") == ACTION_SHOW
    ]
    assert shows == [(wf, ex) for ex in bot.world.execution_ids(wf)[:2]]


async def test_workflows_lists_the_project(bot: Harness) -> None:
    """`workflows` lists the project's workflows; a filter narrows the list."""
    await bot.command("workflows")
    everything = text_of((await bot.wait_posted()).args)
    assert "deploy-nginx" in everything
    assert "rotate-logs" in everything
    await bot.command("workflows rotate")
    narrowed = text_of((await bot.wait_posted(count=2)).args)
    assert "rotate-logs" in narrowed
    assert "deploy-nginx" not in narrowed


async def test_workflows_filter_by_id(bot: Harness) -> None:
    """A workflow ID as filter finds its workflow although AOM's search covers names only."""
    wf = bot.workflow("canary-release")
    await bot.command(f"workflows {wf}")
    found = text_of((await bot.wait_posted()).args)
    assert "canary-release" in found
    assert "deploy-nginx" not in found


async def test_follow_posts_a_followed_card(bot: Harness) -> None:
    """`follow` posts the card in its following state and the engine records the follow."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    call = await bot.wait_posted()
    assert ACTION_UNFOLLOW in action_values(call.args)
    await bot.follows.wait("follow")
    follow = await bot.store.find_active_follow(bot.slack.general, wf, ex)
    assert follow is not None
    assert follow.message_ts == call.response["ts"]
    assert follow.started_by == bot.slack.alice


async def test_follow_twice_says_already_followed(bot: Harness) -> None:
    """A second `follow` of the same execution in the channel posts nothing new."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    await bot.wait_posted()
    await bot.command(f"follow {wf} {ex}")
    answer = await bot.hook_post()
    assert answer["response_type"] == "ephemeral"
    assert "already followed" in answer["text"]
    assert len(bot.slack.messages(bot.slack.general)) == 1


async def test_follow_of_a_finished_run_twice_posts_one_card_and_links_it(bot: Harness) -> None:
    """A finished run: `follow` posts its final card once, never a completion reply; asking
    again gets the caller a link to that card (a Slack permalink) and nothing in the channel."""
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.command(f"follow {wf} {ex}")
    card = await bot.wait_posted()
    await bot.follows.wait("follow")
    await bot.command(f"follow {wf} {ex}")
    answer = await bot.hook_post()
    await bot.follows.wait("follow", 2)

    assert answer["response_type"] == "ephemeral"
    assert "already finished" in answer["text"]
    ts = card.response["ts"]
    assert f"/archives/{bot.slack.general}/p{ts.replace('.', '')}" in answer["text"]
    assert [m["ts"] for m in bot.slack.messages(bot.slack.general)] == [ts]
    assert bot.slack.thread(bot.slack.general, ts)[1:] == []


async def test_follow_cannot_be_private(bot: Harness) -> None:
    """`follow --private` is refused in the ack: a followed card lives in the channel."""
    wf = bot.workflow("deploy-nginx")
    response = await bot.command(f"follow {wf} {bot.newest(wf)} --private")
    assert response.json()["response_type"] == "ephemeral"
    assert "cannot be `--private`" in response.json()["text"]
    assert bot.requests.total == 0


async def test_unfollow_stops_and_confirms(bot: Harness) -> None:
    """`unfollow` ends the follow, drops the card's following state, and confirms privately."""
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}")
    posted = await bot.wait_posted()
    await bot.follows.wait("follow")
    await bot.command(f"unfollow {wf} {ex}")
    answer = await bot.hook_post()
    assert answer["response_type"] == "ephemeral"
    assert "Stopped following" in answer["text"]
    assert await bot.store.find_active_follow(bot.slack.general, wf, ex) is None
    await bot.slack.wait_for("chat.update")
    card = bot.slack.message(bot.slack.general, posted.response["ts"])
    assert ACTION_FOLLOW in action_values(card)
    assert ACTION_UNFOLLOW not in action_values(card)


async def test_unfollow_when_not_following(bot: Harness) -> None:
    """`unfollow` of an execution nobody follows says so."""
    wf = bot.workflow("deploy-nginx")
    await bot.command(f"unfollow {wf} {bot.newest(wf)}")
    assert "is not followed" in (await bot.hook_post())["text"]


@pytest.mark.parametrize("text", ["subscribe", "unsubscribe wf-1", "subscriptions"])
async def test_subscriptions_disabled_without_a_handler(bot: Harness, text: str) -> None:
    """Without the subscriptions feature the ack says plainly that it is not enabled."""
    response = await bot.command(text)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "not enabled on this bot" in body["text"]


@dataclass
class RecordingSubscriptions:
    """A stand-in for the subscriptions feature: records what it was asked."""

    calls: list[tuple[SubscriptionCommand, str, str]] = field(default_factory=list)

    async def handle_command(
        self, command: SubscriptionCommand, account: object, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        self.calls.append((command, channel_id, user_id))
        return SlackMessage("subscribed", [section("This channel is now subscribed.")])

    async def handle_unsubscribe_button(
        self, value: str, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        return SlackMessage("unsubscribed", [section("Unsubscribed.")])


async def test_subscription_commands_reach_the_handler() -> None:
    """With a handler plugged in, subscribe goes to it with its arguments; its answer is posted."""
    handler = RecordingSubscriptions()
    async with running_bot(subscriptions=handler) as bot:
        await bot.command("subscribe wf-1 --failures-only")
        call = await bot.wait_posted()
        assert call.args["text"] == "subscribed"
        command, channel, user = handler.calls[0]
        assert command == SubscriptionCommand("subscribe", ("wf-1", "--failures-only"))
        assert (channel, user) == (bot.slack.general, bot.slack.alice)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (401, "Check CLOUD_SDK_AK/CLOUD_SDK_SK"),
        (429, "throttling"),
        (FaultKind.DROP, "unreachable"),
        (503, "try again"),
    ],
)
async def test_aom_failures_become_clear_private_messages(
    bot: Harness, fault: int | FaultKind, says: str
) -> None:
    """Credentials refused, throttled, unreachable, failing: a private message saying what to do."""
    wf = bot.workflow("rotate-logs")
    bot.faults.upcoming.append(fault)
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
    answer = await bot.hook_post()
    assert answer["response_type"] == "ephemeral"
    assert says in answer["text"]
    assert "Traceback" not in answer["text"]
    assert not bot.slack.calls_to("chat.postMessage")


async def test_unknown_execution_is_explained(bot: Harness) -> None:
    """An execution AOM does not know gets a private message pointing at `list`."""
    wf = bot.workflow("rotate-logs")
    await bot.command(f"show {wf} no-such-execution")
    answer = await bot.hook_post()
    assert answer["response_type"] == "ephemeral"
    assert "/aom-exec list WORKFLOW_ID" in answer["text"]


async def test_public_channel_without_the_bot_is_joined(bot: Harness) -> None:
    """Bot not in a public channel: it joins, then posts the card there."""
    channel = bot.slack.add_channel("ops", bot_member=False, members=[bot.slack.alice])
    wf = bot.workflow("rotate-logs")
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}", channel_id=channel.id)
    await bot.wait_posted(channel.id)
    assert [c.args["channel"] for c in bot.slack.calls_to("conversations.join")] == [channel.id]
    posted = [m for m in bot.slack.messages(channel.id) if m.get("subtype") != "channel_join"]
    assert len(posted) == 1


async def test_public_channel_without_joining_uses_response_url() -> None:
    """When the bot may not join, the answer still reaches the channel, with the invite line."""
    async with running_bot(join_channels=False) as bot:
        channel = bot.slack.add_channel("ops", bot_member=False, members=[bot.slack.alice])
        wf = bot.workflow("rotate-logs")
        await bot.command(f"show {wf} {bot.failed_yesterday(wf)}", channel_id=channel.id)
        answer = await bot.hook_post()
        assert answer["response_type"] == "in_channel"
        assert "/invite @aom-exec" in text_of(answer)
        assert not bot.slack.calls_to("conversations.join")


async def test_private_channel_answers_through_response_url(bot: Harness) -> None:
    """Private channel the bot cannot see: the card goes in_channel via response_url + invite."""
    channel = bot.slack.add_channel(
        "incident-42", is_private=True, bot_member=False, members=[bot.slack.alice]
    )
    wf = bot.workflow("rotate-logs")
    ex = bot.failed_yesterday(wf)
    await bot.command(f"show {wf} {ex}", channel_id=channel.id, channel_name="privategroup")
    answer = await bot.hook_post()
    assert answer["response_type"] == "in_channel"
    assert ex in text_of(answer)
    assert "/invite @aom-exec" in text_of(answer)
    (shown,) = bot.slack.messages(channel.id)
    assert ex in text_of(shown)


async def test_follow_in_a_private_channel_explains_why_not(bot: Harness) -> None:
    """`follow` where the bot cannot post: the card once, saying it won't stay current."""
    channel = bot.slack.add_channel(
        "incident-43", is_private=True, bot_member=False, members=[bot.slack.alice]
    )
    wf = bot.workflow("deploy-nginx")
    ex = bot.newest(wf)
    await bot.command(f"follow {wf} {ex}", channel_id=channel.id)
    answer = await bot.hook_post()
    assert answer["response_type"] == "in_channel"
    assert "can't keep this card current" in text_of(answer)
    assert "/invite @aom-exec" in text_of(answer)
    assert await bot.store.find_active_follow(channel.id, wf, ex) is None


async def test_the_word_payload_in_text_or_channel_name(bot: Harness) -> None:
    """Bodies containing "payload" (Bolt's parsing defect) are still handled as commands."""
    response = await bot.command("workflows payload")
    assert response.status_code == 200
    assert "No workflows" in text_of((await bot.wait_posted()).args)
    wf = bot.workflow("rotate-logs")
    response = await bot.command(
        f"show {wf} {bot.failed_yesterday(wf)}", channel_name="payload-alerts"
    )
    assert response.status_code == 200
    await bot.wait_posted(count=2)


async def test_rate_limited_post_is_retried(bot: Harness) -> None:
    """A 429 with Retry-After on chat.postMessage delays the card; it still arrives once."""
    bot.slack.rate_limit_next("chat.postMessage", retry_after=0)
    wf = bot.workflow("rotate-logs")
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
    await bot.wait_posted()
    assert bot.slack.rate_limited_count == 1
    assert len(bot.slack.messages(bot.slack.general)) == 1


async def test_slack_refusing_the_card_is_reported(bot: Harness) -> None:
    """If Slack refuses the blocks (invalid_blocks), the caller is told instead of silence."""
    bot.slack.fail_next("chat.postMessage", "invalid_blocks")
    wf = bot.workflow("rotate-logs")
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
    answer = await bot.hook_post()
    assert answer["response_type"] == "ephemeral"
    assert "invalid_blocks" in answer["text"]


class BrokenFollow:
    """A follow engine whose store is down in an unexpected way."""

    async def follow(self, request: object) -> object:
        raise RuntimeError("database file is locked: /var/lib/secret-path")

    async def unfollow(self, **kwargs: object) -> bool:
        raise RuntimeError("boom")

    async def is_following(self, channel_id: str, workflow_id: str, execution_id: str) -> bool:
        raise RuntimeError("database file is locked: /var/lib/secret-path")


async def test_unexpected_failure_is_a_plain_message() -> None:
    """A bug or outage inside the bot yields a plain apology, never internals or a trace."""
    async with running_bot(follow=BrokenFollow()) as bot:  # type: ignore[arg-type]
        wf = bot.workflow("rotate-logs")
        await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
        answer = await bot.hook_post()
        assert answer["response_type"] == "ephemeral"
        assert "Something went wrong inside the bot" in answer["text"]
        assert "secret-path" not in answer["text"]
        assert 'outcome="internal_error"' in bot.metrics.render().decode()
