"""The ack gate: work after ack() waits while other requests still wait for theirs."""

from __future__ import annotations

import asyncio

from aom_bot.clock import ManualClock
from aom_bot.slack.gate import AckGate


async def _yield(times: int = 20) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def test_quiet_waits_for_pending_acks() -> None:
    """Background work does not start while a request is being acknowledged."""
    gate = AckGate(settle=0, max_wait=60)
    with gate.acknowledging():
        waiter = asyncio.create_task(gate.quiet())
        await _yield()
        assert not waiter.done()
        assert gate.pending == 1
    await asyncio.wait_for(waiter, timeout=5)
    assert gate.pending == 0


async def test_quiet_waits_while_acks_overlap() -> None:
    """A request arriving before the first one's ack keeps the work waiting for it too."""
    gate = AckGate(settle=0, max_wait=60)
    first = gate.acknowledging()
    first.__enter__()
    waiter = asyncio.create_task(gate.quiet())
    await _yield()
    with gate.acknowledging():
        first.__exit__(None, None, None)
        await _yield()
        assert not waiter.done()
    await asyncio.wait_for(waiter, timeout=5)


async def test_quiet_waits_for_the_burst_to_settle() -> None:
    """No request pending is not yet the end of a burst: a request that comes and goes during
    the settle period starts the settling over; the work starts one quiet ``settle`` later."""
    clock = ManualClock()
    gate = AckGate(settle=1.0, max_wait=60, sleep=clock.sleep)
    with gate.acknowledging():
        waiter = asyncio.create_task(gate.quiet())
        await _yield()
    await _yield()  # none pending now: the waiter settles
    assert not waiter.done()
    clock.advance(0.5)
    with gate.acknowledging():  # the burst's next request, acknowledged within the settle
        pass
    clock.advance(0.5)
    await _yield()
    assert not waiter.done()  # it saw the arrival: one more quiet settle period
    clock.advance(0.9)
    await _yield()
    assert not waiter.done()
    clock.advance(0.1)
    await _yield()
    assert waiter.done()


async def test_quiet_is_immediate_when_idle() -> None:
    """With nothing pending the work starts at once: no waiting for ``max_wait``, no timer."""
    waiter = asyncio.create_task(AckGate(settle=0, max_wait=60).quiet())
    await _yield()
    assert waiter.done()


async def test_sustained_traffic_cannot_starve_the_work() -> None:
    """However busy the app, the work starts after max_wait."""
    gate = AckGate(settle=0, max_wait=0.01)
    loop = asyncio.get_running_loop()
    with gate.acknowledging():
        started = loop.time()
        await asyncio.wait_for(gate.quiet(), timeout=5)
        assert loop.time() - started >= 0.01
        assert gate.pending == 1
