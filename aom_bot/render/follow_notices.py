"""The follow's words: the card's unreachable notice, new-failure and completion replies.

Pure text; :mod:`aom_bot.follow.policy` decides *when* they are said. Untrusted AOM text is
escaped (and error text scrubbed) before it reaches Slack.

>>> from datetime import UTC, datetime
>>> unreachable_notice(datetime(2024, 3, 9, 16, 5, tzinfo=UTC), slack=False)
'AOM unreachable since 16:05 UTC — retrying'
"""

from __future__ import annotations

from datetime import datetime

from aom_bot.render.analysis import BucketCounts, ErrorGroup
from aom_bot.render.escape import Mrkdwn, escape_mrkdwn, inline_code
from aom_bot.render.scrub import Scrubber
from aom_bot.render.wording import slack_time

__all__ = [
    "card_notice",
    "completion_text",
    "new_failure_text",
    "refused_notice",
    "store_notice",
    "unreachable_notice",
]


def unreachable_notice(since: datetime, *, slack: bool = True) -> str:
    """The card line shown while AOM does not answer: the time in each reader's zone on
    Slack (a date tag, UTC fallback), plain UTC for the terminal (``slack=False``)."""
    if slack:
        return Mrkdwn(f"AOM unreachable since {slack_time(since, since)} — retrying")
    return f"AOM unreachable since {since:%H:%M} UTC — retrying"


def store_notice(since: datetime, *, slack: bool = True) -> str:
    """The card line shown while the bot's own store fails (the card may lag behind)."""
    if slack:
        return Mrkdwn(f"The bot's storage is failing since {slack_time(since, since)} — retrying")
    return f"The bot's storage is failing since {since:%H:%M} UTC — retrying"


def refused_notice(retry_at: datetime, *, slack: bool = True) -> str:
    """The card line shown while AOM's answer is too large to read."""
    if slack:
        when = slack_time(retry_at, retry_at)
        return Mrkdwn(f"AOM's answer is too large to read, refused — next try at {when}")
    return f"AOM's answer is too large to read, refused — next try at {retry_at:%H:%M} UTC"


def card_notice(*notices: str | None) -> str | None:
    """The notice lines of a card, joined; ``None`` when there is none. Bot-written lines
    (:class:`Mrkdwn`) stay unescaped; any other line is escaped first."""
    shown = [n if isinstance(n, Mrkdwn) else escape_mrkdwn(n) for n in notices if n]
    return Mrkdwn(" · ".join(shown)) if shown else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def new_failure_text(group: ErrorGroup, scrubber: Scrubber | None = None) -> str:
    """One line for the thread: a failure mode that appeared while the run was going."""
    error = (scrubber or Scrubber()).scrub(group.error)[:300]
    parts = [_plural(len(group.hosts), "host")]
    if group.exit_code is not None:
        parts.append(f"exit {group.exit_code}")
    parts.append(inline_code(error))
    return "new failure: " + " · ".join(parts)


def completion_text(
    *,
    mention: str | None,
    status: str,
    failed: bool,
    counts: BucketCounts,
    groups: int,
    workflow_name: str | None = None,
) -> str:
    """The completion reply, e.g. ``<@U1> finished: fail — 12 of 200 hosts failed, 3 error
    groups``. ``mention`` is trusted (a Slack reference); AOM text is escaped."""
    subject = f"*{escape_mrkdwn(workflow_name)}* finished" if workflow_name else "finished"
    head = f"{mention} {subject}" if mention else subject[0].upper() + subject[1:]
    total = counts.total
    if counts.failed or failed:
        detail = f"{counts.failed} of {_plural(total, 'host')} failed"
        if groups:
            detail += f", {_plural(groups, 'error group')}"
    elif total:
        detail = f"{counts.succeeded} of {_plural(total, 'host')} succeeded"
    else:
        detail = "no hosts reported"
    return f"{head}: {escape_mrkdwn(status)} — {detail}"
