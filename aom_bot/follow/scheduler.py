"""When each execution is polled next: the due times and the queue the workers take from.

A heap of due times feeds a queue that a fixed pool of workers
(:meth:`aom_bot.follow.apply.Applier.worker`) drains, so at most
``max_concurrency`` AOM requests are in flight however many executions are followed. Intervals
come from :mod:`aom_bot.follow.policy`: short while a run is young, longer as it ages, backing
off while AOM is unreachable, always jittered.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random

from aom_bot.clock import Clock, sleep_or_wake
from aom_bot.errors import StoreError
from aom_bot.follow import policy
from aom_bot.follow.state import Watch

__all__ = ["PollScheduler"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger


class PollScheduler:
    """Due times of the watches, the poll queue, and the scheduler's wake-up event."""

    def __init__(
        self,
        *,
        clock: Clock,
        rng: random.Random,
        poll_min: float,
        poll_max: float,
    ) -> None:
        self._clock = clock
        self._rng = rng
        self.poll_min = poll_min
        self.poll_max = poll_max
        #: the engine's loop is running (before, every schedule wakes it for its first look)
        self.running = False
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._polls: asyncio.Queue[Watch] = asyncio.Queue()
        #: set when the sleeping scheduler must look again (sooner work, stop)
        self.wake = asyncio.Event()
        self._idle_workers = 0
        #: when the sleeping scheduler wakes by itself; sooner work must wake it
        self._sleep_until = float("-inf")

    @property
    def has_pending_work(self) -> bool:
        """True when queued polls wait for an idle worker."""
        return self._idle_workers > 0 and not self._polls.empty()

    def schedule(self, watch: Watch, delay: float) -> None:
        """Poll ``watch`` in ``delay`` seconds."""
        watch.due = self._clock.monotonic() + delay
        heapq.heappush(self._heap, (watch.due, next(self._seq), watch))
        if watch.due < self._sleep_until or not self.running:
            self.wake.set()

    def release_due(self, now: float) -> None:
        """Queue the watches due by ``now`` for the workers."""
        while self._heap and self._heap[0][0] <= now:
            due, _, watch = heapq.heappop(self._heap)
            # a watch retired (its follows dropped, its execution ended) is done for good
            if watch.done or watch.queued or due != watch.due:
                continue
            watch.queued = True
            self._polls.put_nowait(watch)

    def next_due(self, latest: float) -> float:
        """The earlier of ``latest`` and the next due poll (monotonic seconds)."""
        if self._heap:
            return min(latest, self._heap[0][0])
        return latest

    async def sleep_until(self, wake_at: float) -> None:
        """Sleep until ``wake_at`` (monotonic) or until woken."""
        self._sleep_until = wake_at
        try:
            await sleep_or_wake(self._clock, wake_at - self._clock.monotonic(), self.wake)
        finally:
            self._sleep_until = float("-inf")

    def interval(self, watch: Watch) -> float:
        """Seconds until ``watch``'s next poll."""
        if watch.failures:
            base = policy.error_interval(
                watch.failures, minimum=self.poll_min, maximum=self.poll_max
            )
        else:
            base = policy.poll_interval(
                self._elapsed(watch), minimum=self.poll_min, maximum=self.poll_max
            )
        return policy.jittered(base, self._rng)

    def _elapsed(self, watch: Watch) -> float:
        now = self._clock.now()
        begin = watch.begin_time
        if begin is None and watch.follows:
            begin = min(live.follow.started_at for live in watch.follows.values())
        return 0.0 if begin is None else max((now - begin).total_seconds(), 0.0)

    def spread(self, within: float) -> float:
        """A random delay up to ``within`` seconds (a restart spreads its first polls)."""
        return self._rng.uniform(0.0, within)

    async def next_watch(self) -> Watch:
        """The next watch due, waiting for one (a worker polls it)."""
        self._idle_workers += 1
        try:
            watch = await self._polls.get()
        finally:
            self._idle_workers -= 1
        watch.queued = False
        return watch

    def retry_later(self, watch: Watch, error: BaseException) -> None:
        """A poll failed unexpectedly: poll again after the longest interval."""
        if isinstance(error, StoreError):  # the store fails for now
            log.warning("follow.poll_store_failed key=%s error=%s", watch.key, error)
        else:
            log.error("follow.poll_failed key=%s", watch.key, exc_info=error)
        if not watch.done and watch.follows:
            self.schedule(watch, self.poll_max)
