"""The leases one replica holds: how replicas share the executions and workflows they poll.

Leases live in the store with a TTL; a replica renews its own at every resync, so a crashed
replica's work passes to the others when its leases expire, and a clean stop hands it over at
once. Each replica also holds a heartbeat lease (``replica:<prefix><owner>``), so every replica
knows how many are alive and takes at most its fair share, ``ceil(keys / live replicas) + 1``, of
the work: three replicas started together split 24 follows about 8/8/8 instead of the first one
grabbing all of them. A replica above its share (one that took everything before the others
started) gives the surplus back, and the others take it at their next resync.

Whatever is given back on purpose is announced (``Store.announce_handover``: on PostgreSQL a
``NOTIFY``), and so is a newcomer's first heartbeat: the others resync at once instead of a
third of the lease later, so a clean stop or a join moves the work in about a second.

A clean stop closes the book: a follow still being set up when the replica stops (its card
posted, its lease not yet taken) must not take a lease after the others were told everything
is free, or that execution waits a whole lease with nobody polling it.

A lease is only proven until the last successful renewal plus the TTL: once that has passed
without the store answering, another replica may own the work, so the replica must stop
polling (``proven`` turns false) instead of editing cards on leases it may have lost.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable
from datetime import timedelta

from aom_bot.clock import Clock
from aom_bot.errors import StoreError
from aom_bot.store.base import Store

__all__ = ["HEARTBEAT_PREFIX", "LeaseBook", "fair_share"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: the prefix of the replicas' heartbeat leases (one per live replica)
HEARTBEAT_PREFIX = "replica:"


def fair_share(keys: int, replicas: int, slack: int = 1) -> int:
    """How many of ``keys`` one of ``replicas`` live replicas may hold at most.

    The slack keeps the sum of the shares above the number of keys, so no key is left to
    nobody while every replica is at its cap.
    """
    if keys <= 0:
        return 0
    return math.ceil(keys / max(1, replicas)) + slack


class LeaseBook:
    """Takes, renews and gives back this owner's leases on keys starting with ``prefix``."""

    def __init__(
        self,
        *,
        store: Store,
        owner: str,
        clock: Clock,
        ttl: timedelta,
        prefix: str = "exec:",
        rng: random.Random | None = None,
        slack: int = 1,
    ) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._ttl = ttl
        self._prefix = prefix
        self._rng = rng or random.Random()  # noqa: S311 - spreading, not cryptography
        self._slack = max(0, slack)
        # one heartbeat per kind of work: discovery's longer TTL must not make a dead replica
        # look alive to the engines (their caps would leave its follows to nobody meanwhile)
        self._alive = f"{HEARTBEAT_PREFIX}{prefix}"
        self._heartbeat = self._alive + owner
        self._held: set[str] = set()
        #: monotonic time until which every lease in ``_held`` is known to be ours
        self._proven_until: float | None = None
        #: set by ``release_all``: a stopping replica takes nothing more
        self._closed = False
        #: the heartbeat was renewed at the last ``share`` (not: this replica is new to the others)
        self._beating = False

    @property
    def prefix(self) -> str:
        """The keys this book shares start with it (what hand-over notices name)."""
        return self._prefix

    @property
    def ttl(self) -> timedelta:
        """How long a lease lasts without renewal."""
        return self._ttl

    @property
    def held(self) -> frozenset[str]:
        """The keys this replica believes it holds."""
        return frozenset(self._held)

    def proven(self) -> bool:
        """False once the TTL has passed since the last renewal that reached the store."""
        return self._proven_until is None or self._clock.monotonic() < self._proven_until

    async def acquire(self, keys: Iterable[str]) -> set[str]:
        """Take or renew the leases on ``keys`` (no share cap: a user's own follow starts here)."""
        wanted = set(keys)
        if not wanted or self._closed:
            return set()
        held = set(
            await self._store.acquire_leases(self._owner, wanted, self._ttl, self._clock.now())
        )
        if self._closed:  # handed over while the store answered: give these back too
            await self._store.release_leases(self._owner, held)
            return set()
        lost = (self._held & wanted) - held
        if lost:
            log.info("follow.leases_lost count=%d", len(lost))
        self._held = (self._held - wanted) | held
        return held

    async def share(self, keys: Iterable[str]) -> set[str]:
        """Renew the heartbeat, keep or take this replica's fair share of ``keys``; give back
        the rest. Returns the keys held now; raises the store's error (nothing proven then)."""
        if self._closed:  # stopped: renewing the heartbeat would count this replica again
            return set()
        wanted = set(keys)
        started = self._clock.monotonic()
        now = self._clock.now()
        beating = await self._store.acquire_leases(self._owner, [self._heartbeat], self._ttl, now)
        if beating and not self._beating:  # a newcomer: the others shed its share for it now
            await self._announce()
        self._beating = bool(beating)
        live = len(await self._store.lease_holders(self._alive, now))
        holders = await self._store.lease_holders(self._prefix, now)
        # ours, or ours until it lapsed and still free: kept before anything new is taken
        mine = {
            k
            for k in wanted
            if holders.get(k, self._owner if k in self._held else None) == self._owner
        }
        cap = fair_share(len(wanted), live, self._slack)
        surplus: set[str] = set()
        if len(mine) > cap:
            surplus = set(self._rng.sample(sorted(mine), len(mine) - cap))
            mine -= surplus
        free = sorted(k for k in wanted if k not in holders)
        take = self._rng.sample(free, min(len(free), max(0, cap - len(mine))))
        held = await self.acquire(mine | set(take)) if mine or take else set()
        gone = (self._held - held) | surplus
        if gone:
            await self._store.release_leases(self._owner, gone)
            if surplus:
                log.info(
                    "follow.leases_shed count=%d share=%d replicas=%d", len(surplus), cap, live
                )
                await self._announce()
        self._held = held
        self._proven_until = started + self._ttl.total_seconds()
        return held

    async def release_except(self, keep: set[str]) -> None:
        """Give back the leases on keys not in ``keep``."""
        unused = self._held - keep
        if unused:
            await self._store.release_leases(self._owner, unused)
            self._held -= unused

    async def release_all(self) -> None:
        """Give back every lease and the heartbeat (a clean stop: the others take over at once).

        The book is closed from then on: ``acquire`` takes nothing, and a take already on its
        way to the store is given back when it returns.
        """
        self._closed = True
        await self._store.release_leases(self._owner, {*self._held, self._heartbeat})
        await self._announce()

    async def _announce(self) -> None:
        """Tell the other replicas to look at the leases now (a hint; they resync anyway)."""
        try:
            await self._store.announce_handover(self._prefix)
        except StoreError as error:
            log.info("follow.handover_not_announced error=%s", error)

    def forget(self) -> None:
        """Hold nothing any more (the store's leases expire by themselves)."""
        self._held.clear()
        self._proven_until = None
        self._beating = False
