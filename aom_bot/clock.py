"""Time as a dependency: the follow engine, token caches and the simulator take a :class:`Clock`.

``SystemClock`` is the real one. ``ManualClock`` is simulated time for tests, demos and benchmarks:
``await clock.sleep(30)`` returns when a test calls ``clock.advance(30)``, with no real waiting and
no race against the wall clock.

>>> clock = ManualClock(datetime(2024, 3, 15, tzinfo=UTC))
>>> clock.advance(90)
>>> clock.now().isoformat()
'2024-03-15T00:01:30+00:00'
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "Sleep", "SystemClock", "sleep_or_wake"]

#: an injectable ``asyncio.sleep`` (tests pass one that advances simulated time)
Sleep = Callable[[float], Awaitable[None]]


class Clock(Protocol):
    """Wall time for display and storage, monotonic time for intervals, and sleeping."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep ``seconds`` on ``clock``, or less if ``wake`` is set meanwhile; ``wake`` is cleared.

    The polling loops sleep until their next due item but must react at once to new work.
    """
    if wake.is_set():
        wake.clear()
        return
    sleeper = asyncio.ensure_future(clock.sleep(max(seconds, 0.0)))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()
        wake.clear()


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Simulated time that moves only when told to.

    ``advance()`` wakes every sleeper whose deadline has passed, in deadline order. ``run_for()``
    advances step by step, letting woken tasks run between steps, so loops that sleep and then
    work behave as they would in real time, only instantly.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2024, 3, 15, 8, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        """Seconds until the earliest sleeper wakes, or None."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] - self._elapsed if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake the sleepers that are due (they run at the next await)."""
        self._elapsed += max(0.0, seconds)
        while self._sleepers and self._sleepers[0][0] <= self._elapsed:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    async def settle(self, rounds: int = 50) -> None:
        """Let ready tasks run until they are all waiting again (on this clock or on I/O)."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def run_for(self, seconds: float, *, step: float | None = None) -> None:
        """Advance ``seconds`` in steps (to each sleeper's deadline, or ``step``), settling between."""
        target = self._elapsed + seconds
        await self.settle()
        while self._elapsed < target:
            due = self.next_deadline()
            gap = target - self._elapsed
            if due is not None:
                gap = min(gap, max(due, 0.0))
            if step is not None:
                gap = min(gap, step)
            self.advance(gap if gap > 0 else min(step or 1e-3, target - self._elapsed))
            await self.settle()
