"""Pure decisions of following: how often to poll, what counts as new, when to edit a card.

What the follow says (notices, replies) is worded in :mod:`aom_bot.render.follow_notices`.

No I/O and no clock: callers pass times in. ``aom-bot show --follow`` uses the same polling
policy as the engine.

>>> poll_interval(0, minimum=5, maximum=60)
5.0
>>> poll_interval(3600, minimum=5, maximum=60)
60.0
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

# the follow's wording lives in render/; re-exported so existing callers keep working
from aom_bot.render.follow_notices import (
    card_notice,
    completion_text,
    new_failure_text,
    refused_notice,
    store_notice,
    unreachable_notice,
)

__all__ = [
    "CARD_EVENT",
    "COMPLETION_EVENT",
    "UpdateKind",
    "card_in_history",
    "card_metadata",
    "card_notice",
    "completion_in_thread",
    "completion_metadata",
    "completion_text",
    "display_key",
    "error_interval",
    "jittered",
    "new_failure_text",
    "new_groups",
    "poll_interval",
    "refused_interval",
    "refused_notice",
    "store_notice",
    "unreachable_notice",
    "update_kind",
]

#: Slack message-metadata ``event_type`` marking the one completion reply of a follow
COMPLETION_EVENT = "aom_bot_completion"
#: Slack message-metadata ``event_type`` marking a follow's card (found again after a crash)
CARD_EVENT = "aom_bot_card"

#: share of the elapsed run time used as the interval once the run is no longer young:
#: a run 10 minutes old is polled every 30 s, one an hour old every 3 minutes (capped)
GROWTH = 0.05


def poll_interval(elapsed_seconds: float, *, minimum: float, maximum: float) -> float:
    """Seconds until the next poll of a run that started ``elapsed_seconds`` ago.

    Quick while the run is young (``minimum``), then growing with its age, never above
    ``maximum`` and never below ``minimum``.
    """
    floor = max(float(minimum), 0.1)
    ceiling = max(float(maximum), floor)
    return min(max(floor, max(elapsed_seconds, 0.0) * GROWTH), ceiling)


def jittered(interval: float, rng: random.Random, *, spread: float = 0.1) -> float:
    """``interval`` stretched by up to ``spread`` at random, so polls do not move in lockstep.

    Jitter only lengthens: the result is never below the interval (and so never below the
    policy's floor).
    """
    return interval * (1.0 + rng.uniform(0.0, max(spread, 0.0)))


def error_interval(failures: int, *, minimum: float, maximum: float) -> float:
    """Back-off while AOM keeps failing: doubling from ``minimum``, capped at ``maximum``."""
    floor = max(float(minimum), 0.1)
    return min(floor * 2.0 ** max(min(failures, 30) - 1, 0), max(float(maximum), floor))


def new_groups(signatures: Iterable[str], announced: Iterable[str]) -> list[str]:
    """Signatures not yet announced, in the given order, each once."""
    seen = set(announced)
    fresh: list[str] = []
    for signature in signatures:
        if signature not in seen:
            seen.add(signature)
            fresh.append(signature)
    return fresh


def display_key(fingerprint: str, notice: str | None) -> str:
    """What the card visibly shows: the execution's fingerprint plus any notice line."""
    return f"{fingerprint}|{notice}" if notice else fingerprint


class UpdateKind(Enum):
    """Why a card needs ``chat.update``: something visible changed, or it only looks old."""

    CHANGE = "change"
    HEARTBEAT = "heartbeat"


def update_kind(
    shown: str | None,
    wanted: str,
    rendered_at: datetime | None,
    now: datetime,
    heartbeat_seconds: float,
) -> UpdateKind | None:
    """Whether (and why) a card showing ``shown`` should be edited to show ``wanted``."""
    if shown != wanted:
        return UpdateKind.CHANGE
    if rendered_at is None or (now - rendered_at).total_seconds() >= heartbeat_seconds:
        return UpdateKind.HEARTBEAT
    return None


def refused_interval(failures: int, *, poll_max: float) -> float:
    """Back-off after AOM's answer was refused as too large: fetching it again costs the
    same memory and gets the same answer, so wait minutes (doubling, up to an hour)."""
    base = max(float(poll_max), 60.0)
    return min(base * 2.0 ** max(min(failures, 30) - 1, 0), max(base, 3600.0))


def completion_metadata(follow_id: int, execution_id: str) -> dict[str, Any]:
    """Slack message metadata that marks a follow's completion reply (found again by
    :func:`completion_in_thread` after a restart)."""
    return {
        "event_type": COMPLETION_EVENT,
        "event_payload": {"follow_id": follow_id, "execution_id": execution_id},
    }


def completion_in_thread(messages: Iterable[Mapping[str, Any]], follow_id: int) -> str | None:
    """The ``ts`` of this follow's completion reply among a thread's messages, if posted."""
    return _marked(messages, COMPLETION_EVENT, follow_id)


def card_metadata(follow_id: int, execution_id: str) -> dict[str, Any]:
    """Slack message metadata that marks a follow's card (found by :func:`card_in_history`
    when a crash came between posting it and recording its ``ts``)."""
    return {
        "event_type": CARD_EVENT,
        "event_payload": {"follow_id": follow_id, "execution_id": execution_id},
    }


def card_in_history(messages: Iterable[Mapping[str, Any]], follow_id: int) -> str | None:
    """The ``ts`` of this follow's card among a channel's messages, if posted."""
    return _marked(messages, CARD_EVENT, follow_id)


def _marked(messages: Iterable[Mapping[str, Any]], event: str, follow_id: int) -> str | None:
    for message in messages:
        metadata = message.get("metadata")
        if not isinstance(metadata, Mapping):
            continue
        payload = metadata.get("event_payload")
        if (
            metadata.get("event_type") == event
            and isinstance(payload, Mapping)
            and str(payload.get("follow_id")) == str(follow_id)
            and message.get("ts")
        ):
            return str(message["ts"])
    return None
