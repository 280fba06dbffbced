"""A cap on AOM requests per second, one per AOM profile (its commands and polling share it).

Requests are spaced ``1 / rate`` seconds apart, in arrival order, on the bot's clock (so tests
run it on simulated time): no window of one second ever holds more than ``rate`` of them, which
is how an API gateway counts. Every attempt counts, retries included.

::

    limiter = RequestLimiter(rate=settings.aom_max_requests_per_second, clock=SystemClock())
    client = AomClient(http, project_id=..., limiter=limiter)
"""

from __future__ import annotations

import asyncio

from aom_bot.clock import Clock, SystemClock

__all__ = ["RequestLimiter"]


class RequestLimiter:
    """At most ``rate`` requests in any one second: a token bucket holding one token."""

    def __init__(self, *, rate: float, clock: Clock | None = None) -> None:
        if rate <= 0:
            raise ValueError("RequestLimiter needs rate > 0")
        self._rate = float(rate)
        self._burst = 1.0
        self._clock = clock or SystemClock()
        self._tokens = self._burst
        self._stamp = self._clock.monotonic()
        self._lock = asyncio.Lock()  # waiters are served in arrival order

    @property
    def rate(self) -> float:
        return self._rate

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until one more request fits under the cap, and count it."""
        async with self._lock:
            self._refill()
            while self._tokens < 1.0:
                await self._clock.sleep((1.0 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1.0
