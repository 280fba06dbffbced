"""The subscribe arguments, mentions, button values, and list/Home rendering within limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aom_bot.render.subscriptions import (
    HOME_BLOCKS_MAX,
    SAFE_MENTION,
    decode_follow_ref,
    decode_subscription_ref,
    home_view,
    subscriptions_message,
)
from aom_bot.slack.grammar import (
    CommandSyntaxError,
    SubscribeOptions,
    parse_command,
    parse_mention,
    parse_subscribe_args,
)
from aom_bot.store.base import CompletionState, Follow, FollowState, Subscription
from tests.fakes.block_kit import validate_blocks

WF = "a" * 32
NOW = datetime(2024, 3, 15, 12, tzinfo=UTC)


def args(text: str) -> tuple[str, ...]:
    command = parse_command(f"subscribe {text}")
    assert not isinstance(command, str)
    return command.args  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WF, SubscribeOptions(WF)),
        (f"{WF} --failures-only", SubscribeOptions(WF, failures_only=True)),
        (f"--failures-only {WF}", SubscribeOptions(WF, failures_only=True)),
        (f"{WF} --mention <@U0ALICE|alice>", SubscribeOptions(WF, mention="<@U0ALICE>")),
        (f"{WF} --mention <@U0ANN|Ann Lee>", SubscribeOptions(WF, mention="<@U0ANN>")),
        (f"{WF} --mention=<!subteam^S0SRE1|@sre>", SubscribeOptions(WF, mention="<!subteam^S0SRE1>")),
        (f"{WF} --mention U0123ABCD", SubscribeOptions(WF, mention="<@U0123ABCD>")),
        (f"{WF} --mention S0123ABCD", SubscribeOptions(WF, mention="<!subteam^S0123ABCD>")),
    ],
)  # fmt: skip
def test_subscribe_arguments(text: str, expected: SubscribeOptions) -> None:
    """The workflow, the failures-only switch and the mention, in any order."""
    assert parse_subscribe_args(args(text)) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "Expected `subscribe WORKFLOW_ID"),
        (f"{WF} {WF}", "Expected `subscribe WORKFLOW_ID"),
        (f"{WF} --mention", "needs a user or user group"),
        (f"{WF} --mention <@U0A1> --mention <@U0B1>", "Give `--mention` once"),
        (f"{WF} --loud", "Unknown option"),
        ("wf/../x", "is not a valid ID"),
    ],
)
def test_subscribe_mistakes(text: str, says: str) -> None:
    """Each mistake is a CommandSyntaxError that says what was wrong."""
    with pytest.raises(CommandSyntaxError) as caught:
        parse_subscribe_args(args(text))
    assert says in caught.value.user_message()


@given(st.text(max_size=60))
def test_any_mention_text_is_safe_or_refused(text: str) -> None:
    """Whatever is typed, the result is a single safe user/group mention or a clear refusal."""
    try:
        mention = parse_mention(text)
    except CommandSyntaxError:
        return
    assert SAFE_MENTION.fullmatch(mention)
    assert "!channel" not in mention
    assert "!here" not in mention
    assert "!everyone" not in mention


def test_button_values_round_trip_and_refuse_garbage() -> None:
    """Stop/Unsubscribe values carry the channel; broken ones raise ValueError."""
    assert decode_subscription_ref('{"c":"C1","w":"wf"}') == ("C1", "wf")
    assert decode_follow_ref('{"w":"wf","e":"ex"}') == (None, "wf", "ex")  # older card buttons
    for bad in ("", "[]", '{"c":"C1"}', '{"c":"","w":"wf"}', "null"):
        with pytest.raises(ValueError, match=r"subscription reference|empty"):
            decode_subscription_ref(bad)
    with pytest.raises(ValueError, match="malformed channel"):
        decode_follow_ref('{"w":"wf","e":"ex","c":7}')


def _subscription(i: int) -> Subscription:
    return Subscription(
        id=i, channel_id=f"C{i:06d}", workflow_id=f"{i:032x}",
        workflow_name=f"wf *{i}* <!channel> `x`", failures_only=bool(i % 2),
        mention="<!here>" if i == 0 else "<@U0BOB>", created_by="U0ALICE",
        created_at=NOW - timedelta(days=1),
    )  # fmt: skip


def _follow(i: int) -> Follow:
    return Follow(
        id=i, workflow_id=f"{i:032x}", execution_id=f"ex-{i}", channel_id="C000001",
        message_ts=f"1.{i}", started_by="U0ALICE", started_at=NOW - timedelta(minutes=i),
        deadline=NOW + timedelta(hours=1), subscription_id=None, mention=None,
        state=FollowState.ACTIVE, end_reason=None, ended_at=None, fingerprint=None,
        rendered_at=None, unreachable_since=None, announced=frozenset(),
        completion_state=CompletionState.NONE, completion_owner=None,
        completion_claimed_at=None, completion_ts=None,
    )  # fmt: skip


@pytest.mark.parametrize("count", [0, 1, 25, 300])
def test_lists_fit_slack_and_say_what_they_left_out(count: int) -> None:
    """≤ 50 blocks in a message, ≤ 100 on Home; the rest is counted; AOM text is escaped."""
    subs = [_subscription(i) for i in range(count)]
    follows = [_follow(i) for i in range(count)]
    message = subscriptions_message(subs, follows, now=NOW)
    assert validate_blocks(message.blocks).ok
    view = home_view(subs, follows, now=NOW, usage="usage")
    assert len(view["blocks"]) <= HOME_BLOCKS_MAX
    assert validate_blocks(view["blocks"], max_blocks=HOME_BLOCKS_MAX, total_text_max=None).ok
    for rendered in (str(message.blocks), str(view["blocks"])):
        assert "<!channel>" not in rendered
        assert "<!here>" not in rendered
        if count > 40:
            assert f"{count - 40} more not shown" in str(view["blocks"])
    if count > 20:
        assert f"{count - 20} more not shown" in str(message.blocks)


def test_docstring_examples() -> None:
    """The examples in render.subscriptions' docstring run and stay true."""
    import doctest

    from aom_bot.render import subscriptions

    result = doctest.testmod(subscriptions)
    assert result.attempted > 0
    assert result.failed == 0
