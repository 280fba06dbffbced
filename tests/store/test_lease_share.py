"""Replicas share leased work fairly through the store, on SQLite and PostgreSQL.

Time is simulated (``ManualClock``): lease expiry and the end of a lease's proof are exact.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aom_bot.clock import ManualClock
from aom_bot.follow.leases import LeaseBook, fair_share
from aom_bot.store import Store

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)
KEYS = [f"exec:wf/{i:02d}" for i in range(24)]


def _book(store: Store, owner: str, clock: ManualClock, seed: int) -> LeaseBook:
    return LeaseBook(store=store, owner=owner, clock=clock, ttl=TTL, rng=random.Random(seed))


async def _replicas(backend: Backend, clock: ManualClock, n: int) -> list[LeaseBook]:
    return [_book(await backend.open(), f"r{i}", clock, i) for i in range(n)]


def _assert_partition(held: list[set[str]], keys: list[str]) -> None:
    """Every key is held by exactly one replica."""
    assert set().union(*held) == set(keys)
    assert sum(len(h) for h in held) == len(keys)


async def test_lease_holders_lists_live_leases_by_prefix(store: Store) -> None:
    """Only unexpired leases with the prefix are listed, with their owners."""
    await store.acquire_leases("A", ["exec:1", "discovery:w"], TTL, T0)
    await store.acquire_leases("B", ["exec:2"], TTL, T0 + timedelta(seconds=10))
    assert await store.lease_holders("exec:", T0 + timedelta(seconds=5)) == {
        "exec:1": "A",
        "exec:2": "B",
    }
    assert await store.lease_holders("exec:", T0 + TTL) == {"exec:2": "B"}
    assert await store.lease_holders("discovery:", T0) == {"discovery:w": "A"}


async def test_three_replicas_started_together_split_the_work(
    backend: Backend, store: Store
) -> None:
    """24 follows, 3 replicas resyncing in turn: each key held once, none above its share."""
    clock = ManualClock(T0)
    books = await _replicas(backend, clock, 3)
    for _ in range(2):  # heartbeats first appear in the first round
        held = [await b.share(KEYS) for b in books]
        clock.advance(5)
    _assert_partition(held, KEYS)
    assert max(len(h) for h in held) <= fair_share(24, 3)  # 9 of 24: under 60%
    assert max(len(h) for h in held) <= 0.6 * len(KEYS)


async def test_a_replica_that_took_everything_gives_back_its_surplus(
    backend: Backend, store: Store
) -> None:
    """The first replica up takes all 24; when two more start, it keeps only its share."""
    clock = ManualClock(T0)
    first, *others = await _replicas(backend, clock, 3)
    assert await first.share(KEYS) == set(KEYS)
    for b in others:
        await b.share(KEYS)  # heartbeats: now three are alive
    clock.advance(5)
    held = [await b.share(KEYS) for b in (first, *others)]
    _assert_partition(held, KEYS)
    assert len(held[0]) <= fair_share(24, 3)


async def test_a_dead_replicas_work_passes_to_the_others_after_the_ttl(
    backend: Backend, store: Store
) -> None:
    """A replica that stops renewing (SIGKILL) loses its keys once its leases expire."""
    clock = ManualClock(T0)
    books = await _replicas(backend, clock, 3)
    for _ in range(2):
        held = [await b.share(KEYS) for b in books]
        clock.advance(5)
    dead = held[2]
    assert dead
    clock.advance(TTL.total_seconds() / 3)  # the survivors renew; the dead one does not
    held = [await b.share(KEYS) for b in books[:2]]
    assert not (set().union(*held) & dead)  # still the dead one's until its TTL
    clock.advance(TTL.total_seconds())
    held = [await b.share(KEYS) for b in books[:2]]
    _assert_partition(held, KEYS)


async def test_a_clean_stop_hands_over_at_once(backend: Backend, store: Store) -> None:
    """``release_all`` frees keys and heartbeat: the others take everything at their next resync."""
    clock = ManualClock(T0)
    books = await _replicas(backend, clock, 3)
    for _ in range(2):
        [await b.share(KEYS) for b in books]
        clock.advance(1)
    await books[2].release_all()
    held = [await b.share(KEYS) for b in books[:2]]
    _assert_partition(held, KEYS)


async def test_leases_are_unproven_once_the_ttl_passes_without_renewal(store: Store) -> None:
    """A replica whose store stops answering must not trust its leases past their TTL."""
    clock = ManualClock(T0)
    book = _book(store, "A", clock, 0)
    await book.share(KEYS)
    clock.advance(TTL.total_seconds() - 1)
    assert book.proven()
    clock.advance(1)
    assert not book.proven()
    await book.share(KEYS)
    assert book.proven()


async def test_a_longer_lived_heartbeat_of_other_work_does_not_shrink_the_share(
    backend: Backend, store: Store
) -> None:
    """A dead replica's discovery heartbeat (a longer TTL) must not keep counting it among the
    engines: the two survivors take all of its follows once its execution leases expire."""
    clock = ManualClock(T0)
    books = await _replicas(backend, clock, 3)
    discovery = LeaseBook(
        store=await backend.open(), owner="r2", clock=clock, ttl=TTL * 4, prefix="discovery:"
    )
    for _ in range(2):
        [await b.share(KEYS) for b in books]
        await discovery.share(["discovery:wf"])  # renewed last, for four times as long
        clock.advance(5)
    clock.advance(TTL.total_seconds())  # r2 is dead; its discovery heartbeat still runs
    held = [await b.share(KEYS) for b in books[:2]]
    _assert_partition(held, KEYS)


async def test_a_stopped_book_takes_no_lease_a_late_follow_asks_for(
    backend: Backend, store: Store
) -> None:
    """A follow still being set up when its replica stops asks for its lease after the hand
    over: it gets none, so the others take that execution at their next resync, not a lease
    later."""
    clock = ManualClock(T0)
    books = await _replicas(backend, clock, 3)
    for _ in range(2):
        [await b.share(KEYS) for b in books]
        clock.advance(1)
    await books[2].release_all()
    assert await books[2].acquire([KEYS[0]]) == set()
    assert await books[2].share(KEYS) == set()  # nor does a resync count it alive again
    held = [await b.share(KEYS) for b in books[:2]]
    _assert_partition(held, KEYS)


class _SlowTakes:
    """The store, with ``acquire_leases`` held at the door until ``go`` is set."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.waiting = asyncio.Event()
        self.go = asyncio.Event()

    async def acquire_leases(self, *args: Any) -> set[str]:
        self.waiting.set()
        await self.go.wait()
        return await self._store.acquire_leases(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_take_on_its_way_when_the_book_hands_over_is_given_back(store: Store) -> None:
    """The store answers a take only after the stop released everything: that lease is given
    back too, and the replica holds nothing."""
    clock = ManualClock(T0)
    slow = _SlowTakes(store)
    book = LeaseBook(store=slow, owner="A", clock=clock, ttl=TTL)  # type: ignore[arg-type]
    taking = asyncio.create_task(book.acquire([KEYS[0]]))
    await slow.waiting.wait()
    await book.release_all()
    slow.go.set()
    assert await taking == set()
    assert await store.lease_holders("", T0) == {}
