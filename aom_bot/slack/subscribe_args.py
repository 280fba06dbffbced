"""The arguments of ``subscribe`` and ``unsubscribe``: a workflow, ``--failures-only`` and a
safe ``--mention`` (never @channel or @here)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aom_bot.errors import CommandSyntaxError
from aom_bot.render.subscriptions import SAFE_MENTION
from aom_bot.slack.grammar_words import shown as _shown
from aom_bot.slack.grammar_words import valid as _valid

__all__ = ["SubscribeOptions", "parse_mention", "parse_subscribe_args", "parse_workflow_arg"]

_ARG_TOKEN = re.compile(r"(?:<[^>]*>|[^\s<])+")
_FAILURES_ONLY = frozenset({"--failures-only", "--failures_only", "--failuresonly"})
_USER_MENTION = re.compile(r"<@(?P<id>[UW][A-Z0-9]{2,30})(?:\|[^<>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^(?P<id>S[A-Z0-9]{2,30})(?:\|[^<>]*)?>")
_BARE_ID = re.compile(r"[UWS][A-Z0-9]{6,30}")
_BROADCASTS = frozenset({"channel", "here", "everyone", "group"})


@dataclass(frozen=True, slots=True)
class SubscribeOptions:
    """``subscribe WORKFLOW_ID [--failures-only] [--mention @user|@group]``, validated."""

    workflow_id: str
    failures_only: bool = False
    #: a safe Slack reference (``<@U1>``, ``<!subteam^S1>``), never @channel/@here
    mention: str | None = None


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
