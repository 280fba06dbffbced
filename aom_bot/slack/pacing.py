"""Pacing Slack calls below its limits: a token bucket per method (and per channel for posts).

Waiters book slots in advance, so thousands of queued edits each sleep once and none stampede;
a 429 pauses the bucket that was hit. Time is the injected clock's.
"""

from __future__ import annotations

from dataclasses import dataclass

from aom_bot.clock import Clock

__all__ = ["Pace", "Paces", "Rate", "SlackLimits"]

#: how many per-channel buckets are kept before the idle ones are forgotten
_PACES_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Rate:
    """A pace: ``per_minute`` sustained, at most ``burst`` calls at once."""

    per_minute: float
    burst: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackLimits:
    """Paces kept below Slack's documented tiers (reference/slack-platform.md §4)."""

    #: Tier 3 (50+/min per workspace)
    update: Rate = Rate(45, 3)
    #: "several hundred per minute" per workspace
    post: Rate = Rate(240, 5)
    #: ~1 message per second per channel (posts and thread replies)
    post_per_channel: Rate = Rate(50, 1)
    #: Tier 4
    ephemeral: Rate = Rate(90, 3)
    #: Tier 3
    join: Rate = Rate(40, 2)
    #: Tier 3
    replies: Rate = Rate(40, 2)
    #: Tier 4 (files.getUploadURLExternal / files.completeUploadExternal)
    files: Rate = Rate(60, 2)
    #: Tier 4 (chat.getPermalink)
    permalink: Rate = Rate(90, 3)
    #: Tier 3 (conversations.history)
    history: Rate = Rate(40, 2)
    #: how often a call answered with 429 (or a 5xx / transport error) is tried again
    retries: int = 5
    #: Retry-After to assume when Slack's 429 has none
    default_retry_after: float = 5.0


class Pace:
    """A token bucket that callers book slots in, so waiters never stampede.

    ``reserve`` hands out send times at the bucket's pace (GCRA), so thousands of waiters each
    sleep once. ``admit`` then checks the real send time against a plain token bucket: a caller
    that woke late (a busy loop) must not send right before the next one's booked slot, or two
    calls would reach Slack closer together than its limit allows.
    """

    __slots__ = ("_at", "_burst", "_interval", "_tat", "_tokens", "_tolerance", "paused_until")

    def __init__(self, rate: Rate) -> None:
        self._interval = 60.0 / rate.per_minute
        self._burst = float(max(rate.burst, 1))
        self._tolerance = self._interval * (self._burst - 1)
        self._tat = float("-inf")
        self._tokens = self._burst
        self._at = float("-inf")
        self.paused_until = float("-inf")

    def reserve(self, now: float) -> float:
        """Book the next free slot; returns the time at which the call may go."""
        start = max(now, self._tat - self._tolerance, self.paused_until)
        self._tat = max(self._tat, start) + self._interval
        return start

    def _refill(self, now: float) -> None:
        if now > self._at:
            gained = (now - self._at) / self._interval if self._at > float("-inf") else self._burst
            self._tokens = min(self._burst, self._tokens + gained)
            self._at = now

    def admits(self, now: float) -> bool:
        """True when a call sent now stays within the pace (and no 429 pause is on)."""
        self._refill(now)
        return self.paused_until <= now and self._tokens >= 1.0 - 1e-9

    def take(self, now: float) -> None:
        """Spend the token of a call that goes out now."""
        self._refill(now)
        self._tokens = max(self._tokens - 1.0, 0.0)

    def pause(self, until: float) -> None:
        """Slack said 429: nothing goes out on this bucket before ``until``."""
        self.paused_until = max(self.paused_until, until)
        self._tokens = 0.0
        self._at = max(self._at, until - self._interval)  # one token when the pause ends

    def idle(self, now: float) -> bool:
        """True when the bucket is full again, so forgetting it changes nothing."""
        return self._tat <= now and self.paused_until <= now


class Paces:
    """The buckets of one notifier, made on first use: one per method, one per channel for posts."""

    def __init__(self, limits: SlackLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self._paces: dict[tuple[str, str], Pace] = {}

    def _rates(self, method: str, channel: str | None) -> list[tuple[tuple[str, str], Rate]]:
        limits = self._limits
        per_method = {
            "chat.update": limits.update,
            "chat.postEphemeral": limits.ephemeral,
            "conversations.join": limits.join,
            "conversations.replies": limits.replies,
            "chat.getPermalink": limits.permalink,
            "conversations.history": limits.history,
        }
        if method == "chat.postMessage":
            rates = [((method, ""), limits.post)]
            if channel:
                rates.append(((method, channel), limits.post_per_channel))
            return rates
        if method in per_method:
            return [((method, ""), per_method[method])]
        return [(("files", ""), limits.files)]

    def buckets(self, method: str, channel: str | None) -> list[Pace]:
        """The buckets a call of ``method`` (to ``channel``) must fit in."""
        buckets = []
        for key, rate in self._rates(method, channel):
            pace = self._paces.get(key)
            if pace is None:
                if len(self._paces) > _PACES_KEPT:
                    self._forget_idle()
                pace = self._paces[key] = Pace(rate)
            buckets.append(pace)
        return buckets

    def _forget_idle(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, p in self._paces.items() if k[1] and p.idle(now)]:
            del self._paces[key]

    async def wait_for_slot(self, buckets: list[Pace]) -> float:
        """Wait until a call fits in every bucket and take its tokens; returns seconds waited."""
        waited = 0.0
        while True:
            now = self._clock.monotonic()
            start = max(b.reserve(now) for b in buckets)
            if start > now:
                waited += start - now
                await self._clock.sleep(start - now)
            # woke late, or a 429 paused a bucket meanwhile: book again rather than crowd Slack
            now = self._clock.monotonic()
            if all(b.admits(now) for b in buckets):
                for bucket in buckets:
                    bucket.take(now)
                return waited

    def pause(self, buckets: list[Pace], seconds: float) -> None:
        """Slack said 429: nothing goes out on ``buckets`` for ``seconds``."""
        until = self._clock.monotonic() + seconds
        for bucket in buckets:
            bucket.pause(until)
