"""Acks first: background work yields to requests still waiting for their acknowledgement.

Slack gives each request 3 seconds; the answer that follows (fetching from AOM, rendering,
posting) has no such deadline. In a burst of commands, the background work of the first ones
would otherwise take the event loop from the later ones' acks. :class:`AckGate` counts the
requests in dispatch; work after ``ack()`` waits (``await gate.quiet()``) until none has been
pending for ``settle`` seconds (requests of a burst arrive spread out, so one empty moment is
not the end of the burst), for at most ``max_wait`` seconds so that sustained traffic cannot
starve it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from aom_bot.clock import Sleep

__all__ = ["AckGate"]


class AckGate:
    """How many requests are being acknowledged right now, and a way to wait for none."""

    def __init__(
        self, *, settle: float = 0.02, max_wait: float = 0.5, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._pending = 0
        self._arrivals = 0
        self._settle = settle
        self._max_wait = max_wait
        #: the settle wait (tests pass a simulated clock's sleep)
        self._sleep = sleep
        self._idle: asyncio.Event | None = None

    @property
    def pending(self) -> int:
        """Requests in dispatch whose acknowledgement has not been returned yet."""
        return self._pending

    def _event(self) -> asyncio.Event:
        if self._idle is None:  # created lazily, inside the running loop
            self._idle = asyncio.Event()
            if self._pending == 0:
                self._idle.set()
        return self._idle

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Count one request for the duration of its dispatch (until its ack is returned)."""
        self._pending += 1
        self._arrivals += 1
        self._event().clear()
        try:
            yield
        finally:
            self._pending -= 1
            if self._pending == 0:
                self._event().set()

    async def quiet(self) -> None:
        """Return once no request has waited for its ack for ``settle`` seconds (at most
        ``max_wait`` seconds from now)."""
        event = self._event()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._max_wait):
                while True:
                    await event.wait()
                    seen = self._arrivals
                    await self._sleep(self._settle)
                    if event.is_set() and self._arrivals == seen:
                        return
