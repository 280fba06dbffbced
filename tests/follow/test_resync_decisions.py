"""Which stored follows this replica keeps, decided from plain values: the follows in memory,
the store's active follows, and the leases held."""

from __future__ import annotations

from aom_bot.follow.decisions import Adopt, Drop, Refresh
from aom_bot.follow.resync import by_execution, ended_elsewhere, placed, unproven
from aom_bot.follow.state import Watch, execution_key
from tests.follow.values import EXECUTION, WORKFLOW, record, watch_of

KEY = execution_key(WORKFLOW, EXECUTION)


def test_follows_the_store_no_longer_has_active_are_dropped_unless_finishing() -> None:
    """Ended elsewhere (an unfollow on another replica): dropped; one finishing here is left
    to its completion, and a follow made after the store was read is not touched."""
    watch, (ended, finishing, kept) = watch_of(record(1), record(2), record(3))
    finishing.finishing = True
    lives = {live.id: live for live in (ended, finishing, kept)}
    assert ended_elsewhere(lives, known=[1, 2, 3], records=[record(3)]) == [Drop(1)]
    assert ended_elsewhere(lives, known=[3], records=[]) == [Drop(3)]
    assert ended_elsewhere(lives, known=[9], records=[]) == []
    assert watch.follows.keys() == {1, 2, 3}


def test_held_executions_adopt_new_follows_and_refresh_known_ones() -> None:
    """A stored follow not in memory is adopted (its first poll spread); one in memory gets
    its stored record; one ``follow()`` is still starting is left to it."""
    watch, (known,) = watch_of(record(1))
    newer = record(1, message_ts="1.000200")
    stored = by_execution([newer, record(2), record(3)])
    decisions = placed({1: known}, {KEY: watch}, stored, held={KEY}, starting={3}, spread=5.0)
    assert decisions == [Refresh(known, newer), Adopt(record(2), first_poll_within=5.0)]


def test_executions_another_replica_holds_now_are_dropped_here() -> None:
    """The lease went to another replica: its follows are dropped (a finishing one stays)."""
    watch, (lost, finishing) = watch_of(record(1), record(2))
    finishing.finishing = True
    other = Watch("wf-2", "ex-2")
    decisions = placed(
        {1: lost, 2: finishing}, {KEY: watch, other.key: other}, {}, held=set(), starting=set(),
        spread=5.0,
    )  # fmt: skip
    assert decisions == [Drop(1)]


def test_unproven_leases_drop_every_follow_but_the_finishing_ones() -> None:
    """The store has not renewed the leases in time: stop polling until a resync proves them."""
    watch, (a, b) = watch_of(record(1), record(2))
    b.finishing = True
    assert unproven({1: a, 2: b}, {KEY: watch}) == [Drop(1)]
    assert unproven({}, {}) == []
