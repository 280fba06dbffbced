"""The ``/aom-exec`` command language: text in, a typed command (or a usage error) out.

Pure and fast, so the slash command can be parsed before Slack's 3-second deadline and a
mistake is answered in the acknowledgement itself. IDs are validated here, before any request
is built; a pasted console link counts as the two IDs.

>>> parse_command("follow https://console.example.com/aom/workflow/wf-1/execution/ex-2 --private")
FollowCommand(ref=ExecutionRef(workflow_id='wf-1', execution_id='ex-2'), private=True)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

from aom_bot.aom.links import ExecutionRef, looks_like_link, parse_execution_link
from aom_bot.errors import CommandSyntaxError, InvalidIdError
from aom_bot.slack.grammar_words import shown as _shown
from aom_bot.slack.grammar_words import valid as _valid
from aom_bot.slack.subscribe_args import (
    SubscribeOptions,
    parse_mention,
    parse_subscribe_args,
    parse_workflow_arg,
)

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_LIST_LIMIT",
    "ActCommand",
    "Command",
    "CommandSyntaxError",
    "ExecutionRef",
    "FollowCommand",
    "HelpCommand",
    "ListCommand",
    "ShowCommand",
    "SubscribeOptions",
    "SubscriptionCommand",
    "UnfollowCommand",
    "WorkflowsCommand",
    "parse_command",
    "parse_execution_link",
    "parse_mention",
    "parse_subscribe_args",
    "parse_workflow_arg",
]

DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 20
PRIVATE_FLAG = "--private"
PROFILE_FLAG = "--profile"
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")

SubscriptionVerb = Literal["subscribe", "unsubscribe", "subscriptions"]
ActVerb = Literal["terminate", "retry", "skip", "continue", "run"]


@dataclass(frozen=True, slots=True)
class ShowCommand:
    """Show an execution's card."""

    ref: ExecutionRef
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class FollowCommand:
    """Show the card and keep it current until the execution ends."""

    ref: ExecutionRef
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class UnfollowCommand:
    """Stop keeping the card current."""

    ref: ExecutionRef
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class ListCommand:
    """Recent executions of one workflow, newest first."""

    workflow_id: str
    limit: int = DEFAULT_LIST_LIMIT
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowsCommand:
    """Workflows of the project, optionally filtered by a substring of their name."""

    filter_text: str | None = None
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionCommand:
    """``subscribe`` / ``unsubscribe`` / ``subscriptions``: the arguments are left to the handler."""

    verb: SubscriptionVerb
    args: tuple[str, ...] = ()
    private: bool = False
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class HelpCommand:
    """Show the usage."""

    private: bool = True
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class ActCommand:
    """``terminate`` / ``retry`` / ``skip`` / ``continue`` / ``run``: answered with a summary
    and a Confirm button; nothing happens until it is clicked."""

    verb: ActVerb
    workflow_id: str
    #: empty for ``run``
    execution_id: str = ""
    #: ``None``: the failed (``retry``) or paused (``continue``) node
    node_id: str | None = None
    private: bool = True
    profile: str | None = None


Command = (
    ShowCommand
    | FollowCommand
    | UnfollowCommand
    | ListCommand
    | WorkflowsCommand
    | SubscriptionCommand
    | HelpCommand
    | ActCommand
)

_REF_VERBS: dict[str, type[ShowCommand | FollowCommand | UnfollowCommand]] = {
    "show": ShowCommand,
    "follow": FollowCommand,
    "unfollow": UnfollowCommand,
}
_SUBSCRIPTION_VERBS: tuple[SubscriptionVerb, ...] = ("subscribe", "unsubscribe", "subscriptions")
_ACT_VERBS: tuple[ActVerb, ...] = ("terminate", "retry", "skip", "continue", "run")
# Slack wraps links as <url> or <url|label> when the command escapes its text.
_WRAPPED_LINK = re.compile(r"<(?P<url>https?://[^|>\s]+)(?:\|[^>]*)?>", re.IGNORECASE)
_QUOTES = "`'\"\u2018\u2019\u201c\u201d"


def parse_command(text: str) -> Command:
    """Parse the text after ``/aom-exec``; raise :class:`CommandSyntaxError` when it is wrong."""
    # Slack wraps links as <url|label>; the label may contain spaces, so unwrap first.
    text = _WRAPPED_LINK.sub(lambda m: m.group("url"), text)
    # With should_escape, Slack sends typed &, < and > as entities (links too: ?a=1&amp;b=2).
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    tokens = [_unquote_token(t) for t in text.split()]
    tokens, profile = _take_profile([t for t in tokens if t])
    command = _parse_tokens(tokens)
    return dataclasses.replace(command, profile=profile) if profile else command


def _parse_tokens(tokens: list[str]) -> Command:
    private = any(t.lower() == PRIVATE_FLAG for t in tokens)
    words = [t for t in tokens if t.lower() != PRIVATE_FLAG]
    if not words:
        return HelpCommand(private=True)
    verb = words[0].lower()
    rest = words[1:]
    if verb in _SUBSCRIPTION_VERBS:
        # The subscriptions handler owns its own options (e.g. a failures-only switch).
        return SubscriptionCommand(_subscription_verb(verb), tuple(rest), private)
    for word in words:
        if word.startswith("--"):
            raise CommandSyntaxError(
                f"Unknown option `{_shown(word)}`; the options are `--private` and "
                "`--profile NAME`."
            )
    if verb in _REF_VERBS:
        return _REF_VERBS[verb](_parse_ref(rest, verb), private)
    if verb in _ACT_VERBS:
        return _parse_act(_act_verb(verb), rest)
    if verb == "list":
        return _parse_list(rest, private)
    if verb == "workflows":
        return WorkflowsCommand(" ".join(rest) or None, private)
    if verb == "help":
        return HelpCommand(private=True)
    # No verb: `/aom-exec WORKFLOW_ID EXECUTION_ID` or a pasted link mean `show`.
    if len(words) == 1 and not looks_like_link(words[0]):
        raise CommandSyntaxError(
            f"`{_shown(words[0])}` is not a subcommand. To show an execution, give the workflow ID "
            "and the execution ID, or paste the console link."
        )
    return ShowCommand(_parse_ref(words, None), private)


def _take_profile(tokens: list[str]) -> tuple[list[str], str | None]:
    """``--profile NAME`` (or ``--profile=NAME``) out of the tokens, the name validated."""
    rest: list[str] = []
    profile: str | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        option, sign, inline = token.partition("=")
        if option.lower() != PROFILE_FLAG:
            rest.append(token)
            index += 1
            continue
        if not sign:
            index += 1
            if index >= len(tokens):
                raise CommandSyntaxError("`--profile` needs a profile name after it.")
            inline = tokens[index]
        if profile is not None:
            raise CommandSyntaxError("Give `--profile` once.")
        if not _PROFILE_NAME.fullmatch(inline):
            raise CommandSyntaxError(
                f"`{_shown(inline)}` is not a profile name (letters, digits, `-`, `_`, `.`).",
                hint="`/aom-exec help` lists how to pick a profile.",
            )
        profile = inline
        index += 1
    return rest, profile


def _parse_ref(words: list[str], verb: str | None) -> ExecutionRef:
    how = f"`{verb} WORKFLOW_ID EXECUTION_ID`" if verb else "`WORKFLOW_ID EXECUTION_ID`"
    if len(words) == 1 and looks_like_link(words[0]):
        ref = _ref_from_link(words[0])
        if ref is None:
            raise CommandSyntaxError(
                "That link does not name both a workflow and an execution. Open the execution in "
                "the console and copy the link from there, or give the two IDs."
            )
        return ref
    if len(words) != 2:
        given = {0: "nothing", 1: "one value"}.get(len(words), f"{len(words)} values")
        raise CommandSyntaxError(
            f"Expected a workflow ID and an execution ID ({how}, or a console link) but got "
            f"{given}."
        )
    return ExecutionRef(_valid("workflow ID", words[0]), _valid("execution ID", words[1]))


def _act_verb(verb: str) -> ActVerb:
    for known in _ACT_VERBS:
        if known == verb:
            return known
    raise CommandSyntaxError(f"Unknown subcommand `{_shown(verb)}`.")  # pragma: no cover


def _parse_act(verb: ActVerb, words: list[str]) -> ActCommand:
    """``run WF``; ``terminate WF EX``; ``retry``/``continue WF EX [NODE]``; ``skip WF EX NODE``."""
    usage = {
        "run": "`run WORKFLOW_ID`",
        "terminate": "`terminate WORKFLOW_ID EXECUTION_ID`",
        "retry": "`retry WORKFLOW_ID EXECUTION_ID [NODE_ID]`",
        "continue": "`continue WORKFLOW_ID EXECUTION_ID [NODE_ID]`",
        "skip": "`skip WORKFLOW_ID EXECUTION_ID NODE_ID`",
    }[verb]
    counts = {"run": (1, 1), "terminate": (2, 2), "retry": (2, 3), "continue": (2, 3),
              "skip": (3, 3)}[verb]  # fmt: skip
    if not counts[0] <= len(words) <= counts[1]:
        raise CommandSyntaxError(f"Expected {usage}.")
    workflow_id = _valid("workflow ID", words[0])
    if verb == "run":
        return ActCommand(verb, workflow_id)
    execution_id = _valid("execution ID", words[1])
    node_id = _valid("node ID", words[2]) if len(words) == 3 else None
    return ActCommand(verb, workflow_id, execution_id, node_id)


def _parse_list(words: list[str], private: bool) -> ListCommand:
    if not words or len(words) > 2:
        raise CommandSyntaxError("Expected `list WORKFLOW_ID [N]`.")
    workflow_id = _valid("workflow ID", words[0])
    limit = DEFAULT_LIST_LIMIT
    if len(words) == 2:
        raw = words[1]
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST_LIMIT:
            raise CommandSyntaxError(
                f"`{_shown(raw)}` is not a count: N is a number from 1 to {MAX_LIST_LIMIT}."
            )
        limit = int(raw)
    return ListCommand(workflow_id, limit, private)


def _ref_from_link(word: str) -> ExecutionRef | None:
    try:
        return parse_execution_link(word)
    except InvalidIdError as exc:
        raise CommandSyntaxError(exc.message, hint=exc.hint) from None


def _subscription_verb(verb: str) -> SubscriptionVerb:
    for known in _SUBSCRIPTION_VERBS:
        if known == verb:
            return known
    raise CommandSyntaxError(f"Unknown subcommand `{_shown(verb)}`.")  # pragma: no cover


def _unquote_token(token: str) -> str:
    return token.strip(_QUOTES)
