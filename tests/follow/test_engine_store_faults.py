"""The follow engine while its store fails: every card edits again once the store is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aom_bot.errors import StoreError
from aom_bot.records import FollowRequest
from aom_bot.store import Store
from tests.follow.harness import Rig, card_text, make_rig

C = "C0GENERAL"
ALICE = "U0ALICE"


class FlakyStore:
    """The real store, except that while ``down`` every call fails as a locked database does."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.down = False
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.failed += 1
                raise StoreError("The SQLite store 'x' failed: database is locked")
            return await target(*args, **kwargs)

        return call


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


async def follow_three(rig: Rig, store: FlakyStore) -> tuple[Any, list[tuple[str, str, str]]]:
    engine = rig.engine(store=store)  # type: ignore[arg-type]
    await rig.start(engine)
    follows = []
    for n in range(3):
        wf, ex = rig.execution("few-failures", name=f"wf-{n}")
        channel = f"C0OPS{n}"  # one channel each: Slack paces posts per channel
        rig.slack.add_channel(f"ops-{n}", id=channel, members=[ALICE])
        result = await engine.follow(
            FollowRequest(workflow_id=wf, execution_id=ex, channel_id=channel, user_id=ALICE)
        )
        follows.append((channel, ex, result.message_ts or ""))
    await rig.advance(20)
    return engine, follows


async def outage(rig: Rig, store: FlakyStore, seconds: float) -> None:
    store.down = True
    await rig.advance(seconds)
    store.down = False


@pytest.mark.parametrize("seconds", [30, 70])
async def test_every_card_edits_again_within_two_intervals_after_a_store_outage(
    rig: Rig, seconds: float
) -> None:
    """A store outage, short or spanning the 60 s resync, leaves no card frozen."""
    store = FlakyStore(rig.store)
    engine, follows = await follow_three(rig, store)
    run = rig.runs[-1]

    await outage(rig, store, seconds)
    assert store.failed > 0
    assert not run.done()  # the engine rode it out
    during = {ts: card_text(rig.card(ch, ts)) for ch, _, ts in follows}
    assert all("storage is failing" in text for text in during.values()), during
    before = {ts: rig.updates_of(ts) for _, _, ts in follows}

    await rig.advance(2 * 30)  # two of the longest polling intervals

    assert not run.done()
    for channel, _, ts in follows:
        assert rig.updates_of(ts) > before[ts], ts
        assert "storage is failing" not in card_text(rig.card(channel, ts))
    assert engine.stats.active_follows == len(follows)


async def test_a_store_outage_at_start_is_ridden_out(rig: Rig) -> None:
    """The first resync failing (store down while the bot starts) does not end the engine."""
    store = FlakyStore(rig.store)
    wf, ex = rig.execution("few-failures")
    first = rig.engine(store=store)  # type: ignore[arg-type]
    await rig.start(first)
    await first.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE))
    await first.stop()
    store.down = True
    second = rig.engine(store=store)  # type: ignore[arg-type]
    run = await rig.start(second)
    await rig.advance(90, second)
    assert not run.done()
    store.down = False
    await rig.advance(90, second)
    assert second.stats.active_follows == 1


async def test_a_dead_sender_takes_the_engine_down_visibly(rig: Rig) -> None:
    """A task that dies for a reason no handler foresaw ends run() with the error, never alone."""
    engine = rig.engine()
    cards: Any = engine._cards

    async def broken() -> None:
        raise ZeroDivisionError

    cards.next = broken
    with pytest.raises(RuntimeError, match="follow engine task stopped"):
        await asyncio.wait_for(engine.run(), 10)


async def test_an_outage_longer_than_the_lease_stops_polling_until_the_store_returns(
    rig: Rig,
) -> None:
    """Past the lease TTL without the store, another replica may own these executions: the
    engine stops polling and editing their cards, and resumes once a resync proves its leases."""
    store = FlakyStore(rig.store)
    engine = rig.engine(store=store, lease_ttl=timedelta(seconds=30))  # type: ignore[arg-type]
    await rig.start(engine)
    wf, ex = rig.execution("few-failures")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(20)

    store.down = True
    await rig.advance(35)  # the lease's proof has run out
    polls, edits = rig.status_requests(ex), rig.updates_of(ts)
    await rig.advance(60)
    assert rig.status_requests(ex) == polls
    assert rig.updates_of(ts) == edits
    assert engine.stats.active_follows == 0

    store.down = False
    await rig.advance(10 + 30)  # a resync (a third of the TTL) plus the longest interval
    assert rig.status_requests(ex) > polls
    assert engine.stats.active_follows == 1
