"""A store that remembers how its calls went, so ``/healthz`` can say when the store fails.

Wraps any :class:`~aom_bot.store.base.Store`; every call goes through unchanged. The monitor
notes each failure (a ``StoreError``) and how long calls have been waiting, and its
:meth:`StoreMonitor.problem` check also makes one cheap read of its own, bounded in time, so a
store that nobody happens to be using is still probed.

::

    monitor = StoreMonitor(store, clock=SystemClock())
    store = monitor.store          # give this to the engine, discovery and the listeners
    health.add_check(monitor.problem)
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from typing import Any, cast

from aom_bot.clock import Clock
from aom_bot.errors import StoreError
from aom_bot.store.base import Store

__all__ = ["StoreMonitor"]


class StoreMonitor:
    """Outcome and latency of the store's calls; see the module docstring."""

    def __init__(
        self,
        inner: Store,
        *,
        clock: Clock,
        window: float = 10.0,
        slow_after: float = 5.0,
        probe_timeout: float = 2.0,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._window = window
        self._slow_after = slow_after
        self._probe_timeout = probe_timeout
        self._last_failure: float | None = None
        self._waiting: dict[int, float] = {}
        self._ids = itertools.count()
        self._probe: asyncio.Future[str | None] | None = None
        self.store = cast(Store, _Proxy(inner, self))

    async def problem(self) -> str | None:
        """Why the store counts as failing right now, or ``None``."""
        now = self._clock.monotonic()
        oldest = min(self._waiting.values(), default=now)
        if now - oldest >= self._slow_after:
            return f"the store has not answered for {now - oldest:.0f} s"
        if not self._waiting:
            answered, trouble = await self._probe_store()
            if not answered:
                return f"the store did not answer within {self._probe_timeout:g} s"
            if trouble is not None:  # details (file paths) are in the log, not on a public port
                return "the store cannot keep state (its file is gone or not writable)"
        failed = self._last_failure
        if failed is not None and self._clock.monotonic() - failed < self._window:
            return "the store is failing"  # its errors are in the log, not on a public port
        return None

    async def _probe_store(self) -> tuple[bool, str | None]:
        """The store's own health check (:meth:`Store.health_problem`: a cheap read, and for
        SQLite whether its file is still the one opened): whether it answered within
        ``probe_timeout``, and the problem it named.

        A probe that hangs is left to finish (never cancelled: cancelling a driver's query
        mid-flight costs a connection, and on a blackholed connection can hang); while it
        waits, it counts among the calls waiting.
        """
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self.store.health_problem())
            self._probe.add_done_callback(_consume)
        probe = self._probe
        done, _ = await asyncio.wait({probe}, timeout=self._probe_timeout)
        if not done:
            return False, None
        if probe.cancelled() or probe.exception() is not None:
            return True, None  # a StoreError is noted as a failure by the proxy already
        return True, probe.result()

    def _started(self) -> int:
        call = next(self._ids)
        self._waiting[call] = self._clock.monotonic()
        return call

    def _ended(self, call: int, error: StoreError | None) -> None:
        self._waiting.pop(call, None)
        if error is not None:
            self._last_failure = self._clock.monotonic()


class _Proxy:
    """Forwards every coroutine method of the store through the monitor."""

    def __init__(self, inner: Store, monitor: StoreMonitor) -> None:
        self._inner = inner
        self._monitor = monitor

    def __repr__(self) -> str:
        return repr(self._inner)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(target):
            return target

        @functools.wraps(target)
        async def call(*args: Any, **kwargs: Any) -> Any:
            monitor = self._monitor
            ticket = monitor._started()
            try:
                result = await target(*args, **kwargs)
            except StoreError as error:
                monitor._ended(ticket, error)
                raise
            except BaseException:
                monitor._ended(ticket, None)
                raise
            monitor._ended(ticket, None)
            return result

        setattr(self, name, call)  # look each method up once
        return call


def _consume(probe: asyncio.Future[str | None]) -> None:
    """A probe's error is noted by the proxy already; retrieve it so asyncio does not warn."""
    if not probe.cancelled():
        probe.exception()
