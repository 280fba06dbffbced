"""The /aom-exec grammar: every subcommand, pasted links, and clear errors for anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aom_bot.slack.grammar import (
    MAX_LIST_LIMIT,
    CommandSyntaxError,
    ExecutionRef,
    FollowCommand,
    HelpCommand,
    ListCommand,
    ShowCommand,
    SubscriptionCommand,
    UnfollowCommand,
    WorkflowsCommand,
    parse_command,
    parse_execution_link,
)
from aom_bot.slack.help import USAGE, help_message, usage_error_message

WF = "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"
EX = "e1000000-0000-4000-8000-000000000001"
REF = ExecutionRef(WF, EX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{WF} {EX}", ShowCommand(REF)),
        (f"show {WF} {EX}", ShowCommand(REF)),
        (f"SHOW {WF} {EX}", ShowCommand(REF)),
        (f"follow {WF} {EX}", FollowCommand(REF)),
        (f"unfollow {WF} {EX}", UnfollowCommand(REF)),
        (f"list {WF}", ListCommand(WF, 10)),
        (f"list {WF} 3", ListCommand(WF, 3)),
        ("workflows", WorkflowsCommand(None)),
        ("workflows nginx roll out", WorkflowsCommand("nginx roll out")),
        ("subscribe", SubscriptionCommand("subscribe")),
        (
            f"subscribe {WF} --failures-only",
            SubscriptionCommand("subscribe", (WF, "--failures-only")),
        ),
        (f"unsubscribe {WF}", SubscriptionCommand("unsubscribe", (WF,))),
        ("subscriptions", SubscriptionCommand("subscriptions")),
        ("help", HelpCommand()),
        ("", HelpCommand()),
        ("   ", HelpCommand()),
    ],
)
def test_each_subcommand_parses(text: str, expected: object) -> None:
    """Every form the help text shows parses to its typed command."""
    assert parse_command(text) == expected


def test_private_flag_anywhere() -> None:
    """--private answers the caller alone, wherever it is typed."""
    assert parse_command(f"--private show {WF} {EX}") == ShowCommand(REF, private=True)
    assert parse_command(f"{WF} --private {EX}") == ShowCommand(REF, private=True)
    assert parse_command(f"list {WF} 5 --PRIVATE") == ListCommand(WF, 5, private=True)


def test_ids_wrapped_in_backticks_or_quotes() -> None:
    """IDs copied from a code span or quoted still work."""
    assert parse_command(f"`{WF}` '{EX}'") == ShowCommand(REF)


@pytest.mark.parametrize(
    "link",
    [
        f"https://console.huaweicloud.com/aom2/?region=cn-north-4#/automation/workflow/{WF}/execution/{EX}",
        f"https://console.example.com/aom/workflows/{WF}/executions/{EX}/detail",
        f"https://console.example.com/aom?workflow_id={WF}&execution_id={EX}",
        f"https://console.example.com/aom#/cms?workflowId={WF}&executionId={EX}&tab=hosts",
        f"<https://console.example.com/aom/workflow/{WF}/execution/{EX}>",
        f"<https://console.example.com/aom/workflow/{WF}/execution/{EX}|execution>",
        f"<https://console.example.com/aom?workflow_id={WF}&amp;x=1&execution_id={EX}|the run>",
    ],
)
def test_pasted_console_link_replaces_the_ids(link: str) -> None:
    """A console link to an execution (plain or Slack-wrapped) names both IDs."""
    assert parse_execution_link(link) == REF
    assert parse_command(link) == ShowCommand(REF)
    assert parse_command(f"follow {link}") == FollowCommand(REF)
    assert parse_command(f"unfollow {link} --private") == UnfollowCommand(REF, private=True)


def test_link_without_both_ids_is_explained() -> None:
    """A link that lacks the execution is a usage error saying so."""
    with pytest.raises(CommandSyntaxError, match="does not name both"):
        parse_command(f"show https://console.example.com/aom/workflow/{WF}")
    assert parse_execution_link("not a link") is None


def test_link_with_a_malformed_id_is_refused() -> None:
    """IDs taken from a link are validated like typed ones (encoded traversal included)."""
    with pytest.raises(CommandSyntaxError, match="not a valid ID"):
        parse_command("https://console.example.com/aom/workflow/..%2Fetc/execution/x")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"show {WF}", "Expected a workflow ID and an execution ID"),
        ("show", "got nothing"),
        (f"follow {WF} {EX} extra", "got 3 values"),
        (f"show ../{WF} {EX}", "is not a valid ID"),
        (f"show {WF} {EX}?x=1", "is not a valid ID"),
        (f"list {WF} 0", f"N is a number from 1 to {MAX_LIST_LIMIT}"),
        (f"list {WF} {MAX_LIST_LIMIT + 1}", "N is a number"),
        (f"list {WF} ten", "is not a count"),
        (f"list {WF} ٣", "is not a count"),
        ("list", "Expected `list WORKFLOW_ID [N]`"),
        (f"show {WF} {EX} --verbose", "Unknown option `--verbose`"),
        ("frobnicate", "is not a subcommand"),
    ],
)
def test_mistakes_say_what_was_wrong(text: str, says: str) -> None:
    """Each mistake raises the project's error with a message naming the problem."""
    with pytest.raises(CommandSyntaxError) as caught:
        parse_command(text)
    assert says in caught.value.user_message()


def test_echoed_user_text_cannot_break_out_of_code() -> None:
    """Backticks in echoed input are neutralised and long input is shortened."""
    with pytest.raises(CommandSyntaxError) as caught:
        parse_command("x`<!channel>`" + "y" * 100)
    message = caught.value.user_message()
    assert message.count("`") == 2
    assert "..." in message


def test_usage_error_message_is_escaped_and_shows_usage() -> None:
    """The error reply escapes untrusted text (no @channel ping) and carries the usage."""
    message = usage_error_message("workflow ID '<!channel>' is not a valid ID.")
    rendered = str(message.to_dict())
    assert "<!channel>" not in rendered
    assert "&lt;!channel&gt;" in rendered
    assert USAGE in message.blocks[1]["text"]["text"]


def test_help_lists_every_subcommand() -> None:
    """The help names each subcommand of the grammar."""
    text = str(help_message().to_dict())
    for word in (
        "show",
        "follow",
        "unfollow",
        "list",
        "workflows",
        "subscribe",
        "help",
        "--private",
    ):
        assert word in text


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    """Untrusted text never crashes the parser: a command or CommandSyntaxError, nothing else."""
    try:
        outcome = type(parse_command(text)).__name__
    except CommandSyntaxError as exc:
        outcome = exc.user_message()
    assert outcome


def test_slack_entities_in_escaped_text_are_decoded() -> None:
    """With should_escape, `&` arrives as `&amp;`: filters and link queries get the real text."""
    assert parse_command("workflows R&amp;D").filter_text == "R&D"  # type: ignore[union-attr]
    linked = parse_command(
        "<https://console.example/aom?workflow_id=wf1&amp;execution_id=ex1|open>"
    )
    assert linked.ref == ExecutionRef("wf1", "ex1")  # type: ignore[union-attr]
