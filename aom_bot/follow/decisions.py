"""What the follow engine's parts want done, as values; :mod:`aom_bot.follow.apply` does it.

The parts (the poller, the card queue, the endings, the resync) decide from plain values: a
watch and its follows, what AOM or Slack answered, the store's active follows. They return
these decisions instead of changing the follows in memory, writing what that implies to the
store or starting tasks; the applier is the one place that does those things, in the order the
decisions come. A decision about one follow names its ``Live``; ``EditCards`` and ``Completed``
are about a watch's follows as they are when applied, so a follow that joined the watch while
the decisions before them were applied is not missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from aom_bot.aom.models import ExecutionDetail
from aom_bot.errors import SLACK_GONE, SlackDeliveryError, SlackMessageGone
from aom_bot.follow.state import Live, Watch
from aom_bot.records import EndReason, Follow

__all__ = [
    "Adopt",
    "AlreadyShown",
    "Announce",
    "Completed",
    "Decision",
    "Drop",
    "EditCard",
    "EditCards",
    "End",
    "Failures",
    "Freeze",
    "PostCard",
    "Refresh",
    "Remember",
    "Reread",
    "Schedule",
    "Shown",
    "Unreachable",
    "card_gone",
    "slack_failure",
]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger


@dataclass(frozen=True, slots=True)
class Adopt:
    """Keep a stored follow current here: it joins its execution's watch (a new one if none).

    ``execution`` is one just read (``follow()``); a finished one finishes the follow at once.
    A new watch is polled first at its regular interval, or at a random moment within
    ``first_poll_within`` seconds, that interval at most (a restart, a takeover spread their
    first polls).
    """

    record: Follow
    execution: ExecutionDetail | None = None
    fingerprint: str | None = None
    first_poll_within: float | None = None


@dataclass(frozen=True, slots=True)
class Refresh:
    """The follow as the store has it now (its card's ``ts``, its deadline)."""

    live: Live
    record: Follow


@dataclass(frozen=True, slots=True)
class Drop:
    """Stop keeping this follow current here: it ended, or another replica has it now."""

    follow_id: int


@dataclass(frozen=True, slots=True)
class End:
    """End a follow early: in the store first, then ``note`` on its card (best effort).

    ``update_card`` False: its card or channel is gone, nothing is shown.
    """

    live: Live
    reason: EndReason
    note: str | None
    update_card: bool = True


@dataclass(frozen=True, slots=True)
class Freeze:
    """Slack keeps the card but refuses to edit it: no more edits; replies still go out."""

    live: Live


@dataclass(frozen=True, slots=True)
class Remember:
    """What the watch's last poll saw (``digest``: of its body, so an identical body is not
    parsed again; ``body``: what the card is rendered from)."""

    watch: Watch
    execution: ExecutionDetail
    fingerprint: str
    digest: bytes | None
    #: the body it was read from (a poll's: kept instead of the lean execution)
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Reread:
    """Parse AOM's next answer even if its body is the same (the execution it stood for is
    not kept)."""

    watch: Watch


@dataclass(frozen=True, slots=True)
class Failures:
    """How many polls of the watch have failed in a row (0: AOM answered)."""

    watch: Watch
    count: int


@dataclass(frozen=True, slots=True)
class Schedule:
    """Poll the watch again in ``delay`` seconds (``None``: its regular interval then)."""

    watch: Watch
    delay: float | None = None


@dataclass(frozen=True, slots=True)
class Unreachable:
    """The card's AOM notice: since when AOM fails (stored when it changes) and the line the
    card shows; ``since`` None: AOM answers again."""

    live: Live
    since: datetime | None
    notice: str | None


@dataclass(frozen=True, slots=True)
class EditCard:
    """The card should show ``fingerprint``: queue an edit if it needs one."""

    live: Live
    fingerprint: str


@dataclass(frozen=True, slots=True)
class EditCards:
    """Every card of the watch should show ``fingerprint``."""

    watch: Watch
    fingerprint: str


@dataclass(frozen=True, slots=True)
class AlreadyShown:
    """Failure groups on the card from its start: claimed, so they are never announced."""

    live: Live
    signatures: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Announce:
    """A new failure group: ``text`` in the card's thread, once (the store's claim decides)."""

    live: Live
    signature: str
    text: str


@dataclass(frozen=True, slots=True)
class PostCard:
    """The follow has no card yet: post it beside the polls (one post per process; the
    store's claim keeps the other replicas from posting it too)."""

    live: Live


@dataclass(frozen=True, slots=True)
class Shown:
    """The card was just posted showing ``fingerprint`` (and the follow's notice line):
    remembered, and stored."""

    live: Live
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Completed:
    """The execution ended: its watch is polled no more, and each of its follows finishes
    (final card, one completion reply)."""

    watch: Watch
    execution: ExecutionDetail


Decision = (
    Adopt
    | Refresh
    | Drop
    | End
    | Freeze
    | Remember
    | Reread
    | Failures
    | Schedule
    | Unreachable
    | EditCard
    | EditCards
    | AlreadyShown
    | Announce
    | PostCard
    | Shown
    | Completed
)


def card_gone(error: SlackDeliveryError) -> bool:
    """The card was deleted or its channel is out of reach (an uneditable card still exists)."""
    if isinstance(error, SlackMessageGone):
        return error.error == "message_not_found"
    return isinstance(error, SLACK_GONE)


def slack_failure(live: Live, error: SlackDeliveryError) -> list[Decision]:
    """What a failed Slack call for ``live`` means: end it quietly if its card or channel is
    gone; a card Slack keeps but will not let us edit is only frozen (no more edits, the run
    is still followed to its one completion reply); anything else is only logged."""
    if isinstance(error, SlackMessageGone) and not card_gone(error):
        if live.frozen:
            return []
        log.info("follow.card_frozen follow_id=%s slack_error=%s", live.id, error.error)
        return [Freeze(live)]
    if isinstance(error, SLACK_GONE):
        gone = isinstance(error, SlackMessageGone)
        reason = EndReason.MESSAGE_DELETED if gone else EndReason.CHANNEL_GONE
        log.info("follow.ended_quietly follow_id=%s slack_error=%s", live.id, error.error)
        return [End(live, reason, None, update_card=False)]
    log.warning("follow.slack_error follow_id=%s slack_error=%s", live.id, error.error)
    return []
