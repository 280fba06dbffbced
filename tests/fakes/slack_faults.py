"""Scripted failures and Slack-like rate limits for the fake Web API.

Pure bookkeeping on an injected clock (no sleeps), so a test can make Slack throttle or fail
at an exact call and check how the app copes: 429 + ``Retry-After``, ``{"ok": false}``
errors, HTTP 500 or a body that is not JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Breakage(Enum):
    """How a broken method answers."""

    SERVER_ERROR = "500"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Fault:
    """What to answer instead of the normal response."""

    status: int
    error: str | None = None
    retry_after: int | None = None
    breakage: Breakage | None = None


@dataclass(slots=True)
class _Scripted:
    fault: Fault
    remaining: int | None  # None: forever


class TokenBucket:
    """``rate_per_minute`` tokens per minute, holding at most ``burst``; Slack's tier model."""

    def __init__(self, rate_per_minute: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate_per_minute / 60.0
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()

    def take(self) -> int | None:
        """Spend a token; when none is left, the whole seconds until one is (``Retry-After``)."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))


class Faults:
    """Per-method scripted faults and token buckets, consulted before every call."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._scripted: dict[str, list[_Scripted]] = {}
        self._method_limits: dict[str, tuple[float, int]] = {}
        self._channel_limits: dict[str, tuple[float, int]] = {}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.rate_limited: dict[str, int] = {}

    @property
    def rate_limited_total(self) -> int:
        """How many 429s were sent, all methods together."""
        return sum(self.rate_limited.values())

    def script(self, method: str, fault: Fault, times: int | None) -> None:
        """Answer the next ``times`` calls of ``method`` with ``fault`` (``None``: until cleared)."""
        self._scripted.setdefault(method, []).append(_Scripted(fault, times))

    def clear(self, method: str | None = None) -> None:
        """Drop scripted faults (for one method or all); rate limits stay."""
        if method is None:
            self._scripted.clear()
        else:
            self._scripted.pop(method, None)

    def limit_method(self, method: str, per_minute: float, burst: int) -> None:
        """Token bucket over all calls of ``method`` (Slack tiers are per method)."""
        self._method_limits[method] = (per_minute, burst)

    def limit_channel(self, method: str, per_minute: float, burst: int) -> None:
        """Token bucket per channel for ``method`` (chat.postMessage: ~1/s per channel)."""
        self._channel_limits[method] = (per_minute, burst)

    def reset(self) -> None:
        """Forget scripted faults, limits and counters."""
        self._scripted.clear()
        self._method_limits.clear()
        self._channel_limits.clear()
        self._buckets.clear()
        self.rate_limited.clear()

    def check(self, method: str, channel: str | None) -> Fault | None:
        """The fault to answer this call with, if any; counts 429s."""
        fault = self._pop_scripted(method) or self._bucket_fault(method, channel)
        if fault is not None and fault.status == 429:
            self.rate_limited[method] = self.rate_limited.get(method, 0) + 1
        return fault

    def _pop_scripted(self, method: str) -> Fault | None:
        queue = self._scripted.get(method)
        if not queue:
            return None
        head = queue[0]
        if head.remaining is not None:
            head.remaining -= 1
            if head.remaining <= 0:
                queue.pop(0)
        return head.fault

    def _bucket_fault(self, method: str, channel: str | None) -> Fault | None:
        keys: list[tuple[str, str, tuple[float, int]]] = []
        if method in self._method_limits:
            keys.append((method, "", self._method_limits[method]))
        if channel and method in self._channel_limits:
            keys.append((method, channel, self._channel_limits[method]))
        for name, scope, (rate, burst) in keys:
            bucket = self._buckets.get((name, scope))
            if bucket is None:
                bucket = self._buckets[(name, scope)] = TokenBucket(rate, burst, self._clock)
            wait = bucket.take()
            if wait is not None:
                return Fault(429, "ratelimited", retry_after=wait)
        return None
