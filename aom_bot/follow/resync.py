"""Which stored follows this replica keeps current: the resync's decisions, and its pace.

Every ``resync_every`` the engine reads the store's active follows and shares the executions'
leases with the other replicas (:mod:`aom_bot.follow.leases`). What that means for the follows
in memory is decided here, from plain values: follows ended elsewhere, and those on executions
another replica holds now, are dropped; the others are adopted (a restart's first polls spread
over the shortest interval, a takeover's over half the longest) or refreshed from the store. A
follow finishing here is left alone: its completion ends it. While the store fails, the resync
is retried soon and what is in memory keeps being polled; once the leases are no longer proven,
the follows are dropped until a resync proves which are ours again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping

from aom_bot.clock import Clock
from aom_bot.errors import StoreError
from aom_bot.follow import policy
from aom_bot.follow.decisions import Adopt, Decision, Drop, Refresh
from aom_bot.follow.state import Live, Watch, execution_key
from aom_bot.records import Follow

__all__ = ["SOON_GAP", "ResyncPace", "by_execution", "ended_elsewhere", "placed", "unproven"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: seconds between two resyncs that hand-over notices ask for, at least
SOON_GAP = 1.0


def ended_elsewhere(
    lives: Mapping[int, Live], known: Iterable[int], records: Iterable[Follow]
) -> list[Decision]:
    """Drop the follows ``known`` before the store was read that it no longer has active."""
    active = {r.id for r in records}
    return [Drop(i) for i in known if i in lives and i not in active and not lives[i].finishing]


def by_execution(records: Iterable[Follow]) -> dict[str, list[Follow]]:
    """The active follows by their execution's lease key."""
    found: dict[str, list[Follow]] = {}
    for record in records:
        found.setdefault(execution_key(record.workflow_id, record.execution_id), []).append(record)
    return found


def placed(
    lives: Mapping[int, Live],
    watches: Mapping[str, Watch],
    records: Mapping[str, list[Follow]],
    held: Collection[str],
    *,
    starting: Collection[int],
    spread: float,
) -> list[Decision]:
    """With the leases ``held``: drop the follows of executions another replica has now, adopt
    or refresh the stored follows of ours (not those ``follow()`` is still ``starting``)."""
    decisions: list[Decision] = [
        Drop(i)
        for key, watch in watches.items()
        if key not in held
        for i in watch.follows
        if not lives[i].finishing
    ]
    for key in held:
        for record in records.get(key, []):
            if record.id in starting:
                continue
            if record.id in lives:
                decisions.append(Refresh(lives[record.id], record))
            else:
                decisions.append(Adopt(record, first_poll_within=spread))
    return decisions


def unproven(lives: Mapping[int, Live], watches: Mapping[str, Watch]) -> list[Decision]:
    """The store has not renewed our leases within their TTL: another replica may own these
    executions now, so stop polling them (and editing their cards)."""
    drops: list[Decision] = [
        Drop(i) for watch in watches.values() for i in watch.follows if not lives[i].finishing
    ]
    if drops:
        log.warning("follow.leases_unproven dropped=%d (store unreachable)", len(drops))
    return drops


class ResyncPace:
    """When the next resync is due: every ``every`` seconds, sooner while the store fails."""

    def __init__(self, *, clock: Clock, every: float) -> None:
        self._clock = clock
        self.every = every
        #: monotonic time of the next resync
        self.next_at = 0.0
        self._started_at = float("-inf")
        self._failures = 0

    def started(self) -> None:
        """A resync begins: the next one is a full interval away (unless this one fails)."""
        self._started_at = self._clock.monotonic()
        self.next_at = self._started_at + self.every

    def soon(self) -> None:
        """Another replica handed leases over: resync now, but at most once per ``SOON_GAP``
        (a burst of notices makes one resync, not one each)."""
        now = self._clock.monotonic()
        self.next_at = min(self.next_at, max(now, self._started_at + SOON_GAP))

    def failed(self, error: StoreError) -> None:
        """The store failed the resync: try again soon, backing off while it keeps failing."""
        self._failures += 1
        retry = policy.error_interval(self._failures, minimum=1.0, maximum=self.every)
        self.next_at = self._clock.monotonic() + retry
        log.warning(
            "follow.resync_failed failures=%d retry_in=%.1f error=%s",
            self._failures,
            retry,
            error,
        )

    def succeeded(self) -> None:
        """The resync went through: back to the full interval."""
        self._failures = 0
