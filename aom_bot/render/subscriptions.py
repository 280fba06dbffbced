"""Subscriptions and active follows as Slack messages and as the App Home tab.

Pure: records in, Block Kit out. Every row has a Stop button (``ACTION_UNSUBSCRIBE`` or
``ACTION_STOP_FOLLOW``) whose value names the channel too, so a click on the Home tab, which
has no channel of its own, still says which channel it is about. Lists are capped (50 blocks
in a message, 100 on the Home tab) and say how many rows they left out.

>>> decode_subscription_ref(encode_subscription_ref("C1", "wf-1"))
('C1', 'wf-1')
>>> decode_follow_ref(encode_follow_ref("C1", "wf-1", "ex-2"))
('C1', 'wf-1', 'ex-2')
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from aom_bot.records import DEFAULT_PROFILE_NAME, Follow, Subscription
from aom_bot.render import kit
from aom_bot.render.actions import ACTION_STOP_FOLLOW, ACTION_UNSUBSCRIBE, decode_ref
from aom_bot.render.escape import escape_mrkdwn, inline_code
from aom_bot.render.kit import Block, SlackMessage
from aom_bot.render.limits import (
    BLOCKS_MAX,
    BUTTON_VALUE_MAX,
    FALLBACK_TEXT_MAX,
    clip,
    clip_rendered,
)
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import as_utc, slack_time

__all__ = [
    "HOME_BLOCKS_MAX",
    "HOME_ROWS_MAX",
    "MESSAGE_ROWS_MAX",
    "SAFE_MENTION",
    "decode_follow_ref",
    "decode_subscription_ref",
    "encode_follow_ref",
    "encode_subscription_ref",
    "failure_headline",
    "home_view",
    "subscriptions_message",
    "with_headline",
]

#: the only mentions the bot ever writes: one user, or one user group (never @channel/@here)
SAFE_MENTION: Final = re.compile(r"<@[UW][A-Z0-9]{2,30}>|<!subteam\^S[A-Z0-9]{2,30}>")
#: Slack's limit on a Home tab view
HOME_BLOCKS_MAX: Final = 100
#: rows per kind (subscriptions, follows) on the Home tab and in a message
HOME_ROWS_MAX: Final = 40
MESSAGE_ROWS_MAX: Final = 20
_ROW_MAX = 600
_NAME_MAX = 120


# -- button values ---------------------------------------------------------------------------


def _compact(data: dict[str, str]) -> str:
    value = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(value.encode("utf-16-le")) // 2 > BUTTON_VALUE_MAX:
        raise ValueError("ids are too long for a button value")
    return value


def encode_subscription_ref(channel_id: str, workflow_id: str) -> str:
    """The Unsubscribe button's value: ``{"c": channel, "w": workflow}``."""
    return _compact({"c": channel_id, "w": workflow_id})


def decode_subscription_ref(value: str) -> tuple[str, str]:
    """``(channel_id, workflow_id)`` from an Unsubscribe value; ValueError for anything else."""
    try:
        data = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        raise ValueError("button value is not a subscription reference") from None
    if not isinstance(data, dict):
        raise ValueError("button value is not a subscription reference")
    channel_id, workflow_id = data.get("c"), data.get("w")
    if not isinstance(channel_id, str) or not isinstance(workflow_id, str):
        raise ValueError("button value is not a subscription reference")
    if not channel_id or not workflow_id:
        raise ValueError("button value has an empty channel or workflow id")
    return channel_id, workflow_id


def encode_follow_ref(
    channel_id: str, workflow_id: str, execution_id: str, profile: str = DEFAULT_PROFILE_NAME
) -> str:
    """The Stop button's value: an execution reference (``encode_ref``, with its profile
    unless it is the default one) plus the channel."""
    data = {"w": workflow_id, "e": execution_id, "c": channel_id}
    if profile != DEFAULT_PROFILE_NAME:
        data["p"] = profile
    return _compact(data)


def decode_follow_ref(value: str) -> tuple[str | None, str, str]:
    """``(channel_id or None, workflow_id, execution_id)``; older values carry no channel."""
    workflow_id, execution_id = decode_ref(value)
    data = json.loads(value)  # decode_ref has shown it is a JSON object
    channel_id = data.get("c")
    if channel_id is not None and (not isinstance(channel_id, str) or not channel_id):
        raise ValueError("button value has a malformed channel id")
    return channel_id, workflow_id, execution_id


# -- the first post of a failing run ----------------------------------------------------------


def failure_headline(mention: str | None, workflow_name: str, scrubber: Scrubber | None) -> str:
    """``🚨 <@U1> a run of *deploy* has failed hosts`` (a mention that is not safe is left out)."""
    name = clip_rendered((scrubber or Scrubber()).scrub(workflow_name), _NAME_MAX, escape_mrkdwn)
    who = f"{mention} " if mention and SAFE_MENTION.fullmatch(mention) else ""
    subject = f"a run of *{name}*" if name else "a run"
    return f"🚨 {who}{subject} has failed hosts"


def with_headline(card: SlackMessage, headline: str) -> SlackMessage:
    """The card with one line on top (and in the notification text)."""
    text = clip(f"{headline} · {card.text}", FALLBACK_TEXT_MAX)
    if len(card.blocks) >= BLOCKS_MAX:
        return SlackMessage(text=text, blocks=card.blocks)
    return SlackMessage(text=text, blocks=[kit.section(headline), *card.blocks])


# -- rows --------------------------------------------------------------------------------------


def _workflow_label(name: str, workflow_id: str, scrubber: Scrubber) -> str:
    shown_id = inline_code(workflow_id)
    if not name or name == workflow_id:
        return shown_id
    safe = clip_rendered(scrubber.scrub(name), _NAME_MAX, escape_mrkdwn)
    return f"*{safe}* {shown_id}"


def _mention_shown(mention: str | None) -> str | None:
    return mention if mention and SAFE_MENTION.fullmatch(mention) else None


def _user_shown(user_id: str | None) -> str | None:
    if user_id and re.fullmatch(r"[UW][A-Z0-9]{2,30}", user_id):
        return f"<@{user_id}>"
    return None


def _channel_shown(channel_id: str) -> str:
    if re.fullmatch(r"[CGD][A-Z0-9]{2,30}", channel_id):
        return f"<#{channel_id}>"
    return inline_code(channel_id)


def _profile_shown(profile: str, scrubber: Scrubber) -> str:
    """`` · profile `prod` `` for an entry of a named profile; nothing for the default one
    (a bot without a configuration file has only that)."""
    if profile == DEFAULT_PROFILE_NAME:
        return ""
    return f" · profile {inline_code(scrubber.scrub(profile)[:64])}"


def _subscription_row(
    sub: Subscription, *, now: datetime, scrubber: Scrubber, with_channel: bool
) -> str:
    head = _workflow_label(sub.workflow_name, sub.workflow_id, scrubber)
    if with_channel:
        head += f" in {_channel_shown(sub.channel_id)}"
    head += _profile_shown(sub.profile, scrubber)
    details = ["failures only" if sub.failures_only else "every run"]
    mention = _mention_shown(sub.mention)
    if mention:
        details.append(f"mentions {mention}")
    since = f"since {slack_time(sub.created_at, now)}"
    creator = _user_shown(sub.created_by)
    details.append(f"{since} by {creator}" if creator else since)
    return clip(f"{head}\n{' · '.join(details)}", _ROW_MAX)


def _follow_row(
    follow: Follow,
    *,
    now: datetime,
    scrubber: Scrubber,
    names: dict[str, str],
    with_channel: bool,
) -> str:
    workflow = _workflow_label(names.get(follow.workflow_id, ""), follow.workflow_id, scrubber)
    head = f"{inline_code(follow.execution_id)} of {workflow}"
    if with_channel:
        head += f" in {_channel_shown(follow.channel_id)}"
    head += _profile_shown(follow.profile, scrubber)
    starter = _user_shown(follow.started_by)
    if follow.subscription_id is not None:
        origin = "from a subscription"
    elif starter:
        origin = f"started by {starter}"
    else:
        origin = "started by someone"
    details = [origin, f"since {slack_time(follow.started_at, now)}"]
    return clip(f"{head}\n{' · '.join(details)}", _ROW_MAX)


def _button(text: str, action_id: str, value_of: Any) -> Block | None:
    try:
        value = value_of()
    except ValueError:
        return None
    return kit.button(text, action_id, value=value)


def _subscription_blocks(
    subs: Sequence[Subscription],
    *,
    limit: int,
    now: datetime,
    scrubber: Scrubber,
    with_channel: bool,
) -> list[Block]:
    blocks: list[Block] = []
    for sub in subs[:limit]:
        button = _button(
            "Unsubscribe",
            ACTION_UNSUBSCRIBE,
            lambda s=sub: encode_subscription_ref(s.channel_id, s.workflow_id),
        )
        row = _subscription_row(sub, now=now, scrubber=scrubber, with_channel=with_channel)
        blocks.append(kit.section(row, accessory=button))
    if len(subs) > limit:
        blocks.append(kit.context(f"Showing {limit} of {len(subs)} subscriptions; "
                                  f"{len(subs) - limit} more not shown."))  # fmt: skip
    return blocks


def _follow_blocks(
    follows: Sequence[Follow],
    *,
    limit: int,
    now: datetime,
    scrubber: Scrubber,
    names: dict[str, str],
    with_channel: bool,
) -> list[Block]:
    blocks: list[Block] = []
    for follow in follows[:limit]:
        button = _button(
            "Stop",
            ACTION_STOP_FOLLOW,
            lambda f=follow: encode_follow_ref(
                f.channel_id, f.workflow_id, f.execution_id, f.profile
            ),
        )
        row = _follow_row(
            follow, now=now, scrubber=scrubber, names=names, with_channel=with_channel
        )
        blocks.append(kit.section(row, accessory=button))
    if len(follows) > limit:
        blocks.append(kit.context(f"Showing {limit} of {len(follows)} followed executions; "
                                  f"{len(follows) - limit} more not shown."))  # fmt: skip
    return blocks


def _names(subs: Sequence[Subscription]) -> dict[str, str]:
    return {s.workflow_id: s.workflow_name for s in subs if s.workflow_name}


def _newest_first(follows: Sequence[Follow]) -> list[Follow]:
    return sorted(follows, key=lambda f: (f.started_at, f.id), reverse=True)


# -- the `subscriptions` answer ----------------------------------------------------------------


def subscriptions_message(
    subscriptions: Sequence[Subscription],
    follows: Sequence[Follow],
    *,
    now: datetime,
    scrubber: Scrubber | None = None,
    limit: int = MESSAGE_ROWS_MAX,
) -> SlackMessage:
    """One channel's subscriptions and active follows, each with a Stop button."""
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    limit = max(1, min(limit, MESSAGE_ROWS_MAX))
    blocks: list[Block] = [kit.header("Subscriptions and follows in this channel")]
    blocks.append(kit.section(f"*Subscriptions* ({len(subscriptions)})"))
    if subscriptions:
        blocks += _subscription_blocks(
            subscriptions, limit=limit, now=now, scrubber=scrubber, with_channel=False
        )
    else:
        blocks.append(
            kit.context("None. `/aom-exec subscribe WORKFLOW_ID` posts each new run here.")
        )
    blocks.append(kit.section(f"*Followed executions* ({len(follows)})"))
    if follows:
        blocks += _follow_blocks(
            _newest_first(follows),
            limit=limit,
            now=now,
            scrubber=scrubber,
            names=_names(subscriptions),
            with_channel=False,
        )
    else:
        blocks.append(kit.context("None right now."))
    text = (
        f"{len(subscriptions)} subscriptions and {len(follows)} followed executions in this channel"
    )
    return SlackMessage(text=text, blocks=blocks)


# -- the App Home tab --------------------------------------------------------------------------


def home_view(
    subscriptions: Sequence[Subscription],
    follows: Sequence[Follow],
    *,
    now: datetime,
    usage: str,
    scrubber: Scrubber | None = None,
    notice: str | None = None,
    channels_known: bool = True,
    limit: int = HOME_ROWS_MAX,
) -> dict[str, Any]:
    """The Home tab: the user's (and their channels') subscriptions and follows, then usage.

    ``notice`` is text the bot wrote (already safe mrkdwn), e.g. what the last click did.
    """
    now = as_utc(now)
    scrubber = scrubber or Scrubber()
    limit = max(1, min(limit, HOME_ROWS_MAX))
    blocks: list[Block] = [kit.header("AOM executions")]
    if notice:
        blocks.append(kit.section(notice))
    intro = "Subscriptions and followed executions you started or that live in your channels."
    if not channels_known:
        intro += " I could not read your channel list just now, so only yours are shown."
    blocks.append(kit.context(intro))
    blocks.append(kit.section(f"*Subscriptions* ({len(subscriptions)})"))
    if subscriptions:
        ordered = sorted(subscriptions, key=lambda s: (s.channel_id, s.workflow_name.casefold()))
        blocks += _subscription_blocks(
            ordered, limit=limit, now=now, scrubber=scrubber, with_channel=True
        )
    else:
        blocks.append(
            kit.context("None. In a channel, `/aom-exec subscribe WORKFLOW_ID` posts each run.")
        )
    blocks.append(kit.divider())
    blocks.append(kit.section(f"*Followed executions* ({len(follows)})"))
    if follows:
        blocks += _follow_blocks(
            _newest_first(follows),
            limit=limit,
            now=now,
            scrubber=scrubber,
            names=_names(subscriptions),
            with_channel=True,
        )
    else:
        blocks.append(kit.context("None right now. `/aom-exec follow …` keeps a card current."))
    blocks.append(kit.divider())
    blocks.append(kit.section(f"```\n{usage}\n```"))
    return {"type": "home", "blocks": blocks[:HOME_BLOCKS_MAX]}
