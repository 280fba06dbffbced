"""A replica that hears of a hand-over takes the leases at once, not at its next resync.

Two engines on one store file, simulated time; the store's ``handovers`` notice (PostgreSQL's
``NOTIFY``, tested in tests/store/test_handover.py) is stood in for by calling
``handover_heard`` as the bot's relay does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from aom_bot.follow.engine import FollowEngine
from aom_bot.follow.resync import SOON_GAP
from aom_bot.records import FollowRequest
from tests.follow.harness import Rig, make_rig

C = "C0GENERAL"
ALICE = "U0ALICE"
#: a long lease: resyncs a minute apart, so "at once" and "at the next resync" differ plainly
LEASE = timedelta(minutes=3)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


async def two_replicas(rig: Rig, follows: int) -> tuple[FollowEngine, FollowEngine, list[str]]:
    """Replica a follows ``follows`` executions (b has started, holding none of them)."""
    one = rig.engine(owner="replica-a", lease_ttl=LEASE)
    await rig.start(one)
    runs, started = [], []
    for _ in range(follows):
        wf, ex = rig.execution("waiting-approval")
        request = FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
        started.append(rig.track(one.follow(request)))  # the cards go at the channel's pace
        runs.append(ex)
    await rig.advance(5 + 2 * follows)  # about a post per second in one channel
    assert all(task.done() for task in started)
    two = rig.engine(store=await rig.second_store(), owner="replica-b", lease_ttl=LEASE)
    await rig.start(two)
    return one, two, runs


async def test_a_heard_hand_over_moves_a_stopped_replicas_follows_within_seconds(
    rig: Rig,
) -> None:
    one, two, runs = await two_replicas(rig, 3)
    await rig.advance(1)
    assert two.stats.active_follows == 0  # a is alive and holds them
    await asyncio.wait_for(one.stop(), 5)
    before = {ex: rig.status_requests(ex) for ex in runs}

    two.handover_heard("exec:")
    await rig.advance(SOON_GAP + 5, two)  # the resync, then the first polls (within poll_min)

    assert two.stats.active_follows == 3
    assert all(rig.status_requests(ex) > before[ex] for ex in runs)


async def test_without_a_notice_the_follows_wait_for_the_next_resync(rig: Rig) -> None:
    """The control: the same stop, nobody told; b takes them only at its next resync."""
    one, two, _ = await two_replicas(rig, 3)
    await rig.advance(1)
    await asyncio.wait_for(one.stop(), 5)

    await rig.advance(SOON_GAP + 5, two)
    assert two.stats.active_follows == 0
    await rig.advance(LEASE.total_seconds() / 3, two)
    assert two.stats.active_follows == 3


async def test_a_notice_about_other_leases_changes_nothing(rig: Rig) -> None:
    """Discovery's workflows are not the engine's business: no resync for their hand-over."""
    one, two, _ = await two_replicas(rig, 2)
    await rig.advance(1)
    await asyncio.wait_for(one.stop(), 5)

    two.handover_heard("discovery:")
    await rig.advance(SOON_GAP + 5, two)
    assert two.stats.active_follows == 0


async def test_a_burst_of_notices_makes_one_resync_per_gap(rig: Rig) -> None:
    """Many notices at once (a replica shedding, another stopping) cost one store read."""
    _, two, _ = await two_replicas(rig, 1)
    await rig.advance(SOON_GAP + 1)
    reads = 0
    store = two._store
    real = store.active_follows

    async def counted() -> list[object]:
        nonlocal reads
        reads += 1
        return list(await real())

    store.active_follows = counted  # type: ignore[method-assign]
    for _ in range(10):
        two.handover_heard("exec:")
    await rig.advance(SOON_GAP / 2, two)
    assert reads == 1


async def test_a_takeovers_first_polls_are_spread_over_half_the_longest_interval(
    rig: Rig,
) -> None:
    """Old runs (polled every 30 s) taken over in bulk: each is polled again within half the
    longest interval, not all within the shortest (a burst on top of b's own polls)."""
    one, two, runs = await two_replicas(rig, 20)
    await rig.advance(600)  # the runs are old now: polled every poll_max (30 s)
    holders = await rig.store.lease_holders("exec:", rig.clock.now())
    taken = {key.rsplit("/", 1)[1] for key, owner in holders.items() if owner == "replica-a"}
    assert len(taken) >= 8  # a holds its share (b joined later and took the rest)
    await asyncio.wait_for(one.stop(), 5)
    rig.requests.reset()
    heard_at = rig.clock.monotonic()

    two.handover_heard("exec:")
    await rig.advance(SOON_GAP + 30 / 2 + 1, two)

    first: dict[str, float] = {}
    for request in rig.requests.records:
        if request.endpoint == "status":
            first.setdefault(request.execution_id, request.at_ms / 1000)
    assert taken <= set(first) <= set(runs)  # every one taken polled again within the window
    start = rig.clock.now().timestamp() - (rig.clock.monotonic() - heard_at)
    delays = sorted(first[ex] - start for ex in taken)
    assert delays[-1] <= SOON_GAP + 30 / 2
    assert delays[-1] - delays[0] > 5.0  # spread wider than poll_min (5 s)
