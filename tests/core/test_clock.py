"""Simulated time: sleepers wake exactly when time is advanced past their deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aom_bot.clock import ManualClock, SystemClock


async def test_sleepers_wake_in_deadline_order_only_when_time_passes():
    """Nothing wakes before its deadline; advancing wakes the due ones in order."""
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("late", 20), ("early", 5))]
    await clock.settle()
    assert clock.sleepers == 2
    clock.advance(4.9)
    await clock.settle()
    assert woke == []
    clock.advance(20)
    await clock.settle()
    assert woke == ["early", "late"]
    assert clock.now() == datetime(2024, 1, 1, 0, 0, 24, 900000, tzinfo=UTC)
    await asyncio.gather(*tasks)


async def test_run_for_drives_a_periodic_loop():
    """A loop sleeping 10 s runs 6 times in one simulated minute."""
    clock = ManualClock()
    ticks: list[float] = []

    async def loop() -> None:
        while True:
            await clock.sleep(10)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(loop())
    await clock.run_for(60)
    task.cancel()
    assert ticks == [10, 20, 30, 40, 50, 60]


async def test_system_clock_is_aware_utc():
    """The real clock reports timezone-aware UTC and non-negative sleeps return."""
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    await clock.sleep(-1)
