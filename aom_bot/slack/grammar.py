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

from aom_bot.aom.ids import validate_id
from aom_bot.aom.links import ExecutionRef, looks_like_link, parse_execution_link
from aom_bot.errors import CommandSyntaxError, InvalidIdError
from aom_bot.render.subscriptions import SAFE_MENTION

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_LIST_LIMIT",
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
class SubscribeOptions:
    """``subscribe WORKFLOW_ID [--failures-only] [--mention @user|@group]``, validated."""

    workflow_id: str
    failures_only: bool = False
    #: a safe Slack reference (``<@U1>``, ``<!subteam^S1>``), never @channel/@here
    mention: str | None = None


@dataclass(frozen=True, slots=True)
class HelpCommand:
    """Show the usage."""

    private: bool = True
    #: ``--profile NAME``: the AOM profile asked for (None: the channel's)
    profile: str | None = None


Command = (
    ShowCommand
    | FollowCommand
    | UnfollowCommand
    | ListCommand
    | WorkflowsCommand
    | SubscriptionCommand
    | HelpCommand
)

_REF_VERBS: dict[str, type[ShowCommand | FollowCommand | UnfollowCommand]] = {
    "show": ShowCommand,
    "follow": FollowCommand,
    "unfollow": UnfollowCommand,
}
_SUBSCRIPTION_VERBS: tuple[SubscriptionVerb, ...] = ("subscribe", "unsubscribe", "subscriptions")
# Slack wraps links as <url> or <url|label> when the command escapes its text.
_WRAPPED_LINK = re.compile(r"<(?P<url>https?://[^|>\s]+)(?:\|[^>]*)?>", re.IGNORECASE)
_QUOTES = "`'\"\u2018\u2019\u201c\u201d"
_ARG_TOKEN = re.compile(r"(?:<[^>]*>|[^\s<])+")
_FAILURES_ONLY = frozenset({"--failures-only", "--failures_only", "--failuresonly"})
_USER_MENTION = re.compile(r"<@(?P<id>[UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^(?P<id>S[A-Z0-9]{2,30})(?:\|[^<>]*)?>")
_BARE_ID = re.compile(r"[UWS][A-Z0-9]{6,30}")
_BROADCASTS = frozenset({"channel", "here", "everyone", "group"})


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


def parse_subscribe_args(args: tuple[str, ...]) -> SubscribeOptions:
    """The arguments of ``subscribe``; :class:`CommandSyntaxError` says what is wrong."""
    # A mention's label may hold spaces (<@U1|Ann Lee>): rejoin, then keep <...> together.
    words = _ARG_TOKEN.findall(" ".join(args))
    workflow_ids: list[str] = []
    failures_only = False
    mention: str | None = None
    index = 0
    while index < len(words):
        word = words[index]
        option, _, inline = word.partition("=")
        option = option.lower()
        if option in _FAILURES_ONLY:
            failures_only = True
        elif option == "--mention":
            if not inline:
                index += 1
                if index >= len(words):
                    raise CommandSyntaxError("`--mention` needs a user or user group after it.")
                inline = words[index]
            if mention is not None:
                raise CommandSyntaxError("Give `--mention` once: one user or one user group.")
            mention = parse_mention(inline)
        elif word.startswith("--"):
            raise CommandSyntaxError(
                f"Unknown option `{_shown(word)}`; `subscribe` takes `--failures-only` and "
                "`--mention @user|@group`."
            )
        else:
            workflow_ids.append(word)
        index += 1
    if len(workflow_ids) != 1:
        raise CommandSyntaxError(
            "Expected `subscribe WORKFLOW_ID [--failures-only] [--mention @user|@group]`."
        )
    return SubscribeOptions(_valid("workflow ID", workflow_ids[0]), failures_only, mention)


def parse_workflow_arg(args: tuple[str, ...], verb: str) -> str:
    """The single workflow ID of ``unsubscribe WORKFLOW_ID``."""
    if len(args) != 1 or args[0].startswith("--"):
        raise CommandSyntaxError(f"Expected `{verb} WORKFLOW_ID`.")
    return _valid("workflow ID", args[0])


def parse_mention(text: str) -> str:
    """A safe Slack mention (``<@U1>`` / ``<!subteam^S1>``) from what the user gave.

    Accepts Slack's escaped forms (``<@U123|ann>``, ``<!subteam^S123|@sre>``) and bare member or
    group IDs (``U123ABC``, ``S123ABC``). Refuses @channel, @here, @everyone, and a plain
    ``@name`` (Slack sends it as text, so who it means cannot be known).
    """
    word = text.strip()
    match = _USER_MENTION.fullmatch(word)
    if match:
        return _checked(f"<@{match.group('id')}>")
    match = _GROUP_MENTION.fullmatch(word)
    if match:
        return _checked(f"<!subteam^{match.group('id')}>")
    if _BARE_ID.fullmatch(word) and any(c.isdigit() for c in word):
        return _checked(f"<!subteam^{word}>" if word.startswith("S") else f"<@{word}>")
    bare = word.strip("<>").lstrip("!@").split("|", 1)[0].lower()
    if bare in _BROADCASTS:
        raise CommandSyntaxError(
            "`--mention` pings one person or one user group; @channel, @here and @everyone "
            "are not allowed."
        )
    if word.startswith("@"):
        raise CommandSyntaxError(
            f"I can't tell who `{_shown(word)}` is: Slack sent the name as plain text.",
            hint="Give their Slack member ID instead (profile → ⋮ → Copy member ID), e.g. "
            "`--mention U0123ABCD`, or a user group's ID (starts with S).",
        )
    raise CommandSyntaxError(
        f"`{_shown(word)}` is not a Slack user or user group; `--mention` takes a mention of "
        "one person or user group, or a member ID such as `U0123ABCD`."
    )


def _checked(mention: str) -> str:
    if not SAFE_MENTION.fullmatch(mention):  # pragma: no cover - the patterns above agree
        raise CommandSyntaxError("That mention is not one the bot can use.")
    return mention


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


def _valid(kind: str, value: str) -> str:
    try:
        return validate_id(kind, value)
    except InvalidIdError as exc:
        raise CommandSyntaxError(exc.message, hint=exc.hint) from None


def _subscription_verb(verb: str) -> SubscriptionVerb:
    for known in _SUBSCRIPTION_VERBS:
        if known == verb:
            return known
    raise CommandSyntaxError(f"Unknown subcommand `{_shown(verb)}`.")  # pragma: no cover


def _unquote_token(token: str) -> str:
    return token.strip(_QUOTES)


def _shown(text: str) -> str:
    """User text echoed back inside backticks: short, and unable to close the code span."""
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:37] + "..."
