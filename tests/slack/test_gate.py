"""The ack gate: work after ack() waits while other requests still wait for theirs."""

from __future__ import annotations

import asyncio

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


async def test_quiet_waits_for_the_burst_to_settle() -> None:
    """A request arriving during the settle period keeps the work waiting for it too."""
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
