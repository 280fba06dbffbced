"""The execution leases one engine holds: how replicas share the executions they poll.

Leases live in the store with a TTL; an engine renews its own at every resync, so a crashed
replica's executions pass to the others when its leases expire, and a clean stop hands them
over at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from aom_bot.clock import Clock
from aom_bot.store.base import Store

__all__ = ["LeaseBook"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger


class LeaseBook:
    """Takes, renews and gives back this owner's leases on executions."""

    def __init__(self, *, store: Store, owner: str, clock: Clock, ttl: timedelta) -> None:
        self._store = store
        self._owner = owner
        self._clock = clock
        self._ttl = ttl
        self._held: set[str] = set()

    async def acquire(self, keys: Iterable[str]) -> set[str]:
        """Take or renew the leases on ``keys``; returns those this engine now holds."""
        wanted = set(keys)
        if not wanted:
            return set()
        held = set(
            await self._store.acquire_leases(self._owner, wanted, self._ttl, self._clock.now())
        )
        lost = (self._held & wanted) - held
        if lost:
            log.info("follow.leases_lost count=%d", len(lost))
        self._held = (self._held - wanted) | held
        return held

    async def release_except(self, keep: set[str]) -> None:
        """Give back the leases on executions not in ``keep``."""
        unused = self._held - keep
        if unused:
            await self._store.release_leases(self._owner, unused)
            self._held -= unused

    async def release_all(self) -> None:
        """Give back every lease (a clean stop: the other replicas take over at once)."""
        await self._store.release_leases(self._owner, self._held)

    def forget(self) -> None:
        """Hold nothing any more (the store's leases expire by themselves)."""
        self._held.clear()
